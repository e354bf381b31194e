"""Fixtures of the host tier: tests here change this machine, and clean up after."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def names() -> Iterator[list[str]]:
    """Unique ``fftest_<random>`` names; any user or group of those names is deleted after."""
    made = [f"fftest_{uuid.uuid4().hex[:8]}" for _ in range(4)]
    try:
        yield made
    finally:
        for name in made:
            subprocess.run(["userdel", "-r", name], capture_output=True)
        for name in made:
            subprocess.run(["groupdel", name], capture_output=True)
        for name in made:
            assert not Path(f"/home/{name}").exists()
