"""What ``ff-key`` does once its command line is checked: list, change and show keys.

The master's own key is shown as salt-key shows it, under ``Local Keys:``:
its fingerprint (``-F``, ``-f master``) is what a minion's ``master_finger``
pins. It is read from ``master.pub`` in ``pki_dir``, which the master wrote
when it made its keys.

Apart from :mod:`fluxforge.cli.key` (the command line) so that ``ff-key
--version`` and ``--help`` load neither the client (zmq) nor the key store
(PyNaCl, through :mod:`fluxforge.protocol.crypto`).
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
from typing import Any

import click

from fluxforge import config
from fluxforge.cli.common import fail
from fluxforge.client import LocalClient, master_pid
from fluxforge.errors import KeyStoreError
from fluxforge.master import keys
from fluxforge.master.audit import AuditLog
from fluxforge.protocol.keyfiles import encode_key, fingerprint, read_key_file

__all__ = ["ORDER", "TITLES", "VERBS", "KeyOps", "change", "emit_listing", "perform"]

TITLES = {
    keys.ACCEPTED: "Accepted Keys:",
    keys.DENIED: "Denied Keys:",
    keys.PENDING: "Unaccepted Keys:",
    keys.REJECTED: "Rejected Keys:",
}
ORDER = (keys.ACCEPTED, keys.DENIED, keys.PENDING, keys.REJECTED)
VERBS = {"accept": "accepted", "reject": "rejected", "delete": "deleted"}
LOCAL_TITLE = "Local Keys:"
MASTER_PUB = "master.pub"


class KeyOps:
    """Key operations through the running master, or on the store when none runs."""

    def __init__(self, cfg: config.MasterConfig, config_file: str | None = "") -> None:
        """``config_file`` is the file ``cfg`` came from, None if none was found.

        With no master running, the key store must already exist: a master
        makes it on its first start, and ``ff-key`` creating it (under
        ``/etc/fluxforge`` when no config was found) would only hide that it
        was pointed at the wrong place.
        """
        self.cfg = cfg
        self.client = LocalClient(cfg) if master_pid(cfg.sock_dir) else None
        if self.client is None and not os.path.isdir(cfg.pki_dir):
            raise KeyStoreError(_no_store(cfg, config_file))
        self.store = None if self.client else keys.KeyStore(cfg.pki_dir)

    def run(
        self,
        op: str,
        pattern: str = "*",
        include: tuple[str, ...] = (),
        expect: dict[str, str] | None = None,
    ) -> Any:
        """Perform ``op`` and return its result.

        ``expect`` (accept only) maps each id to the fingerprint the operator
        saw; whoever holds the store (the master, or this process) checks it
        in the same step as the accept.
        """
        if self.client is not None:
            fields: dict[str, Any] = {"op": op, "pattern": pattern, "include": list(include)}
            if expect:
                fields["expect"] = expect
            return self.client.command("keys", **fields)
        assert self.store is not None
        if op == "list":
            return self.store.listing()
        if op == "finger":
            return self.store.fingerprints(pattern)
        if op == "print":
            return self.store.public_keys(pattern)
        if op == "accept":
            change = self.store.accept(pattern, include, expect)
        else:
            change = getattr(self.store, op)(pattern, *((include,) if op != "delete" else ()))
        if change.moved:  # the master is not running: the audit record is ours to write
            audit = AuditLog(self.cfg.audit_log)
            audit.keys(op, pattern, change.fingers, False)
            audit.close()
        return {"moved": change.moved, "rotated": False, "fingers": change.fingers}


def _no_store(cfg: config.MasterConfig, config_file: str | None) -> str:
    """Why there is no key store to work on, and what to do about it."""
    if config_file is None:
        return (
            f"no config file found ({config.DEFAULT_CONFIG} does not exist) and no key store "
            f"at the default pki_dir {cfg.pki_dir}; pass -c PATH or set "
            f"{config.ENV_CONFIG} to the master's config"
        )
    where = f" with {config_file}" if config_file else ""
    return (
        f"no master has run{where}: its pki_dir {cfg.pki_dir} does not exist; "
        "start ff-master first, or pass -c PATH to the master's config"
    )


def master_public(cfg: config.MasterConfig) -> bytes | None:
    """The master's public box key from ``pki_dir/master.pub``; None before it has keys."""
    path = os.path.join(cfg.pki_dir, MASTER_PUB)
    if not os.path.exists(path):
        return None
    return read_key_file(path, private=False)


