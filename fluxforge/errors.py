"""The one error tree of FluxForge.

Every error a user can cause or meet derives from :class:`FluxForgeError` and
carries one readable line. Errors from zmq, nacl, msgpack and yaml are
translated into this tree where they enter our code; the command-line
boundary prints ``str(error)`` and maps the class to an exit code.

An error crosses a socket (the master's local request socket today, the
REST API later) as ``{type, message}`` (:func:`describe`) and is raised
again on the other side as the same class (:func:`rebuild`), so that an
exit code never depends on an error's wording. Only the classes of this
module can be named that way; any other name becomes a
:class:`FluxForgeError`.

::

    FluxForgeError
    ├── ConfigError             a config file or option is wrong    (exit 2)
    ├── UsageError              a command was called wrongly        (exit 2)
    ├── KeyStoreError           a key file is unreadable or invalid (exit 2)
    ├── WireError               a frame failed a check; it is dropped
    │   ├── FrameTooLarge       over the size limit, not decoded
    │   ├── MalformedFrame      not the msgpack shape we expect
    │   ├── AuthenticationFailed  did not decrypt or verify
    │   └── ReplayDetected      seen before
    ├── NotAuthorized           a request from an id that is not accepted
    ├── MasterUnavailable       the local master socket does not answer
    ├── TargetError             a target expression cannot be parsed (exit 2)
    ├── RenderError             a template or data file did not render (names file, line)
    ├── InternalError           a peer failed unexpectedly (a bug: see its log)
    ├── FileServerError         a file-server path was refused or is missing
    └── ExecutionError          a module function could not be called
        ├── UnknownFunction     no such module function
        └── PillarError         this minion's pillar failed to compile
"""

from __future__ import annotations

from typing import Any


class FluxForgeError(Exception):
    """Base of every FluxForge error; ``str()`` is one line for a person."""

    exit_code = 1


class ConfigError(FluxForgeError):
    """A configuration file or option is invalid."""

    exit_code = 2


class UsageError(FluxForgeError):
    """A command was invoked with wrong arguments."""

    exit_code = 2


class KeyStoreError(FluxForgeError):
    """A key file could not be read, written or parsed."""

    exit_code = 2


class WireError(FluxForgeError):
    """A network frame failed validation and was dropped."""


class FrameTooLarge(WireError):
    """A frame exceeded the size limit and was refused before decoding."""


class MalformedFrame(WireError):
    """A frame did not decode to the expected shape."""


class AuthenticationFailed(WireError):
    """A frame did not decrypt, or its signature did not verify."""


class ReplayDetected(WireError):
    """A frame carried a job id or request counter seen before."""


class NotAuthorized(FluxForgeError):
    """The sender's id is not accepted for this operation."""


class MasterUnavailable(FluxForgeError):
    """The master's local request socket did not answer."""

    exit_code = 2


class TargetError(FluxForgeError):
    """A target expression could not be parsed."""

    exit_code = 2


class ExecutionError(FluxForgeError):
    """A module function could not be called as asked."""


class UnknownFunction(ExecutionError):
    """The named module function does not exist."""


class PillarError(ExecutionError):
    """The pillar of this minion could not be compiled; jobs that need it fail with this."""


class RenderError(FluxForgeError):
    """A template or data file did not render; the message names the file and line."""


class FileServerError(FluxForgeError):
    """A file-server request named a path outside the roots, or a missing file."""


class InternalError(FluxForgeError):
    """A peer (the master) failed in a way it did not foresee; its log has the details."""


# The classes a peer may name in ``{type, message}``: this module's, and no other.
_BY_NAME: dict[str, type[FluxForgeError]] = {
    cls.__name__: cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, FluxForgeError)
}

MESSAGE_LIMIT = 2000


def by_name(name: object) -> type[FluxForgeError]:
    """The error class of this module called ``name``; :class:`FluxForgeError` for anything else."""
    if isinstance(name, str):
        return _BY_NAME.get(name, FluxForgeError)
    return FluxForgeError


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 3] + "..."


def describe(exc: BaseException) -> dict[str, str]:
    """``exc`` as ``{type, message}`` for a peer: one line, and a class :func:`by_name` knows.

    A FluxForge error of a class defined elsewhere is named by its nearest
    base in this module; anything else is an :class:`InternalError`.
    """
    if isinstance(exc, FluxForgeError):
        known = next(c for c in type(exc).__mro__ if _BY_NAME.get(c.__name__) is c)
        return {"type": known.__name__, "message": _one_line(str(exc))}
    return {
        "type": InternalError.__name__,
        "message": _one_line(f"internal error: {type(exc).__name__}: {exc}"),
    }


def rebuild(description: Any, peer: str = "the peer") -> FluxForgeError:
    """The error ``peer`` described with :func:`describe`, as the class it names.

    Never instantiates a class outside this module: an unknown or missing
    ``type`` gives a :class:`FluxForgeError`, and so does a description that
    is not a mapping with a text message.
    """
    if not isinstance(description, dict):
        return FluxForgeError(f"{peer} sent a malformed error")
    message = description.get("message")
    if not isinstance(message, str) or not message.strip():
        return FluxForgeError(f"{peer} reported an error without a message")
    return by_name(description.get("type"))(_one_line(message))
