"""13.10: the SDK answers ordinary bad input with MedledgerError subclasses (InvalidInput), never
ValueError / TypeError / web3's MismatchedABI, and before anything is sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from medledger.client import Medledger
from medledger.errors import InvalidInput


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ml = Medledger.embedded(store_dir=tmp_path_factory.mktemp("store"))
    alice = ml.session(ml.dev_party(1))
    alice.identity.register()
    clinic = ml.dev_party(2)
    ml.session(ml.dev_party(0)).providers.register(clinic, name="Clinic")
    return {"ml": ml, "alice": alice, "clinic": ml.session(clinic), "grantee": clinic.address}


def _grant(w: dict[str, Any], **kw: Any) -> Any:
    args: dict[str, Any] = {"categories": ["labs"], "purposes": ["treatment"], "duration": 3600}
    args.update(kw)
    grantee = args.pop("grantee", w["grantee"])
    return w["alice"].consent.grant(grantee, **args)


CASES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "grant to a malformed address": lambda w: _grant(w, grantee="0x123"),
    "grant with categories None": lambda w: _grant(w, categories=None),
    "grant with a category None": lambda w: _grant(w, categories=[None]),
    "grant with a text duration": lambda w: _grant(w, duration="1d"),
    "revoke a malformed address": lambda w: w["alice"].consent.revoke("0xzz"),
    "record for patient 2**70": lambda w: w["clinic"].records.add(2**70, b"x", category="labs"),
    "timeline of patient 2**70": lambda w: w["alice"].records.timeline(2**70),
    "read an int record id": lambda w: w["alice"].access.read(12345, purpose="treatment"),
    "patient 2**70": lambda w: w["ml"].patient(2**70),
    "fund a non-address": lambda w: w["ml"].fund("nope", 1),
    "clock past uint40": lambda w: w["ml"].increase_time(2**50),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_invalid_input(world: dict[str, Any], name: str) -> None:
    ml = world["ml"]
    block = ml.chain.w3.eth.block_number
    with pytest.raises(InvalidInput):
        CASES[name](world)
    assert ml.chain.w3.eth.block_number == block  # nothing was sent
