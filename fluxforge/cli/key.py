"""``ff-key``: list, accept, reject and delete minion keys.

With a master running, the master performs the change (so that it can
rotate the session key at once); with none, the key store is changed
directly.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from typing import Any

import click

from fluxforge import config, logs
from fluxforge.cli.common import CONTEXT, boundary, common_options, fail
from fluxforge.client import LocalClient, master_pid
from fluxforge.master import keys

TITLES = {
    keys.ACCEPTED: "Accepted Keys:",
    keys.DENIED: "Denied Keys:",
    keys.PENDING: "Unaccepted Keys:",
    keys.REJECTED: "Rejected Keys:",
}
ORDER = (keys.ACCEPTED, keys.DENIED, keys.PENDING, keys.REJECTED)
VERBS = {"accept": "accepted", "reject": "rejected", "delete": "deleted"}


class KeyOps:
    """Key operations through the running master, or on the store when none runs."""

    def __init__(self, cfg: config.MasterConfig) -> None:
        self.client = LocalClient(cfg) if master_pid(cfg.sock_dir) else None
        self.store = None if self.client else keys.KeyStore(cfg.pki_dir)

    def run(self, op: str, pattern: str = "*", include: tuple[str, ...] = ()) -> Any:
        """Perform ``op`` and return its result."""
        if self.client is not None:
            return self.client.command("keys", op=op, pattern=pattern, include=list(include))
        assert self.store is not None
        if op == "list":
            return self.store.listing()
        if op == "finger":
            return self.store.fingerprints(pattern)
        change = getattr(self.store, op)(pattern, *((include,) if op != "delete" else ()))
        return {"moved": change.moved, "rotated": False}


def _emit_listing(listing: dict[str, list[str]], out: str) -> None:
    if out == "json":
        click.echo(json.dumps({keys.JSON_NAMES[s]: listing.get(s, []) for s in ORDER}, indent=4))
        return
    colors = {
        keys.ACCEPTED: "green",
        keys.DENIED: "magenta",
        keys.PENDING: "red",
        keys.REJECTED: "blue",
    }
    tty = sys.stdout.isatty()
    for state in ORDER:
        click.echo(click.style(TITLES[state], fg=colors[state]) if tty else TITLES[state])
        for minion_id in listing.get(state, []):
            click.echo(click.style(minion_id, fg=colors[state]) if tty else minion_id)


def _change(
    ops: KeyOps, op: str, pattern: str, include: tuple[str, ...], yes: bool, out: str
) -> None:
    sources = {
        "accept": (keys.PENDING, *include),
        "reject": (keys.PENDING, *include),
        "delete": keys.STATES,
    }[op]
    listing = ops.run("list")
    matched = {s: [m for m in listing[s] if fnmatch.fnmatchcase(m, pattern)] for s in sources}
    if not any(matched.values()):
        fail(
            f"no {' or '.join(TITLES[s][:-6].lower() for s in sources)} key matches "
            f"{pattern!r}; see `ff-key -L`",
            1,
        )
    if not yes:
        click.echo(f"The following keys are going to be {VERBS[op]}:")
        _emit_listing(matched, "nested")
        if not click.confirm("Proceed?", default=op == "accept"):
            fail("nothing changed", 1)
    result = ops.run(op, pattern, include)
    if out == "json":
        click.echo(json.dumps(result, indent=4))
        return
    for minion_id in result["moved"]:
        click.echo(f"Key for minion {minion_id} {VERBS[op]}.")


@click.command(context_settings=CONTEXT)
@click.option("-L", "--list-all", "list_all", is_flag=True, help="List keys by state.")
@click.option("-a", "--accept", "accept", metavar="ID", help="Accept pending keys (glob).")
@click.option("-A", "--accept-all", is_flag=True, help="Accept all pending keys.")
@click.option("-r", "--reject", "reject", metavar="ID", help="Reject pending keys (glob).")
@click.option("-R", "--reject-all", is_flag=True, help="Reject all pending keys.")
@click.option("-d", "--delete", "delete", metavar="ID", help="Delete keys in any state (glob).")
@click.option("-D", "--delete-all", is_flag=True, help="Delete every key.")
@click.option("-f", "--finger", "finger", metavar="ID", help="Show fingerprints (glob).")
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
      ff-key -d web2 -y
    """
    cfg = config.load(config_path).master
    logs.setup(log_level or "warning", stderr=True)
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
    ops = KeyOps(cfg)
    if not chosen:
        _emit_listing(ops.run("list"), out)
        return
    op, pattern = chosen[0]
    for part in pattern.replace("*", "a").replace("?", "a").replace("[", "").replace("]", ""):
        if not (part.isalnum() or part in "._-!"):
            fail(f"invalid minion id or glob {pattern!r}")
    if op == "finger":
        prints = ops.run("finger", pattern)
        if out == "json":
            click.echo(json.dumps(prints, indent=4, sort_keys=True))
            return
        for state in ORDER:
            if state in prints:
                click.echo(TITLES[state])
                for minion_id, fp in sorted(prints[state].items()):
                    click.echo(f"{minion_id}:  {fp}")
        return
    include: tuple[str, ...] = ()
    if op == "accept":
        include = (keys.REJECTED,) * include_rejected + (keys.DENIED,) * include_denied
    elif op == "reject":
        include = (keys.ACCEPTED,) * include_accepted + (keys.DENIED,) * include_denied
    _change(ops, op, pattern, include, yes, out)
