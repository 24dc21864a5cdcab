"""The contracts' events, exactly as docs/architecture.md declares them, and their decoding.

The signatures below are copied from the spec (not from compiled artifacts) so that the archive can
decode logs with nothing but web3 and this table; ``tests/audit`` checks them against the compiled
ABIs. Decoded values are normalised to JSON-friendly Python values: checksummed address strings,
``0x``-prefixed lowercase hex for fixed bytes, ``int`` and ``bool``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address

from medledger.errors import IntegrityError

#: Event declarations of ``MedLedger`` (docs/architecture.md, "Events").
MEDLEDGER_EVENTS: tuple[str, ...] = (
    "PatientRegistered(uint64 indexed patientId, address indexed controller, "
    "bytes32 encryptionKey, bytes32 keyDocument, bytes32 keyring)",
    "KeyringUpdated(uint64 indexed patientId, bytes32 keyring)",
    "EncryptionKeyUpdated(uint64 indexed patientId, bytes32 encryptionKey, bytes32 keyDocument)",
    "EmergencyAccessConfigured(uint64 indexed patientId, uint16 categories, "
    "uint32 maxDuration, bool optOut, bytes32 emergencyKit)",
    "ControllerRotated(uint64 indexed patientId, address indexed previousController, "
    "address indexed newController)",
    "GuardiansSet(uint64 indexed patientId, address[] guardians, uint8 threshold, uint32 delay)",
    "RecoveryApproved(uint64 indexed patientId, address indexed guardian, "
    "address indexed newController, uint8 approvals)",
    "RecoveryScheduled(uint64 indexed patientId, address indexed newController, "
    "uint32 executableAt)",
    "RecoveryCancelled(uint64 indexed patientId, address indexed newController)",
    "ProviderRegistered(address indexed provider, bytes32 encryptionKey, "
    "bytes32 keyDocument, bool emergencyResponder, string name)",
    "ProviderUpdated(address indexed provider, bytes32 encryptionKey, "
    "bytes32 keyDocument, bool emergencyResponder, string name)",
    "ProviderSuspended(address indexed provider)",
    "ProviderReinstated(address indexed provider)",
    "ConsentGranted(uint64 indexed patientId, address indexed grantee, "
    "uint16 categories, uint8 actions, uint16 purposes, uint32 validFrom, "
    "uint32 validUntil, bytes32 keyBundle)",
    "ConsentRevoked(uint64 indexed patientId, address indexed grantee)",
    "BreakGlassOpened(uint64 indexed patientId, address indexed responder, "
    "uint8 reason, uint32 expiresAt, bytes32 justification)",
    "AccessRecorded(uint64 indexed patientId, address indexed accessor, "
    "bytes32 indexed recordId, uint64 seq, uint8 purpose, uint8 outcome, "
    "uint32 timestamp, bytes24 head)",
    "RecordAdded(uint64 indexed patientId, bytes32 indexed recordId, "
    "address indexed author, uint8 category, uint8 cidCodec)",
    "RecordErased(uint64 indexed patientId, bytes32 indexed recordId)",
)

#: Event declarations of ``AnchorRegistry``.
ANCHOR_EVENTS: tuple[str, ...] = (
    "BatchAnchored(bytes32 indexed streamId, bytes32 indexed root, "
    "address indexed submitter, uint64 count)",
)

_DECL = re.compile(r"^(\w+)\((.*)\)$")
_PARAM = re.compile(r"^([\w\[\]]+)( indexed)? (\w+)$")


@dataclass(frozen=True)
class EventParam:
    """One parameter of an event declaration."""

    abi_type: str
    name: str
    indexed: bool


@dataclass(frozen=True)
class EventSpec:
    """A parsed event declaration with its topic0."""

    name: str
    params: tuple[EventParam, ...]

    @property
    def signature(self) -> str:
        """Canonical signature, e.g. ``ConsentRevoked(uint64,address)``."""
        return f"{self.name}({','.join(p.abi_type for p in self.params)})"

    @property
    def topic0(self) -> bytes:
        """keccak256 of the canonical signature."""
        return keccak(self.signature.encode())


def parse_event(declaration: str) -> EventSpec:
    """Parse ``Name(type [indexed] name, ...)`` into an :class:`EventSpec`."""
    m = _DECL.match(declaration.strip())
    if m is None:
        raise ValueError(f"not an event declaration: {declaration!r}")
    params = []
    for part in filter(None, (p.strip() for p in m.group(2).split(","))):
        pm = _PARAM.match(part)
        if pm is None:
            raise ValueError(f"bad event parameter {part!r} in {declaration!r}")
        params.append(EventParam(pm.group(1), pm.group(3), pm.group(2) is not None))
    return EventSpec(m.group(1), tuple(params))


#: Every event the archive indexes, by name.
EVENT_SPECS: dict[str, EventSpec] = {
    s.name: s for s in map(parse_event, MEDLEDGER_EVENTS + ANCHOR_EVENTS)
}
MEDLEDGER_EVENT_NAMES: frozenset[str] = frozenset(parse_event(d).name for d in MEDLEDGER_EVENTS)
ANCHOR_EVENT_NAMES: frozenset[str] = frozenset(parse_event(d).name for d in ANCHOR_EVENTS)
_BY_TOPIC: dict[bytes, EventSpec] = {s.topic0: s for s in EVENT_SPECS.values()}


def topics_for(names: Sequence[str]) -> list[str]:
    """``0x``-hex topic0 values of the named events (for an ``eth_getLogs`` topic filter)."""
    return ["0x" + EVENT_SPECS[n].topic0.hex() for n in names]


@dataclass(frozen=True)
class DecodedEvent:
    """One log, decoded against :data:`EVENT_SPECS`."""

    name: str
    address: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    args: Mapping[str, Any]


def _hexstr(value: Any) -> str:
    raw = bytes(value)
    return "0x" + raw.hex()


def _normalise(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type == "address[]":
        return [to_checksum_address(v) for v in value]
    if abi_type.startswith("bytes") and abi_type != "bytes":
        return _hexstr(value)
    if abi_type == "bool":
        return bool(value)
    if abi_type.startswith(("uint", "int")):
        return int(value)
    return value


def _get(log: Mapping[str, Any], key: str) -> Any:
    try:
        return log[key]
    except KeyError:
        raise IntegrityError(f"log entry has no {key!r} field") from None


def decode_log(log: Mapping[str, Any]) -> DecodedEvent | None:
    """Decode one ``eth_getLogs`` entry; ``None`` if its topic0 is not one of our events.

    Raises :class:`IntegrityError` if the topic matches but the payload does not decode, which means
    the contract does not emit what the spec says.
    """
    topics = [bytes(t) for t in _get(log, "topics")]
    if not topics:
        return None
    spec = _BY_TOPIC.get(topics[0])
    if spec is None:
        return None
    indexed = [p for p in spec.params if p.indexed]
    plain = [p for p in spec.params if not p.indexed]
    if len(topics) != len(indexed) + 1:
        raise IntegrityError(
            f"{spec.name}: expected {len(indexed)} indexed topics, got {len(topics) - 1}"
        )
    try:
        args: dict[str, Any] = {}
        for p, topic in zip(indexed, topics[1:], strict=True):
            (args[p.name],) = abi_decode([p.abi_type], topic)
        values = abi_decode([p.abi_type for p in plain], bytes(_get(log, "data")))
        for p, v in zip(plain, values, strict=True):
            args[p.name] = v
    except Exception as exc:  # eth_abi raises several unrelated types for malformed data
        raise IntegrityError(f"{spec.name}: log data does not decode: {exc}") from exc
    for p in spec.params:
        args[p.name] = _normalise(p.abi_type, args[p.name])
    return DecodedEvent(
        name=spec.name,
        address=to_checksum_address(_get(log, "address")),
        block_number=int(_get(log, "blockNumber")),
        block_hash=_hexstr(_get(log, "blockHash")),
        tx_hash=_hexstr(_get(log, "transactionHash")),
        log_index=int(_get(log, "logIndex")),
        args=args,
    )
