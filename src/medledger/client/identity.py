"""``session.identity``: registering as a patient, and the patient's keyring."""

from __future__ import annotations

from eth_utils.address import to_checksum_address

from medledger.chain.types import ZERO32, TxResult
from medledger.client._base import Namespace
from medledger.client.documents import pinned
from medledger.client.types import PatientInfo
from medledger.crypto import Keyring, Suite
from medledger.errors import InvalidInput, NotAuthorized


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
        if self._contract.patient_of(self._address) != 0:
            raise InvalidInput(f"{self._address} already controls a patient")
        if self._contract.get_provider(self._address).status != 0:
            raise InvalidInput(f"{self._address} is a provider; use another account")
        with pinned(self._store) as pins:
            key_doc = ZERO32
            if identity.suite is not Suite.X25519:
                key_doc = pins.put(identity.key_document()).digest
            tx = self._contract.register_patient(identity.x25519_public_bytes(), key_doc, ZERO32)
        pid = int(tx.events_named("PatientRegistered")[0].args["patientId"])
        keyring = Keyring.create(pid, suite=identity.suite)
        with pinned(self._store) as pins:
            cid = pins.put(self._keys.keyring_document(keyring))
            self._contract.set_keyring(ZERO32, cid.digest)
            self._keys.keyring_published(cid.digest, keyring)
        return PatientInfo(pid, self._address, cid, tx)

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
