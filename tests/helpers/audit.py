"""Helpers for the audit tests: deploying the suite, and a scenario that produces
every event kind the archive indexes. (Named uniquely so it never clashes with another test
directory's helpers on sys.path.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from medledger.chain import eip712
from medledger.chain.artifacts import load_artifact

#: Anvil's first dev key (public, from the standard test mnemonic).
DEV_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"

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


#: the SDK's own EIP-712 table (the contract tests check the typehash independently)
PROVIDER_KEY_TYPES = {"ProviderKey": eip712.TYPES["ProviderKey"]}


def dev_key(index: int) -> str:
    """Private key of Anvil's dev account ``index`` (the public test mnemonic)."""
    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return "0x" + bytes(acct.key).hex()


@dataclass
class Scenario:
    """A deployed suite and what the scenario did (the tests' expectations come from here).

    ``chain[pid]`` lists the expected hash-chain entries of each patient in seq order as
    ``(event name, actor, outcome)``; ``access_outcomes`` alice's reads as ``(reader, record,
    outcome)``.
    """

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
    chain: dict[int, list[tuple[str, str, int]]] = field(default_factory=dict)

    def tx(self, fn: Any, sender: str) -> Any:
        r = send(self.w3, fn, sender)
        self.receipts.append(r)
        return r

    def entry(self, pid: int, name: str, actor: str, outcome: int) -> None:
        self.chain.setdefault(pid, []).append((name, actor, outcome))

    def advance(self, seconds: int) -> None:
        """Move chain time forward (Anvil) so events spread over time like real ones."""
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def keyring(self, pid: int) -> bytes:
        return bytes(self.medledger.functions.getPatient(pid).call()[9])

    def access(self, who: str, record: str, purpose: int, patient: int | None = None) -> None:
        pid = patient or self.alice_id
        r = self.tx(self.medledger.functions.recordAccess(pid, self.records[record], purpose), who)
        logs = self.medledger.events.AccessRecorded().process_receipt(r, errors=DISCARD)
        outcome = int(logs[0]["args"]["outcome"])
        self.entry(pid, "AccessRecorded", who, outcome)
        if pid == self.alice_id:  # the tests follow alice's reads
            self.access_outcomes.append((who, record, outcome))

    def add_record(self, label: str, pid: int, category: int, author: str) -> bool:
        """``addRecord`` by the controller or a provider; a denied write is logged, not stored."""
        self.records[label] = rid(label)
        fn = self.medledger.functions.addRecord(
            pid, self.records[label], category, 0x55, self.keyring(pid)
        )
        r = self.tx(fn, author)
        added = self.medledger.events.RecordAdded().process_receipt(r, errors=DISCARD)
        if added:
            self.entry(pid, "RecordAdded", author, 8)
            return True
        denied = self.medledger.events.AccessRecorded().process_receipt(r, errors=DISCARD)
        self.entry(pid, "AccessRecorded", author, int(denied[0]["args"]["outcome"]))
        return False

    def register_provider(self, provider: str, index: int, key: bytes, responder: bool,
                          name: str) -> None:  # fmt: skip
        """``registerProvider`` by the owner with the provider's own ProviderKey signature."""
        f = self.medledger.functions
        nonce = int(f.nonces(provider, 0).call())
        deadline = self.now() + 3600
        domain = {"name": "MedLedger", "version": "2", "chainId": self.w3.eth.chain_id,
                  "verifyingContract": self.medledger.address}  # fmt: skip
        msg = {"provider": provider, "encryptionKey": key, "keyDocument": bytes(32),
               "nonce": nonce, "deadline": deadline}  # fmt: skip
        sig = Account.sign_typed_data(dev_key(index), domain, PROVIDER_KEY_TYPES, msg).signature
        self.tx(f.registerProvider(provider, key, bytes(32), responder, name, nonce, deadline,
                                   bytes(sig)), self.admin)  # fmt: skip


