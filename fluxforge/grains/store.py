"""The persisted grains file: a YAML mapping that ``grains.setval`` and friends write.

The file lives at the minion option ``grains_file``. Loading is lenient: a
missing or empty file is no grains, and a corrupt one is logged as one
warning and treated as empty, so the minion keeps running. Changing it is
strict: :func:`update` refuses to overwrite a file it cannot read, because
that would throw away what a person wrote there.

Writes are atomic (a temporary file in the same folder, then
:func:`os.replace`) and leave the file mode 0644. One lock serialises the
read-modify-write cycles of the jobs of one minion process.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from fluxforge.errors import ExecutionError

log = logging.getLogger("fluxforge.minion")

FILE_MODE = 0o644

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_lock = threading.Lock()


class _Unreadable(Exception):
    """The grains file exists but does not hold a YAML mapping."""


def plain(value: Any) -> Any:
    """A deep copy made of plain dicts and lists (tuples become lists)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _read(path: str) -> dict[str, Any]:
    """The mapping in ``path``; {} when absent or empty; :class:`_Unreadable` otherwise."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise _Unreadable(f"cannot be read ({exc})")
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        problem = " ".join(str(exc).split())
        raise _Unreadable(f"is not valid YAML ({problem})")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _Unreadable(f"holds a {type(data).__name__}, not a mapping of grain names")
    return data


def load(path: str) -> dict[str, Any]:
    """The grains stored at ``path``; a corrupt file is one warning and no grains."""
    try:
        return _read(path)
    except _Unreadable as exc:
        log.warning(
            "grains file %s %s; its grains are ignored until you fix or delete it",
            path,
            exc,
        )
        return {}


def write(path: str, data: Mapping[str, Any]) -> None:
    """Replace the file at ``path`` with ``data`` as YAML, atomically, mode 0644."""
    try:
        text = yaml.dump(plain(data), Dumper=_Dumper, default_flow_style=False, allow_unicode=True)
    except yaml.YAMLError as exc:
        raise ExecutionError(f"cannot store these grains in {path}: {exc}")
    folder = os.path.dirname(path) or "."
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".grains.", suffix=".tmp")
    except OSError as exc:
        raise ExecutionError(f"cannot write grains file {path}: {exc}")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ExecutionError(f"cannot write grains file {path}: {exc}")


def update(path: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Read the file at ``path``, let ``change`` edit the mapping in place, write it back.

    Returns the mapping written. A file that cannot be read is an
    :class:`ExecutionError` and stays untouched.
    """
    with _lock:
        try:
            data = _read(path)
        except _Unreadable as exc:
            raise ExecutionError(
                f"grains file {path} {exc}; fix or delete it before changing grains"
            )
        change(data)
        write(path, data)
        return data
