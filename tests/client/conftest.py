"""Fixtures of the SDK namespace tests (the world itself is in client_testlib)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_testlib import World, make_world


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    w = make_world()
    yield w
    w.ml.close()
