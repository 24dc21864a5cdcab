"""The SDK facade: :class:`Medledger`, a deployment (chain + contracts + record store).

``Medledger.session(party)`` gives a :class:`~medledger.client.session.Session` acting as a party.
See docs/sdk.md for the API tour and docs/crypto.md for the key hierarchy.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexAddress, HexStr

from medledger.chain.connection import Chain, connect
from medledger.chain.contracts import checksum as to_checksum_address
from medledger.chain.deployment import Deployment, Manifest, deploy_suite, load_deployment
from medledger.chain.types import Anchor, Guardians, Patient, Provider, Recovery
from medledger.client._base import block_time
from medledger.client.directory import ProviderDirectory
from medledger.client.documents import DocumentStore
from medledger.client.session import Session
from medledger.client.types import InclusionProof, Party
from medledger.crypto import IdentityKey, PublicKey, Suite
from medledger.errors import InvalidInput
from medledger.storage import CID, BlockStore, EmbeddedStore, open_store

if TYPE_CHECKING:
    from medledger.audit.archive import Archive
    from medledger.audit.indexer import SyncResult
    from medledger.audit.verify import VerificationReport


class Medledger:
    """A medledger deployment: a chain connection, the deployed contracts and a record store."""

    def __init__(
        self, deployment: Deployment, store: BlockStore, *, temp_dir: Path | None = None
    ) -> None:
        self.deployment = deployment
        self.store = store
        self._temp_dir = temp_dir
        self._dev_parties: dict[int, Party] = {}
        #: small documents by CID digest (keyrings, bundles, kits), cached
        self.documents = DocumentStore(store)
        #: the provider registry, names cached
        self.providers = ProviderDirectory(deployment.medledger, self.documents)

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
        return self.chain.increase_time(seconds_of(seconds))

    def block_time(self, block_number: int) -> int:
        """The timestamp of block ``block_number``."""
        return block_time(self.chain, block_number)

    def balance(self, address: str) -> int:
        """The ETH balance of ``address``, in wei."""
        return int(
            self.chain.w3.eth.get_balance(
                ChecksumAddress(HexAddress(HexStr(to_checksum_address(address))))
            )
        )

    def fund(self, address: str, wei: int) -> int:
        """Give ``address`` ``wei`` on a dev chain; returns its new balance."""
        self.chain.fund(to_checksum_address(address), wei)
        return self.balance(address)

    # --- public reads (no party needed) -------------------------------------------------------

    def patient(self, patient_id: int) -> Patient:
        """The on-chain identity entry of a patient (controller zero = not registered)."""
        return self.deployment.medledger.get_patient(patient_id)

    def patient_of(self, controller: str) -> int:
        """The id of the patient ``controller`` controls (0 = none)."""
        return self.deployment.medledger.patient_of(controller)

    def guardians(self, patient_id: int) -> Guardians:
        """A patient's guardians, threshold and recovery delay."""
        return self.deployment.medledger.get_guardians(patient_id)

    def pending_recovery(self, patient_id: int) -> Recovery:
        """A patient's pending guardian recovery (new controller zero = none)."""
        return self.deployment.medledger.get_recovery(patient_id)

    def anchor_of(self, submitter: str, stream_id: bytes, root: bytes) -> Anchor:
        """``root`` as anchored by ``submitter`` in its stream ``stream_id``: with how many
        items, when (0 = never)."""
        return self.deployment.anchors.get_anchor(submitter, stream_id, root)

    def anchor_submitters(self, stream_id: bytes, root: bytes) -> list[str]:
        """The accounts that anchored ``root`` in their stream ``stream_id`` (from events)."""
        events = self.deployment.anchors.get_events(
            "BatchAnchored", argument_filters={"streamId": stream_id, "root": root}
        )
        return sorted({str(e.args["submitter"]) for e in events})

    def verify_item_onchain(self, proof: InclusionProof, submitter: str | None = None) -> bool:
        """``AnchorRegistry.verifyItem`` for an inclusion proof, anchored by ``submitter``
        (default: the proof's; else the one account that anchored the root, if exactly one)."""
        who = submitter or proof.submitter
        if who is None:
            found = self.anchor_submitters(proof.stream_id, proof.root)
            if len(found) != 1:
                return False
            who = found[0]
        return self.deployment.anchors.verify_item(
            who, proof.stream_id, proof.root, proof.item_digest, list(proof.proof)
        )

    # --- the audit archive -------------------------------------------------------------------

    def sync_archive(self, archive: Archive) -> SyncResult:
        """Bring an audit ``archive`` up to the chain head (from the deploy block, or where it
        stopped): every event of this deployment's contracts."""
        from medledger.audit.indexer import AuditIndexer

        anchors = self.manifest.contracts.get("AnchorRegistry")
        return AuditIndexer(
            self.chain.w3,
            archive,
            self.manifest.contracts["MedLedger"].address,
            anchors.address if anchors else None,
            start_block=self.manifest.deploy_block,
        ).sync()

    def verify_archive(self, archive: Archive, patient_id: int) -> VerificationReport:
        """Check a patient's archived access log against the on-chain hash-chain head."""
        from medledger.audit.verify import verify_patient

        return verify_patient(self.chain.w3, archive, patient_id)

    # --- documents and providers -------------------------------------------------------------

    def put_document(self, data: bytes) -> CID:
        """Store and pin a small reference document (keyring, bundle, kit, key document)."""
        return self.documents.put(data)

    def get_document(self, digest: bytes) -> bytes:
        """Fetch a document referenced on-chain by its 32-byte CID digest (verified)."""
        return self.documents.get(digest)

    def provider_name(self, address: str) -> str | None:
        """The registry name of a provider (cached), ``None`` if not a provider."""
        return self.providers.name(address)

    def public_key_of_provider(self, provider: Provider) -> PublicKey:
        """A provider's encryption public key (the key document when it has one)."""
        return self.providers.public_key(provider)


def seconds_of(value: int | timedelta) -> int:
    return int(value.total_seconds()) if isinstance(value, timedelta) else int(value)
