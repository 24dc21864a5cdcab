"""Plain data types of the chain layer: contract structs, call inputs, transaction results.

They mirror the Solidity structs of docs/architecture.md field by field, in ABI order, so a
tuple returned by web3 maps onto them with ``Type(*values)`` and they encode back with
:meth:`as_tuple`.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, field
from typing import Any

from medledger.errors import InvalidInput

ZERO32 = b"\x00" * 32


def bytes32(value: bytes | bytearray | str, what: str) -> bytes:
    """A ``bytes32`` value from bytes or hex text (``0x`` optional); ``InvalidInput`` otherwise.

    The one parser for digests, roots, record ids and signatures' 32-byte fields, so every layer
    accepts and rejects the same spellings.
    """
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise InvalidInput(f"{what} is not hex: {value!r}") from None
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        got = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise InvalidInput(f"{what} must be 32 bytes, got {got}")
    return bytes(value)


@dataclass(frozen=True)
class Patient:
    """``MedLedger.Patient``; ``controller`` is the zero address when the id is unused."""

    controller: str
    registered_at: int
    emergency_categories: int
    break_glass_max_duration: int
    break_glass_opt_out: bool
    pending_controller: str
    break_glass_cooldown: int
    encryption_key: bytes
    key_document: bytes
    keyring: bytes
    emergency_kit: bytes


@dataclass(frozen=True)
class Provider:
    """``MedLedger.Provider``; ``status`` 0 none, 1 active, 2 suspended."""

    status: int
    emergency_responder: bool
    registered_at: int
    encryption_key: bytes
    key_document: bytes
    name: str

    @property
    def is_active(self) -> bool:
        """True when the provider is registered and not suspended."""
        return self.status == 1


@dataclass(frozen=True)
class Consent:
    """``MedLedger.Consent``; all zero means no consent."""

    categories: int
    actions: int
    purposes: int
    valid_from: int
    valid_until: int

    @property
    def exists(self) -> bool:
        """True when a grant is stored (revocation zeroes it)."""
        return any(
            (self.categories, self.actions, self.purposes, self.valid_from, self.valid_until)
        )


@dataclass(frozen=True)
class Record:
    """``MedLedger.Record`` of one patient (records are keyed by (patient, record id): the
    ``patient_id`` is the one it was looked up under, 0 when the record is unknown)."""

    patient_id: int
    author: str
    category: int
    cid_codec: int
    created_at: int
    erased: bool


@dataclass(frozen=True)
class _StructArgument:
    """A struct passed to a contract function (its subclass's fields in ABI order)."""

    def as_tuple(self) -> tuple[Any, ...]:
        """ABI tuple order, as web3 encodes a struct argument."""
        return astuple(self)


@dataclass(frozen=True)
class GrantRequest(_StructArgument):
    """``MedLedger.GrantRequest``: one grant; ``valid_from`` 0 means "now"."""

    grantee: str
    categories: int
    actions: int
    purposes: int
    valid_from: int
    valid_until: int
    key_bundle: bytes = ZERO32


@dataclass(frozen=True)
class Bundle(_StructArgument):
    """``MedLedger.Bundle``: a refreshed key bundle of ``revokeAndRekey``."""

    grantee: str
    key_bundle: bytes


@dataclass(frozen=True)
class AccessRequest(_StructArgument):
    """``MedLedger.AccessRequest``: one entry of ``recordAccessBatch``."""

    patient_id: int
    record_id: bytes
    purpose: int


@dataclass(frozen=True)
class Guardians:
    """Result of ``getGuardians``."""

    guardians: tuple[str, ...]
    threshold: int
    delay: int
    #: CID digest of the sealed guardian key shares document (``ZERO32`` = none)
    shares: bytes = b"\x00" * 32


@dataclass(frozen=True)
class Recovery:
    """Result of ``getRecovery``: the round, the scheduled candidate (zero address and
    ``executable_at`` 0 while no candidate reached the threshold), when it started, when the
    candidate may accept, when it expires, and the guardians' cancel votes."""

    round: int
    candidate: str
    started_at: int
    executable_at: int
    expires_at: int
    cancel_votes: int

    @property
    def new_controller(self) -> str:
        """The scheduled candidate (v1 name)."""
        return self.candidate


@dataclass(frozen=True)
class LogHead:
    """Result of ``logHead``: the per-patient access-log hash chain head and entry count."""

    head: bytes
    count: int


@dataclass(frozen=True)
class Anchor:
    """Result of ``AnchorRegistry.getAnchor`` for one submitter's stream; ``anchored_at`` 0
    means not anchored (by that submitter)."""

    submitter: str
    count: int
    anchored_at: int


@dataclass(frozen=True)
class DecodedEvent:
    """One contract event log, decoded by the ABI that emitted it."""

    name: str
    args: dict[str, Any]
    address: str
    block_number: int
    tx_hash: str
    log_index: int


@dataclass(frozen=True)
class TxResult:
    """A mined, successful transaction (failed ones raise instead)."""

    tx_hash: str
    block_number: int
    gas_used: int
    status: int
    events: list[DecodedEvent] = field(default_factory=list)
    contract_address: str | None = None

    def events_named(self, name: str) -> list[DecodedEvent]:
        """The decoded events called ``name``, in log order."""
        return [e for e in self.events if e.name == name]
