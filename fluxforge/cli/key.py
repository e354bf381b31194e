"""``ff-key``: list, print, accept, reject and delete minion keys.

With a master running, the master performs the change (so that it can
rotate the session key at once); with none, the key store is changed
directly. This module is the command line; :mod:`fluxforge.cli.keyops`
does the work.
"""

from __future__ import annotations

import os

import click

from fluxforge import config, logs
from fluxforge.cli.common import (
    CONTEXT,
    boundary,
    common_options_no_l,
    exit_without_collecting,
    fail,
)

# What ``-l`` takes, as in salt-key: a word's start picks the key state.
LIST_PREFIXES = (
    ("acc", ("accepted",)),
    ("pre", ("pending",)),
    ("un", ("pending",)),
    ("rej", ("rejected",)),
    ("den", ("denied",)),
    ("all", ("accepted", "denied", "pending", "rejected")),
)


def list_states(text: str) -> tuple[str, ...]:
    """The key states ``-l TEXT`` lists: ``acc``/``accepted``, ``pre``/``un``/``unaccepted``,
    ``rej``/``rejected``, ``den``/``denied`` or ``all`` (any word starting so, as salt-key).

    Anything else is a usage error naming the choices.
    """
    word = text.strip().lower()
    for prefix, states in LIST_PREFIXES:
        if word.startswith(prefix):
            return states
    fail(f"-l takes acc, pre (or un), rej, den or all, got {text!r}")


@click.command(context_settings=CONTEXT)
@click.option("-L", "--list-all", "list_all", is_flag=True, help="List keys by state.")
@click.option(
    "-l",
    "--list",
    "list_which",
    metavar="acc|pre|rej|den|all",
    help="List the keys in one state (Salt's words: accepted, unaccepted ... work too).",
)
@click.option("-p", "--print", "print_keys", metavar="ID", help="Print public keys (glob).")
@click.option("-P", "--print-all", is_flag=True, help="Print all public keys.")
@click.option("-a", "--accept", "accept", metavar="ID", help="Accept pending keys (glob).")
@click.option("-A", "--accept-all", is_flag=True, help="Accept all pending keys.")
@click.option("-r", "--reject", "reject", metavar="ID", help="Reject pending keys (glob).")
@click.option("-R", "--reject-all", is_flag=True, help="Reject all pending keys.")
@click.option("-d", "--delete", "delete", metavar="ID", help="Delete keys in any state (glob).")
@click.option("-D", "--delete-all", is_flag=True, help="Delete every key.")
@click.option(
    "-f",
    "--finger",
    "finger",
    metavar="ID|FP",
    help="Show fingerprints (glob; 'master': the master's own key too); with -a ID, the "
    "fingerprint that key must have.",
)
@click.option(
    "-F", "--finger-all", is_flag=True, help="Show all fingerprints, the master's own first."
)
@click.option("--include-accepted", is_flag=True, help="-r/-R also reject accepted keys.")
@click.option("--include-rejected", is_flag=True, help="-a/-A also accept rejected keys.")
@click.option("--include-denied", is_flag=True, help="-a/-r also act on denied keys.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--out", type=click.Choice(["nested", "json"]), default="nested", help="Output format."
)
@common_options_no_l
@boundary
def main(
    list_all: bool,
    list_which: str | None,
    print_keys: str | None,
    print_all: bool,
    accept: str | None,
    accept_all: bool,
    reject: str | None,
    reject_all: bool,
    delete: str | None,
    delete_all: bool,
    finger: str | None,
    finger_all: bool,
    include_accepted: bool,
    include_rejected: bool,
    include_denied: bool,
    yes: bool,
    out: str,
    config_path: str | None,
    log_level: str | None,
) -> None:
    """Manage minion keys: accepted, pending (unaccepted), rejected and denied.

    \b
    Examples:
      ff-key -L
      ff-key -l pre
      ff-key -F
      ff-key -p web1
      ff-key -a 'web*' -y
      ff-key -a web1 --finger 3f:a0:...:9c -y
      ff-key -d web2 -y
    """
    exit_without_collecting()
    states = list_states(list_which) if list_which is not None else None
    cfg = config.load_master(config_path)
    logs.setup(log_level or "warning", stderr=True)
    require_finger = ""
    if accept is not None and finger is not None:
        require_finger, finger = finger, None
    actions = [
        ("accept", accept),
        ("accept", "*" if accept_all else None),
        ("reject", reject),
        ("reject", "*" if reject_all else None),
        ("delete", delete),
        ("delete", "*" if delete_all else None),
        ("finger", finger),
        ("finger", "*" if finger_all else None),
        ("print", print_keys),
        ("print", "*" if print_all else None),
    ]
    chosen = [(op, pat) for op, pat in actions if pat is not None]
    if len(chosen) + list_all + (states is not None) > 1:
        fail("give one action at a time (-L, -l, -a, -A, -r, -R, -d, -D, -f, -F, -p or -P)")
    from fluxforge.cli.keyops import perform  # the client and the key store, only now

    perform(
        cfg,
        chosen[0] if chosen else None,
        include_accepted=include_accepted,
        include_rejected=include_rejected,
        include_denied=include_denied,
        yes=yes,
        out=out,
        require_finger=require_finger,
        states=states,
        config_file=_found_config(config_path),
    )


def _found_config(explicit: str | None) -> str | None:
    """The config file ``ff-key`` read, or None when none was named and the default is absent."""
    path, named = config.config_path(explicit)
    return path if named or os.path.exists(path) else None
