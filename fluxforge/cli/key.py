"""``ff-key``: list, accept, reject and delete minion keys.

With a master running, the master performs the change (so that it can
rotate the session key at once); with none, the key store is changed
directly. This module is the command line; :mod:`fluxforge.cli.keyops`
does the work.
"""

from __future__ import annotations

import os

import click

from fluxforge import config, logs
from fluxforge.cli.common import CONTEXT, boundary, common_options, exit_without_collecting, fail


@click.command(context_settings=CONTEXT)
@click.option("-L", "--list-all", "list_all", is_flag=True, help="List keys by state.")
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
    help="Show fingerprints (glob); with -a ID, the fingerprint that key must have.",
)
@click.option("-F", "--finger-all", is_flag=True, help="Show all fingerprints.")
@click.option("--include-accepted", is_flag=True, help="-r/-R also reject accepted keys.")
@click.option("--include-rejected", is_flag=True, help="-a/-A also accept rejected keys.")
@click.option("--include-denied", is_flag=True, help="-a/-r also act on denied keys.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--out", type=click.Choice(["nested", "json"]), default="nested", help="Output format."
)
@common_options
@boundary
def main(
    list_all: bool,
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
      ff-key -a 'web*' -y
      ff-key -a web1 --finger 3f:a0:...:9c -y
      ff-key -d web2 -y
    """
    exit_without_collecting()
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
    ]
    chosen = [(op, pat) for op, pat in actions if pat is not None]
    if len(chosen) > 1 or (chosen and list_all):
        fail("give one action at a time (-L, -a, -A, -r, -R, -d, -D, -f or -F)")
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
        config_file=_found_config(config_path),
    )


def _found_config(explicit: str | None) -> str | None:
    """The config file ``ff-key`` read, or None when none was named and the default is absent."""
    path, named = config.config_path(explicit)
    return path if named or os.path.exists(path) else None
