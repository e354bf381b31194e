"""``ff``: run an execution function on the minions a target selects."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import click

from fluxforge import config, logs, output
from fluxforge.batch import Batch, parse_batch_size, succeeded, unknown_note
from fluxforge.cli.common import CONTEXT, boundary, common_options, fail, out_option
from fluxforge.cliargs import (
    TARGET_FLAGS,
    parse_seconds,
    parse_target_list,
    parse_timeout,
    split_args,
    target_type,
)
from fluxforge.client import Job, LocalClient

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_MATCH, EXIT_MISSING = 0, 1, 2, 3, 4

F = Callable[..., Any]


def target_options(fn: F) -> F:
    """Add one flag per target type (``-E/--pcre`` ...), passed as ``tgt_<type>``."""
    for flag in reversed(TARGET_FLAGS):
        fn = click.option(
            flag.short, flag.long, f"tgt_{flag.tgt_type}", is_flag=True, help=flag.help
        )(fn)
    return fn


def batch_options(fn: F) -> F:
    """Add ``-b/--batch``, ``--batch-wait`` and ``--failhard``."""
    fn = click.option(
        "--failhard",
        is_flag=True,
        help="With -b: start no more minions after a failed return, and exit 1.",
    )(fn)
    fn = click.option(
        "--batch-wait",
        "batch_wait",
        metavar="SECONDS",
        help="With -b: wait this long after a return before starting the next minion.",
    )(fn)
    fn = click.option(
        "-b",
        "--batch",
        "--batch-size",
        "batch",
        metavar="N|N%",
        help="Run on at most N minions (or N% of those up) at a time.",
    )(fn)
    return fn


@click.command(
    context_settings={
        **CONTEXT,
        "ignore_unknown_options": True,
        "allow_interspersed_args": True,
    }
)
@target_options
@batch_options
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
    batch: str | None,
    batch_wait: str | None,
    failhard: bool,
    timeout: str | None,
    is_async: bool,
    verbose: bool,
    out: str,
    config_path: str | None,
    log_level: str | None,
    **flags: bool,
) -> None:
    """Run FUNCTION with ARGs on the minions TARGET selects.

    \b
    TARGET is a glob on minion ids unless one targeting option says otherwise:
      -E pcre  -L list  -G grain  -P grain_pcre  -I pillar  -J pillar_pcre
      -S ipcidr  -N nodegroup  -C compound

    \b
    Examples:
      ff '*' test.ping
      ff 'web*' cmd.run 'uname -a'
      ff -L web1,db1 cmd.run_all 'ls /nope'
      ff -E '^web[0-9]+$' test.echo hello --out json
      ff -G os_family:Debian pkg.upgrade
      ff -C 'G@roles:web and not L@web3' test.ping
      ff -b 2 --batch-wait 5 'web*' cmd.run 'systemctl restart nginx'
      ff -b 25% --failhard -G roles:db test.ping

    A token NAME=VALUE is a keyword argument when NAME is an identifier.
    With -b, test.ping first finds the targeted minions that are up; the job
    then runs on at most N of them at a time, the next starting as soon as
    one returns; progress lines go to stderr.

    Exit codes: 0 all succeeded, 1 a function failed (or --failhard
    stopped the batch), 2 usage or config error, 3 no minion matched,
    4 some minions did not return.
    """
    # Unknown options pass through as words (so that `cmd.run ls -la` works);
    # one in place of TARGET or FUNCTION is a mistake, not a target.
    for word in (target, function):
        if word.startswith("-"):
            fail(f"no such option: {word}; see `ff --help`")
    tgt_type = target_type(name[len("tgt_") :] for name, given in flags.items() if given)
    size = parse_batch_size(batch) if batch is not None else None
    if size is None:
        for given, option in ((batch_wait is not None, "--batch-wait"), (failhard, "--failhard")):
            if given:
                fail(f"{option} needs -b/--batch")
    elif is_async:
        fail("--async cannot be combined with -b/--batch")
    pause = parse_seconds(batch_wait, "--batch-wait") if batch_wait is not None else 0.0
    cfg = config.load(config_path).master
    logs.setup(log_level or "warning", stderr=True)
    if "." not in function:
        fail(f"FUNCTION must be module.function, got {function!r} (e.g. test.ping)")
    wait = parse_timeout(timeout) if timeout is not None else cfg.timeout
    positional, keywords = split_args(args)
    tgt: str | list[str] = parse_target_list(target) if tgt_type == "list" else target
    client = LocalClient(cfg)
    try:
        if size is not None:
            run = Batch(
                client,
                tgt,
                tgt_type,
                function,
                positional,
                keywords,
                size,
                wait=pause,
                timeout=wait,
                failhard=failhard,
                note=_note,
            )
            sys.exit(_run_batch(run, out, verbose))
        job = client.run(tgt, function, positional, keywords, tgt_type, wait)
        if not job.minions and not job.unknown:
            job.close()
            _note("No minions matched the target; nothing was run.")
            sys.exit(EXIT_NO_MATCH)
        if is_async:
            job.close()
            click.echo(job.jid)
            return
        if verbose:
            undecided = f" (and {len(job.unknown)} undecided)" if job.unknown else ""
            _note(f"Executing job with jid {job.jid} on {len(job.minions)} minion(s){undecided}")
        sys.exit(_finish_job(job, out, verbose))
    finally:
        client.close()


def _note(text: str) -> None:
    click.echo(text, err=True)


def _finish_job(job: Job, out: str, verbose: bool) -> int:
    failed = _show(job.returns(on_progress=_progress_printer(job.received, verbose)), out)
    if job.silent_unknown:
        _note(unknown_note(job.silent_unknown))
    if not job.minions and not job.received:
        _note("No minions matched the target: none of the undecided minions answered.")
        return EXIT_NO_MATCH
    _report_missing(job.missing, job.timeout, f" (jid {job.jid})")
    if failed:
        return EXIT_FAILED
    return EXIT_MISSING if job.missing else EXIT_OK


def _run_batch(run: Batch, out: str, verbose: bool) -> int:
    received: dict[str, Any] = {}
    failed = _show(run.returns(on_progress=_progress_printer(received, verbose)), out, received)
    if not run.matched:
        _note("No minions matched the target; nothing was run.")
        return EXIT_NO_MATCH
    _report_missing(run.missing, run.timeout, "")
    if failed or run.skipped:
        return EXIT_FAILED
    return EXIT_MISSING if run.missing or run.down else EXIT_OK


def _report_missing(missing: list[str], timeout: float, suffix: str) -> None:
    if missing:
        _note(
            f"No return from {len(missing)} minion(s) within {timeout:g}s: "
            f"{', '.join(missing)}{suffix}"
        )


def _show(
    returns: Iterable[tuple[str, dict[str, Any]]],
    out: str,
    received: dict[str, Any] | None = None,
) -> bool:
    """Print each return as it arrives (``json``: all at the end); True if any failed."""
    color = output.use_color(sys.stdout)
    failed = False
    collected: dict[str, Any] = {}
    for minion_id, ret in returns:
        if received is not None:
            received[minion_id] = ret
        ok = succeeded(ret)
        failed |= not ok
        if out == "json":
            collected[minion_id] = ret.get("return")
        else:
            text = output.format_return(minion_id, ret.get("return"), out, color, failed=not ok)
            sys.stdout.write(text)
            sys.stdout.flush()
    if out == "json":
        click.echo(output.format_all(collected, "json"))
    return failed


def _progress_printer(
    received: dict[str, Any], verbose: bool
) -> Callable[[str, dict[str, Any]], None]:
    """With ``verbose``, a heartbeat callback that shows, at most once a second, who still runs."""
    busy: dict[str, float] = {}
    shown = [time.monotonic()]

    def progress(minion_id: str, data: dict[str, Any]) -> None:
        busy[minion_id] = float(data.get("elapsed", 0))
        if verbose and time.monotonic() - shown[0] >= 1.0:
            shown[0] = time.monotonic()
            names = sorted(m for m in busy if m not in received)
            if not names:
                return
            more = f" and {len(names) - 5} more" if len(names) > 5 else ""
            longest = max(busy[m] for m in names)
            _note(
                f"still running on {len(names)} minion(s): {', '.join(names[:5])}{more} "
                f"({longest:.0f}s)"
            )

    return progress
