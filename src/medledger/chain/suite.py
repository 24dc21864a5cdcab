"""Typed bindings of the deployed suite (MedLedger, AnchorRegistry) over :class:`BoundContract`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from web3.types import BlockIdentifier

from medledger.chain.artifacts import Artifact, load_artifact
from medledger.chain.connection import Chain
from medledger.chain.contracts import BoundContract
from medledger.chain.contracts import checksum as to_checksum_address
from medledger.chain.transactions import TxSender
from medledger.chain.types import (
    ZERO32,
    AccessRequest,
    Anchor,
    Bundle,
    Consent,
    GrantRequest,
    Guardians,
    LogHead,
    Patient,
    Provider,
    Record,
    Recovery,
    TxResult,
    bytes32,
)


def _provider_args(
    provider: str, encryption_key: bytes, key_document: bytes, responder: bool, name: str
) -> tuple[Any, ...]:
    """Arguments of registerProvider / updateProvider, checked and normalised."""
    return (
        to_checksum_address(provider),
        *_key_words(encryption_key, key_document),
        responder,
        name,
    )


class SuiteContract(BoundContract):
    """A binding of one of the shipped suite's contracts: the artifact defaults to the shipped
    one named by ``ARTIFACT``."""

    ARTIFACT: ClassVar[str]

    def __init__(
        self,
        chain: Chain,
        address: str,
        *,
        sender: TxSender | None = None,
        deploy_block: int = 0,
        artifact: Artifact | None = None,
    ) -> None:
        super().__init__(
            chain,
            address,
            artifact or load_artifact(self.ARTIFACT),
            sender=sender,
            deploy_block=deploy_block,
        )


class _AdministrationCalls(SuiteContract):
    """Identity, guardian recovery and provider administration: the cold paths of MedLedger."""

    # --- identity ---

    def register_patient(
        self, encryption_key: bytes, key_document: bytes, keyring: bytes
    ) -> TxResult:
        """Register the sender as a new patient's controller (event ``PatientRegistered``)."""
        return self._tx(
            "registerPatient",
            *_key_words(encryption_key, key_document),
            bytes32(keyring, "keyring"),
        )

    def set_keyring(self, expected: bytes, keyring: bytes) -> TxResult:
        """Compare-and-swap the sender's patient keyring document: ``expected`` must be the
        current one (``IdentityStaleKeyring`` otherwise; controller only)."""
        return self._tx(
            "setKeyring", bytes32(expected, "expected keyring"), bytes32(keyring, "keyring")
        )

    def set_keyring_by_sig(
        self,
        patient_id: int,
        expected: bytes,
        keyring: bytes,
        nonce: int,
        deadline: int,
        signature: bytes,
    ) -> TxResult:
        """Submit a controller-signed EIP-712 SetKeyring (any sender pays the gas)."""
        return self._tx(
            "setKeyringBySig",
            patient_id,
            bytes32(expected, "expected keyring"),
            bytes32(keyring, "keyring"),
            nonce,
            deadline,
            bytes(signature),
        )

    def set_encryption_key(self, encryption_key: bytes, key_document: bytes) -> TxResult:
        """Replace the patient's identity public key (controller only)."""
        return self._tx(
            "setEncryptionKey",
            *_key_words(encryption_key, key_document),
        )

    def set_emergency_access(
        self,
        categories: int,
        max_duration: int,
        opt_out: bool,
        emergency_kit: bytes,
        cooldown: int = 86_400,
    ) -> TxResult:
        """Configure break-glass: categories mask, max duration (<= 1 day), opt-out, kit CID,
        and the cooldown (1 h .. 30 days) before the same responder may open again."""
        return self._tx(
            "setEmergencyAccess",
            categories,
            max_duration,
            opt_out,
            cooldown,
            bytes32(emergency_kit, "emergency_kit"),
        )

    def propose_controller(self, candidate: str) -> TxResult:
        """Propose a new controller for the sender's patient (zero address withdraws)."""
        return self._tx("proposeController", to_checksum_address(candidate))

    def accept_controller(self, patient_id: int) -> TxResult:
        """Accept a controller proposal (sent by the proposed candidate)."""
        return self._tx("acceptController", patient_id)

    def signature_epoch(self, patient_id: int) -> int:
        """The patient's signature epoch (signed consent/keyring messages carry it)."""
        return int(self._view("signatureEpoch", patient_id))

    def patient_of(self, controller: str) -> int:
        """Patient id controlled by ``controller`` (0 = none)."""
        return int(self._view("patientOf", to_checksum_address(controller)))

    def get_patient(self, patient_id: int) -> Patient:
        """The patient's on-chain identity."""
        return Patient(*self._view("getPatient", patient_id))

    def patient_count(self) -> int:
        """Number of registered patients (ids are 1..count)."""
        return int(self._view("patientCount"))

    # --- guardian recovery ---

    def set_guardians(
        self, guardians: Sequence[str], threshold: int, delay: int, shares: bytes = ZERO32
    ) -> TxResult:
        """Set the recovery guardians, approval threshold, delay and the digest of their sealed
        key shares document (controller only)."""
        return self._tx(
            "setGuardians", [to_checksum_address(g) for g in guardians], threshold, delay, shares
        )

    def get_guardians(self, patient_id: int) -> Guardians:
        """Guardians, threshold, delay and sealed key shares digest of a patient."""
        guardians, threshold, delay, shares = self._view("getGuardians", patient_id)
        return Guardians(tuple(guardians), int(threshold), int(delay), bytes(shares))

    def post_recovery_share(self, patient_id: int, sealed_share: bytes) -> TxResult:
        """A guardian hands the current round's candidate its re-sealed key share (digest)."""
        return self._tx("postRecoveryShare", patient_id, sealed_share)

    def approve_recovery(self, patient_id: int, candidate: str) -> TxResult:
        """Guardian approval of moving ``patient_id`` to ``candidate`` (moves an earlier
        approval of another candidate)."""
        return self._tx("approveRecovery", patient_id, to_checksum_address(candidate))

    def accept_recovery(self, patient_id: int) -> TxResult:
        """Complete a scheduled recovery after its delay (sent by the candidate)."""
        return self._tx("acceptRecovery", patient_id)

    def vote_cancel_recovery(self, patient_id: int) -> TxResult:
        """A guardian's vote to cancel the current recovery round."""
        return self._tx("voteCancelRecovery", patient_id)

    def recovery_approvals(self, patient_id: int, candidate: str) -> int:
        """Guardian approvals of ``candidate`` in the current round."""
        return int(self._view("recoveryApprovals", patient_id, to_checksum_address(candidate)))

    def cancel_recovery(self) -> TxResult:
        """Cancel a pending recovery of the sender's patient (controller only)."""
        return self._tx("cancelRecovery")

    def get_recovery(self, patient_id: int) -> Recovery:
        """The pending recovery of a patient."""
        return Recovery(*self._view("getRecovery", patient_id))

    # --- providers ---

    def register_provider(
        self,
        provider: str,
        encryption_key: bytes,
        key_document: bytes,
        emergency_responder: bool,
        name: str,
        nonce: int,
        deadline: int,
        provider_signature: bytes,
    ) -> TxResult:
        """Register a provider (consortium owner only); its key comes with the provider's own
        EIP-712 ``ProviderKey`` signature."""
        return self._tx(
            "registerProvider",
            *_provider_args(provider, encryption_key, key_document, emergency_responder, name),
            nonce,
            deadline,
            bytes(provider_signature),
        )

    def update_provider(self, provider: str, emergency_responder: bool, name: str) -> TxResult:
        """Update a provider's responder flag and name (owner only; keys are the provider's)."""
        return self._tx("updateProvider", to_checksum_address(provider), emergency_responder, name)

    def set_provider_key(self, encryption_key: bytes, key_document: bytes) -> TxResult:
        """Rotate the sender's own provider key."""
        return self._tx(
            "setProviderKey",
            *_key_words(encryption_key, key_document),
        )

    def set_provider_key_by_sig(
        self,
        provider: str,
        encryption_key: bytes,
        key_document: bytes,
        nonce: int,
        deadline: int,
        signature: bytes,
    ) -> TxResult:
        """Submit a provider-signed EIP-712 ProviderKey rotation."""
        return self._tx(
            "setProviderKeyBySig",
            to_checksum_address(provider),
            *_key_words(encryption_key, key_document),
            nonce,
            deadline,
            bytes(signature),
        )

    def suspend_provider(self, provider: str) -> TxResult:
        """Suspend a provider: every consent check for it fails until reinstated (owner only)."""
        return self._tx("suspendProvider", to_checksum_address(provider))

    def reinstate_provider(self, provider: str) -> TxResult:
        """Lift a suspension (owner only)."""
        return self._tx("reinstateProvider", to_checksum_address(provider))

    def get_provider(self, provider: str) -> Provider:
        """A provider's registration (status 0 = not registered)."""
        return Provider(*self._view("getProvider", to_checksum_address(provider)))

    def owner(self) -> str:
        """The consortium owner of the provider registry."""
        return str(self._view("owner"))

    def pending_owner(self) -> str:
        """The address that may accept ownership (zero address when none)."""
        return str(self._view("pendingOwner"))

    def transfer_ownership(self, new_owner: str) -> TxResult:
        """Start a two-step ownership transfer (owner only)."""
        return self._tx("transferOwnership", to_checksum_address(new_owner))

    def accept_ownership(self) -> TxResult:
        """Accept a pending ownership transfer (pending owner only)."""
        return self._tx("acceptOwnership")

    def suspender(self) -> str:
        """The account that may suspend providers besides the owner (zero address when none).

        From the latest ``ProviderSuspenderChanged`` event: the contract has no getter (one
        more selector would cost the hot paths' dispatch, docs/decisions.md)."""
        events = self.get_events("ProviderSuspenderChanged")
        if not events:
            return "0x0000000000000000000000000000000000000000"
        return to_checksum_address(events[-1].args["suspender"])

    def set_suspender_account(self, suspender: str) -> TxResult:
        """Name the account that may also suspend providers (owner only)."""
        return self._tx("setSuspenderAccount", to_checksum_address(suspender))

    def encode(self, name: str, *args: Any) -> bytes:
        """Calldata of ``name(args)`` (for a multisig or timelock to send)."""
        return bytes.fromhex(self._encode(name, *args)[1][2:])


