"""The contracts' events, exactly as the v2 interfaces declare them, and their decoding.

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

#: Event declarations of ``MedLedger`` v2 (contracts/interfaces/*.sol, docs/v2 guide section 7).
MEDLEDGER_EVENTS: tuple[str, ...] = (
    "PatientRegistered(uint64 indexed patientId, address indexed controller, "
    "bytes32 encryptionKey, bytes32 keyDocument, bytes32 keyring, bytes24 head)",
    "KeyringUpdated(uint64 indexed patientId, bytes32 previousKeyring, bytes32 keyring)",
    "EncryptionKeyUpdated(uint64 indexed patientId, bytes32 encryptionKey, bytes32 keyDocument)",
    "EmergencyAccessConfigured(uint64 indexed patientId, uint16 categories, "
    "uint32 maxDuration, bool optOut, uint32 cooldown, bytes32 emergencyKit)",
    "ControllerProposed(uint64 indexed patientId, address indexed controller, "
    "address indexed candidate)",
    "ControllerChanged(uint64 indexed patientId, address indexed previousController, "
    "address indexed newController, uint64 seq, bytes24 head)",
    "GuardiansSet(uint64 indexed patientId, address[] guardians, uint8 threshold, uint32 delay, "
    "bytes32 shares)",
    "RecoveryShareSent(uint64 indexed patientId, address indexed guardian, uint32 round, "
    "bytes32 sealedShare)",
    "RecoveryApproved(uint64 indexed patientId, address indexed guardian, "
    "address indexed candidate, uint32 round, uint8 approvals)",
    "RecoveryScheduled(uint64 indexed patientId, address indexed candidate, "
    "uint40 executableAt, uint40 expiresAt)",
    "RecoveryCancelled(uint64 indexed patientId, uint32 round, address indexed by)",
    "RecoveryCancelVoted(uint64 indexed patientId, address indexed guardian, uint32 round, "
    "uint8 votes)",
    "RecoveryExecuted(uint64 indexed patientId, address indexed newController, uint32 round)",
    "NonceCancelled(address indexed signer, uint256 keyNonce)",
    "ProviderRegistered(address indexed provider, bytes32 encryptionKey, "
    "bytes32 keyDocument, bool emergencyResponder, string name)",
    "ProviderUpdated(address indexed provider, bool emergencyResponder, string name)",
    "ProviderKeyUpdated(address indexed provider, bytes32 encryptionKey, bytes32 keyDocument)",
    "ProviderSuspended(address indexed provider)",
    "ProviderReinstated(address indexed provider)",
    "ProviderSuspenderChanged(address indexed previousSuspender, address indexed suspender)",
    "ConsentGranted(uint64 indexed patientId, address indexed grantee, "
    "uint16 categories, uint8 actions, uint16 purposes, uint40 validFrom, "
    "uint40 validUntil, bytes32 keyBundle, bool replaced, uint64 seq, bytes24 head)",
    "ConsentRevoked(uint64 indexed patientId, address indexed grantee, uint64 seq, bytes24 head)",
    "KeyBundleRefreshed(uint64 indexed patientId, address indexed grantee, bytes32 keyBundle)",
    "BreakGlassOpened(uint64 indexed patientId, address indexed responder, "
    "uint8 reason, uint16 categories, uint40 expiresAt, bytes32 justification, "
    "uint64 seq, bytes24 head)",
    "BreakGlassClosed(uint64 indexed patientId, address indexed responder, "
    "address indexed closedBy, uint64 seq, bytes24 head)",
    "AccessRecorded(uint64 indexed patientId, address indexed accessor, "
    "bytes32 indexed recordId, uint64 seq, uint8 purpose, uint8 outcome, "
    "uint40 timestamp, bytes24 head)",
    "RecordAdded(uint64 indexed patientId, bytes32 indexed recordId, "
    "address indexed author, uint8 category, uint8 cidCodec, uint64 seq, bytes24 head)",
    "RecordErased(uint64 indexed patientId, bytes32 indexed recordId, uint64 seq, bytes24 head)",
)

#: Event declarations of ``AnchorRegistry``.
ANCHOR_EVENTS: tuple[str, ...] = (
    "BatchAnchored(address indexed submitter, bytes32 indexed streamId, "
    "bytes32 indexed root, uint64 count)",
)

#: The events that are entries of a patient's hash chain (each carries ``seq`` and ``head``;
#: ``PatientRegistered`` is entry 0 and carries only ``head``).
CHAINED_EVENT_NAMES: tuple[str, ...] = (
    "PatientRegistered",
    "ConsentGranted",
    "ConsentRevoked",
    "RecordAdded",
    "RecordErased",
    "BreakGlassOpened",
    "BreakGlassClosed",
    "ControllerChanged",
    "AccessRecorded",
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
    if isinstance(value, str) and abi_type.startswith("bytes") and abi_type != "bytes":
        return "0x" + value.removeprefix("0x").lower()  # already hex (web3 AttributeDict input)
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


_ZERO32 = "0x" + "00" * 32
#: Outcome code of each chained operation event (``AccessRecorded`` carries its own).
_OPERATION_OUTCOME = {
    "PatientRegistered": 11,
    "ConsentRevoked": 7,
    "RecordAdded": 8,
    "RecordErased": 9,
    "BreakGlassOpened": 3,
    "BreakGlassClosed": 4,
    "ControllerChanged": 10,
}


def _address_word(address: str) -> str:
    """``bytes32(uint256(uint160(address)))`` as ``0x`` hex."""
    return "0x" + "00" * 12 + address.removeprefix("0x").lower()


def consent_word(args: Mapping[str, Any]) -> str:
    """The stored consent (``categories | actions<<16 | purposes<<24 | validFrom<<40 |
    validUntil<<80``) that a ``ConsentGranted`` entry chains as its subject, ``0x`` hex."""
    word = (
        int(args["categories"])
        | int(args["actions"]) << 16
        | int(args["purposes"]) << 24
        | int(args["validFrom"]) << 40
        | int(args["validUntil"]) << 80
    )
    return "0x" + word.to_bytes(32, "big").hex()


@dataclass(frozen=True)
class ChainFields:
    """The hashed fields of one chain entry, derived from its event."""

    seq: int
    actor: str
    subject: str
    purpose: int
    outcome: int
    timestamp: int


def chain_fields(
    name: str, args: Mapping[str, Any], block_time: int, controller: str | None
) -> ChainFields:
    """What the contract hashed for a chained event (guide section 2's table).

    ``block_time`` is the block's timestamp (only ``AccessRecorded`` carries its own).
    ``controller`` is the patient's controller at that point, needed for ``RecordErased``, whose
    actor (the controller who erased) is not in the event; ``""`` when unknown.
    """
    if name not in CHAINED_EVENT_NAMES:
        raise ValueError(f"{name} is not a chained event")
    if name == "AccessRecorded":
        return ChainFields(
            int(args["seq"]), args["accessor"], args["recordId"], int(args["purpose"]),
            int(args["outcome"]), int(args["timestamp"]),
        )  # fmt: skip
    if name == "PatientRegistered":
        return ChainFields(0, args["controller"], args["keyring"], 0, 11, block_time)
    seq = int(args["seq"])
    if name == "ConsentGranted":
        outcome = 6 if args["replaced"] else 5
        return ChainFields(seq, args["grantee"], consent_word(args), 0, outcome, block_time)
    outcome = _OPERATION_OUTCOME[name]
    if name == "ConsentRevoked":
        return ChainFields(seq, args["grantee"], _ZERO32, 0, outcome, block_time)
    if name == "RecordAdded":
        return ChainFields(seq, args["author"], args["recordId"], 0, outcome, block_time)
    if name == "RecordErased":
        return ChainFields(seq, controller or "", args["recordId"], 0, outcome, block_time)
    if name == "BreakGlassOpened":
        return ChainFields(seq, args["responder"], args["justification"], 1, outcome, block_time)
    if name == "BreakGlassClosed":
        subject = _address_word(args["closedBy"])
        return ChainFields(seq, args["responder"], subject, 1, outcome, block_time)
    subject = _address_word(args["previousController"])  # ControllerChanged
    return ChainFields(seq, args["newController"], subject, 0, outcome, block_time)


def normalise_args(name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """An event's arguments as :func:`decode_log` gives them (checksummed addresses, ``0x`` hex
    bytes, ints), from any decoder's output (e.g. web3's ``process_receipt``, raw ``bytes``)."""
    spec = EVENT_SPECS[name]
    return {p.name: _normalise(p.abi_type, args[p.name]) for p in spec.params}
