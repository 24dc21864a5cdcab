"""Shared fixtures for the crypto tests: every suite-dependent test runs for both key suites."""

from __future__ import annotations

import pytest

from helpers.crypto import PATIENT
from medledger.crypto import IdentityKey, Keyring, Suite


@pytest.fixture(params=list(Suite), ids=lambda s: s.label)
def suite(request: pytest.FixtureRequest) -> Suite:
    return Suite(request.param)


@pytest.fixture
def keyring(suite: Suite) -> Keyring:
    return Keyring.create(PATIENT, suite=suite)


@pytest.fixture
def identity(suite: Suite) -> IdentityKey:
    return IdentityKey.generate(suite)