class MedLedgerContract(_AdministrationCalls):
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
        return self._tx(
            "revokeAndRekey",
            to_checksum_address(grantee),
            bytes32(expected, "expected keyring"),
            bytes32(keyring, "keyring"),
            [_bundle_tuple(b) for b in bundles],
        )

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
        return self._tx(
            "revokeAndRekeyBySig",
            patient_id,
            to_checksum_address(grantee),
            bytes32(expected, "expected keyring"),
            bytes32(keyring, "keyring"),
            [_bundle_tuple(b) for b in bundles],
            epoch,
            nonce,
            deadline,
            bytes(signature),
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
            "grantBySig", patient_id, _grant_tuple(grant), epoch, nonce, deadline, bytes(signature)
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
            nonce,
            deadline,
            bytes(signature),
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
            nonce,
            deadline,
            bytes(signature),
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


def _key_words(encryption_key: bytes, key_document: bytes) -> tuple[bytes, bytes]:
    """An identity key and its key document's digest, as the contract's two ``bytes32``."""
    return bytes32(encryption_key, "encryption_key"), bytes32(key_document, "key_document")


def write_denial(tx: TxResult) -> int | None:
    """The outcome code of a logged denied write in an ``addRecord`` receipt, ``None`` when the
    record was added."""
    if tx.events_named("RecordAdded"):
        return None
    for e in tx.events_named("AccessRecorded"):
        return int(e.args["outcome"])
    return None


def _bundle_tuple(b: Bundle) -> tuple[Any, ...]:
    return (to_checksum_address(b.grantee), bytes32(b.key_bundle, "key_bundle"))


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
