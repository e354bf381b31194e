"""A state module without ``mod_watch``, for the engine's tests."""

from __future__ import annotations

from typing import Any


def same(name: str) -> dict[str, Any]:
    """Succeed without changes."""
    return {"name": name, "result": True, "changes": {}, "comment": "rec2 same"}
