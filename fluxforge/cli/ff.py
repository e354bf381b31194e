"""``ff``: run an execution function on the minions a target selects.

The command line is parsed with what this module imports at its top, which
is light; the client (zmq, msgpack) is imported once a job is about to run,
and batch mode only for ``-b``, so ``ff --version``, ``ff --help`` and usage
errors cost little more than click's own import.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import click

from fluxforge import config, logs, output
from fluxforge.cli.args import (
    TARGET_FLAGS,
    parse_seconds,
    parse_target_list,
    parse_timeout,
    split_args,
    target_type,
)
from fluxforge.cli.common import (
    CONTEXT,
    boundary,
    common_options,
    exit_without_collecting,
    fail,
    out_option,
    state_output_option,
)

if TYPE_CHECKING:
    from fluxforge.client import Job, LocalClient
    from fluxforge.client.batch import Batch, BatchSize

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
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show the jid, long jobs, and each state as it is applied.",
)
@out_option(default=None)
@state_output_option
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
    out: str | None,
    state_output: str | None,
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
      ff 'web*' state.apply test=True --state-output changes

    A token NAME=VALUE is a keyword argument when NAME is an identifier.
    With -b, test.ping first finds the targeted minions that are up; the job
    then runs on at most N of them at a time, the next starting as soon as
    one returns; progress lines go to stderr.

    State runs (state.apply, state.sls, state.highstate, state.single ...)
    are shown with the highstate outputter unless --out says otherwise. With
    -v each state is reported on stderr as it finishes
    (web1: [3/20] file.managed /etc/motd: changed); without -v, when stderr
    is a terminal, one status line shows how far each minion has got, and is
    erased before the results are printed.

    Exit codes: 0 all succeeded, 1 a function failed (or --failhard
    stopped the batch), 2 usage or config error, 3 no minion matched,
    4 some minions did not return (or an id given with -L is no accepted minion).
    """
    from fluxforge.client import LocalClient

    exit_without_collecting()

    # Unknown options pass through as words (so that `cmd.run ls -la` works);
    # one in place of TARGET or FUNCTION is a mistake, not a target.
    for word in (target, function):
        if word.startswith("-"):
            fail(f"no such option: {word}; see `ff --help`")
    tgt_type = target_type(name[len("tgt_") :] for name, given in flags.items() if given)
    size, pause = _batch_settings(batch, batch_wait, failhard, is_async)
    cfg = config.load_master(config_path)
    logs.setup(log_level or "warning", stderr=True)
    if "." not in function:
        fail(f"FUNCTION must be module.function, got {function!r} (e.g. test.ping)")
    wait = parse_timeout(timeout) if timeout is not None else cfg.timeout
    positional, keywords = split_args(args)
    tgt: str | list[str] = parse_target_list(target) if tgt_type == "list" else target
    layout = state_output or cfg.state_output
    printer = _ReturnPrinter(out or output.default_outputter(function), layout)
    progress = _Progress(verbose, live=not verbose and _is_terminal(sys.stderr))
    client = LocalClient(cfg)
    try:
        if size is not None:
            from fluxforge.client.batch import Batch

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
                note=progress.note,
            )
            try:
                sys.exit(_run_batch(run, printer, progress, client))
            except KeyboardInterrupt:
                _interrupted(run.jids, progress)
        job = client.run(tgt, function, positional, keywords, tgt_type, wait)
        unlisted = _unlisted(tgt, job.minions, job.unknown)
        if not job.minions and not job.unknown:
            job.close()
            _no_match(client, tgt, tgt_type)
            _report_unlisted(client, unlisted)
            sys.exit(EXIT_NO_MATCH)
        if is_async:
            job.close()
            click.echo(job.jid)
            return
        if verbose:
            undecided = f" (and {len(job.unknown)} undecided)" if job.unknown else ""
            _note(f"Executing job with jid {job.jid} on {len(job.minions)} minion(s){undecided}")
        try:
            code = _finish_job(job, printer, progress)
        except KeyboardInterrupt:
            _interrupted([job.jid], progress)
        if unlisted:
            _report_unlisted(client, unlisted)
            code = EXIT_MISSING if code == EXIT_OK else code
        sys.exit(code)
    finally:
        progress.clear()
        client.close()


