"""MedLedger bindings of the patient's identity and of guardian recovery (the cold paths)."""

from __future__ import annotations

from collections.abc import Sequence

from medledger.chain.contracts import checksum as to_checksum_address
from medledger.chain.suite_contract import SuiteContract, key_words, signed
from medledger.chain.types import ZERO32, Guardians, Patient, Recovery, TxResult, bytes32


class IdentityCalls(SuiteContract):
    """Identity (registration, keyring, identity key, controller change) and guardian recovery."""

    # --- identity ---

    def register_patient(
        self, encryption_key: bytes, key_document: bytes, keyring: bytes
    ) -> TxResult:
        """Register the sender as a new patient's controller (event ``PatientRegistered``)."""
        return self._tx(
            "registerPatient",
            *key_words(encryption_key, key_document),
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
            *signed(nonce, deadline, signature),
        )

    def set_encryption_key(self, encryption_key: bytes, key_document: bytes) -> TxResult:
        """Replace the patient's identity public key (controller only)."""
        return self._tx(
            "setEncryptionKey",
            *key_words(encryption_key, key_document),
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
