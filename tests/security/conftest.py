"""Fixtures for the attack tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fluxforge.testing.attack import RawPeer


@pytest.fixture
def peers() -> Iterator[list[RawPeer]]:
    """Raw peers made by a test, closed after it."""
    made: list[RawPeer] = []
    yield made
    for peer in made:
        peer.close()
