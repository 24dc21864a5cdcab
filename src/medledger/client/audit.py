"""``session.audit``: the patient's access trail, its hash chain checked against the chain."""

from __future__ import annotations

from medledger.audit.chain import ChainLog, chain_entries_from_logs
from medledger.audit.events import CHAINED_EVENT_NAMES
from medledger.audit.verify import verify_entries
from medledger.chain.types import DecodedEvent
from medledger.client._base import Namespace, block_time
from medledger.client.types import AuditEntry, AuditTrail
from medledger.codes import Outcome, Purpose


class AuditNamespace(Namespace):
    def trail(self, patient_id: int | None = None) -> AuditTrail:
        """Every entry of the patient's hash chain (registration, consent changes, records,
        break-glass, controller changes, accesses and denials), in order, with the chain
        recomputed and compared with the on-chain head."""
        pid = self._patient_id() if patient_id is None else patient_id
        self._require_patient(pid)
        block = self._chain.block_number()
        logs = [
            ChainLog(e.name, e.args, e.block_number, e.log_index, e.tx_hash, self._time(e))
            for name in CHAINED_EVENT_NAMES
            for e in self._contract.get_events(
                name, to_block=block, argument_filters={"patientId": pid}
            )
        ]
        head = self._contract.log_head(pid, block=block)
        archived = chain_entries_from_logs(pid, logs)
        report = verify_entries(pid, archived, head.head, head.count, checked_at_block=block)
        entries = tuple(
            AuditEntry(
                a.seq,
                a.accessor,
                self._name_of(a.accessor, pid),
                bytes.fromhex(a.record_id.removeprefix("0x")),
                Purpose(a.purpose),
                Outcome(a.outcome),
                a.timestamp,
                a.block_number,
                a.tx_hash,
            )
            for a in archived
        )
        return AuditTrail(pid, entries, report)

    def _name_of(self, address: str, pid: int) -> str | None:
        name = self._directory.name(address)
        if name is None and self._contract.patient_of(address) == pid:
            return "patient"
        return name

    def _time(self, e: DecodedEvent) -> int:
        """The hashed time of an entry: accesses carry theirs, operations use their block's."""
        if "timestamp" in e.args:
            return int(e.args["timestamp"])
        return block_time(self._chain, e.block_number)
