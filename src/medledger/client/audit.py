"""``session.audit``: the patient's access trail, its hash chain checked against the chain."""

from __future__ import annotations

from eth_utils.address import to_checksum_address

from medledger.audit.archive import AccessEntry
from medledger.audit.verify import verify_entries
from medledger.chain.types import DecodedEvent
from medledger.client._base import Namespace
from medledger.client.types import AuditEntry, AuditTrail
from medledger.codes import Outcome, Purpose


class AuditNamespace(Namespace):
    def trail(self, patient_id: int | None = None) -> AuditTrail:
        """Every access and denial of the patient's data, in order, with the hash chain
        recomputed and compared with the on-chain head."""
        pid = self._patient_id() if patient_id is None else patient_id
        self._require_patient(pid)
        block = self._chain.block_number()
        events = self._contract.get_events(
            "AccessRecorded", to_block=block, argument_filters={"patientId": pid}
        )
        head = self._contract.log_head(pid, block=block)
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
        name = self._directory.name(address)
        if name is None and self._contract.patient_of(address) == pid:
            return "patient"
        return name


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
