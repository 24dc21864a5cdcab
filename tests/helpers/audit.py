"""Helpers for the audit tests: deploying the suite, and a scenario that produces
every event kind the archive indexes. (Named uniquely so it never clashes with another test
directory's helpers on sys.path.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from web3 import Web3
from web3.contract import Contract

from medledger.chain.artifacts import load_artifact

#: Anvil's first dev key (public, from the standard test mnemonic).
DEV_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

DAY = 86400


def send(w3: Web3, fn: Any, sender: str) -> Any:
    """Send a contract call from an unlocked Anvil account and wait for a successful receipt."""
    tx_hash = fn.transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    return receipt


def deploy(w3: Web3, name: str, *args: Any) -> Contract:
    art = load_artifact(name)
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    receipt = send(w3, factory.constructor(*args), w3.eth.accounts[0])
    return w3.eth.contract(address=receipt["contractAddress"], abi=art.abi)


def rid(label: str) -> bytes:
    return Web3.keccak(text=f"record:{label}")


@dataclass
class Scenario:
    """A deployed suite and what the scenario did (the tests' expectations come from here)."""

    w3: Web3
    medledger: Contract
    anchors: Contract
    admin: str
    hospital: str
    labs: str
    research: str
    ambulance: str
    alice: str
    bob: str
    bob_new: str
    alice_id: int
    bob_id: int
    start_block: int
    records: dict[str, bytes] = field(default_factory=dict)
    receipts: list[Any] = field(default_factory=list)
    access_outcomes: list[tuple[str, str, int]] = field(default_factory=list)

    def tx(self, fn: Any, sender: str) -> Any:
        r = send(self.w3, fn, sender)
        self.receipts.append(r)
        return r

    def advance(self, seconds: int) -> None:
        """Move chain time forward (Anvil) so events spread over time like real ones."""
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def access(self, who: str, record: str, purpose: int, patient: int | None = None) -> None:
        r = self.tx(
            self.medledger.functions.recordAccess(
                patient or self.alice_id, self.records[record], purpose
            ),
            who,
        )
        logs = self.medledger.events.AccessRecorded().process_receipt(r)
        if patient in (None, self.alice_id):  # the tests follow alice's log
            self.access_outcomes.append((who, record, int(logs[0]["args"]["outcome"])))


def build_scenario(w3: Web3) -> Scenario:
    """Deploy a fresh suite and run a small life: providers, two patients, records, grants,
    reads (allowed, denied, patient, break-glass), a revocation, a rename, an erasure, a
    controller rotation and an anchored batch."""
    acc = w3.eth.accounts
    start = w3.eth.block_number + 1
    med = deploy(w3, "MedLedger", acc[0])
    anc = deploy(w3, "AnchorRegistry")
    s = Scenario(w3, med, anc, acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7],
                 1, 2, start)  # fmt: skip
    f = med.functions
    z = b"\0" * 32
    s.tx(f.registerProvider(s.hospital, b"\x01" * 32, z, False, "General Hospital"), s.admin)
    s.tx(f.registerProvider(s.labs, b"\x02" * 32, z, False, "City Labs"), s.admin)
    s.tx(f.registerProvider(s.research, b"\x03" * 32, z, False, "Research Institute"), s.admin)
    s.tx(
        f.registerProvider(s.ambulance, b"\x04" * 32, z, True, "Ambulance <Service> & Co"), s.admin
    )
    s.tx(f.registerPatient(b"\x0a" * 32, z, b"\x0b" * 32), s.alice)
    s.tx(f.registerPatient(b"\x0c" * 32, z, b"\x0d" * 32), s.bob)
    for label, cat in (("labs-1", 3), ("imaging-1", 4), ("allergies-1", 0)):
        s.records[label] = rid(label)
        s.tx(f.addRecord(s.alice_id, s.records[label], cat, 0x55), s.alice)
    s.records["bob-labs"] = rid("bob-labs")
    s.tx(f.addRecord(s.bob_id, s.records["bob-labs"], 3, 0x55), s.bob)
    now = s.now()
    # hospital: labs + allergies, read, treatment, 30 days
    s.tx(f.grant(s.hospital, (1 << 3) | (1 << 0), 1, 1 << 0, 0, now + 30 * DAY, b"\x11" * 32),
         s.alice)  # fmt: skip
    # labs company: labs, read+write, treatment+payment, 1 day (later revoked)
    s.tx(f.grant(s.labs, 1 << 3, 3, (1 << 0) | (1 << 2), 0, now + DAY, b"\x12" * 32), s.alice)
    # research: granted twice (the first grant is superseded)
    s.tx(f.grant(s.research, 1 << 3, 1, 1 << 4, 0, now + DAY, z), s.alice)
    s.tx(f.grant(s.research, 1 << 4, 1, 1 << 4, 0, now + 2 * DAY, z), s.alice)
    s.access(s.hospital, "labs-1", 0)  # allowed by consent
    s.advance(3 * 3600)
    s.access(s.labs, "imaging-1", 0)  # denied: category
    s.access(s.alice, "labs-1", 6)  # the patient
    s.advance(5 * 3600)
    s.access(s.hospital, "labs-1", 4)  # denied: purpose
    s.tx(f.updateProvider(s.hospital, b"\x01" * 32, z, False, "General Hospital (North)"), s.admin)
    s.advance(2 * 3600)
    s.access(s.hospital, "allergies-1", 0)  # allowed, under the new name
    s.advance(3600)
    s.tx(f.openBreakGlass(s.alice_id, 1, 3600, b"\x33" * 32), s.ambulance)
    s.access_outcomes.append((s.ambulance, "", 3))
    s.access(s.ambulance, "allergies-1", 1)  # allowed: break-glass
    s.advance(4 * 3600)
    s.tx(f.revoke(s.labs), s.alice)
    s.access(s.labs, "labs-1", 0)  # denied: no consent (revoked)
    s.tx(f.eraseRecord(s.records["imaging-1"]), s.alice)
    s.access(s.bob, "bob-labs", 6, patient=s.bob_id)
    s.tx(f.rotateController(s.bob_new), s.bob)
    root = Web3.keccak(text="root")
    s.tx(anc.functions.anchor(b"\x44" * 32, root, 3), s.admin)
    return s
