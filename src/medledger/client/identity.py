"""``session.identity``: registering as a patient, and the patient's keyring."""

from __future__ import annotations

from collections.abc import Sequence

from eth_utils.address import to_checksum_address

from medledger.chain.types import ZERO32, TxResult
from medledger.client._base import Namespace
from medledger.client.documents import amend_message, pinned
from medledger.client.types import PatientInfo
from medledger.crypto import Keyring, Suite
from medledger.errors import InvalidInput, MedledgerError, NotAuthorized
from medledger.storage import CID


class IdentityNamespace(Namespace):
    def patient_id(self) -> int:
        """The id of the patient this party controls; ``NotRegistered`` if none."""
        return self._patient_id()

    def register(self, suite: Suite | str | None = None) -> PatientInfo:
        """Register this party as a new patient (two transactions: identity, then keyring).

        ``suite`` must match the identity key's suite (the default); the post-quantum hybrid is
        chosen by generating the party with ``Party.generate("mlkem768-x25519")``.
        """
        identity = self._party.identity
        if suite is not None and Suite.parse(suite) is not identity.suite:
            raise InvalidInput(
                f"the identity key is {identity.suite.label}, not {Suite.parse(suite).label}",
                hint="generate the party's identity key with the suite you want",
            )
        existing = self._contract.patient_of(self._address)
        if existing != 0:
            if self._contract.get_patient(existing).keyring == ZERO32:
                # an interrupted registration (identity landed, keyring did not): finish it
                return self._publish_first_keyring(existing, None)
            raise InvalidInput(f"{self._address} already controls a patient")
        if self._contract.get_provider(self._address).status != 0:
            raise InvalidInput(f"{self._address} is a provider; use another account")
        with pinned(self._store) as pins:
            key_doc = ZERO32
            if identity.suite is not Suite.X25519:
                key_doc = pins.put(identity.key_document()).digest
            tx = self._contract.register_patient(identity.x25519_public_bytes(), key_doc, ZERO32)
        pid = int(tx.events_named("PatientRegistered")[0].args["patientId"])
        return self._publish_first_keyring(pid, tx)

    def _publish_first_keyring(self, pid: int, tx: TxResult | None) -> PatientInfo:
        keyring = Keyring.create(pid, suite=self._party.identity.suite)

        def on_chain(cids: Sequence[CID]) -> set[CID]:
            current = self._contract.get_patient(pid).keyring
            return {c for c in cids if c.digest == current}

        try:
            with pinned(self._store, on_chain=on_chain) as pins:
                cid = pins.put(self._keys.keyring_document(keyring))
                sent = self._contract.set_keyring(ZERO32, cid.digest)
                self._keys.keyring_published(cid.digest, keyring)
        except MedledgerError as exc:
            amend_message(
                exc,
                f"; landed: the registration of patient {pid}; not landed: its keyring "
                "(run register() again to finish)",
            )
            raise
        return PatientInfo(pid, self._address, cid, tx if tx is not None else sent)

    def propose_controller(self, candidate: str) -> TxResult:
        """Step 1 of a controller change: propose ``candidate`` (zero address withdraws). The
        candidate completes it with :meth:`accept_controller` from its own key."""
        self._patient_id()
        addr = to_checksum_address(candidate)
        if addr == self._address:
            raise InvalidInput("the candidate is already the controller")
        return self._contract.propose_controller(addr)

    def accept_controller(self, patient_id: int) -> TxResult:
        """Step 2: this party (the proposed candidate) takes over ``patient_id``. Every
        outstanding consent/keyring signature of the patient dies (new signature epoch)."""
        patient = self._require_patient(patient_id)
        if patient.pending_controller != self._address:
            raise NotAuthorized(f"{self._address} is not the proposed controller of {patient_id}")
        return self._contract.accept_controller(patient_id)

    def keyring(self) -> Keyring:
        """The patient's keyring, restored from the on-chain reference with the identity key."""
        return self._keys.keyring(self._patient_id())
