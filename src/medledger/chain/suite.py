"""Typed bindings of the deployed suite (MedLedger, AnchorRegistry) over :class:`BoundContract`.

:class:`MedLedgerContract` is assembled from one module per concern: identity and guardian
recovery (:mod:`medledger.chain.identity`), the provider registry and its governance
(:mod:`medledger.chain.registry`), and here consent, the access log and the record index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from web3.types import BlockIdentifier

from medledger.chain.contracts import checksum as to_checksum_address
from medledger.chain.identity import IdentityCalls
from medledger.chain.registry import ProviderRegistryCalls
from medledger.chain.suite_contract import SuiteContract, signed
from medledger.chain.types import (
    AccessRequest,
    Anchor,
    Bundle,
    Consent,
    GrantRequest,
    LogHead,
    Record,
    TxResult,
    bytes32,
)

__all__ = ["AnchorRegistryContract", "MedLedgerContract", "SuiteContract", "write_denial"]


class MedLedgerContract(IdentityCalls, ProviderRegistryCalls):
    """The MedLedger core contract (identity, recovery, providers, consent, access log, records)."""

    ARTIFACT = "MedLedger"

    # --- consent ---

    def grant(
        self,
        grantee: str,
        categories: int,
        actions: int,
        purposes: int,
        valid_from: int,
        valid_until: int,
        key_bundle: bytes,
    ) -> TxResult:
        """Grant (or replace) consent for ``grantee`` (controller only; valid_from 0 = now)."""
        return self._tx(
            "grant",
            to_checksum_address(grantee),
            categories,
            actions,
            purposes,
            valid_from,
            valid_until,
            bytes32(key_bundle, "key_bundle"),
        )

    def grant_batch(self, grants: Sequence[GrantRequest]) -> TxResult:
        """Several grants in one transaction (at most 64, grantees strictly ascending)."""
        return self._tx("grantBatch", [_grant_tuple(g) for g in grants])

    def revoke(self, grantee: str) -> TxResult:
        """Revoke ``grantee``'s consent (controller only; bumps the signature epoch)."""
        return self._tx("revoke", to_checksum_address(grantee))

    def revoke_and_rekey(
        self, grantee: str, expected: bytes, keyring: bytes, bundles: Sequence[Bundle]
    ) -> TxResult:
        """Atomically revoke ``grantee``, compare-and-swap the keyring and refresh the remaining
        active grantees' key bundles (controller only)."""
        return self._tx("revokeAndRekey", *_rekey_args(grantee, expected, keyring, bundles))

    def revoke_and_rekey_by_sig(
        self,
        patient_id: int,
        grantee: str,
        expected: bytes,
        keyring: bytes,
        bundles: Sequence[Bundle],
        epoch: int,
        nonce: int,
        deadline: int,
        signature: bytes,
    ) -> TxResult:
        """Submit a controller-signed EIP-712 RevokeAndRekey (one signature)."""
        rekey = _rekey_args(grantee, expected, keyring, bundles)
        return self._tx(
            "revokeAndRekeyBySig", patient_id, *rekey, epoch, *signed(nonce, deadline, signature)
        )

    def grant_by_sig(
        self,
        patient_id: int,
        grant: GrantRequest,
        epoch: int,
        nonce: int,
        deadline: int,
        signature: bytes,
    ) -> TxResult:
        """Submit a controller-signed EIP-712 Grant (any sender pays the gas)."""
        return self._tx(
            "grantBySig",
            patient_id,
            _grant_tuple(grant),
            epoch,
            *signed(nonce, deadline, signature),
        )

    def revoke_by_sig(
        self, patient_id: int, grantee: str, epoch: int, nonce: int, deadline: int, signature: bytes
    ) -> TxResult:
        """Submit a controller-signed EIP-712 Revoke."""
        return self._tx(
            "revokeBySig",
            patient_id,
            to_checksum_address(grantee),
            epoch,
            *signed(nonce, deadline, signature),
        )

    def nonces(self, signer: str, key: int = 0) -> int:
        """Next full EIP-712 nonce (``key << 64 | seq``) of ``signer`` in sequence ``key``."""
        return int(self._view("nonces", to_checksum_address(signer), key))

    def cancel_nonce(self, key_nonce: int) -> TxResult:
        """Consume the sender's own current nonce ``key_nonce`` (abandons a signed op)."""
        return self._tx("cancelNonce", key_nonce)

    def get_consent(self, patient_id: int, grantee: str) -> Consent:
        """The stored grant (all zero = none)."""
        return Consent(*self._view("getConsent", patient_id, to_checksum_address(grantee)))

    def has_access(self, patient_id: int, grantee: str, category: int, action: int) -> bool:
        """Whether ``grantee`` may perform ``action`` on ``category`` right now (any purpose)."""
        return bool(
            self._view("hasAccess", patient_id, to_checksum_address(grantee), category, action)
        )

    def check_access(
        self, patient_id: int, accessor: str, category: int, action: int, purpose: int
    ) -> int:
        """The outcome code ``recordAccess`` would log, without logging (view)."""
        return int(
            self._view(
                "checkAccess", patient_id, to_checksum_address(accessor), category, action, purpose
            )
        )

    def open_break_glass(
        self, patient_id: int, reason: int, duration: int, justification: bytes
    ) -> TxResult:
        """Emergency access by a registered responder (duration 0 = patient's maximum)."""
        return self._tx(
            "openBreakGlass", patient_id, reason, duration, bytes32(justification, "justification")
        )

    def close_break_glass(self, patient_id: int, responder: str) -> TxResult:
        """End ``responder``'s break-glass window now (the patient's controller or the
        responder itself); the cooldown starts."""
        return self._tx("closeBreakGlass", patient_id, to_checksum_address(responder))

    def break_glass_until(self, patient_id: int, responder: str) -> int:
        """Expiry of ``responder``'s break-glass access (0 = none)."""
        return int(self._view("breakGlassUntil", patient_id, to_checksum_address(responder)))

    # --- access log ---

    def record_access(self, patient_id: int, record_id: bytes, purpose: int) -> TxResult:
        """Log an access attempt (allowed or denied: see the ``AccessRecorded`` event)."""
        return self._tx("recordAccess", patient_id, bytes32(record_id, "record_id"), purpose)

    def record_access_batch(self, requests: Sequence[AccessRequest]) -> TxResult:
        """Log up to 256 accesses in one transaction."""
        return self._tx(
            "recordAccessBatch",
            [(r.patient_id, bytes32(r.record_id, "record_id"), r.purpose) for r in requests],
        )

    def log_head(self, patient_id: int, *, block: BlockIdentifier = "latest") -> LogHead:
        """Head and length of the patient's access-log hash chain."""
        head, count = self._view("logHead", patient_id, block=block)
        return LogHead(bytes(head), int(count))

    # --- records ---

    def add_record(
        self, patient_id: int, record_id: bytes, category: int, cid_codec: int, keyring: bytes
    ) -> TxResult:
        """Index a record sealed under keyring digest ``keyring`` (patient controller, or
        provider with write consent). A registered provider without write consent does not
        revert: the denied write is logged (``AccessRecorded`` outcome 24..30) and nothing is
        stored; check :func:`write_denial`."""
        rid = bytes32(record_id, "record_id")
        return self._tx(
            "addRecord", patient_id, rid, category, cid_codec, bytes32(keyring, "keyring")
        )

    def add_record_batch(
        self, patient_id: int, keyring: bytes, records: Sequence[tuple[bytes, int, int]]
    ) -> TxResult:
        """``add_record`` for up to 256 ``(record_id, category, cid_codec)`` of one patient in
        one transaction (``addRecordBatch``); one ``RecordAdded`` per stored record."""
        ids = [bytes32(rid, "record_id") for rid, _, _ in records]
        cats, codecs = bytes(c for _, c, _ in records), bytes(k for _, _, k in records)
        return self._tx(
            "addRecordBatch", patient_id, bytes32(keyring, "keyring"), ids, cats, codecs
        )

    def add_record_by_sig(
        self,
        patient_id: int,
        record_id: bytes,
        category: int,
        cid_codec: int,
        keyring: bytes,
        author: str,
        nonce: int,
        deadline: int,
        signature: bytes,
    ) -> TxResult:
        """Submit an author-signed EIP-712 AddRecord (any sender pays the gas)."""
        return self._tx(
            "addRecordBySig",
            patient_id,
            bytes32(record_id, "record_id"),
            category,
            cid_codec,
            bytes32(keyring, "keyring"),
            to_checksum_address(author),
            *signed(nonce, deadline, signature),
        )

    def erase_record(self, record_id: bytes) -> TxResult:
        """Tombstone a record (patient controller only)."""
        return self._tx("eraseRecord", bytes32(record_id, "record_id"))

    def get_record(self, patient_id: int, record_id: bytes) -> Record:
        """The record index entry of ``patient_id``'s record (``patient_id`` 0 in the result =
        unknown to that patient)."""
        author, category, codec, created_at, erased = self._view(
            "getRecord", patient_id, bytes32(record_id, "record_id")
        )
        known = int(author, 16) != 0
        return Record(patient_id if known else 0, author, category, codec, created_at, erased)

    def record_patients(self, record_id: bytes) -> list[int]:
        """The patients that registered ``record_id`` (from ``RecordAdded`` events; record ids
        are per patient, so the same id may belong to several)."""
        events = self.get_events(
            "RecordAdded", argument_filters={"recordId": bytes32(record_id, "record_id")}
        )
        return sorted({int(e.args["patientId"]) for e in events})


