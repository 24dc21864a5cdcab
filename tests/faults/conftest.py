"""Fixtures of the key-safety and fault-injection tests (helpers in helpers.faults)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.faults import World, make_world


@pytest.fixture
def world() -> Iterator[World]:
    w = make_world()
    yield w
    w.ml.close()
