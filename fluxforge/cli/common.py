"""What every command shares: ``-c``, ``--out``, ``--log-level`` and the error boundary.

Commands that run functions also share ``--state-output``, the layout of the
``highstate`` outputter.

The boundary prints one line for a :class:`~fluxforge.errors.FluxForgeError`
and exits with its code; a traceback appears only with ``--log-level debug``.
A closed stdout (the reader of a pipe has gone) ends the command quietly,
with exit code 141 as if SIGPIPE had killed it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from fluxforge import __version__, logs, output
from fluxforge.errors import FluxForgeError

F = TypeVar("F", bound=Callable[..., Any])

OUT_CHOICES = output.OUTPUTTERS
CONTEXT = {"help_option_names": ["-h", "--help"]}


def common_options(fn: F) -> F:
    """Add ``-c/--config``, ``--log-level`` (short ``-l``) and ``--version``."""
    return _common_options(fn, ("--log-level", "-l"))


def common_options_no_l(fn: F) -> F:
    """:func:`common_options` without ``-l`` for ``--log-level``: ``ff-key -l`` lists (Salt)."""
    return _common_options(fn, ("--log-level",))


def _common_options(fn: F, log_flags: tuple[str, ...]) -> F:
    fn = click.option(
        "-c",
        "--config",
        "config_path",
        metavar="PATH",
        help="Config file (default: $FLUXFORGE_CONFIG or /etc/fluxforge/fluxforge.conf).",
    )(fn)
    fn = click.option(
        *log_flags,
        "log_level",
        type=click.Choice(list(logs.LEVELS)),
        default=None,
        help="Log level on stderr; debug also shows tracebacks.",
    )(fn)
    fn = click.version_option(__version__, "--version", prog_name="fluxforge")(fn)
    return fn


def out_option(default: str | None = "nested") -> Callable[[F], F]:
    """Add ``--out``; with ``default`` None it is ``nested``, or ``highstate`` for a state run.

    A command given None resolves it with :func:`fluxforge.output.default_outputter`.
    """
    if default is None:
        return click.option(
            "--out",
            "out",
            type=click.Choice(OUT_CHOICES),
            default=None,
            help="Output format [default: nested; highstate for state.apply, state.sls ...].",
        )
    return click.option(
        "--out",
        "out",
        type=click.Choice(OUT_CHOICES),
        default=default,
        show_default=True,
        help="Output format.",
    )


def state_output_option(fn: F) -> F:
    """Add ``--state-output``: how the highstate outputter lays out each state."""
    return click.option(
        "--state-output",
        "state_output",
        type=click.Choice(output.STATE_OUTPUTS),
        default=None,
        help="With the highstate outputter: full (every field of every state), terse (one "
        "line each), mixed (full for failures only) or changes (leave out states that "
        "succeeded without changes). Default: the config's state_output (full).",
    )(fn)


class LiteralArgsCommand(click.Command):
    """A command that remembers how many words came after ``--``.

    Click removes the ``--`` and hands on the words after it with the
    others; :func:`fluxforge.cli.args.reject_options` needs to know which
    those were, so that ``ff '*' test.echo -- -n`` passes ``-n`` while
    ``ff '*' test.echo -n`` is a usage error.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from fluxforge.cli.args import LITERAL_META

        ctx.meta[LITERAL_META] = len(args) - args.index("--") - 1 if "--" in args else 0
        return super().parse_args(ctx, args)


def literal_words() -> int:
    """How many of the current command's words came after ``--``."""
    from fluxforge.cli.args import LITERAL_META

    return int(click.get_current_context().meta.get(LITERAL_META, 0))


def known_options() -> list[str]:
    """The long options of the current command (``--out``, ...), for "did you mean"."""
    names: list[str] = []
    ctx = click.get_current_context(silent=True)
    for param in ctx.command.params if ctx is not None else ():
        names += [o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")]
    return names


def exit_without_collecting() -> None:
    """Let this process exit without the garbage collector's last passes over its objects.

    A short command's objects die with its process, but Python still walks
    every one of them (click's, zmq's, PyYAML's: about 10 ms) in the
    collections it runs while it finalizes. Frozen at exit (``gc.freeze``),
    they are out of the collector's sight; the atexit handlers still run
    (logging's flush among them) and reference counting still frees what it
    frees. For the commands that talk to a master (``ff``, ``ff-key``),
    whose objects need no finalizer; not for the daemons, nor for
    ``ff-call``, which runs module code. Calling it again changes nothing.
    """
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one error line and exit with ``code``."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


EXIT_BROKEN_PIPE = 141  # what a shell reports for a command killed by SIGPIPE


def _quiet_broken_pipe() -> None:
    """Exit without a word once the reader of stdout has gone (``ff ... | head -1``).

    Whatever is still buffered for stdout cannot be written: stdout is
    pointed at /dev/null so that flushing it at exit raises nothing either.
    """
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    sys.exit(EXIT_BROKEN_PIPE)


def boundary(fn: F) -> F:
    """Turn FluxForge errors into one line on stderr and the right exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = kwargs.get("log_level") == "debug"
        try:
            return fn(*args, **kwargs)
        except FluxForgeError as exc:
            if debug:
                logging.getLogger("fluxforge").exception("command failed")
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except BrokenPipeError:
            _quiet_broken_pipe()
        except OSError as exc:
            if debug:
                logging.getLogger("fluxforge").exception("command failed")
            fail(f"{exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}", 2)
        return None

    return wrapper  # type: ignore[return-value]
