"""``session.audit``: the patient's access trail, its hash chain checked against the chain."""

from __future__ import annotations

from eth_typing import HexStr
from eth_utils.address import to_checksum_address

from medledger.audit.archive import AccessEntry
from medledger.audit.verify import verify_entries
from medledger.chain.types import DecodedEvent
from medledger.client._base import Namespace, block_time
from medledger.client.types import AuditEntry, AuditTrail
from medledger.codes import Outcome, Purpose

#: every event that is an entry of a patient's hash chain (v2: operations are entries too)
CHAINED_EVENTS = (
    "PatientRegistered",
    "ConsentGranted",
    "ConsentRevoked",
    "RecordAdded",
    "RecordErased",
    "BreakGlassOpened",
    "BreakGlassClosed",
    "ControllerChanged",
    "AccessRecorded",
)


class AuditNamespace(Namespace):
    def trail(self, patient_id: int | None = None) -> AuditTrail:
        """Every entry of the patient's hash chain (registration, consent changes, records,
        break-glass, controller changes, accesses and denials), in order, with the chain
        recomputed and compared with the on-chain head."""
        pid = self._patient_id() if patient_id is None else patient_id
        self._require_patient(pid)
        block = self._chain.block_number()
        events = [
            e
            for name in CHAINED_EVENTS
            for e in self._contract.get_events(
                name, to_block=block, argument_filters={"patientId": pid}
            )
        ]
        head = self._contract.log_head(pid, block=block)
        archived = sorted((self._entry(e) for e in events), key=lambda a: a.seq)
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

    def _entry(self, e: DecodedEvent) -> AccessEntry:
        """The hash-chain entry an event records (docs/architecture.md, outcome table)."""
        a = e.args
        if e.name == "AccessRecorded":
            actor, subject = str(a["accessor"]), bytes(a["recordId"])
            purpose, outcome, ts = int(a["purpose"]), int(a["outcome"]), int(a["timestamp"])
        else:
            purpose, ts = 0, block_time(self._chain, e.block_number)
            if e.name == "PatientRegistered":
                actor, subject, outcome = str(a["controller"]), bytes(a["keyring"]), 11
            elif e.name == "ConsentGranted":
                word = (
                    int(a["categories"])
                    | int(a["actions"]) << 16
                    | int(a["purposes"]) << 24
                    | int(a["validFrom"]) << 40
                    | int(a["validUntil"]) << 80
                )
                actor, subject = str(a["grantee"]), word.to_bytes(32, "big")
                outcome = 6 if a["replaced"] else 5
            elif e.name == "ConsentRevoked":
                actor, subject, outcome = str(a["grantee"]), bytes(32), 7
            elif e.name == "RecordAdded":
                actor, subject, outcome = str(a["author"]), bytes(a["recordId"]), 8
            elif e.name == "RecordErased":
                # the controller erases in its own transaction (there is no signed variant)
                sender = self._chain.w3.eth.get_transaction(HexStr(e.tx_hash))["from"]
                actor, subject, outcome = str(sender), bytes(a["recordId"]), 9
            elif e.name == "BreakGlassOpened":
                actor, subject = str(a["responder"]), bytes(a["justification"])
                purpose, outcome = 1, 3
            elif e.name == "BreakGlassClosed":
                actor, subject = str(a["responder"]), _word(str(a["closedBy"]))
                purpose, outcome = 1, 4
            else:  # ControllerChanged
                actor, subject = str(a["newController"]), _word(str(a["previousController"]))
                outcome = 10
        seq = 0 if e.name == "PatientRegistered" else int(a["seq"])
        return AccessEntry(
            int(a["patientId"]),
            seq,
            to_checksum_address(actor),
            "0x" + subject.hex(),
            purpose,
            outcome,
            ts,
            "0x" + bytes(a["head"]).hex(),
            e.block_number,
            e.log_index,
            e.tx_hash,
        )


def _word(address: str) -> bytes:
    """``bytes32(uint256(uint160(address)))``."""
    return int(address, 16).to_bytes(32, "big")