def _batch_settings(
    batch: str | None, batch_wait: str | None, failhard: bool, is_async: bool
) -> tuple[BatchSize | None, float]:
    """The batch size (None without ``-b``) and ``--batch-wait``; wrong combinations fail."""
    size = None
    if batch is not None:
        from fluxforge.client.batch import parse_batch_size  # batch mode only when asked for

        size = parse_batch_size(batch)
    if size is None:
        for given, option in ((batch_wait is not None, "--batch-wait"), (failhard, "--failhard")):
            if given:
                fail(f"{option} needs -b/--batch")
    elif is_async:
        fail("--async cannot be combined with -b/--batch")
    pause = parse_seconds(batch_wait, "--batch-wait") if batch_wait is not None else 0.0
    return size, pause


def _note(text: str) -> None:
    click.echo(text, err=True)


def _interrupted(jids: list[str], progress: _Progress) -> None:
    """Ctrl-C while waiting: the job goes on, so say which jid its returns are kept under."""
    progress.clear()
    if not jids:
        fail("interrupted before any job was published", 130)
    one = len(jids) == 1
    which = f"job {jids[0]} goes" if one else f"jobs {', '.join(jids)} go"
    fail(
        f"interrupted: {which} on running on the minions; their returns are kept in "
        f"the master's job cache under {'that jid' if one else 'those jids'}",
        130,
    )


def _no_match(client: LocalClient, tgt: str | list[str], tgt_type: str) -> None:
    """Say that no minion matched, and which pending keys would have."""
    pending = client.pending_matching(tgt, tgt_type)
    hint = ""
    if pending:
        hint = (
            f" It matches {len(pending)} pending key(s), not yet accepted: "
            f"{', '.join(pending)} (see ff-key -L; accept with ff-key -a ID)."
        )
    _note(f"No minions matched the target; nothing was run.{hint}")


def _unlisted(tgt: str | list[str], minions: list[str], unknown: list[str]) -> list[str]:
    """The ids of a ``-L`` list that the master does not know as accepted minions."""
    if not isinstance(tgt, list):
        return []
    known = set(minions) | set(unknown)
    return list(dict.fromkeys(str(i) for i in tgt if i not in known))


def _report_unlisted(client: LocalClient, unlisted: list[str]) -> None:
    """Name the listed ids that no accepted minion has (pending ones said as such)."""
    if not unlisted:
        return
    pending = set(client.pending_matching(unlisted, "list"))
    named = ", ".join(f"{i} (pending, not yet accepted)" if i in pending else i for i in unlisted)
    _note(f"No accepted minion with id: {named}")


def _finish_job(job: Job, printer: _ReturnPrinter, progress: _Progress) -> int:
    from fluxforge.client.local import unknown_note

    failed = printer(job.returns(on_progress=progress), progress)
    if job.silent_unknown:
        _note(unknown_note(job.silent_unknown))
    if not job.minions and not job.received:
        _note("No minions matched the target: none of the undecided minions answered.")
        return EXIT_NO_MATCH
    _report_missing(job.missing, job.timeout, f" (jid {job.jid})")
    if failed:
        return EXIT_FAILED
    return EXIT_MISSING if job.missing else EXIT_OK


def _run_batch(
    run: Batch, printer: _ReturnPrinter, progress: _Progress, client: LocalClient
) -> int:
    failed = printer(run.returns(on_progress=progress), progress)
    unlisted = _unlisted(run.tgt, run.up + run.down, run.silent_unknown)
    if not run.matched:
        _no_match(client, run.tgt, run.tgt_type)
        _report_unlisted(client, unlisted)
        return EXIT_NO_MATCH
    _report_missing(run.missing, run.timeout, "")
    _report_unlisted(client, unlisted)
    if failed or run.skipped:
        return EXIT_FAILED
    return EXIT_MISSING if run.missing or run.down or unlisted else EXIT_OK


def _report_missing(missing: list[str], timeout: float, suffix: str) -> None:
    if missing:
        _note(
            f"No return from {len(missing)} minion(s) within {timeout:g}s: "
            f"{', '.join(missing)}{suffix}"
        )


