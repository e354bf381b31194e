"""``ff``: run an execution function on the minions a target selects.

The command line is parsed with what this module imports at its top, which
is light; the client (zmq, msgpack) is imported once a job is about to run,
and batch mode only for ``-b``, so ``ff --version``, ``ff --help`` and usage
errors cost little more than click's own import.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import click

from fluxforge import config, logs, output
from fluxforge.cli.args import (
    TARGET_FLAGS,
    parse_count,
    parse_seconds,
    parse_target_list,
    parse_timeout,
    reject_options,
    split_args,
    target_type,
)
from fluxforge.cli.common import (
    CONTEXT,
    LiteralArgsCommand,
    boundary,
    common_options,
    exit_without_collecting,
    fail,
    known_options,
    literal_words,
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


def salt_options(fn: F) -> F:
    """Add the output and job options Salt users type: ``--static``, ``--out-file`` ...

    ``--return`` is taken so that it is refused with a clear message rather
    than read as an argument: returners come in a later issue.
    """
    options = [
        click.option("-s", "--static", is_flag=True, help="Print all returns at once, at the end."),
        click.option(
            "--out-file",
            "--output-file",
            "out_file",
            metavar="PATH",
            help="Write the returns to PATH instead of stdout (uncoloured unless --force-color).",
        ),
        click.option(
            "--out-file-append",
            "--output-file-append",
            "out_file_append",
            is_flag=True,
            help="With --out-file: append to PATH instead of replacing it.",
        ),
        click.option("--no-color", "--no-colour", "no_color", is_flag=True, help="Never colour."),
        click.option(
            "--force-color", "--force-colour", "force_color", is_flag=True, help="Always colour."
        ),
        click.option(
            "--subset",
            "subset",
            metavar="N",
            help="Run on N minions picked at random among those targeted that have FUNCTION.",
        ),
        click.option("--show-jid", is_flag=True, help="Print the job's jid on stderr."),
        click.option(
            "--hide-timeout",
            is_flag=True,
            help="Do not name the minions that did not return (the exit code still says so).",
        ),
        click.option(
            "-d",
            "--doc",
            "--documentation",
            "doc",
            is_flag=True,
            help="Show the documentation of FUNCTION, a module, or everything (sys.doc).",
        ),
        click.option(
            "--return",
            "returner",
            metavar="RETURNER",
            help="Not available yet: returners come in a later issue; refused.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.command(
    cls=LiteralArgsCommand,
    context_settings={
        **CONTEXT,
        "ignore_unknown_options": True,
        "allow_interspersed_args": True,
    },
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
@salt_options
@out_option(default=None)
@state_output_option
@common_options
@click.argument("target", required=False)
@click.argument("function", required=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@boundary
def main(
    target: str | None,
    function: str | None,
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
    static: bool,
    out_file: str | None,
    out_file_append: bool,
    no_color: bool,
    force_color: bool,
    subset: str | None,
    show_jid: bool,
    hide_timeout: bool,
    doc: bool,
    returner: str | None,
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

    Options Salt users know work as in Salt: -s/--static, --out-file PATH
    (--out-file-append), --no-color, --force-color, --subset N, --show-jid,
    --hide-timeout, and -d/--doc ('ff -d', 'ff web1 -d cmd.run': sys.doc).
    --return is refused: returners come in a later issue. Any other word
    that starts with '-' is a usage error; an argument that starts with '-'
    goes after '--': ff '*' cmd.run -- -x.

    Exit codes: 0 all succeeded, 1 a function failed (or --failhard
    stopped the batch), 2 usage or config error, 3 no minion matched,
    4 some minions did not return (or an id given with -L is no accepted minion).
    """
    from fluxforge.client import LocalClient

    exit_without_collecting()

    _check_output_options(returner, no_color, force_color, out_file, out_file_append)
    tgt_type = target_type(name[len("tgt_") :] for name, given in flags.items() if given)
    shown = " ".join(["ff", *(f.short for f in TARGET_FLAGS if f.tgt_type == tgt_type)])
    target, function, args = _words(target, function, args, doc, literal_words(), shown)
    size, pause = _batch_settings(batch, batch_wait, failhard, is_async)
    count = _subset_settings(subset, size is not None)
    cfg = config.load_master(config_path)
    logs.setup(log_level or "warning", stderr=True)
    if "." not in function:
        fail(f"FUNCTION must be module.function, got {function!r} (e.g. test.ping)")
    wait = parse_timeout(timeout) if timeout is not None else cfg.timeout
    positional, keywords = split_args(args)
    tgt: str | list[str] = parse_target_list(target) if tgt_type == "list" else target
    layout = state_output or cfg.state_output
    with contextlib.ExitStack() as closing:
        stream = (
            closing.enter_context(open(out_file, "a" if out_file_append else "w"))
            if out_file
            else sys.stdout
        )
        color = force_color or (not no_color and output.use_color(stream))
        printer = _ReturnPrinter(
            out or output.default_outputter(function), layout, stream, color, static
        )
        progress = _Progress(verbose, live=not verbose and _is_terminal(sys.stderr))
        progress.hide_missing = hide_timeout
        client = LocalClient(cfg)
        closing.callback(client.close)
        closing.callback(progress.clear)
        if count is not None:
            tgt, tgt_type = _pick_subset(client, tgt, tgt_type, function, count, wait)
        if size is not None:
            call = (tgt, tgt_type, function, positional, keywords)
            _batch_mode(client, printer, progress, call, size, pause, wait, failhard)
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
        elif show_jid:
            _note(f"jid: {job.jid}")
        try:
            code = _finish_job(job, printer, progress)
        except KeyboardInterrupt:
            _interrupted([job.jid], progress)
        if unlisted:
            _report_unlisted(client, unlisted)
            code = EXIT_MISSING if code == EXIT_OK else code
        sys.exit(code)


