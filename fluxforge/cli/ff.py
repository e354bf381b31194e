"""``ff``: run an execution function on the minions a target selects."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from fluxforge import config, logs, output
from fluxforge.cli.common import CONTEXT, boundary, common_options, fail, out_option
from fluxforge.cliargs import parse_target_list, parse_timeout, split_args
from fluxforge.client import LocalClient

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_MATCH, EXIT_MISSING = 0, 1, 2, 3, 4


@click.command(
    context_settings={
        **CONTEXT,
        "ignore_unknown_options": True,
        "allow_interspersed_args": True,
    }
)
@click.option("-E", "--pcre", "pcre", is_flag=True, help="TARGET is a regular expression.")
@click.option("-L", "--list", "as_list", is_flag=True, help="TARGET is a comma-separated id list.")
@click.option("-t", "--timeout", "timeout", metavar="SECONDS", help="Wait this long for silence.")
@click.option("--async", "is_async", is_flag=True, help="Print the jid and exit at once.")
@click.option("-v", "--verbose", is_flag=True, help="Show the jid and progress of long jobs.")
@out_option()
@common_options
@click.argument("target")
@click.argument("function")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@boundary
def main(
    target: str,
    function: str,
    args: tuple[str, ...],
    pcre: bool,
    as_list: bool,
    timeout: str | None,
    is_async: bool,
    verbose: bool,
    out: str,
    config_path: str | None,
    log_level: str | None,
) -> None:
    """Run FUNCTION with ARGs on the minions TARGET selects.

    \b
    Examples:
      ff '*' test.ping
      ff 'web*' cmd.run 'uname -a'
      ff -L web1,db1 cmd.run_all 'ls /nope'
      ff -E '^web[0-9]+$' test.echo hello --out json

    A token NAME=VALUE is a keyword argument when NAME is an identifier.
    Exit codes: 0 all succeeded, 1 a function failed, 2 usage or config
    error, 3 no minion matched, 4 some minions did not return.
    """
    # Unknown options pass through as words (so that `cmd.run ls -la` works);
    # one in place of TARGET or FUNCTION is a mistake, not a target.
    for word in (target, function):
        if word.startswith("-"):
            fail(f"no such option: {word}; see `ff --help`")
    if pcre and as_list:
        fail("use only one of -E and -L")
    cfg = config.load(config_path).master
    logs.setup(log_level or "warning", stderr=True)
    if "." not in function:
        fail(f"FUNCTION must be module.function, got {function!r} (e.g. test.ping)")
    wait = parse_timeout(timeout) if timeout is not None else cfg.timeout
    positional, keywords = split_args(args)
    tgt: str | list[str] = parse_target_list(target) if as_list else target
    tgt_type = "list" if as_list else "pcre" if pcre else "glob"
    client = LocalClient(cfg)
    try:
        job = client.run(tgt, function, positional, keywords, tgt_type, wait)
        if not job.minions:
            job.listener.close()
            click.echo("No minions matched the target; nothing was run.", err=True)
            sys.exit(EXIT_NO_MATCH)
        if is_async:
            job.listener.close()
            click.echo(job.jid)
            return
        if verbose:
            click.echo(
                f"Executing job with jid {job.jid} on {len(job.minions)} minion(s)", err=True
            )
        sys.exit(_stream(job, out, verbose))
    finally:
        client.close()


def _stream(job: Any, out: str, verbose: bool) -> int:
    color = output.use_color(sys.stdout)
    failed = False
    collected: dict[str, Any] = {}
    returned: set[str] = set()

    busy: dict[str, float] = {}
    shown = [time.monotonic()]

    def progress(minion_id: str, data: dict[str, Any]) -> None:
        busy[minion_id] = float(data.get("elapsed", 0))
        if verbose and time.monotonic() - shown[0] >= 1.0:
            shown[0] = time.monotonic()
            names = sorted(m for m in busy if m not in collected and m not in returned)
            more = f" and {len(names) - 5} more" if len(names) > 5 else ""
            click.echo(
                f"still running on {len(names)} minion(s): {', '.join(names[:5])}{more} "
                f"({max(busy.values()):.0f}s)",
                err=True,
            )

    for minion_id, ret in job.returns(on_progress=progress):
        returned.add(minion_id)
        ok = bool(ret.get("success")) and ret.get("retcode", 0) == 0
        failed |= not ok
        if out == "json":
            collected[minion_id] = ret.get("return")
        else:
            text = output.format_return(minion_id, ret.get("return"), out, color, failed=not ok)
            sys.stdout.write(text)
            sys.stdout.flush()
    if out == "json":
        click.echo(output.format_all(collected, "json"))
    if job.missing:
        names = ", ".join(job.missing)
        click.echo(
            f"No return from {len(job.missing)} minion(s) within {job.timeout:g}s: {names} "
            f"(jid {job.jid})",
            err=True,
        )
    if failed:
        return EXIT_FAILED
    return EXIT_MISSING if job.missing else EXIT_OK