class _ReturnPrinter:
    """Prints returns with one outputter (and ``--state-output`` layout)."""

    def __init__(self, out: str, state_output: str) -> None:
        self.out = out
        self.state_output = state_output

    def __call__(self, returns: Iterable[tuple[str, dict[str, Any]]], progress: _Progress) -> bool:
        """Print each return as it arrives (``json``: all at the end); True if any failed.

        A return counts as failed unless its ``success`` is true and its
        retcode 0, so a state run with a failed state (retcode 2) fails.
        """
        from fluxforge.client.local import succeeded

        color = output.use_color(sys.stdout)
        failed = False
        collected: dict[str, Any] = {}
        for minion_id, ret in returns:
            progress.returned(minion_id)
            ok = succeeded(ret)
            failed |= not ok
            if self.out == "json":
                collected[minion_id] = ret.get("return")
                continue
            text = output.format_return(
                minion_id,
                ret.get("return"),
                self.out,
                color,
                failed=not ok,
                state_output=self.state_output,
            )
            sys.stdout.write(text)
            sys.stdout.flush()
        progress.clear()
        if self.out == "json":
            click.echo(output.format_all(collected, "json"))
        return failed


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class _Progress:
    """What ``ff`` shows on stderr while a job runs: the job's progress callback.

    Heartbeats (``data`` empty) only say that a minion still runs; a state
    run also reports each state as it finishes (``data`` is ``{n, total, id,
    state, name, result, changed}``).

    ``verbose`` (``-v``): one line per state report,
    ``web1: [3/20] file.managed /etc/motd: changed``, and at most once a
    second the minions still running. ``live`` (no ``-v``, stderr a
    terminal): one status line, ``states: web1 3/20, web2 7/20``, rewritten
    in place at most ten times a second and erased before ``ff`` prints a
    return or a note, so it never mixes into them. Neither (stderr is not a
    terminal: a script or a log): nothing.
    """

    LIVE_INTERVAL = 0.1

    def __init__(self, verbose: bool, live: bool) -> None:
        self.verbose = verbose
        self.live = live
        self.done: set[str] = set()
        self.busy: dict[str, float] = {}
        self.steps: dict[str, str] = {}
        self.shown_busy = time.monotonic()
        self.shown_live = 0.0
        self.status = ""

    def __call__(self, minion_id: str, event: dict[str, Any]) -> None:
        self.busy[minion_id] = float(event.get("elapsed", 0))
        data = event.get("data")
        line = output.format_progress(data)
        if line is not None and isinstance(data, dict):
            self.steps[minion_id] = output.neutralise_text(f"{data['n']}/{data.get('total', '?')}")
            if self.verbose:
                self.note(f"{minion_id}: {line}")
            elif self.live:
                self._redraw()
        if self.verbose and time.monotonic() - self.shown_busy >= 1.0:
            self.shown_busy = time.monotonic()
            self._still_running()

    def returned(self, minion_id: str) -> None:
        """Forget a minion that has returned, and erase the status line before its return."""
        self.done.add(minion_id)
        self.clear()

    def note(self, text: str) -> None:
        """Print one line on stderr (the status line erased first)."""
        self.clear()
        _note(text)

    def clear(self) -> None:
        """Erase the status line, if one is shown."""
        if self.status:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self.status = ""

    def _redraw(self) -> None:
        import shutil  # only the live line needs the terminal's width; shutil loads bz2, lzma

        now = time.monotonic()
        if now - self.shown_live < self.LIVE_INTERVAL:
            return
        self.shown_live = now
        running = [f"{m} {step}" for m, step in sorted(self.steps.items()) if m not in self.done]
        if not running:
            self.clear()
            return
        text = "states: " + ", ".join(running)
        width = max(shutil.get_terminal_size().columns - 1, 10)
        if len(text) > width:
            text = text[: width - 3] + "..."
        sys.stderr.write("\r\033[K" + text)
        sys.stderr.flush()
        self.status = text

    def _still_running(self) -> None:
        names = sorted(m for m in self.busy if m not in self.done)
        if not names:
            return
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        longest = max(self.busy[m] for m in names)
        self.note(
            f"still running on {len(names)} minion(s): {', '.join(names[:5])}{more} "
            f"({longest:.0f}s)"
        )