def build_scenario(w3: Web3) -> Scenario:
    """Deploy a fresh suite and run a small life that produces every chained entry kind:
    registrations, records added, grants (new and replacing), reads (allowed, denied, patient,
    break-glass), break-glass opened and closed, a revocation, a denied write, a rename,
    erasures, a two-step controller change and an anchored batch."""
    acc = w3.eth.accounts
    start = w3.eth.block_number + 1
    med = deploy(w3, "MedLedger", acc[0])
    anc = deploy(w3, "AnchorRegistry")
    s = Scenario(w3, med, anc, acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7],
                 1, 2, start)  # fmt: skip
    assert [dev_key(i) for i in (0,)] == [DEV_KEY_0]
    f = med.functions
    z = b"\0" * 32
    s.register_provider(s.hospital, 1, b"\x01" * 32, False, "General Hospital")
    s.register_provider(s.labs, 2, b"\x02" * 32, False, "City Labs")
    s.register_provider(s.research, 3, b"\x03" * 32, False, "Research Institute")
    s.register_provider(s.ambulance, 4, b"\x04" * 32, True, "Ambulance <Service> & Co")
    s.tx(f.registerPatient(b"\x0a" * 32, z, b"\x0b" * 32), s.alice)
    s.entry(s.alice_id, "PatientRegistered", s.alice, 11)
    s.tx(f.registerPatient(b"\x0c" * 32, z, b"\x0d" * 32), s.bob)
    s.entry(s.bob_id, "PatientRegistered", s.bob, 11)
    for label, cat in (("labs-1", 3), ("imaging-1", 4), ("allergies-1", 0)):
        s.add_record(label, s.alice_id, cat, s.alice)
    s.add_record("bob-labs", s.bob_id, 3, s.bob)
    now = s.now()
    # hospital: labs + allergies, read, treatment, 30 days
    s.tx(f.grant(s.hospital, (1 << 3) | (1 << 0), 1, 1 << 0, 0, now + 30 * DAY, b"\x11" * 32),
         s.alice)  # fmt: skip
    s.entry(s.alice_id, "ConsentGranted", s.hospital, 5)
    # labs company: labs, read+write, treatment+payment, 1 day (later revoked)
    s.tx(f.grant(s.labs, 1 << 3, 3, (1 << 0) | (1 << 2), 0, now + DAY, b"\x12" * 32), s.alice)
    s.entry(s.alice_id, "ConsentGranted", s.labs, 5)
    # research: granted twice (the second grant replaces the first)
    s.tx(f.grant(s.research, 1 << 3, 1, 1 << 4, 0, now + DAY, z), s.alice)
    s.entry(s.alice_id, "ConsentGranted", s.research, 5)
    s.tx(f.grant(s.research, 1 << 4, 1, 1 << 4, 0, now + 2 * DAY, z), s.alice)
    s.entry(s.alice_id, "ConsentGranted", s.research, 6)
    s.access(s.hospital, "labs-1", 0)  # allowed by consent
    s.advance(3 * 3600)
    s.access(s.labs, "imaging-1", 0)  # denied: category
    s.access(s.alice, "labs-1", 6)  # the patient
    s.advance(5 * 3600)
    s.access(s.hospital, "labs-1", 4)  # denied: purpose
    s.tx(f.updateProvider(s.hospital, False, "General Hospital (North)"), s.admin)
    s.advance(2 * 3600)
    s.access(s.hospital, "allergies-1", 0)  # allowed, under the new name
    s.advance(3600)
    s.tx(f.openBreakGlass(s.alice_id, 1, 3600, b"\x33" * 32), s.ambulance)
    s.entry(s.alice_id, "BreakGlassOpened", s.ambulance, 3)
    s.access(s.ambulance, "allergies-1", 1)  # allowed: break-glass
    s.tx(f.closeBreakGlass(s.alice_id, s.ambulance), s.alice)
    s.entry(s.alice_id, "BreakGlassClosed", s.ambulance, 4)
    s.advance(4 * 3600)
    s.tx(f.revoke(s.labs), s.alice)
    s.entry(s.alice_id, "ConsentRevoked", s.labs, 7)
    s.access(s.labs, "labs-1", 0)  # denied: no consent (revoked)
    # research holds read-only consent for imaging: writing a labs record is a logged denial
    assert not s.add_record("research-labs", s.alice_id, 3, s.research)
    s.tx(f.eraseRecord(s.records["imaging-1"]), s.alice)
    s.entry(s.alice_id, "RecordErased", s.alice, 9)
    s.access(s.bob, "bob-labs", 6, patient=s.bob_id)
    s.tx(f.proposeController(s.bob_new), s.bob)
    s.tx(f.acceptController(s.bob_id), s.bob_new)
    s.entry(s.bob_id, "ControllerChanged", s.bob_new, 10)
    # the new controller erases: the erasure's actor is the controller at that time
    s.tx(f.eraseRecord(s.records["bob-labs"]), s.bob_new)
    s.entry(s.bob_id, "RecordErased", s.bob_new, 9)
    root = Web3.keccak(text="root")
    s.tx(anc.functions.anchor(b"\x44" * 32, root, 3), s.admin)
    return s
