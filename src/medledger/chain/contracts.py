"""Typed bindings for the deployed MedLedger and AnchorRegistry contracts.

One Python method per external function of docs/architecture.md, snake_case. View functions are
a single ``eth_call`` and return the dataclasses of :mod:`medledger.chain.types`; state-changing
functions go through a :class:`~medledger.chain.transactions.TxSender` (simulated first, reverts
raised as decoded typed errors) and return a :class:`~medledger.chain.types.TxResult` with the
decoded events. Bind a different signer with :meth:`BoundContract.connect_as`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import Web3Exception, Web3ValidationError
from web3.types import BlockIdentifier, FilterParams, RPCEndpoint

from medledger.chain.artifacts import Artifact, load_artifact
from medledger.chain.codec import AbiRegistry, decode_outputs, event_topic
from medledger.chain.connection import Chain
from medledger.chain.errors import error_from_exception, error_from_rpc_error, shared_registry
from medledger.chain.transactions import TxSender
from medledger.chain.types import (
    AccessRequest,
    Anchor,
    Bundle,
    Consent,
    DecodedEvent,
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
from medledger.errors import ChainError, InvalidInput

DEFAULT_PAGE_SIZE = 5_000
_RANGE_ERRORS = ("range", "limit", "too many", "exceed", "10000", "block range")


class BoundContract:
    """A deployed contract: web3 object, ABI registry and (optionally) a default sender."""

    def __init__(
        self,
        chain: Chain,
        address: str,
        artifact: Artifact,
        *,
        sender: TxSender | None = None,
        deploy_block: int = 0,
        registry: AbiRegistry | None = None,
    ) -> None:
        self.chain = chain
        self.address = to_checksum_address(address)
        self.artifact = artifact
        self.deploy_block = deploy_block
        self.registry = (
            registry
            if registry is not None
            else (sender.registry if sender is not None else shared_registry())
        )
        self.registry.register(artifact.abi)
        self.contract: Contract = chain.w3.eth.contract(address=self.address, abi=artifact.abi)
        self.sender = sender
        self._events = {e["name"]: e for e in artifact.abi_entries("event")}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address})"

    def connect_as(self, sender: TxSender) -> Self:
        """The same contract, sending transactions from ``sender``'s account."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.sender = sender
        sender.registry.register(self.artifact.abi)
        return clone

    # --- plumbing ----------------------------------------------------------------------------

    def _encode(self, name: str, *args: Any) -> tuple[ContractFunction, HexStr]:
        """The resolved function (for its outputs) and its calldata (public ``encode_abi``)."""
        try:
            fn = self.contract.functions[name](*args)
            return fn, HexStr(self.contract.encode_abi(name, args=list(args)))
        except (Web3ValidationError, TypeError, ValueError) as exc:
            raise InvalidInput(f"bad arguments for {name}: {exc}") from exc

    def call(self, name: str, *args: Any, block: BlockIdentifier = "latest") -> Any:
        """Call the view function ``name`` (ABI name) and return its decoded result.

        One value for a single output, a tuple for several; structs as positional tuples,
        addresses checksummed. A revert raises the decoded typed error.
        """
        return self._view(name, *args, block=block)

    def _view(self, name: str, *args: Any, block: BlockIdentifier = "latest") -> Any:
        # A single raw eth_call: web3's ContractFunction.call() adds ~8 ms of formatting and
        # middleware per call, 3-4x the node's own time on Anvil.
        fn, data = self._encode(name, *args)
        try:
            if self.chain.kind == "embedded":
                # in-process: the provider needs web3's request formatting; py-evm dominates
                result = bytes(self.chain.w3.eth.call({"to": self.address, "data": data}, block))
            else:
                block_param = hex(block) if isinstance(block, int) else block
                response = self.chain.w3.provider.make_request(
                    RPCEndpoint("eth_call"), [{"to": self.address, "data": data}, block_param]
                )
        except (Web3Exception, OSError, ValueError) as exc:
            err = error_from_exception(exc, self.registry)
            if err is not None:
                raise err from exc
            raise ChainError(f"{name} call failed: {exc}") from exc
        if self.chain.kind != "embedded":
            if "error" in response:
                raise error_from_rpc_error(response["error"], self.registry, what=f"{name} call")
            result = bytes(HexBytes(response["result"]))
        try:
            return decode_outputs(fn.abi.get("outputs", []), result)
        except (DecodingError, ValueError, TypeError) as exc:
            raise ChainError(
                f"{name} returned undecodable data: is {self.address} a {self.artifact.name}?"
            ) from exc

    def _tx(self, name: str, *args: Any, gas: int | None = None) -> TxResult:
        if self.sender is None:
            raise InvalidInput(
                f"{name} sends a transaction: bind a signer first",
                hint="contract.connect_as(TxSender(chain, account))",
            )
        return self.sender.send_raw(self.address, self._encode(name, *args)[1], gas=gas)

    # --- events ------------------------------------------------------------------------------

    def get_events(
        self,
        event_name: str,
        from_block: int | None = None,
        to_block: int | None = None,
        argument_filters: Mapping[str, Any] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> list[DecodedEvent]:
        """Decoded ``event_name`` logs of this contract, oldest first.

        Queries ``eth_getLogs`` in pages of ``page_size`` blocks (halved automatically when the
        node refuses a range), from ``from_block`` (default: the deployment block) to
        ``to_block`` (default: latest). ``argument_filters`` matches indexed arguments by name;
        a list value matches any of its items.
        """
        entry = self._events.get(event_name)
        if entry is None:
            raise InvalidInput(f"{type(self).__name__} has no event {event_name!r}")
        if page_size < 1:
            raise InvalidInput("page_size must be positive")
        topics = _topics(entry, argument_filters or {})
        start = self.deploy_block if from_block is None else from_block
        end = self.chain.block_number() if to_block is None else to_block
        events: list[DecodedEvent] = []
        while start <= end:
            stop = min(start + page_size - 1, end)
            params: FilterParams = {
                "address": self.address,
                "fromBlock": start,
                "toBlock": stop,
                "topics": topics,  # None entries are wildcards
            }
            try:
                logs = self.chain.w3.eth.get_logs(params)
            except (Web3Exception, ValueError) as exc:
                if page_size > 1 and any(s in str(exc).lower() for s in _RANGE_ERRORS):
                    page_size = max(1, page_size // 2)
                    continue
                raise ChainError(f"eth_getLogs failed for {event_name}: {exc}") from exc
            for log in logs:
                decoded = self.registry.decode_log(log)
                if decoded is not None and decoded.name == event_name:
                    events.append(decoded)
            start = stop + 1
        return events

    def has_code(self) -> bool:
        """True when contract code exists at :attr:`address`."""
        return len(self.chain.w3.eth.get_code(self.address)) > 0


def _topic_value(abi_type: str, value: Any) -> str:
    if abi_type in ("string", "bytes") or abi_type.endswith("]") or abi_type.startswith("("):
        raise InvalidInput(f"cannot filter on dynamic indexed type {abi_type}")
    if abi_type.startswith("bytes") and isinstance(value, str):
        value = bytes(HexBytes(value))
    return "0x" + abi_encode([abi_type], [value]).hex()


def _topics(entry: Mapping[str, Any], filters: Mapping[str, Any]) -> list[Any]:
    indexed = [i for i in entry.get("inputs", []) if i.get("indexed")]
    unknown = set(filters) - {i["name"] for i in indexed}
    if unknown:
        raise InvalidInput(f"{entry['name']} has no indexed argument(s) {sorted(unknown)}")
    topics: list[Any] = ["0x" + event_topic(entry).hex()]
    for i in indexed:
        value = filters.get(i["name"])
        if value is None:
            topics.append(None)
        elif isinstance(value, list | tuple | set):
            topics.append([_topic_value(i["type"], v) for v in value])
        else:
            topics.append(_topic_value(i["type"], value))
    while topics and topics[-1] is None:
        topics.pop()
    return topics


def _provider_args(
    provider: str, encryption_key: bytes, key_document: bytes, responder: bool, name: str
) -> tuple[Any, ...]:
    """Arguments of registerProvider / updateProvider, checked and normalised."""
    return (
        to_checksum_address(provider),
        bytes32(encryption_key, "encryption_key"),
        bytes32(key_document, "key_document"),
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


class MedLedgerContract(SuiteContract):
    """The MedLedger core contract (identity, recovery, providers, consent, access log, records)."""

    ARTIFACT = "MedLedger"

    # --- identity ---

    def register_patient(
        self, encryption_key: bytes, key_document: bytes, keyring: bytes
    ) -> TxResult:
        """Register the sender as a new patient's controller (event ``PatientRegistered``)."""
        return self._tx(
            "registerPatient",
            bytes32(encryption_key, "encryption_key"),
            bytes32(key_document, "key_document"),
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
            bytes32(encryption_key, "encryption_key"),
            bytes32(key_document, "key_document"),
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

    def set_guardians(self, guardians: Sequence[str], threshold: int, delay: int) -> TxResult:
        """Set the recovery guardians, approval threshold and delay (controller only)."""
        return self._tx(
            "setGuardians", [to_checksum_address(g) for g in guardians], threshold, delay
        )

    def get_guardians(self, patient_id: int) -> Guardians:
        """Guardians, threshold and delay of a patient."""
        guardians, threshold, delay = self._view("getGuardians", patient_id)
        return Guardians(tuple(guardians), int(threshold), int(delay))

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
            bytes32(encryption_key, "encryption_key"),
            bytes32(key_document, "key_document"),
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
            bytes32(encryption_key, "encryption_key"),
            bytes32(key_document, "key_document"),
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