def write_denial(tx: TxResult) -> int | None:
    """The outcome code of a logged denied write in an ``addRecord`` receipt, ``None`` when the
    record was added."""
    if tx.events_named("RecordAdded"):
        return None
    for e in tx.events_named("AccessRecorded"):
        return int(e.args["outcome"])
    return None


def _rekey_args(
    grantee: str, expected: bytes, keyring: bytes, bundles: Sequence[Bundle]
) -> tuple[Any, ...]:
    """The revoked grantee, keyring compare-and-swap and refreshed bundles of a
    ``revokeAndRekey`` (direct or signed), checked and normalised."""
    return (
        to_checksum_address(grantee),
        bytes32(expected, "expected keyring"),
        bytes32(keyring, "keyring"),
        [(to_checksum_address(b.grantee), bytes32(b.key_bundle, "key_bundle")) for b in bundles],
    )


def _grant_tuple(g: GrantRequest) -> tuple[Any, ...]:
    return (
        to_checksum_address(g.grantee),
        g.categories,
        g.actions,
        g.purposes,
        g.valid_from,
        g.valid_until,
        bytes32(g.key_bundle, "key_bundle"),
    )


class AnchorRegistryContract(SuiteContract):
    """Merkle roots of off-chain batches."""

    ARTIFACT = "AnchorRegistry"

    def max_proof_length(self) -> int:
        """Longest Merkle proof :meth:`verify` accepts (``MAX_PROOF_LENGTH``)."""
        return int(self._view("MAX_PROOF_LENGTH"))

    def anchor(self, stream_id: bytes, root: bytes, count: int) -> TxResult:
        """Anchor a batch root (permissionless; the sender is recorded as submitter)."""
        return self._tx("anchor", bytes32(stream_id, "stream_id"), bytes32(root, "root"), count)

    def get_anchor(self, submitter: str, stream_id: bytes, root: bytes) -> Anchor:
        """``root`` as anchored by ``submitter`` in its stream ``stream_id``: with how many
        items, when (0 = never)."""
        sid, r = bytes32(stream_id, "stream_id"), bytes32(root, "root")
        addr = to_checksum_address(submitter)
        count, anchored_at = self._view("getAnchor", addr, sid, r)
        return Anchor(addr, int(count), int(anchored_at))

    def verify_item(
        self,
        submitter: str,
        stream_id: bytes,
        root: bytes,
        item_digest: bytes,
        proof: Sequence[bytes],
    ) -> bool:
        """On-chain Merkle proof check of ``item_digest`` (hashed into the leaf on-chain) under
        ``root``, anchored by ``submitter`` in its stream ``stream_id``."""
        return bool(
            self._view(
                "verifyItem",
                to_checksum_address(submitter),
                bytes32(stream_id, "stream_id"),
                bytes32(root, "root"),
                bytes32(item_digest, "item_digest"),
                [bytes32(p, "proof item") for p in proof],
            )
        )
