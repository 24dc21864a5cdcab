"""The SDK facade: :class:`Medledger` (a deployment: chain + store) and :class:`Session` (a party).

Every flow follows the same discipline:

1. validate the input and read what must hold on-chain (registered? consent?) -> typed errors
   before anything is stored or sent;
2. prepare off-chain documents (sealed record, keyring, key bundle, kit) and pin them;
3. send the transaction(s) (each simulated first by the transaction sender, so a revert costs
   nothing); if a transaction fails, unpin what step 2 pinned and say so in the error.

Key material: a session holds a :class:`Party` (an eth-account signing key and an encryption
:class:`~medledger.crypto.IdentityKey`). Keys never appear in ``repr``, logs or errors.
See docs/sdk.md for the API tour and docs/crypto.md for the key hierarchy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from medledger import codes
from medledger.anchoring import Batch, item_digest, verify_proof
from medledger.audit.archive import AccessEntry
from medledger.audit.erasure import CANNOT_UNDO, ErasureReport, NotifiedGrantee
from medledger.audit.verify import VerificationReport, verify_entries
from medledger.chain import eip712
from medledger.chain.connection import Chain, connect
from medledger.chain.deployment import Deployment, Manifest, deploy_suite, load_deployment
from medledger.chain.transactions import TxSender
from medledger.chain.types import (
    ZERO32,
    AccessRequest,
    Consent,
    DecodedEvent,
    GrantRequest,
    Provider,
    Record,
    TxResult,
    bytes32,
)
from medledger.codes import Action, Category, Outcome, Purpose
from medledger.crypto import (
    IdentityKey,
    Keyring,
    KeySet,
    Keystore,
    PublicDirectory,
    PublicKey,
    Suite,
    open_emergency_kit,
    open_key_bundle,
    open_record,
    read_header,
    seal_emergency_kit,
    seal_key_bundle,
    seal_record,
    seal_stream,
)
from medledger.crypto.epochs import EpochKey
from medledger.errors import (
    AccessDenied,
    BlockNotFound,
    ConsentExpired,
    DecryptionFailed,
    IntegrityError,
    InvalidInput,
    KeyNotAvailable,
    MedledgerError,
    NotAuthorized,
    NotRegistered,
    StorageError,
)
from medledger.storage import CID, BlockStore, EmbeddedStore, cid_from_digest, open_store
from medledger.storage.cid import DAG_PB, RAW

#: What a transaction returns (re-exported under the SDK's name).
TxReceipt = TxResult

#: Default validity of a signed (relayed) consent message.
DEFAULT_SIGNATURE_TTL = 3600

#: Format tag of a stored anchored batch (JSON: manifest + base64 items).
BATCH_FORMAT = "medledger-batch/1"

#: ``grantBatch`` takes at most this many grants (contracts/core/ConsentManager.sol).
MAX_GRANT_BATCH = 64

#: Above this size a record is sealed through a temporary file instead of in memory.
_STREAM_THRESHOLD = 64 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# parties and results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """Who acts: an EVM signing account and an encryption identity key."""

    account: LocalAccount
    identity: IdentityKey

    @property
    def address(self) -> str:
        return str(self.account.address)

    @classmethod
    def generate(cls, suite: Suite | str = Suite.X25519) -> Party:
        """A brand-new party (random signing key and identity key)."""
        return cls(Account.create(), IdentityKey.generate(Suite.parse(suite)))

    @classmethod
    def from_keystore(cls, path_or_json: str | Path, password: str) -> Party:
        """Unlock a medledger keystore (see :class:`medledger.crypto.Keystore`)."""
        account, identity = Keystore.load(path_or_json, password)
        return cls(account, identity)

    def __repr__(self) -> str:
        return f"Party({self.address}, {self.identity.suite.label})"


@dataclass(frozen=True)
class PatientInfo:
    patient_id: int
    controller: str
    keyring_cid: CID
    tx: TxResult


@dataclass(frozen=True)
class RecordInfo:
    """One entry of a patient's longitudinal record."""

    record_id: bytes
    cid: CID
    patient_id: int
    category: Category
    author: str
    created_at: int
    erased: bool = False
    size: int | None = None
    tx: TxResult | None = None

    @property
    def record_id_hex(self) -> str:
        return "0x" + self.record_id.hex()


@dataclass(frozen=True)
class GrantInfo:
    patient_id: int
    grantee: str
    categories: tuple[Category, ...]
    purposes: tuple[Purpose, ...]
    actions: int
    valid_from: int
    valid_until: int
    key_bundle_cid: CID
    tx: TxResult
    #: transactions sent besides the grant: keyring update, emergency kit
    extra_txs: tuple[TxResult, ...] = ()
    #: other grantees whose key bundles were refreshed in the same (batch) transaction
    refreshed: tuple[str, ...] = ()

    @property
    def gas_total(self) -> int:
        return self.tx.gas_used + sum(t.gas_used for t in self.extra_txs)


@dataclass(frozen=True)
class RevokeInfo:
    patient_id: int
    grantee: str
    tx: TxResult
    #: transactions sent after the revocation: keyring rotation, refreshed bundles, kit
    extra_txs: tuple[TxResult, ...] = ()
    #: other grantees whose key bundles were refreshed for the new epochs
    refreshed: tuple[str, ...] = ()

    @property
    def gas_used(self) -> int:
        """Gas of the ``revoke`` transaction itself."""
        return self.tx.gas_used


@dataclass(frozen=True)
class BreakGlassInfo:
    patient_id: int
    responder: str
    reason: codes.BreakGlassReason
    expires_at: int
    tx: TxResult


@dataclass(frozen=True)
class AccessResult:
    """One logged access attempt (what ``recordAccess`` decided)."""

    record_id: bytes
    patient_id: int
    outcome: Outcome
    seq: int
    tx: TxResult

    @property
    def allowed(self) -> bool:
        return self.outcome.allowed


@dataclass(frozen=True)
class AnchoredBatch:
    """A batch of off-chain items: stored encrypted as one record, its Merkle root anchored."""

    batch: Batch
    record: RecordInfo
    tx: TxResult

    @property
    def stream_id(self) -> bytes:
        return self.batch.stream_id

    @property
    def root(self) -> bytes:
        return self.batch.root


