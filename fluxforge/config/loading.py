"""Loading a configuration file: every key and type checked, paths resolved once.

A wrong option names the file, the section, the key and the closest valid
key. Path options are relative to ``root_dir`` and are resolved here, at
load time, so the objects handed around hold absolute paths.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fluxforge.config.schema import SECTIONS, Config, MasterConfig, MinionConfig
from fluxforge.errors import ConfigError

DEFAULT_CONFIG = "/etc/fluxforge/fluxforge.conf"
ENV_CONFIG = "FLUXFORGE_CONFIG"


def config_path(explicit: str | None) -> tuple[str, bool]:
    """Return the config path to use and whether the user named it."""
    if explicit:
        return explicit, True
    env = os.environ.get(ENV_CONFIG)
    if env:
        return env, True
    return DEFAULT_CONFIG, False


def load(explicit: str | None = None, require: str | None = None) -> Config:
    """Load and validate the configuration file.

    A file named by ``-c`` or ``$FLUXFORGE_CONFIG`` must exist; the default
    path may be absent, and then every option takes its default. ``require``
    names the section a daemon runs from (``master`` or ``minion``): a file
    that exists without it is a :class:`ConfigError` saying to add it, since
    running on every default would quietly ignore what the user meant to set.
    """
    raw, path = _read(explicit)
    if require is not None and os.path.exists(path) and isinstance(raw, Mapping):
        _require(raw, path, require)
    return from_mapping(raw, path)


def load_master(explicit: str | None = None) -> MasterConfig:
    """The master section, for the commands that talk to a master (``ff``, ``ff-key``).

    The whole file is checked as :func:`load` checks it, but the minion
    section's default id is not worked out: that costs a host-name lookup,
    and these commands never use it.
    """
    raw, path = _read(explicit)
    return _sections(raw, path, minion_id=False)[0]


def _read(explicit: str | None) -> tuple[Any, str]:
    """The parsed file (``{}`` for an absent default path) and its path."""
    import yaml  # here, not at the top: commands that load no config skip PyYAML

    path, named = config_path(explicit)
    raw: Any = {}
    if os.path.exists(path) or named:
        try:
            with open(path, encoding="utf-8") as fh:
                raw = yaml.safe_load(fh) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file; pass -c PATH or set {ENV_CONFIG}")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file: {exc.strerror}")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start} of the file)")
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ConfigError(f"{path}:{where}: {problem}")
    return raw, path


def from_mapping(raw: Any, path: str = "<config>") -> Config:
    """Build a :class:`Config` from parsed YAML, validating every key."""
    master, minion = _sections(raw, path, minion_id=True)
    return Config(path=path, master=master, minion=minion)


def _sections(raw: Any, path: str, minion_id: bool) -> tuple[MasterConfig, MinionConfig]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: top level must be a mapping with master: and minion:")
    _check_flat(raw, path)
    for section in raw:
        if section not in SECTIONS:
            raise ConfigError(
                f"{path}: unknown section {section!r}{_suggest(str(section), SECTIONS)}"
            )
    master = build(MasterConfig, _section(raw, "master"), path, "master")
    minion = build(MinionConfig, _section(raw, "minion"), path, "minion", default_id=minion_id)
    return master, minion


def _require(raw: Mapping[Any, Any], path: str, section: str) -> None:
    """Refuse a file without ``section`` (a flat file first gets its own message)."""
    if section in raw:
        return
    _check_flat(raw, path)
    others = [name for name in SECTIONS if name in raw]
    has = f" (it has only {', '.join(n + ':' for n in others)})" if others else ""
    raise ConfigError(
        f"{path}: no {section}: section{has}; add a line '{section}:' and indent "
        f"the {section}'s options under it (an empty '{section}:' takes every default)"
    )


def _check_flat(raw: Mapping[Any, Any], path: str) -> None:
    """Refuse a Salt-style flat file (options at the top level), naming the section to use.

    Salt's master and minion files hold their options at the top level, and a
    Salt minion file says ``master: <host>``; here every option sits under
    its daemon's section.
    """
    master = {f.name for f in dataclasses.fields(MasterConfig)}
    minion = {f.name for f in dataclasses.fields(MinionConfig)}
    value = raw.get("master")
    if isinstance(value, str):
        raise ConfigError(
            f"{path}: top-level 'master: {value}' looks like a Salt minion file; "
            "here the minion's options go under a section: add 'minion:' and indent "
            "'master:' and the other options under it"
        )
    for key in raw:
        if key in SECTIONS:
            continue
        owners = [name for name, keys in (("master", master), ("minion", minion)) if key in keys]
        if owners:
            where = " or ".join(f"'{name}:'" for name in owners)
            raise ConfigError(
                f"{path}: option {key!r} is at the top level (a Salt-style flat file?); "
                f"options go under their daemon's section: add {where} and indent "
                f"{key!r} and the other options under it"
            )


def _section(raw: Mapping[str, Any], name: str) -> Any:
    """A section's mapping; an absent or empty (null) section means defaults."""
    value = raw.get(name)
    return {} if value is None else value