def _batch_mode(
    client: Any,
    printer: _ReturnPrinter,
    progress: _Progress,
    call: tuple[Any, str, str, list[Any], dict[str, Any]],
    size: BatchSize,
    pause: float,
    wait: float,
    failhard: bool,
) -> None:
    """Run ``call`` (target, type, function, args, kwargs) in batches of ``size``; exit."""
    from fluxforge.client.batch import Batch

    tgt, tgt_type, function, positional, keywords = call
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


def _words(
    target: str | None,
    function: str | None,
    args: tuple[str, ...],
    doc: bool,
    literal: int,
    command: str = "ff",
) -> tuple[str, str, tuple[str, ...]]:
    """TARGET, FUNCTION and ARGs checked, with ``-d`` turned into ``sys.doc`` as Salt does.

    A word that looks like an option and was not given after ``--`` is a
    usage error (click passes unknown options through so that the error
    can say where an argument that starts with ``-`` goes); the last
    ``literal`` words came after ``--``; ``command`` starts the command line
    the error suggests (``ff -L``: the targeting option in use).
    """
    head = [w for w in (target, function) if w is not None]
    reject_options(command, head, args, literal, known_options())
    if doc:
        # Salt's -d: the target defaults to '*', and FUNCTION (if any) is what to document.
        target = target or "*"
        rest = [w for w in (function, *args) if w is not None and w != "sys.doc"]
        if len(rest) > 1:
            fail("-d/--doc shows one function or module at a time")
        return target, "sys.doc", tuple(rest)
    if target is None or function is None:
        fail("give TARGET and FUNCTION, e.g. ff '*' test.ping; see `ff --help`")
    return target, function, args


def _check_output_options(
    returner: str | None,
    no_color: bool,
    force_color: bool,
    out_file: str | None,
    out_file_append: bool,
) -> None:
    """Refuse ``--return`` (no returners yet) and the combinations of output options that clash."""
    if returner is not None:
        fail(
            f"--return {returner}: returners are not available yet (they come in a later "
            "issue); nothing was run. Every return is kept in the master's job cache"
        )
    if no_color and force_color:
        fail("give at most one of --no-color and --force-color")
    if out_file_append and out_file is None:
        fail("--out-file-append needs --out-file PATH")


def _subset_settings(subset: str | None, batched: bool) -> int | None:
    """The ``--subset`` count (None without it); it does not combine with ``-b``."""
    if subset is None:
        return None
    if batched:
        fail("--subset cannot be combined with -b/--batch")
    return parse_count(subset, "--subset")


def _pick_subset(
    client: Any, tgt: str | list[str], tgt_type: str, function: str, count: int, wait: float
) -> tuple[list[str], str]:
    """Up to ``count`` minions at random among those targeted that have ``function``.

    As Salt's ``--subset``: ``sys.list_functions FUNCTION`` asks each targeted
    minion whether it has the function; those that answer yes are the pool.
    """
    import random

    from fluxforge.client.local import succeeded

    job = client.run(tgt, "sys.list_functions", [function], {}, tgt_type, wait)
    pool = [
        minion_id
        for minion_id, ret in job.returns()
        if succeeded(ret) and function in (ret.get("return") or [])
    ]
    job.close()
    if not pool:
        _note(f"No targeted minion that answered has {function}; nothing was run.")
        sys.exit(EXIT_NO_MATCH)
    return random.sample(sorted(pool), min(count, len(pool))), "list"


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
    _report_missing(job.missing, job.timeout, f" (jid {job.jid})", progress.hide_missing)
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
    _report_missing(run.missing, run.timeout, "", progress.hide_missing)
    _report_unlisted(client, unlisted)
    if failed or run.skipped:
        return EXIT_FAILED
    return EXIT_MISSING if run.missing or run.down or unlisted else EXIT_OK


def _report_missing(missing: list[str], timeout: float, suffix: str, hide: bool = False) -> None:
    if missing and not hide:
        _note(
            f"No return from {len(missing)} minion(s) within {timeout:g}s: "
            f"{', '.join(missing)}{suffix}"
        )


class _ReturnPrinter:
    """Prints returns with one outputter (and ``--state-output`` layout) to ``stream``.

    ``static`` (``-s``) holds every return back until the last has come.
    """

    def __init__(
        self,
        out: str,
        state_output: str,
        stream: Any = None,
        color: bool | None = None,
        static: bool = False,
    ) -> None:
        self.out = out
        self.state_output = state_output
        self.stream = stream if stream is not None else sys.stdout
        self.color = output.use_color(self.stream) if color is None else color
        self.static = static

    def __call__(self, returns: Iterable[tuple[str, dict[str, Any]]], progress: _Progress) -> bool:
        """Print each return as it arrives (``json``: all at the end); True if any failed.

        A return counts as failed unless its ``success`` is true and its
        retcode 0, so a state run with a failed state (retcode 2) fails.
        """
        from fluxforge.client.local import succeeded

        color = self.color
        held: list[str] = []
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
            if self.static:
                held.append(text)
                continue
            self.stream.write(text)
            self.stream.flush()
        progress.clear()
        if held:
            self.stream.write("".join(held))
            self.stream.flush()
        if self.out == "json":
            click.echo(output.format_all(collected, "json"), file=self.stream)
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
        self.hide_missing = False  # --hide-timeout
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