@dataclass(frozen=True)
class InclusionProof:
    """That item ``item_digest`` is in the batch with Merkle root ``root`` of ``stream_id``."""

    stream_id: bytes
    root: bytes
    item_digest: bytes
    index: int
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "streamId": "0x" + self.stream_id.hex(),
            "root": "0x" + self.root.hex(),
            "item": "0x" + self.item_digest.hex(),
            "index": self.index,
            "proof": ["0x" + p.hex() for p in self.proof],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InclusionProof:
        try:
            return cls(
                bytes32(data["streamId"], "streamId"),
                bytes32(data["root"], "root"),
                bytes32(data["item"], "item"),
                int(data["index"]),
                tuple(bytes32(p, "proof element") for p in data["proof"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidInput(f"not an inclusion proof: {exc}") from None


def stream_id_of(name: str | bytes) -> bytes:
    """The 32-byte stream id of a stream name (SHA-256 of its UTF-8 bytes), or a raw 32-byte id."""
    if isinstance(name, bytes):
        if len(name) != 32:
            raise InvalidInput("a raw stream id is 32 bytes")
        return name
    if not name.strip():
        raise InvalidInput("empty stream name")
    return hashlib.sha256(name.encode()).digest()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    accessor: str
    accessor_name: str | None
    record_id: bytes
    purpose: Purpose
    outcome: Outcome
    timestamp: int
    block_number: int
    tx_hash: str

    @property
    def allowed(self) -> bool:
        return self.outcome.allowed


@dataclass(frozen=True)
class AuditTrail:
    patient_id: int
    entries: tuple[AuditEntry, ...]
    verification: VerificationReport

    @property
    def verified(self) -> bool:
        return self.verification.ok


def _grant_to_json(g: GrantRequest) -> dict[str, Any]:
    return {
        "grantee": g.grantee,
        "categories": g.categories,
        "actions": g.actions,
        "purposes": g.purposes,
        "validFrom": g.valid_from,
        "validUntil": g.valid_until,
        "keyBundle": "0x" + g.key_bundle.hex(),
    }


def _grant_from_json(g: dict[str, Any]) -> GrantRequest:
    return GrantRequest(
        to_checksum_address(g["grantee"]),
        int(g["categories"]),
        int(g["actions"]),
        int(g["purposes"]),
        int(g["validFrom"]),
        int(g["validUntil"]),
        bytes32(g["keyBundle"], "keyBundle"),
    )


@dataclass(frozen=True)
class SignedStep:
    """One EIP-712 signed operation: ``setKeyring``, ``grant`` or ``revoke``."""

    op: str
    signature: bytes
    grant: GrantRequest | None = None
    grantee: str | None = None
    keyring: bytes | None = None


@dataclass(frozen=True)
class SignedConsent:
    """A grant or revocation signed by the patient's controller, for anyone to relay.

    The patient needs no ETH: the documents (key bundles, updated keyring) are already stored,
    and the relayer pays. ``steps`` carry consecutive nonces, so they can only be executed in
    order and completely: e.g. a grant that needs a new key epoch cannot land before the keyring
    that publishes the epoch, and a revocation is followed by the key rotation that makes later
    records unreadable to the revoked grantee, plus refreshed bundles for the other grantees.
    """

    kind: str  # "grant" or "revoke"
    patient_id: int
    grantee: str
    deadline: int
    steps: tuple[SignedStep, ...]

    def to_json(self) -> dict[str, Any]:
        steps = []
        for st in self.steps:
            item: dict[str, Any] = {"op": st.op, "signature": "0x" + st.signature.hex()}
            if st.grant is not None:
                item["grant"] = _grant_to_json(st.grant)
            if st.grantee is not None:
                item["grantee"] = st.grantee
            if st.keyring is not None:
                item["keyring"] = "0x" + st.keyring.hex()
            steps.append(item)
        return {
            "format": "medledger-signed-consent/1",
            "kind": self.kind,
            "patientId": self.patient_id,
            "grantee": self.grantee,
            "deadline": self.deadline,
            "steps": steps,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignedConsent:
        try:
            kind = str(data["kind"])
            if kind not in ("grant", "revoke"):
                raise ValueError(f"unknown kind {kind!r}")
            steps = []
            for item in data["steps"]:
                op = str(item["op"])
                if op not in ("setKeyring", "grant", "revoke"):
                    raise ValueError(f"unknown step {op!r}")
                steps.append(
                    SignedStep(
                        op,
                        bytes.fromhex(str(item["signature"]).removeprefix("0x")),
                        _grant_from_json(item["grant"]) if "grant" in item else None,
                        to_checksum_address(item["grantee"]) if "grantee" in item else None,
                        bytes32(item["keyring"], "keyring") if "keyring" in item else None,
                    )
                )
            if not steps:
                raise ValueError("no steps")
            return cls(
                kind,
                int(data["patientId"]),
                to_checksum_address(data["grantee"]),
                int(data["deadline"]),
                tuple(steps),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidInput(f"not a signed consent document: {exc}") from None


# --------------------------------------------------------------------------------------------
# the deployment
# --------------------------------------------------------------------------------------------


class Medledger:
    """A medledger deployment: a chain connection, the deployed contracts and a record store."""

    def __init__(
        self, deployment: Deployment, store: BlockStore, *, temp_dir: Path | None = None
    ) -> None:
        self.deployment = deployment
        self.store = store
        self._temp_dir = temp_dir
        self._dev_parties: dict[int, Party] = {}
        self._doc_cache: dict[bytes, bytes] = {}
        self._provider_names: dict[str, str] = {}

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def embedded(cls, store_dir: str | Path | None = None) -> Medledger:
        """A fresh in-process chain with the contracts deployed, over an embedded store.

        ``store_dir`` defaults to a temporary directory removed by :meth:`close`.
        """
        chain = connect(None)
        deployment = deploy_suite(chain, chain.dev_accounts()[0])
        temp = None
        if store_dir is None:
            temp = Path(tempfile.mkdtemp(prefix="medledger-store-"))
            store_dir = temp
        return cls(deployment, EmbeddedStore(store_dir), temp_dir=temp)

    @classmethod
    def open(
        cls,
        rpc: str | None = None,
        store: str | Path | None = None,
        manifest: str | Path | Manifest | None = None,
        *,
        deploy: bool = False,
        deployer: LocalAccount | None = None,
        allow_mismatch: bool = False,
    ) -> Medledger:
        """Connect to a chain, a record store and a deployment.

        ``rpc`` ``None`` means a fresh embedded chain (then the suite is always deployed).
        ``manifest`` is a path or :class:`Manifest`; with ``deploy=True`` and no usable
        manifest the suite is deployed from ``deployer`` (default: dev account 0) and, when
        ``manifest`` is a path, the new manifest is written there.
        """
        if rpc is None or rpc == "embedded":
            return cls.embedded(store_dir=None if store in (None, "embedded") else Path(store))
        chain = connect(rpc)
        deployment: Deployment | None = None
        manifest_path = None if isinstance(manifest, Manifest) or manifest is None else manifest
        if isinstance(manifest, Manifest):
            deployment = load_deployment(chain, manifest, allow_mismatch=allow_mismatch)
        elif manifest_path is not None and Path(manifest_path).exists():
            deployment = load_deployment(chain, manifest_path, allow_mismatch=allow_mismatch)
        elif not deploy:
            raise InvalidInput(
                "no deployment manifest given",
                hint="pass manifest=PATH, or deploy=True to deploy the contracts",
            )
        if deployment is None:
            account = deployer or chain.dev_accounts()[0]
            deployment = deploy_suite(chain, account)
            if manifest_path is not None:
                deployment.manifest.save(manifest_path)
        return cls(deployment, open_store(None if store is None else str(store)))

    def close(self) -> None:
        """Release the store; remove the temporary store of :meth:`embedded`."""
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def __enter__(self) -> Medledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- accessors ---------------------------------------------------------------------------

    @property
    def chain(self) -> Chain:
        return self.deployment.chain

    @property
    def manifest(self) -> Manifest:
        return self.deployment.manifest

    @property
    def contracts(self) -> Deployment:
        return self.deployment

    def session(self, party: Party) -> Session:
        """Act as ``party``."""
        return Session(self, party)

    def dev_party(self, index: int, suite: Suite | str = Suite.X25519) -> Party:
        """Funded dev account ``index`` with an identity key (dev chains only; cached)."""
        party = self._dev_parties.get(index)
        if party is None:
            accounts = self.chain.dev_accounts()
            if not 0 <= index < len(accounts):
                raise InvalidInput(f"dev accounts are numbered 0..{len(accounts) - 1}")
            party = Party(accounts[index], IdentityKey.generate(Suite.parse(suite)))
            self._dev_parties[index] = party
        return party

    def now(self) -> int:
        """The chain's time (latest block timestamp)."""
        return self.chain.now()

    def increase_time(self, seconds: int | timedelta) -> int:
        """Move a dev chain's clock forward; returns the new time."""
        secs = int(seconds.total_seconds()) if isinstance(seconds, timedelta) else int(seconds)
        return self.chain.increase_time(secs)

    # --- documents by digest -----------------------------------------------------------------

    def put_document(self, data: bytes) -> CID:
        """Store and pin a small reference document (keyring, bundle, kit, key document)."""
        return self.store.put(data)

    def get_document(self, digest: bytes) -> bytes:
        """Fetch a document referenced on-chain by its 32-byte CID digest (verified)."""
        if digest == ZERO32:
            raise InvalidInput("no document is referenced (zero digest)")
        cached = self._doc_cache.get(digest)
        if cached is not None:
            return cached
        raw = cid_from_digest(digest, RAW)
        cid = raw if self.store.has(raw) else cid_from_digest(digest, DAG_PB)
        data = self.store.get(cid)
        self._doc_cache[digest] = data
        return data

    def provider_name(self, address: str) -> str | None:
        """The registry name of a provider (cached), ``None`` if not a provider."""
        addr = to_checksum_address(address)
        if addr not in self._provider_names:
            p = self.deployment.medledger.get_provider(addr)
            if p.status == 0:
                return None
            self._provider_names[addr] = p.name
        return self._provider_names[addr]

    def public_key_of_provider(self, provider: Provider) -> PublicKey:
        """A provider's encryption public key (the key document when it has one)."""
        if provider.key_document != ZERO32:
            return PublicKey.decode(self.get_document(provider.key_document))
        return PublicKey.from_x25519_bytes(provider.encryption_key)


@dataclass(frozen=True)
class _GrantSpec:
    """A validated grant request, before keys and transactions."""

    grantee: str
    provider: Provider
    categories: tuple[Category, ...]
    purposes: tuple[Purpose, ...]
    actions: int
    valid_from: int
    until: int


# --------------------------------------------------------------------------------------------
# a party acting
# --------------------------------------------------------------------------------------------


def _as_categories(values: Iterable[str | int | Category] | str | int) -> tuple[Category, ...]:
    items = [values] if isinstance(values, (str, int)) else list(values)
    cats = tuple(sorted({codes.category(v) for v in items}))
    if not cats:
        raise InvalidInput("at least one category is needed", hint="e.g. categories=['labs']")
    return cats


def _as_purposes(values: Iterable[str | int | Purpose] | str | int) -> tuple[Purpose, ...]:
    items = [values] if isinstance(values, (str, int)) else list(values)
    purposes = tuple(sorted({codes.purpose(v) for v in items}))
    if not purposes:
        raise InvalidInput("at least one purpose is needed", hint="e.g. purposes=['treatment']")
    return purposes


def _as_actions(values: Iterable[str | int] | str | int) -> int:
    items = [values] if isinstance(values, (str, int)) else list(values)
    mask = 0
    for v in items:
        if isinstance(v, int):
            if v not in (1, 2, 3):
                raise InvalidInput(f"unknown action {v}", hint="use read, write or both")
            mask |= v
            continue
        name = v.strip().lower()
        if name not in ("read", "write"):
            raise InvalidInput(f"unknown action {v!r}", hint="use read, write or both")
        mask |= Action.READ if name == "read" else Action.WRITE
    if not mask:
        raise InvalidInput("at least one action is needed", hint="actions=['read']")
    return int(mask)


def _record_id(value: bytes | str | CID) -> bytes:
    if isinstance(value, CID):
        return value.digest
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("b", "Q")) and not text.startswith("0x"):
            try:
                return CID.parse(text).digest
            except (InvalidInput, ValueError):
                pass
        try:
            value = bytes.fromhex(text.removeprefix("0x"))
        except ValueError:
            raise InvalidInput(
                f"not a record id: {text!r}", hint="0x + 64 hex digits, or a CID"
            ) from None
    if len(value) != 32:
        raise InvalidInput("a record id is 32 bytes (the CID's sha2-256 digest)")
    return bytes(value)


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class Session:
    """One party acting on a deployment. Create with :meth:`Medledger.session`."""

    def __init__(self, ml: Medledger, party: Party) -> None:
        self.ml = ml
        self.party = party
        self.sender = TxSender(ml.chain, party.account)
        bound = ml.deployment.connect_as(self.sender)
        self.contract = bound.medledger
        self.anchors = bound.anchors
        self._keyring: tuple[bytes, Keyring] | None = None
        self._bundles: dict[bytes, KeySet] = {}
        #: patient id -> (last block scanned for our ConsentGranted events, newest bundle digest)
        self._grant_scan: dict[int, tuple[int, bytes | None]] = {}
        #: gas of the last ``recordAccess`` this session sent (for reports and the demo)
        self.last_access_gas = 0

    def __repr__(self) -> str:
        return f"Session({self.address})"

    @property
    def address(self) -> str:
        return self.party.address

    # --- helpers -----------------------------------------------------------------------------

    def patient_id(self) -> int:
        """The id of the patient this party controls; ``NotRegistered`` if none."""
        pid = self.contract.patient_of(self.address)
        if pid == 0:
            raise NotRegistered(
                f"{self.address} does not control a patient",
                hint="register as a patient first (`medledger register patient`, or "
                "Session.register_patient()), or act as the patient's controller",
            )
        return pid

    def _require_patient(self, patient_id: int) -> Any:
        if patient_id < 1:
            raise InvalidInput(f"patient ids start at 1, got {patient_id}")
        patient = self.contract.get_patient(patient_id)
        if int(patient.controller, 16) == 0:
            raise NotRegistered(f"patient {patient_id} is not registered")
        return patient

    def _tx_or_unpin(self, send: Callable[[], TxResult], pinned: Sequence[CID]) -> TxResult:
        """Send; on failure unpin ``pinned`` so that nothing stays half-written."""
        try:
            return send()
        except MedledgerError as exc:
            failures = []
            for cid in pinned:
                try:
                    self.ml.store.unpin(cid)
                except StorageError as unpin_exc:
                    failures.append(f"{cid}: {unpin_exc}")
            note = (
                "; stored documents were unpinned"
                if not failures
                else f"; could not unpin: {', '.join(failures)}"
            )
            exc.args = ((str(exc.args[0]) if exc.args else str(exc)) + note, *exc.args[1:])
            raise

    # --- keyring (patient side) --------------------------------------------------------------

    def keyring(self) -> Keyring:
        """The patient's keyring, restored from the on-chain reference with the identity key."""
        pid = self.patient_id()
        digest = self.contract.get_patient(pid).keyring
        if digest == ZERO32:
            raise NotRegistered(
                f"patient {pid} has no keyring yet", hint="register_patient() finishes set-up"
            )
        if self._keyring is None or self._keyring[0] != digest:
            self._keyring = (
                digest,
                Keyring.load(self.ml.get_document(digest), self.party.identity),
            )
        return self._keyring[1]

    def _publish_keyring(self, keyring: Keyring) -> tuple[CID, Callable[[], TxResult]]:
        cid = self.ml.put_document(keyring.to_document(self.party.identity.public_key))

        def send() -> TxResult:
            tx = self.contract.set_keyring(cid.digest)
            self._keyring = (cid.digest, keyring)
            return tx

        return cid, send

    # --- registration ------------------------------------------------------------------------

    def register_patient(self, suite: Suite | str | None = None) -> PatientInfo:
        """Register this party as a new patient (two transactions: identity, then keyring).

        ``suite`` must match the identity key's suite (the default); the post-quantum hybrid is
        chosen by generating the party with ``Party.generate("mlkem768-x25519")``.
        """
        identity = self.party.identity
        if suite is not None and Suite.parse(suite) is not identity.suite:
            raise InvalidInput(
                f"the identity key is {identity.suite.label}, not {Suite.parse(suite).label}",
                hint="generate the party's identity key with the suite you want",
            )
        if self.contract.patient_of(self.address) != 0:
            raise InvalidInput(f"{self.address} already controls a patient")
        if self.contract.get_provider(self.address).status != 0:
            raise InvalidInput(f"{self.address} is a provider; use another account")
        pinned: list[CID] = []
        key_doc = ZERO32
        if identity.suite is not Suite.X25519:
            doc_cid = self.ml.put_document(identity.key_document())
            pinned.append(doc_cid)
            key_doc = doc_cid.digest
        tx = self._tx_or_unpin(
            lambda: self.contract.register_patient(identity.x25519_public_bytes(), key_doc, ZERO32),
            pinned,
        )
        pid = int(tx.events_named("PatientRegistered")[0].args["patientId"])
        keyring = Keyring.create(pid, suite=identity.suite)
        cid, send = self._publish_keyring(keyring)
        self._tx_or_unpin(send, [cid])
        return PatientInfo(pid, self.address, cid, tx)

    def register_provider(
        self,
        party: Party | str,
        name: str,
        emergency_responder: bool = False,
        encryption_key: PublicKey | None = None,
    ) -> TxResult:
        """Register a provider (this session must be the consortium owner)."""
        if isinstance(party, Party):
            address, key = party.address, party.identity.public_key
        else:
            if encryption_key is None:
                raise InvalidInput("registering by address needs the provider's encryption_key")
            address, key = to_checksum_address(party), encryption_key
        if not name.strip():
            raise InvalidInput("a provider needs a name")
        if self.contract.owner() != self.address:
            raise NotAuthorized(
                f"{self.address} is not the consortium owner of the provider registry",
                hint="act as the registry owner (the deployer unless ownership was transferred)",
            )
        pinned: list[CID] = []
        key_doc = ZERO32
        if key.suite is not Suite.X25519:
            doc_cid = self.ml.put_document(key.encode())
            pinned.append(doc_cid)
            key_doc = doc_cid.digest
        return self._tx_or_unpin(
            lambda: self.contract.register_provider(
                address, key.x25519_public_bytes(), key_doc, emergency_responder, name
            ),
            pinned,
        )

    def suspend_provider(self, address: str) -> TxResult:
        return self.contract.suspend_provider(to_checksum_address(address))

    def reinstate_provider(self, address: str) -> TxResult:
        return self.contract.reinstate_provider(to_checksum_address(address))

    # --- records -----------------------------------------------------------------------------

    def add_record(
        self,
        patient_id: int,
        data: bytes | bytearray | memoryview | IO[bytes],
        category: str | int | Category,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> RecordInfo:
        """Encrypt ``data`` for the patient, store and pin it, and register it on-chain.

        The author is this party: the patient's controller, or a provider holding write consent
        for ``category``. If the transaction fails the stored record is unpinned.
        """
        cat = codes.category(category)
        patient = self._require_patient(patient_id)
        if patient.controller != self.address and not self.contract.has_access(
            patient_id, self.address, int(cat), int(Action.WRITE)
        ):
            raise AccessDenied(
                f"{self.address} has no write consent for {cat.name.lower()} of patient "
                f"{patient_id}",
                hint="the patient must grant actions=['write'] for this category",
            )
        if patient.keyring == ZERO32:
            raise NotRegistered(f"patient {patient_id} has not published a keyring")
        directory = PublicDirectory.from_document(self.ml.get_document(patient.keyring))
        created_at = self.ml.chain.now()
        if isinstance(data, (bytes, bytearray, memoryview)):
            sealed = seal_record(
                data, directory, category=int(cat), author=self.address, created_at=created_at
            )
            size = len(data)
            cid = self.ml.store.put(sealed)
        else:
            cid, size = self._seal_stream_to_store(data, directory, cat, created_at, progress)
        codec = 0x70 if cid.codec == DAG_PB else 0x55
        tx = self._tx_or_unpin(
            lambda: self.contract.add_record(patient_id, cid.digest, int(cat), codec), [cid]
        )
        return RecordInfo(
            cid.digest, cid, patient_id, cat, self.address, created_at, False, size, tx
        )

    def _seal_stream_to_store(
        self,
        src: IO[bytes],
        directory: PublicDirectory,
        cat: Category,
        created_at: int,
        progress: Callable[[int], None] | None,
    ) -> tuple[CID, int]:
        counted = _CountingReader(src, progress)
        with tempfile.TemporaryFile(prefix="medledger-seal-") as tmp:
            seal_stream(
                counted,
                tmp,
                directory,
                category=int(cat),
                author=self.address,
                created_at=created_at,
            )
            tmp.seek(0)
            cid = self.ml.store.put_stream(tmp)
        return cid, counted.total

    def list_records(self, patient_id: int | None = None) -> list[RecordInfo]:
        """The patient's longitudinal timeline (oldest first), from the record events."""
        pid = self.patient_id() if patient_id is None else patient_id
        self._require_patient(pid)
        added = self.contract.get_events("RecordAdded", argument_filters={"patientId": pid})
        erased = {
            bytes(e.args["recordId"])
            for e in self.contract.get_events("RecordErased", argument_filters={"patientId": pid})
        }
        out = []
        for e in added:
            rid = bytes(e.args["recordId"])
            rec = self.contract.get_record(rid)
            codec = DAG_PB if rec.cid_codec == 0x70 else RAW
            out.append(
                RecordInfo(
                    rid,
                    cid_from_digest(rid, codec),
                    pid,
                    Category(rec.category),
                    rec.author,
                    rec.created_at,
                    rid in erased or rec.erased,
                )
            )
        return out

    def get_record(self, record_id: bytes | str | CID) -> Record:
        """The on-chain index entry of a record (``InvalidInput`` if unknown)."""
        rid = _record_id(record_id)
        rec = self.contract.get_record(rid)
        if rec.patient_id == 0:
            raise InvalidInput(f"unknown record 0x{rid.hex()}")
        return rec

    # --- consent -----------------------------------------------------------------------------

    def _grantee_provider(self, grantee: str) -> tuple[str, Provider]:
        addr = to_checksum_address(grantee)
        provider = self.contract.get_provider(addr)
        if provider.status == 0:
            raise NotRegistered(
                f"grantee {addr} is not a registered provider",
                hint="the consortium registers providers (with their encryption key) first",
            )
        if provider.status != 1:
            raise InvalidInput(f"grantee {addr} is suspended; grants to it would not work")
        return addr, provider

    def _active_grants(self, pid: int, now: int) -> dict[str, Consent]:
        grantees = {
            to_checksum_address(e.args["grantee"])
            for e in self.contract.get_events("ConsentGranted", argument_filters={"patientId": pid})
        }
        active: dict[str, Consent] = {}
        for g in sorted(grantees):
            c = self.contract.get_consent(pid, g)
            if c.exists and c.valid_until > now:
                active[g] = c
        return active

    def _bundle_for(
        self, keyring: Keyring, grantee: str, provider: Provider, cats: Sequence[int], until: int
    ) -> bytes:
        return seal_key_bundle(
            keyring,
            categories=cats,
            valid_until=until,
            grantee=grantee,
            grantee_key=self.ml.public_key_of_provider(provider),
        )

    def _rekey(
        self,
        pid: int,
        keyring: Keyring,
        new_epochs: Sequence[EpochKey],
        now: int,
        skip: Iterable[str] = (),
        *,
        kit: bool = True,
    ) -> tuple[list[GrantRequest], list[CID], Callable[[], TxResult] | None]:
        """After new epochs: refreshed bundles for the other active grantees whose grant spans
        a new epoch, and a rebuilt emergency kit when an emergency category changed."""
        changed = {e.category for e in new_epochs}
        skipped = set(skip)
        refreshed: list[GrantRequest] = []
        pinned: list[CID] = []
        for grantee, consent in self._active_grants(pid, now).items():
            cats = [c.value for c in codes.unmask_categories(consent.categories)]
            starts = [e.valid_from for e in new_epochs if e.category in cats]
            if grantee in skipped or not starts or min(starts) >= consent.valid_until:
                continue
            provider = self.contract.get_provider(grantee)
            if provider.status == 0:
                continue
            bundle_cid = self.ml.put_document(
                self._bundle_for(keyring, grantee, provider, cats, consent.valid_until)
            )
            pinned.append(bundle_cid)
            refreshed.append(
                GrantRequest(
                    grantee,
                    consent.categories,
                    consent.actions,
                    consent.purposes,
                    consent.valid_from,
                    consent.valid_until,
                    bundle_cid.digest,
                )
            )
        patient = self.contract.get_patient(pid)
        kit_send = None
        if (
            kit
            and patient.emergency_kit != ZERO32
            and changed & {c.value for c in codes.unmask_categories(patient.emergency_categories)}
        ):
            kit_cid, kit_send = self._kit_update(pid, keyring, patient, None)
            pinned.append(kit_cid)
        return refreshed, pinned, kit_send

    def grant(
        self,
        grantee: str,
        categories: Iterable[str | int | Category] | str | int,
        purposes: Iterable[str | int | Purpose] | str | int = ("treatment",),
        actions: Iterable[str | int] | str | int = ("read",),
        *,
        duration: timedelta | int | None = None,
        valid_from: int | datetime | None = None,
        valid_until: int | datetime | None = None,
    ) -> GrantInfo:
        """Grant ``grantee`` time-limited, purpose-bound access to ``categories``.

        Exactly one of ``duration`` (from now) or ``valid_until`` sets the end. The grantee gets a
        key bundle with every key epoch of those categories that starts before the end; an epoch
        boundary is created at the end so that records added afterwards are unreadable to it.
        """
        spec = self._grant_spec(
            grantee,
            categories,
            purposes,
            actions,
            duration,
            valid_from,
            valid_until,
            self.ml.chain.now(),
        )
        return self._grant_all([spec])[0]

    def grant_many(self, grants: Sequence[dict[str, Any]]) -> list[GrantInfo]:
        """Several grants in one transaction (``grantBatch``, at most 64 including refreshed
        bundles); each item takes the keyword arguments of :meth:`grant`. New key epochs for
        all of them are published in one keyring update."""
        if not grants:
            raise InvalidInput("no grants given")
        now = self.ml.chain.now()
        specs = []
        for g in grants:
            try:
                specs.append(
                    self._grant_spec(
                        g["grantee"],
                        g["categories"],
                        g.get("purposes", ("treatment",)),
                        g.get("actions", ("read",)),
                        g.get("duration"),
                        g.get("valid_from"),
                        g.get("valid_until"),
                        now,
                    )
                )
            except (KeyError, TypeError) as exc:
                raise InvalidInput(f"malformed grant request {g!r}: {exc}") from None
        if len({sp.grantee for sp in specs}) != len(specs):
            raise InvalidInput("a grantee appears twice in one batch")
        return self._grant_all(specs)

    def _grant_spec(
        self,
        grantee: str,
        categories: Iterable[str | int | Category] | str | int,
        purposes: Iterable[str | int | Purpose] | str | int,
        actions: Iterable[str | int] | str | int,
        duration: timedelta | int | None,
        valid_from: int | datetime | None,
        valid_until: int | datetime | None,
        now: int,
    ) -> _GrantSpec:
        addr, provider = self._grantee_provider(grantee)
        if addr == self.address:
            raise InvalidInput("a patient cannot grant consent to themself")
        cats = _as_categories(categories)
        purps = _as_purposes(purposes)
        acts = _as_actions(actions)
        start = _timestamp(valid_from) if valid_from is not None else 0
        until = self._until(now, duration, valid_until)
        if until <= max(start, now):
            raise InvalidInput("the grant must end after it starts and after now")
        return _GrantSpec(addr, provider, cats, purps, acts, start, until)

    def _grant_all(self, specs: Sequence[_GrantSpec]) -> list[GrantInfo]:
        pid = self.patient_id()
        now = self.ml.chain.now()
        # Plan on a copy: the cached keyring changes only once the new one is on-chain.
        keyring = self._keyring_copy()
        new_epochs: list[EpochKey] = []
        for sp in specs:
            new_epochs += keyring.split_at([c.value for c in sp.categories], sp.until)
        pinned: list[CID] = []
        requests: list[GrantRequest] = []
        bundles: list[CID] = []
        for sp in specs:
            cats = [c.value for c in sp.categories]
            bundle_cid = self.ml.put_document(
                self._bundle_for(keyring, sp.grantee, sp.provider, cats, sp.until)
            )
            pinned.append(bundle_cid)
            bundles.append(bundle_cid)
            requests.append(
                GrantRequest(
                    sp.grantee,
                    codes.mask(sp.categories),
                    sp.actions,
                    codes.mask(sp.purposes),
                    sp.valid_from,
                    sp.until,
                    bundle_cid.digest,
                )
            )
        refreshed: list[GrantRequest] = []
        extra: list[TxResult] = []
        kit_send: Callable[[], TxResult] | None = None
        if new_epochs:
            refreshed, more, kit_send = self._rekey(
                pid, keyring, new_epochs, now, skip=[sp.grantee for sp in specs]
            )
            pinned += more
            keyring_cid, send_keyring = self._publish_keyring(keyring)
            pinned.append(keyring_cid)
            # Keyring first: from then on writers seal to the new epochs.
            extra.append(self._tx_or_unpin(send_keyring, pinned))
        batch = [*requests, *refreshed]
        if len(batch) > MAX_GRANT_BATCH:
            raise InvalidInput(
                f"{len(batch)} grants (with {len(refreshed)} refreshed bundles) exceed the "
                f"batch limit of {MAX_GRANT_BATCH}",
                hint="grant in smaller groups",
            )
        if len(batch) == 1:
            tx = self._tx_or_unpin(lambda: self._send_grant(batch[0]), pinned)
        else:
            tx = self._tx_or_unpin(lambda: self.contract.grant_batch(batch), pinned)
        if kit_send is not None:
            extra.append(kit_send())
        refreshed_to = tuple(r.grantee for r in refreshed)
        return [
            GrantInfo(
                pid,
                sp.grantee,
                sp.categories,
                sp.purposes,
                sp.actions,
                sp.valid_from or now,
                sp.until,
                cid,
                tx,
                tuple(extra),
                refreshed_to,
            )
            for sp, cid in zip(specs, bundles, strict=True)
        ]

    def _send_grant(self, g: GrantRequest) -> TxResult:
        return self.contract.grant(
            g.grantee,
            g.categories,
            g.actions,
            g.purposes,
            g.valid_from,
            g.valid_until,
            g.key_bundle,
        )

    @staticmethod
    def _until(
        now: int, duration: timedelta | int | None, valid_until: int | datetime | None
    ) -> int:
        if (duration is None) == (valid_until is None):
            raise InvalidInput("give exactly one of duration or valid_until")
        if duration is not None:
            secs = int(duration.total_seconds()) if isinstance(duration, timedelta) else duration
            if secs <= 0:
                raise InvalidInput("the duration must be positive")
            return now + secs
        assert valid_until is not None
        return _timestamp(valid_until)

    def revoke(self, grantee: str) -> RevokeInfo:
        """Withdraw ``grantee``'s consent and rotate its categories to new key epochs.

        After the ``revoke`` transaction the patient's keyring gets new epochs for the revoked
        categories (one ``setKeyring``), other grantees still active on them get refreshed key
        bundles (one ``grantBatch``) and the emergency kit is resealed if it is affected.
        """
        pid = self.patient_id()
        addr = to_checksum_address(grantee)
        consent = self.contract.get_consent(pid, addr)
        if not consent.exists:
            raise InvalidInput(f"{addr} holds no consent from patient {pid}")
        tx = self.contract.revoke(addr)
        extra, refreshed = self._rotate_after_revoke(pid, consent, skip=[addr])
        return RevokeInfo(pid, addr, tx, tuple(extra), tuple(refreshed))

    def _rotate_after_revoke(
        self, pid: int, consent: Consent, skip: Sequence[str]
    ) -> tuple[list[TxResult], list[str]]:
        now = self.ml.chain.now()
        keyring = self._keyring_copy()
        cats = [c.value for c in codes.unmask_categories(consent.categories)]
        new_epochs = keyring.rotate(cats, now)
        if not new_epochs:
            return [], []
        refreshed, pinned, kit_send = self._rekey(pid, keyring, new_epochs, now, skip=skip)
        keyring_cid, send_keyring = self._publish_keyring(keyring)
        pinned.append(keyring_cid)
        extra = [self._tx_or_unpin(send_keyring, pinned)]
        if refreshed:
            extra.append(self._tx_or_unpin(lambda: self.contract.grant_batch(refreshed), pinned))
        if kit_send is not None:
            extra.append(kit_send())
        return extra, [r.grantee for r in refreshed]

    # --- signed (relayed) consent ------------------------------------------------------------

    def _keyring_copy(self) -> Keyring:
        """A private copy of the keyring to plan changes on without touching the cached one."""
        identity = self.party.identity
        return Keyring.load(self.keyring().to_document(identity.public_key), identity)

    def _signer(self, pid: int, deadline: int) -> Callable[[str, dict[str, Any]], bytes]:
        """Signs consecutive EIP-712 operations with consecutive nonces."""
        nonce = self.contract.nonces(self.address)
        common: dict[str, Any] = {
            "chain_id": self.ml.chain.chain_id,
            "verifying_contract": self.contract.address,
        }

        def sign(op: str, fields: dict[str, Any]) -> bytes:
            nonlocal nonce
            account = self.party.account
            if op == "grant":
                sig = eip712.sign_grant(
                    account, **common, patient_id=pid, nonce=nonce, deadline=deadline, **fields
                )
            elif op == "revoke":
                sig = eip712.sign_revoke(
                    account, **common, patient_id=pid, nonce=nonce, deadline=deadline, **fields
                )
            else:
                sig = eip712.sign_set_keyring(
                    account, **common, patient_id=pid, nonce=nonce, deadline=deadline, **fields
                )
            nonce += 1
            return sig

        return sign

    def _signed_rekey(
        self,
        pid: int,
        keyring: Keyring,
        new_epochs: Sequence[EpochKey],
        now: int,
        skip: Sequence[str],
        sign: Callable[[str, dict[str, Any]], bytes],
    ) -> tuple[SignedStep, list[GrantRequest]]:
        refreshed, _pinned, _ = self._rekey(pid, keyring, new_epochs, now, skip=skip, kit=False)
        keyring_cid = self.ml.put_document(keyring.to_document(self.party.identity.public_key))
        step = SignedStep(
            "setKeyring",
            sign("setKeyring", {"keyring": keyring_cid.digest}),
            keyring=keyring_cid.digest,
        )
        return step, refreshed

    def sign_grant(
        self,
        grantee: str,
        categories: Iterable[str | int | Category] | str | int,
        purposes: Iterable[str | int | Purpose] | str | int = ("treatment",),
        actions: Iterable[str | int] | str | int = ("read",),
        *,
        duration: timedelta | int | None = None,
        valid_until: int | datetime | None = None,
        deadline: int | None = None,
    ) -> SignedConsent:
        """Sign a grant for a relayer (EIP-712); the patient sends no transaction.

        Everything off-chain is prepared now: the key bundle, and when the grant's end needs a
        new key epoch the updated keyring and refreshed bundles for other grantees, each with its
        own signed step. The emergency kit is not resealed by a relayed flow (it needs the
        patient's own transaction: :meth:`configure_emergency`).
        """
        pid = self.patient_id()
        addr, provider = self._grantee_provider(grantee)
        if addr == self.address:
            raise InvalidInput("a patient cannot grant consent to themself")
        cats = _as_categories(categories)
        purps = _as_purposes(purposes)
        acts = _as_actions(actions)
        now = self.ml.chain.now()
        until = self._until(now, duration, valid_until)
        if until <= now:
            raise InvalidInput("the grant must end after now")
        dl = deadline if deadline is not None else now + DEFAULT_SIGNATURE_TTL
        keyring = self._keyring_copy()
        new_epochs = keyring.split_at([c.value for c in cats], until)
        sign = self._signer(pid, dl)
        steps: list[SignedStep] = []
        refreshed: list[GrantRequest] = []
        if new_epochs:
            step, refreshed = self._signed_rekey(pid, keyring, new_epochs, now, [addr], sign)
            steps.append(step)
        bundle_cid = self.ml.put_document(
            self._bundle_for(keyring, addr, provider, [c.value for c in cats], until)
        )
        request = GrantRequest(
            addr, codes.mask(cats), acts, codes.mask(purps), 0, until, bundle_cid.digest
        )
        steps.append(SignedStep("grant", sign("grant", {"grant": request}), grant=request))
        for r in refreshed:
            steps.append(SignedStep("grant", sign("grant", {"grant": r}), grant=r))
        return SignedConsent("grant", pid, addr, dl, tuple(steps))

    def sign_revoke(self, grantee: str, *, deadline: int | None = None) -> SignedConsent:
        """Sign a revocation for a relayer (EIP-712), with the key rotation that must follow it
        (signed keyring update, refreshed bundles for the other grantees)."""
        pid = self.patient_id()
        addr = to_checksum_address(grantee)
        consent = self.contract.get_consent(pid, addr)
        if not consent.exists:
            raise InvalidInput(f"{addr} holds no consent from patient {pid}")
        now = self.ml.chain.now()
        dl = deadline if deadline is not None else now + DEFAULT_SIGNATURE_TTL
        sign = self._signer(pid, dl)
        steps = [SignedStep("revoke", sign("revoke", {"grantee": addr}), grantee=addr)]
        keyring = self._keyring_copy()
        cats = [c.value for c in codes.unmask_categories(consent.categories)]
        new_epochs = keyring.rotate(cats, now)
        if new_epochs:
            step, refreshed = self._signed_rekey(pid, keyring, new_epochs, now, [addr], sign)
            steps.append(step)
            for r in refreshed:
                steps.append(SignedStep("grant", sign("grant", {"grant": r}), grant=r))
        return SignedConsent("revoke", pid, addr, dl, tuple(steps))

    def relay(self, signed: SignedConsent) -> list[TxResult]:
        """Submit someone's signed grant or revocation (all its steps, in order), paying the gas."""
        results = []
        for st in signed.steps:
            if st.op == "setKeyring":
                assert st.keyring is not None
                tx = self.contract.set_keyring_by_sig(
                    signed.patient_id, st.keyring, signed.deadline, st.signature
                )
            elif st.op == "grant":
                assert st.grant is not None
                tx = self.contract.grant_by_sig(
                    signed.patient_id, st.grant, signed.deadline, st.signature
                )
            else:
                assert st.grantee is not None
                tx = self.contract.revoke_by_sig(
                    signed.patient_id, st.grantee, signed.deadline, st.signature
                )
            results.append(tx)
        return results

    # --- break-glass -------------------------------------------------------------------------

    def _kit_update(
        self,
        pid: int,
        keyring: Keyring,
        patient: Any,
        responders: Sequence[str] | None,
        categories: int | None = None,
        max_duration: int | None = None,
        opt_out: bool | None = None,
    ) -> tuple[CID, Callable[[], TxResult]]:
        from medledger.crypto import emergency_kit_responders

        if responders is None:
            _, responders = emergency_kit_responders(self.ml.get_document(patient.emergency_kit))
        cats = patient.emergency_categories if categories is None else categories
        keys: dict[str, PublicKey] = {}
        for r in responders:
            provider = self.contract.get_provider(r)
            if provider.status == 0:
                raise NotRegistered(f"responder {r} is not a registered provider")
            if not provider.emergency_responder:
                raise InvalidInput(f"{r} ({provider.name}) is not an emergency responder")
            keys[to_checksum_address(r)] = self.ml.public_key_of_provider(provider)
        kit = seal_emergency_kit(
            keyring, categories=[c.value for c in codes.unmask_categories(cats)], responders=keys
        )
        kit_cid = self.ml.put_document(kit)
        max_d = patient.break_glass_max_duration if max_duration is None else max_duration
        out = patient.break_glass_opt_out if opt_out is None else opt_out

        def send() -> TxResult:
            return self.contract.set_emergency_access(cats, max_d, out, kit_cid.digest)

        return kit_cid, send

    def configure_emergency(
        self,
        categories: Iterable[str | int | Category] | None = None,
        max_duration: timedelta | int | None = None,
        opt_out: bool = False,
        responders: Sequence[str] = (),
    ) -> TxResult:
        """Set break-glass: emergency categories (default allergies, medications, conditions),
        the longest emergency access (≤ 24 h), opt-out, and the responder organisations the
        emergency kit (those categories' keys) is sealed to."""
        pid = self.patient_id()
        patient = self.contract.get_patient(pid)
        cats = codes.mask(
            _as_categories(categories)
            if categories is not None
            else codes.DEFAULT_EMERGENCY_CATEGORIES
        )
        if max_duration is None:
            max_d = codes.MAX_BREAK_GLASS_SECONDS
        elif isinstance(max_duration, timedelta):
            max_d = int(max_duration.total_seconds())
        else:
            max_d = int(max_duration)
        if not 0 < max_d <= codes.MAX_BREAK_GLASS_SECONDS:
            raise InvalidInput("break-glass lasts at most 24 hours")
        if opt_out or not responders:
            return self.contract.set_emergency_access(cats, max_d, opt_out, ZERO32)
        kit_cid, send = self._kit_update(
            pid, self.keyring(), patient, list(responders), cats, max_d, opt_out
        )
        return self._tx_or_unpin(send, [kit_cid])

    def break_glass(
        self,
        patient_id: int,
        reason: str | int | codes.BreakGlassReason = codes.BreakGlassReason.OTHER,
        duration: timedelta | int | None = None,
        justification: str = "",
    ) -> BreakGlassInfo:
        """Open emergency read access as a registered emergency responder (logged, expires).

        The justification text stays with the responder; only its SHA-256 goes on-chain.
        """
        self._require_patient(patient_id)
        try:
            why = (
                reason
                if isinstance(reason, codes.BreakGlassReason)
                else codes.BreakGlassReason(reason)
                if isinstance(reason, int)
                else codes.BreakGlassReason[reason.strip().upper().replace("-", "_")]
            )
        except (KeyError, ValueError):
            names = ", ".join(r.name.lower() for r in codes.BreakGlassReason)
            raise InvalidInput(f"unknown break-glass reason {reason!r}", hint=names) from None
        if duration is None:
            secs = 0
        else:
            secs = int(duration.total_seconds()) if isinstance(duration, timedelta) else duration
        if not 0 <= secs <= codes.MAX_BREAK_GLASS_SECONDS:
            raise InvalidInput("break-glass lasts at most 24 hours")
        digest = _sha256(justification.encode()) if justification else ZERO32
        tx = self.contract.open_break_glass(patient_id, int(why), secs, digest)
        expires = int(tx.events_named("BreakGlassOpened")[0].args["expiresAt"])
        return BreakGlassInfo(patient_id, self.address, why, expires, tx)

    # --- reading -----------------------------------------------------------------------------

    def log_access(
        self, record_id: bytes | str | CID, purpose: str | int | Purpose
    ) -> AccessResult:
        """Record an access attempt on-chain (consent checked by the contract); no fetch."""
        rid = _record_id(record_id)
        purp = codes.purpose(purpose)
        rec = self.get_record(rid)
        tx = self.contract.record_access(rec.patient_id, rid, int(purp))
        self.last_access_gas = tx.gas_used
        ev = tx.events_named("AccessRecorded")[-1].args
        return AccessResult(rid, rec.patient_id, Outcome(int(ev["outcome"])), int(ev["seq"]), tx)

    def read(self, record_id: bytes | str | CID, purpose: str | int | Purpose) -> bytes:
        """Log the access on-chain first, then fetch, verify and decrypt the record.

        A denial (logged too) raises :class:`AccessDenied` (:class:`ConsentExpired` when the
        grant ran out) and fetches nothing.
        """
        result = self.log_access(record_id, purpose)
        _raise_if_denied(result)
        return self._open(self.get_record(result.record_id), result.record_id, result.outcome)

    def read_many(
        self, record_ids: Sequence[bytes | str | CID], purpose: str | int | Purpose
    ) -> list[bytes | AccessDenied]:
        """Log up to 256 accesses in one transaction, then fetch the allowed ones."""
        if not record_ids:
            raise InvalidInput("no record ids given")
        purp = codes.purpose(purpose)
        rids = [_record_id(r) for r in record_ids]
        recs = [self.get_record(r) for r in rids]
        tx = self.contract.record_access_batch(
            [
                AccessRequest(rec.patient_id, rid, int(purp))
                for rid, rec in zip(rids, recs, strict=True)
            ]
        )
        events = tx.events_named("AccessRecorded")
        out: list[bytes | AccessDenied] = []
        for rid, rec, ev in zip(rids, recs, events, strict=True):
            outcome = Outcome(int(ev.args["outcome"]))
            result = AccessResult(rid, rec.patient_id, outcome, int(ev.args["seq"]), tx)
            try:
                _raise_if_denied(result)
                out.append(self._open(rec, rid, outcome))
            except AccessDenied as exc:
                out.append(exc)
        return out

    def fetch_sealed(self, record_id: bytes | str | CID) -> bytes:
        """The sealed (encrypted) record from the store, CID-verified, without logging.

        Ciphertext is public by design; this is what anyone can fetch.
        """
        rid = _record_id(record_id)
        rec = self.get_record(rid)
        codec = DAG_PB if rec.cid_codec == 0x70 else RAW
        return self.ml.store.get(cid_from_digest(rid, codec))

    def _open(self, rec: Record, rid: bytes, outcome: Outcome) -> bytes:
        blob = self.fetch_sealed(rid)
        keys: Any
        if outcome is Outcome.ALLOWED_PATIENT:
            keys = self.keyring()
        elif outcome is Outcome.ALLOWED_EMERGENCY:
            keys = self._emergency_keys(rec.patient_id)
        else:
            keys = self._latest_bundle(rec.patient_id)
        opened = open_record(blob, keys)
        opened.header.expect(patient_id=rec.patient_id, category=rec.category, author=rec.author)
        return opened.plaintext

    def _open_bundle(self, pid: int, digest: bytes) -> KeySet:
        cached = self._bundles.get(digest)
        if cached is None:
            cached = open_key_bundle(
                self.ml.get_document(digest),
                self.party.identity,
                patient_id=pid,
                grantee=self.address,
            )
            self._bundles[digest] = cached
        return cached

    def _latest_bundle(self, pid: int) -> KeySet:
        """The key bundle of this party's newest grant from ``pid``.

        The ``ConsentGranted`` scan is incremental (from the last block seen), so a read costs
        the same however long the chain's history is.
        """
        last_block, digest = self._grant_scan.get(pid, (None, None))
        head = self.ml.chain.block_number()
        start = None if last_block is None else last_block + 1
        if start is None or start <= head:
            events = self.contract.get_events(
                "ConsentGranted",
                from_block=start,
                to_block=head,
                argument_filters={"patientId": pid, "grantee": self.address},
            )
            if events:
                digest = bytes(events[-1].args["keyBundle"])
            self._grant_scan[pid] = (head, digest)
        if digest is None:
            raise KeyNotAvailable(f"no key bundle from patient {pid} for {self.address}")
        return self._open_bundle(pid, digest)

    def _emergency_keys(self, pid: int) -> KeySet:
        patient = self.contract.get_patient(pid)
        if patient.emergency_kit == ZERO32:
            raise KeyNotAvailable(
                f"patient {pid} has no emergency kit",
                hint="the patient configures one with configure_emergency(responders=[...])",
            )
        return open_emergency_kit(
            self.ml.get_document(patient.emergency_kit),
            self.party.identity,
            patient_id=pid,
            responder=self.address,
        )

    def open_record_offline(self, record_id: bytes | str | CID) -> bytes:
        """Try to decrypt a record with every key this party was ever given, without logging.

        This is what a former grantee could attempt with the public ciphertext; it exists to
        demonstrate (and test) that records added after their access ended stay unreadable:
        raises :class:`KeyNotAvailable` when no held key fits.
        """
        rid = _record_id(record_id)
        rec = self.get_record(rid)
        blob = self.fetch_sealed(rid)
        header = read_header(blob)
        held: list[KeySet] = []
        for e in self.contract.get_events(
            "ConsentGranted",
            argument_filters={"patientId": rec.patient_id, "grantee": self.address},
        ):
            try:
                held.append(self._open_bundle(rec.patient_id, bytes(e.args["keyBundle"])))
            except (DecryptionFailed, BlockNotFound):
                continue
        for keyset in held:
            try:
                keyset.private_key(rec.patient_id, header.category, header.epoch)
            except KeyNotAvailable:
                continue
            opened = open_record(blob, keyset)
            opened.header.expect(
                patient_id=rec.patient_id, category=rec.category, author=rec.author
            )
            return opened.plaintext
        raise KeyNotAvailable(
            f"none of the {sum(len(k) for k in held)} keys {self.address} ever received opens "
            f"record 0x{rid.hex()} (category {Category(header.category).name.lower()}, "
            f"epoch {header.epoch})"
        )

    # --- audit -------------------------------------------------------------------------------

    def audit_trail(self, patient_id: int | None = None) -> AuditTrail:
        """Every access and denial of the patient's data, in order, with the hash chain
        recomputed and compared with the on-chain head."""
        pid = self.patient_id() if patient_id is None else patient_id
        self._require_patient(pid)
        block = self.ml.chain.block_number()
        events = self.contract.get_events(
            "AccessRecorded", to_block=block, argument_filters={"patientId": pid}
        )
        head = self.contract.log_head(pid, block=block)
        archived = [_access_entry(e) for e in events]
        report = verify_entries(pid, archived, head.head, head.count, checked_at_block=block)
        entries = tuple(
            AuditEntry(
                int(e.args["seq"]),
                to_checksum_address(e.args["accessor"]),
                self._name_of(to_checksum_address(e.args["accessor"]), pid),
                bytes(e.args["recordId"]),
                Purpose(int(e.args["purpose"])),
                Outcome(int(e.args["outcome"])),
                int(e.args["timestamp"]),
                e.block_number,
                e.tx_hash,
            )
            for e in events
        )
        return AuditTrail(pid, entries, report)

    def _name_of(self, address: str, pid: int) -> str | None:
        name = self.ml.provider_name(address)
        if name is None and self.contract.patient_of(address) == pid:
            return "patient"
        return name

    # --- erasure -----------------------------------------------------------------------------

    def erase(self, record_id: bytes | str | CID) -> ErasureReport:
        """Tombstone a record, unpin its blocks, and report what can and cannot be undone."""
        rid = _record_id(record_id)
        pid = self.contract.patient_of(self.address)
        rec = self.get_record(rid)
        if pid == 0 or rec.patient_id != pid:
            raise NotAuthorized(f"record 0x{rid.hex()} belongs to another patient")
        if rec.erased:
            raise InvalidInput(f"record 0x{rid.hex()} is already erased")
        tx = self.contract.erase_record(rid)
        codec = DAG_PB if rec.cid_codec == 0x70 else RAW
        cid = cid_from_digest(rid, codec)
        unpinned: list[str] = []
        failures: list[str] = []
        try:
            if self.ml.store.unpin(cid):
                unpinned.append(str(cid))
            self.ml.store.gc()
        except StorageError as exc:
            failures.append(f"{cid}: {exc}")
        notified = self._past_grantees(pid, Category(rec.category))
        when = datetime.fromtimestamp(
            int(self.ml.chain.w3.eth.get_block(tx.block_number)["timestamp"]), UTC
        )
        return ErasureReport(
            patient_id=pid,
            record_id="0x" + rid.hex(),
            category=Category(rec.category),
            tombstone_tx=tx.tx_hash,
            erased_at=when,
            keys_destroyed=(),
            blocks_unpinned=tuple(unpinned),
            unpin_failures=tuple(failures),
            grantees_notified=tuple(notified),
            cannot_undo=_ERASURE_LIMITS,
        )

    def _past_grantees(self, pid: int, category: Category) -> list[NotifiedGrantee]:
        latest: dict[str, int] = {}
        for e in self.contract.get_events("ConsentGranted", argument_filters={"patientId": pid}):
            if int(e.args["categories"]) & (1 << category.value):
                latest[to_checksum_address(e.args["grantee"])] = e.block_number
        out = []
        for addr, block in sorted(latest.items()):
            ts = int(self.ml.chain.w3.eth.get_block(block)["timestamp"])
            out.append(NotifiedGrantee(addr, self.ml.provider_name(addr), ts))
        return out

    # --- anchored high-volume streams ----------------------------------------------------

    def anchor_batch(
        self,
        patient_id: int,
        stream: str | bytes,
        items: Sequence[bytes],
        category: str | int | Category = Category.VITALS,
    ) -> AnchoredBatch:
        """Store a batch of items (e.g. a day of vitals readings) encrypted as one record and
        anchor the Merkle root of their digests on-chain: one transaction for the record, one for
        the root, whatever the batch size. Items can later be proven with :meth:`prove_item`.
        """
        if not items:
            raise InvalidInput("a batch needs at least one item")
        sid = stream_id_of(stream)
        batch = Batch.from_items(sid, list(items))
        payload = json.dumps(
            {
                "format": BATCH_FORMAT,
                "manifest": batch.manifest(),
                "items": [base64.b64encode(i).decode() for i in items],
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        record = self.add_record(patient_id, payload, category)
        tx = self.anchors.anchor(sid, batch.root, len(batch))
        return AnchoredBatch(batch, record, tx)

    def read_batch(
        self, record_id: bytes | str | CID, purpose: str | int | Purpose
    ) -> tuple[Batch, list[bytes]]:
        """Read (logged, like any record) a stored batch: its tree and items, checked against
        the root."""
        rid = _record_id(record_id)
        not_batch = f"record 0x{rid.hex()} is not an anchored batch"
        try:
            doc = json.loads(self.read(rid, purpose))
            if not isinstance(doc, dict) or doc.get("format") != BATCH_FORMAT:
                raise InvalidInput(not_batch, hint="batches are stored with anchor_batch()")
            items = [base64.b64decode(i, validate=True) for i in doc["items"]]
            batch = Batch.from_manifest(doc["manifest"])
        except InvalidInput:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"{not_batch}: {exc}") from None
        if Batch.from_items(batch.stream_id, items).root != batch.root:
            raise IntegrityError(f"the items of batch 0x{rid.hex()} do not match its Merkle root")
        return batch, items

    def open_batch(self, record_id: bytes | str | CID, purpose: str | int | Purpose) -> list[bytes]:
        """The items of a stored batch (a logged read), checked against the root."""
        return self.read_batch(record_id, purpose)[1]

    @staticmethod
    def prove_item(batch: Batch, item: bytes) -> InclusionProof:
        """The inclusion proof of ``item`` (raw bytes) in ``batch``."""
        digest = item_digest(item)
        index = batch.index_of(digest)
        return InclusionProof(batch.stream_id, batch.root, digest, index, tuple(batch.proof(index)))

    def verify_item(self, proof: InclusionProof, *, onchain: bool = True) -> bool:
        """Check a proof in Python and (by default) with the contract's ``verifyItem``: true only
        if the root is anchored for the stream and the proof leads from the item to it."""
        local = verify_proof(proof.root, proof.item_digest, list(proof.proof))
        if not onchain or not local:
            return local
        # the chain also rejects a valid tree whose root was never anchored for this stream
        return self.anchors.verify_item(
            proof.stream_id, proof.root, proof.item_digest, list(proof.proof)
        )

    # --- guardian recovery -------------------------------------------------------------------

    def set_guardians(
        self, guardians: Sequence[str], threshold: int, delay: timedelta | int
    ) -> TxResult:
        addrs = [to_checksum_address(g) for g in guardians]
        secs = int(delay.total_seconds()) if isinstance(delay, timedelta) else int(delay)
        if not 1 <= threshold <= len(addrs) <= 10:
            raise InvalidInput("need 1 <= threshold <= number of guardians <= 10")
        if len(set(addrs)) != len(addrs):
            raise InvalidInput("duplicate guardian")
        self.patient_id()
        return self.contract.set_guardians(addrs, threshold, secs)

    def approve_recovery(self, patient_id: int, new_controller: str) -> TxResult:
        self._require_patient(patient_id)
        return self.contract.approve_recovery(patient_id, to_checksum_address(new_controller))

    def execute_recovery(self, patient_id: int) -> TxResult:
        self._require_patient(patient_id)
        return self.contract.execute_recovery(patient_id)

    def cancel_recovery(self) -> TxResult:
        self.patient_id()
        return self.contract.cancel_recovery()


# --------------------------------------------------------------------------------------------


class _CountingReader:
    """Wraps a binary stream, counting bytes and reporting progress."""

    def __init__(self, src: IO[bytes], progress: Callable[[int], None] | None) -> None:
        self._src = src
        self._progress = progress
        self.total = 0

    def readinto(self, buffer: memoryview, /) -> int | None:
        readinto = getattr(self._src, "readinto", None)
        if readinto is not None:
            n: int | None = readinto(buffer)
        else:
            chunk = self._src.read(len(buffer))
            n = len(chunk)
            buffer[:n] = chunk
        if n:
            self.total += n
            if self._progress is not None:
                self._progress(n)
        return n


#: What erasure cannot undo, stated for medledger's key design (see docs/crypto.md).
_ERASURE_LIMITS: tuple[str, ...] = (
    CANNOT_UNDO[0],
    CANNOT_UNDO[1],
    "No key is destroyed: the record's data key is wrapped, inside the sealed record, to its "
    "category's key epoch, which also protects the patient's other records of that category and "
    "epoch. Whoever kept the ciphertext and holds that epoch key (the patient, grantees of the "
    "category in that epoch, responders holding the emergency kit) can still decrypt it.",
    "Unpinning and garbage collection delete the ciphertext from the stores this SDK controls; "
    "other IPFS nodes that fetched it may keep the encrypted blocks.",
)


def _timestamp(value: int | datetime) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInput("use a timezone-aware datetime")
        return int(value.timestamp())
    if value < 0:
        raise InvalidInput("timestamps are positive")
    return int(value)


def _raise_if_denied(result: AccessResult) -> None:
    if result.allowed:
        return
    what = result.outcome.name.lower().replace("_", " ")
    msg = f"access to record 0x{result.record_id.hex()} denied ({what}); the denial was logged"
    if result.outcome is Outcome.DENIED_EXPIRED:
        raise ConsentExpired(
            msg,
            outcome=int(result.outcome),
            tx_hash=result.tx.tx_hash,
            hint="ask the patient for a new grant",
        )
    raise AccessDenied(
        msg,
        outcome=int(result.outcome),
        tx_hash=result.tx.tx_hash,
        hint="ask the patient for consent covering this category and purpose",
    )


def _access_entry(e: DecodedEvent) -> AccessEntry:
    a = e.args
    return AccessEntry(
        int(a["patientId"]),
        int(a["seq"]),
        to_checksum_address(a["accessor"]),
        "0x" + bytes(a["recordId"]).hex(),
        int(a["purpose"]),
        int(a["outcome"]),
        int(a["timestamp"]),
        "0x" + bytes(a["head"]).hex(),
        e.block_number,
        e.log_index,
        e.tx_hash,
    )


__all__ = [
    "AccessResult",
    "AnchoredBatch",
    "AuditEntry",
    "AuditTrail",
    "BreakGlassInfo",
    "GrantInfo",
    "InclusionProof",
    "Medledger",
    "Party",
    "PatientInfo",
    "RecordInfo",
    "RevokeInfo",
    "Session",
    "SignedConsent",
    "TxReceipt",
    "stream_id_of",
]