def _suggest(key: str, valid: typing.Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _type_ok(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin is not None:
        tp = origin
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def _type_name(tp: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    origin = typing.get_origin(tp) or tp
    return names.get(origin, {list: "a list", dict: "a mapping"}.get(origin, str(tp)))


def build(
    cls: type, values: Any, path: str = "<config>", section: str = "", *, default_id: bool = True
) -> Any:
    """Validate ``values`` against the fields of ``cls`` and resolve paths.

    A minion section without ``id`` takes the host's FQDN, unless
    ``default_id`` is False (the id then stays empty).
    """
    if not isinstance(values, Mapping):
        raise ConfigError(f"{path}: section {section}: must be a mapping of options")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(
                f"{path}: {section}: unknown option {key!r}{_suggest(str(key), fields)}"
            )
        if not _type_ok(value, hints[key]):
            raise ConfigError(
                f"{path}: {section}: option {key!r} must be {_type_name(hints[key])}, got {value!r}"
            )
        choices = fields[key].metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(
                f"{path}: {section}: option {key!r} must be one of {', '.join(choices)}, "
                f"got {value!r}{_suggest(str(value), choices)}"
            )
        between = fields[key].metadata.get("between")
        if between and not between[0] <= value <= between[1]:
            raise ConfigError(
                f"{path}: {section}: option {key!r} must be from {between[0]} to {between[1]}, "
                f"got {value!r}"
            )
        if hints[key] is float:
            value = float(value)
        clean[key] = value
    root = clean.get("root_dir", fields["root_dir"].default)
    if not os.path.isabs(root):
        # A relative root_dir is relative to the config file, so a whole
        # installation can be described by one file in a folder.
        base = "." if path.startswith("<") else os.path.dirname(os.path.abspath(path))
        root = os.path.abspath(os.path.join(base, root))
    clean["root_dir"] = root
    for name, f in fields.items():
        if f.metadata.get("path"):
            factory: Any = f.default_factory
            value = clean.get(name, f.default if factory is dataclasses.MISSING else factory())
            if isinstance(value, dict):
                clean[name] = _resolve_roots(value, root, path, section, name)
            elif value:
                clean[name] = os.path.join(root, value)
    if cls is MinionConfig and default_id and not clean.get("id"):
        import socket

        clean["id"] = socket.getfqdn()
    return cls(**clean)


def _resolve_roots(
    value: dict[Any, Any], root: str, path: str, section: str, name: str
) -> dict[str, list[str]]:
    """``{env: [folder, ...]}`` with each folder made absolute under ``root``."""
    out: dict[str, list[str]] = {}
    for env, folders in value.items():
        if isinstance(folders, str):
            folders = [folders]
        if not isinstance(env, str) or not isinstance(folders, list):
            raise ConfigError(
                f"{path}: {section}: option {name!r} must map environment names to lists "
                f"of folders, got {env!r}: {folders!r}"
            )
        out[env] = [os.path.join(root, str(folder)) for folder in folders]
    return out


def ensure_dir(path: str | Path, mode: int = 0o755) -> None:
    """Create ``path`` (and parents) if missing, with ``mode`` on the leaf."""
    os.makedirs(path, mode=mode, exist_ok=True)
    os.chmod(path, mode)


def ensure_private_dir(path: str | Path, option: str = "pki_dir") -> None:
    """Create ``path`` 0700 if missing; refuse an existing one that group or others can use.

    Like ssh with ``~/.ssh``: a folder of private keys that another user can
    read, write or enter is a :class:`ConfigError` naming the folder, its
    mode and the ``chmod`` that fixes it; it is never changed silently, since
    its keys may already have been read.
    """
    if not os.path.isdir(path):
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
        return
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(
            f"{option} {path} is mode {mode:04o} (group or others may use it); "
            f"run `chmod 700 {path}`"
        )
