"""Fixtures of the portal's browser tests: a seeded patient on a real Anvil of this module, the
portal served on a background thread, and one headless Chromium (Debian's) per module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.portal import CHROMIUM, World, seed, serve


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = seed(tmp_path_factory.mktemp("portal"))
    try:
        yield w
    finally:
        w.node.stop()


@pytest.fixture(scope="module")
def portal_url(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = serve(world, tmp_path_factory.mktemp("portal-state"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):  # .ci/run installs it: a missing browser there is a failure
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        try:
            yield b
        finally:
            b.close()
