"""The explicit context of a running job.

A module function reaches the job's options, grains, pillar, other
functions, test mode, event firing and the command runner through
:func:`current`, never through injected globals. The context lives in a
:class:`contextvars.ContextVar`, so concurrent jobs in one minion never see
each other's state::

    from fluxforge.plugins.context import current

    def hostname() -> str:
        \"\"\"Return the host name.\"\"\"
        return current().grains["host"]

:func:`activate` makes a context current (``with ctx:`` does the same for
a block).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from types import TracebackType

    from fluxforge.config import MinionConfig
    from fluxforge.host.procs import Command, CommandRunner, Outcome
    from fluxforge.plugins.loader import Functions


def _no_events(tag: str, data: dict[str, Any]) -> None:
    return None


def _no_progress(data: dict[str, Any]) -> None:
    return None


def _spawn(command: Command) -> Outcome:
    """The real command runner, :func:`fluxforge.host.procs.spawn`."""
    from fluxforge.host.procs import spawn  # procs imports this module: resolved on first use

    return spawn(command)


class MinionHooks(Protocol):
    """What a job may ask of the minion daemon running it (absent under ``ff-call --local``).

    Every method may be called from a worker thread.
    """

    def request(self, kind: str, body: dict[str, Any], timeout: float = 30.0) -> Any:
        """Send a request of type ``kind`` to the master and wait for its reply body."""

    def refresh(self, what: str) -> None:
        """Reload ``grains`` (and send them to the master), ``pillar`` or ``modules``.

        The calling job's context gets the new grains or pillar too.
        """

    def running(self) -> list[dict[str, Any]]:
        """The jobs running here, each ``{jid, fun, arg, tgt, tgt_type, user, started, pid}``."""

    def kill(self, jid: str) -> bool:
        """Ask the job ``jid`` to stop; False when no such job runs."""


@dataclass
class JobContext:
    """What a running module function may know and do."""

    opts: MinionConfig
    grains: Mapping[str, Any]
    pillar: Mapping[str, Any] = field(repr=False)  # never in a log or traceback
    funcs: Functions
    jid: str = ""
    fun: str = ""
    test: bool = False
    fire_event: Callable[[str, dict[str, Any]], None] = _no_events
    cancelled: threading.Event = field(default_factory=threading.Event)
    minion: MinionHooks | None = None
    pillar_error: str = ""
    # The state modules (for the state engine) and the file client (the
    # master's file server, or the local file_roots under ff-call --local).
    states: Functions | None = None
    files: Any = None
    # Report progress of a long job (a state run: one call per state applied);
    # the minion sends it to the master as a ``prog`` request.
    progress: Callable[[dict[str, Any]], None] = _no_progress
    # What runs every command a module starts (fluxforge.host.procs.execute
    # hands it a checked Command); a test may pass a fake one.
    command_runner: CommandRunner = _spawn

    def __enter__(self) -> JobContext:
        """Make this context current for a ``with`` block (in this thread or task)."""
        token = activate(self)
        _entered.set((*_entered.get(), token))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        *outer, token = _entered.get()
        _entered.set(tuple(outer))
        deactivate(token)


_current: contextvars.ContextVar[JobContext] = contextvars.ContextVar("fluxforge_job")
# The tokens of the ``with`` blocks open in this thread or task, innermost last:
# kept per contextvars context, so one JobContext may be entered in several
# threads at once.
_entered: contextvars.ContextVar[tuple[contextvars.Token[JobContext], ...]] = (
    contextvars.ContextVar("fluxforge_job_entered", default=())
)


def current() -> JobContext:
    """The context of the job running in this thread or task."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("no FluxForge job is running here") from None


def activate(ctx: JobContext) -> contextvars.Token[JobContext]:
    """Make ``ctx`` the current context; pass the token to :func:`deactivate`."""
    return _current.set(ctx)


def deactivate(token: contextvars.Token[JobContext]) -> None:
    """Restore the context that was current before :func:`activate`."""
    _current.reset(token)