def emit_listing(listing: dict[str, list[str]], out: str, states: tuple[str, ...] = ORDER) -> None:
    """Print the keys in ``states``: Salt's titles (coloured on a terminal), or ``--out json``."""
    if out == "json":
        shown = {keys.JSON_NAMES[s]: listing.get(s, []) for s in ORDER if s in states}
        click.echo(json.dumps(shown, indent=4))
        return
    colors = {
        keys.ACCEPTED: "green",
        keys.DENIED: "magenta",
        keys.PENDING: "red",
        keys.REJECTED: "blue",
    }
    tty = sys.stdout.isatty()
    for state in (s for s in ORDER if s in states):
        click.echo(click.style(TITLES[state], fg=colors[state]) if tty else TITLES[state])
        for minion_id in listing.get(state, []):
            click.echo(click.style(minion_id, fg=colors[state]) if tty else minion_id)


def _emit_fingers(prints: dict[str, dict[str, str]], states: tuple[str, ...]) -> None:
    local = prints.get("local")
    if local:
        click.echo(LOCAL_TITLE)
        for name, fp in sorted(local.items()):
            click.echo(f"{name}:  {fp}")
    for state in ORDER:
        if state in states and prints.get(state):
            click.echo(TITLES[state])
            for minion_id, fp in sorted(prints[state].items()):
                click.echo(f"{minion_id}:  {fp}")


def change(
    ops: KeyOps,
    op: str,
    pattern: str,
    include: tuple[str, ...],
    yes: bool,
    out: str,
    finger: str = "",
) -> None:
    """Accept, reject or delete the keys ``pattern`` matches, after asking unless ``yes``.

    The prompt shows each key's fingerprint. An accept after a prompt, or
    with ``finger`` (one id), sends the fingerprints to expect with it, so a
    key swapped in meanwhile is refused rather than accepted.
    """
    sources = {
        "accept": (keys.PENDING, *include),
        "reject": (keys.PENDING, *include),
        "delete": keys.STATES,
    }[op]
    prints = ops.run("finger", pattern)
    matched = {s: dict(prints.get(s, {})) for s in sources}
    if not any(matched.values()):
        fail(
            f"no {' or '.join(TITLES[s][:-6].lower() for s in sources)} key matches "
            f"{pattern!r}; see `ff-key -L`",
            1,
        )
    expect: dict[str, str] | None = None
    if finger:
        expect = {pattern: finger}
    if not yes:
        click.echo(f"The following keys are going to be {VERBS[op]}:")
        _emit_fingers(matched, sources)
        if not click.confirm("Proceed?", default=op == "accept"):
            fail("nothing changed", 1)
        if op == "accept" and expect is None:
            expect = {m: fp for found in matched.values() for m, fp in found.items()}
    result = ops.run(op, pattern, include, expect)
    if out == "json":
        click.echo(json.dumps(result, indent=4))
        return
    fingers = result.get("fingers", {})
    for minion_id in result["moved"]:
        fp = fingers.get(minion_id)
        click.echo(
            f"Key for minion {minion_id} {VERBS[op]}" + (f" (fingerprint {fp})." if fp else ".")
        )


def perform(
    cfg: config.MasterConfig,
    action: tuple[str, str] | None,
    *,
    include_accepted: bool,
    include_rejected: bool,
    include_denied: bool,
    yes: bool,
    out: str,
    require_finger: str = "",
    states: tuple[str, ...] | None = None,
    config_file: str | None = "",
) -> None:
    """Run one ``ff-key`` action, ``(op, pattern)``, or list the keys when ``action`` is None.

    ``require_finger`` (with an accept of one id) is the fingerprint that
    key must have; ``config_file`` is where ``cfg`` came from (None: no file).
    ``states`` (``-l``) narrows a listing to those key states.
    """
    ops = KeyOps(cfg, config_file)
    if action is None:
        emit_listing(ops.run("list"), out, states or ORDER)
        return
    op, pattern = action
    for part in pattern.replace("*", "a").replace("?", "a").replace("[", "").replace("]", ""):
        if not (part.isalnum() or part in "._-!"):
            fail(f"invalid minion id or glob {pattern!r}")
    if op in ("finger", "print"):
        prints = ops.run(op, pattern)
        if fnmatch.fnmatchcase("master", pattern):  # the master's own key, as salt-key shows it
            public = master_public(cfg)
            if public is not None:
                own = fingerprint(public) if op == "finger" else encode_key(public)
                prints["local"] = {MASTER_PUB: own}
        if out == "json":
            click.echo(json.dumps(prints, indent=4, sort_keys=True))
            return
        _emit_fingers(prints, keys.STATES)
        return
    if require_finger and (op != "accept" or any(c in pattern for c in "*?[]!")):
        fail("--finger with -a takes one minion id, not a glob: ff-key -a ID --finger FP")
    include: tuple[str, ...] = ()
    if op == "accept":
        include = (keys.REJECTED,) * include_rejected + (keys.DENIED,) * include_denied
    elif op == "reject":
        include = (keys.ACCEPTED,) * include_accepted + (keys.DENIED,) * include_denied
    change(ops, op, pattern, include, yes, out, require_finger)
