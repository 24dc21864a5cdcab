"""The event table the archive decodes with is the one the contracts emit."""

from __future__ import annotations

import pytest

from medledger.audit.events import (
    ANCHOR_EVENT_NAMES,
    EVENT_SPECS,
    MEDLEDGER_EVENT_NAMES,
    chain_fields,
    decode_log,
    parse_event,
)
from medledger.chain.artifacts import load_artifact
from medledger.errors import IntegrityError


@pytest.mark.parametrize(
    ("contract", "names"),
    [("MedLedger", MEDLEDGER_EVENT_NAMES), ("AnchorRegistry", ANCHOR_EVENT_NAMES)],
)
def test_spec_events_match_the_compiled_abi(contract: str, names: frozenset[str]) -> None:
    abi_events = {e["name"]: e for e in load_artifact(contract).abi_entries("event")}
    for name in names:
        inputs = abi_events[name]["inputs"]
        spec = EVENT_SPECS[name]
        assert [(i["type"], i["name"], i["indexed"]) for i in inputs] == [
            (p.abi_type, p.name, p.indexed) for p in spec.params
        ], name
    # every domain event of the contract is indexed (the rest is OpenZeppelin housekeeping)
    housekeeping = {"OwnershipTransferred", "OwnershipTransferStarted", "EIP712DomainChanged"}
    assert set(abi_events) - housekeeping == set(names)


def test_decode_ignores_foreign_logs_and_rejects_malformed_ones() -> None:
    spec = EVENT_SPECS["ConsentRevoked"]
    log = {
        "address": "0x" + "11" * 20,
        "topics": [spec.topic0, (7).to_bytes(32, "big"), bytes(12) + b"\x22" * 20],
        "data": (3).to_bytes(32, "big") + b"\x0f" * 24 + bytes(8),
        "blockNumber": 5,
        "blockHash": b"\x01" * 32,
        "transactionHash": b"\x02" * 32,
        "logIndex": 0,
    }
    ev = decode_log(log)
    assert ev is not None
    assert ev.args == {
        "patientId": 7, "grantee": "0x" + "22" * 20, "seq": 3, "head": "0x" + "0f" * 24,
    }  # fmt: skip
    assert decode_log({**log, "topics": [b"\x05" * 32]}) is None
    with pytest.raises(IntegrityError):
        decode_log({**log, "topics": log["topics"][:2]})  # indexed grantee missing
    with pytest.raises(IntegrityError):
        decode_log({**log, "data": b""})  # v1 ConsentRevoked had no seq and head
    granted = EVENT_SPECS["ConsentGranted"]
    with pytest.raises(IntegrityError):
        decode_log({**log, "topics": [granted.topic0, *log["topics"][1:]], "data": b"\x00" * 7})


def test_parse_event_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not an event"):
        parse_event("nonsense")
    with pytest.raises(ValueError, match="bad event parameter"):
        parse_event("E(uint256)")


def test_chain_fields_follow_the_guide_table() -> None:
    """Actor/subject/purpose/outcome of each operation entry (guide section 2)."""
    a, b = "0x" + "aa" * 20, "0x" + "bb" * 20
    grant = {"grantee": a, "categories": 0x0009, "actions": 3, "purposes": 0x0005,
             "validFrom": 100, "validUntil": 2**40 - 1, "replaced": True, "seq": 4}  # fmt: skip
    f = chain_fields("ConsentGranted", grant, 1000, None)
    word = 0x0009 | 3 << 16 | 0x0005 << 24 | 100 << 40 | (2**40 - 1) << 80
    assert (f.seq, f.actor, f.subject, f.purpose, f.outcome, f.timestamp) == (
        4, a, "0x" + word.to_bytes(32, "big").hex(), 0, 6, 1000,
    )  # fmt: skip
    closed = chain_fields("BreakGlassClosed", {"responder": a, "closedBy": b, "seq": 9}, 5, None)
    assert (closed.actor, closed.subject, closed.purpose, closed.outcome) == (
        a, "0x" + "00" * 12 + "bb" * 20, 1, 4,
    )  # fmt: skip
    erased = chain_fields("RecordErased", {"recordId": "0x" + "11" * 32, "seq": 2}, 5, b)
    assert (erased.actor, erased.outcome) == (b, 9)
    with pytest.raises(ValueError, match="not a chained event"):
        chain_fields("KeyringUpdated", {"seq": 1}, 5, None)
