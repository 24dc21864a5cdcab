"""``session.recovery``: guardians and guardian recovery of a patient's controller."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from eth_utils.address import to_checksum_address

from medledger.chain.types import TxResult
from medledger.client._base import Namespace
from medledger.client._inputs import seconds
from medledger.errors import InvalidInput

#: the contract's bounds on the recovery delay (``RecoveryInvalidDelay`` outside them)
MIN_RECOVERY_DELAY = 86_400
MAX_RECOVERY_DELAY = 7_776_000


class RecoveryNamespace(Namespace):
    def set_guardians(
        self, guardians: Sequence[str], threshold: int, delay: timedelta | int
    ) -> TxResult:
        addrs = [to_checksum_address(g) for g in guardians]
        if not 1 <= threshold <= len(addrs) <= 10:
            raise InvalidInput("need 1 <= threshold <= number of guardians <= 10")
        if len(set(addrs)) != len(addrs):
            raise InvalidInput("duplicate guardian")
        if not MIN_RECOVERY_DELAY <= seconds(delay) <= MAX_RECOVERY_DELAY:
            raise InvalidInput("the recovery delay must be between 1 and 90 days")
        self._patient_id()
        return self._contract.set_guardians(addrs, threshold, seconds(delay))

    def approve(self, patient_id: int, candidate: str) -> TxResult:
        """A guardian's approval of ``candidate`` (approving another candidate moves it)."""
        self._require_patient(patient_id)
        return self._contract.approve_recovery(patient_id, to_checksum_address(candidate))

    def accept(self, patient_id: int) -> TxResult:
        """The scheduled candidate (this party) takes over ``patient_id`` once the delay has
        passed and before the round expires."""
        self._require_patient(patient_id)
        return self._contract.accept_recovery(patient_id)

    def execute(self, patient_id: int) -> TxResult:
        """v1 name of :meth:`accept` (v2: only the candidate itself can complete a recovery)."""
        return self.accept(patient_id)

    def vote_cancel(self, patient_id: int) -> TxResult:
        """A guardian's vote to cancel the current round (threshold votes cancel it)."""
        self._require_patient(patient_id)
        return self._contract.vote_cancel_recovery(patient_id)

    def cancel(self) -> TxResult:
        self._patient_id()
        return self._contract.cancel_recovery()
