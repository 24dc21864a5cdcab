"""Fixtures of the SDK namespace tests (the world itself is in helpers.client)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.client import World, make_world


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    w = make_world()
    yield w
    w.ml.close()
