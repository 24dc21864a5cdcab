"""The key manager: a session's keyring, key bundles and emergency keys, each cached.

A patient's keyring is restored from its on-chain reference with the identity key; a grantee's
key bundles are opened on first use; a responder's emergency kit is opened per read.
"""

from __future__ import annotations

from medledger.chain.connection import Chain
from medledger.chain.suite import MedLedgerContract
from medledger.chain.types import ZERO32
from medledger.client.documents import DocumentStore
from medledger.crypto import (
    Domain,
    IdentityKey,
    Keyring,
    KeySet,
    open_emergency_kit,
    open_key_bundle,
)
from medledger.errors import KeyNotAvailable, NotRegistered


class KeyManager:
    """Key material one party holds or can open, with its caches."""

    def __init__(
        self,
        chain: Chain,
        contract: MedLedgerContract,
        documents: DocumentStore,
        identity: IdentityKey,
        address: str,
    ) -> None:
        self._chain = chain
        self._contract = contract
        self._documents = documents
        self._identity = identity
        self._address = address
        self._keyring: tuple[bytes, Keyring] | None = None
        self._bundles: dict[bytes, KeySet] = {}
        #: patient id -> (last block scanned for our ConsentGranted events, newest bundle digest)
        self._grant_scan: dict[int, tuple[int, bytes | None]] = {}

    # --- patient side --------------------------------------------------------------------------

    def keyring(self, pid: int) -> Keyring:
        """Patient ``pid``'s keyring (this party must be its controller)."""
        digest = self._contract.get_patient(pid).keyring
        if digest == ZERO32:
            raise NotRegistered(
                f"patient {pid} has no keyring yet", hint="register_patient() finishes set-up"
            )
        if self._keyring is None or self._keyring[0] != digest:
            self._keyring = (digest, Keyring.load(self._documents.get(digest), self._identity))
        return self._keyring[1]

    def keyring_copy(self, pid: int) -> Keyring:
        """A private copy of the keyring to plan changes on without touching the cached one."""
        return Keyring.load(
            self.keyring(pid).to_document(self._identity.public_key), self._identity
        )

    def keyring_digest(self, pid: int) -> bytes:
        """The on-chain digest of the keyring :meth:`keyring` last loaded (the ``expected``
        value of a compare-and-swap planned on a :meth:`keyring_copy`)."""
        if self._keyring is None:
            self.keyring(pid)
        assert self._keyring is not None
        return self._keyring[0]

    def keyring_document(self, keyring: Keyring) -> bytes:
        return keyring.to_document(self._identity.public_key)

    def keyring_published(self, digest: bytes, keyring: Keyring) -> None:
        """The chain references ``keyring`` under ``digest`` now."""
        self._keyring = (digest, keyring)

    # --- grantee side --------------------------------------------------------------------------

    def bundle(self, pid: int, digest: bytes) -> KeySet:
        cached = self._bundles.get(digest)
        if cached is None:
            cached = open_key_bundle(
                self._documents.get(digest),
                self._identity,
                patient_id=pid,
                grantee=self._address,
                domain=self._domain(),
            )
            self._bundles[digest] = cached
        return cached

    def latest_bundle(self, pid: int, *, head: int | None = None) -> KeySet:
        """The key bundle of this party's newest grant from ``pid`` up to block ``head``
        (default: the latest block; a logged read passes its access's block, which the grant
        that allowed it precedes, and saves asking the node for the latest block number).

        The ``ConsentGranted`` scan is incremental (from the last block seen), so a read costs
        the same however long the chain's history is.
        """
        last_block, digest = self._grant_scan.get(pid, (None, None))
        if head is None:
            head = self._chain.block_number()
        start = None if last_block is None else last_block + 1
        if start is None or start <= head:
            # a bundle arrives with a grant or with an atomic revoke-and-rekey's refresh
            filters = {"patientId": pid, "grantee": self._address}
            events = self._contract.get_events(
                ("ConsentGranted", "KeyBundleRefreshed"),
                from_block=start,
                to_block=head,
                argument_filters=filters,
            )
            if events:
                newest = max(events, key=lambda e: (e.block_number, e.log_index))
                digest = bytes(newest.args["keyBundle"])
            self._grant_scan[pid] = (head, digest)
        if digest is None:
            raise KeyNotAvailable(f"no key bundle from patient {pid} for {self._address}")
        return self.bundle(pid, digest)

    # --- responder side ------------------------------------------------------------------------

    def emergency_keys(self, pid: int) -> KeySet:
        patient = self._contract.get_patient(pid)
        if patient.emergency_kit == ZERO32:
            raise KeyNotAvailable(
                f"patient {pid} has no emergency kit",
                hint="the patient configures one with configure_emergency(responders=[...])",
            )
        return open_emergency_kit(
            self._documents.get(patient.emergency_kit),
            self._identity,
            patient_id=pid,
            responder=self._address,
            domain=self._domain(),
        )

    def _domain(self) -> Domain:
        """This deployment: v2 bundles and kits of another one do not open here."""
        return Domain.of(self._chain.chain_id, self._contract.address)
