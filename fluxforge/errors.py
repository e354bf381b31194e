"""The one error tree of FluxForge.

Every error a user can cause or meet derives from :class:`FluxForgeError` and
carries one readable line. Errors from zmq, nacl, msgpack and yaml are
translated into this tree where they enter our code; the command-line
boundary prints ``str(error)`` and maps the class to an exit code.

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
    ├── FileServerError         a file-server path was refused or is missing
    └── ExecutionError          a module function could not be called
        ├── UnknownFunction     no such module function
        └── PillarError         this minion's pillar failed to compile
"""

from __future__ import annotations


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
