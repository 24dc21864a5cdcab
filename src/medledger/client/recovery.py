"""``session.recovery``: guardians and guardian recovery of a patient's controller."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from eth_utils.address import to_checksum_address

from medledger.chain.types import TxResult
from medledger.client._base import Namespace
from medledger.client._inputs import seconds
from medledger.errors import InvalidInput


class RecoveryNamespace(Namespace):
    def set_guardians(
        self, guardians: Sequence[str], threshold: int, delay: timedelta | int
    ) -> TxResult:
        addrs = [to_checksum_address(g) for g in guardians]
        if not 1 <= threshold <= len(addrs) <= 10:
            raise InvalidInput("need 1 <= threshold <= number of guardians <= 10")
        if len(set(addrs)) != len(addrs):
            raise InvalidInput("duplicate guardian")
        self._patient_id()
        return self._contract.set_guardians(addrs, threshold, seconds(delay))

    def approve(self, patient_id: int, new_controller: str) -> TxResult:
        self._require_patient(patient_id)
        return self._contract.approve_recovery(patient_id, to_checksum_address(new_controller))

    def execute(self, patient_id: int) -> TxResult:
        self._require_patient(patient_id)
        return self._contract.execute_recovery(patient_id)

    def cancel(self) -> TxResult:
        self._patient_id()
        return self._contract.cancel_recovery()
