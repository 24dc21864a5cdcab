"""A MedLedger deployment on Anvil with a patient, readers and records, and real custodian
processes (``python -m medledger.cli custodian serve``) on loopback.

Kfrags are made with umbral_pre directly (the patient's Umbral key delegating to each reader's
receiving key); accesses are logged with ``recordAccess`` on the contract; the custodians are
driven with :class:`~medledger.custodian.client.CustodianClient`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import umbral_pre as umbral
from eth_account import Account

from medledger import Medledger
from medledger.chain import MedLedgerContract, TxSender
from medledger.client.types import Party
from medledger.custodian import protocol as p
from medledger.hashing import keccak

ETHER = 10**18
THRESHOLD = 2
TREATMENT = 0
EMERGENCY = 1
ALLERGIES = 0
LABS = 3


@dataclass
class Reader:
    party: Party
    umbral_sk: umbral.SecretKey
    contract: MedLedgerContract

    @property
    def address(self) -> str:
        return self.party.address


@dataclass
class Record:
    rid: bytes
    capsule: bytes
    ciphertext: bytes
    plaintext: bytes


@dataclass
class World:
    ml: Medledger
    patient: Party
    pid: int
    contract: MedLedgerContract  # bound to the patient's controller
    umbral_sk: umbral.SecretKey
    signer: umbral.Signer
    readers: list[Reader] = field(default_factory=list)

    @property
    def chain_id(self) -> int:
        return self.ml.chain.chain_id

    @property
    def medledger(self) -> str:
        return self.contract.address

    def sender(self, party: Party) -> MedLedgerContract:
        return self.ml.contracts.medledger.connect_as(TxSender(self.ml.chain, party.account))

    def new_reader(self, name: str, categories: int = (1 << ALLERGIES) | (1 << LABS)) -> Reader:
        """A registered provider with a one-hour read grant on ``categories``."""
        party = Party.generate("x25519")
        self.ml.fund(party.address, ETHER)
        consortium = self.ml.session(self.ml.dev_party(0))
        consortium.providers.register(party, name=name)
        now = self.ml.now()
        self.contract.grant(
            party.address, categories, 1, 1 << TREATMENT, now, now + 3600, secrets.token_bytes(32)
        )
        reader = Reader(party, umbral.SecretKey.random(), self.sender(party))
        self.readers.append(reader)
        return reader

    def add_record(self, category: int = ALLERGIES) -> Record:
        plaintext = b"allergy: penicillin " + secrets.token_bytes(8)
        capsule, ciphertext = umbral.encrypt(self.umbral_sk.public_key(), plaintext)
        rid = secrets.token_bytes(32)
        keyring = self.ml.patient(self.pid).keyring
        self.contract.add_record(self.pid, rid, category, 0x55, keyring)
        return Record(rid, bytes(capsule), bytes(ciphertext), plaintext)

    def new_responder(self, name: str) -> Reader:
        """A registered emergency responder organisation (no grant)."""
        party = Party.generate("x25519")
        self.ml.fund(party.address, ETHER)
        consortium = self.ml.session(self.ml.dev_party(0))
        consortium.providers.register(party, name=name, emergency_responder=True)
        reader = Reader(party, umbral.SecretKey.random(), self.sender(party))
        self.readers.append(reader)
        return reader

    def log_access(
        self, reader: Reader, record: Record, *, mine: int = 0, purpose: int = TREATMENT
    ) -> bytes:
        tx = reader.contract.record_access(self.pid, record.rid, purpose).tx_hash
        if mine:
            self.ml.chain.mine(mine)
        return bytes.fromhex(tx.removeprefix("0x"))

    def sign(self, party: Party | Any, msg: Any) -> bytes:
        key = party.account.key if isinstance(party, Party) else party.key
        return p.sign_typed(bytes(key), msg.typed_data(self.chain_id, self.medledger))

    def deadline(self) -> int:
        return self.ml.now() + 300

    # --- protocol steps as a patient and a reader would take them -----------------------------

    def delegate(
        self,
        custodians: list[Any],
        reader: Reader,
        kind: int = 0,
        threshold: int = THRESHOLD,
    ) -> list[bytes]:
        """One kfrag per custodian; returns the kfrags and sealed kfrags sent (for log greps)."""
        kfrags = umbral.generate_kfrags(
            delegating_sk=self.umbral_sk,
            receiving_pk=reader.umbral_sk.public_key(),
            signer=self.signer,
            threshold=threshold,
            shares=len(custodians),
            sign_delegating_key=True,
            sign_receiving_key=True,
        )
        delegating = self.umbral_sk.public_key().to_compressed_bytes()
        receiving = reader.umbral_sk.public_key().to_compressed_bytes()
        verifying = self.signer.verifying_key().to_compressed_bytes()
        sent: list[bytes] = []
        for c, kfrag in zip(custodians, kfrags, strict=True):
            sealed = p.seal_kfrag(
                c.keys.encryption_key,
                bytes(kfrag),
                chain_id=self.chain_id,
                medledger=self.medledger,
                custodian=c.keys.address,
                patient_id=self.pid,
                grantee=reader.address,
                kind=kind,
            )
            d = p.Delegation(
                self.pid, reader.address, kind, keccak(sealed), p.key_digest(delegating),
                p.key_digest(receiving), p.new_nonce(), self.deadline(),
            )  # fmt: skip
            receipt = c.client.delegate(
                d, sealed, delegating, receiving, verifying, self.sign(self.patient, d)
            )
            receipt.verify(
                self.chain_id, self.medledger, c.keys.address,
                request_digest=d.digest(self.chain_id, self.medledger),
            )  # fmt: skip
            sent += [bytes(kfrag), sealed]
        return sent

    def register(self, custodians: list[Any], record: Record) -> None:
        reg = p.CapsuleRegistration(
            self.pid, record.rid, p.capsule_digest(record.capsule), p.new_nonce(), self.deadline()
        )
        for c in custodians:
            c.client.register_capsule(reg, self.sign(self.patient, reg))

    def request(
        self, reader: Reader, record: Record, tx: bytes, *, capsule: bytes | None = None
    ) -> tuple[p.Reencryption, bytes]:
        capsule = record.capsule if capsule is None else capsule
        req = p.Reencryption(
            reader.address, self.pid, record.rid, tx, p.capsule_digest(capsule), p.new_nonce(),
            self.deadline(),
        )  # fmt: skip
        return req, self.sign(reader.party, req)

    def open(self, reader: Reader, record: Record, cfrags: list[bytes]) -> bytes:
        capsule = umbral.Capsule.from_bytes(record.capsule)
        verified = [
            umbral.CapsuleFrag.from_bytes(c).verify(
                capsule,
                verifying_pk=self.signer.verifying_key(),
                delegating_pk=self.umbral_sk.public_key(),
                receiving_pk=reader.umbral_sk.public_key(),
            )
            for c in cfrags
        ]
        plaintext = umbral.decrypt_reencrypted(
            receiving_sk=reader.umbral_sk,
            delegating_pk=self.umbral_sk.public_key(),
            capsule=capsule,
            verified_cfrags=verified,
            ciphertext=record.ciphertext,
        )
        assert plaintext is not None
        return bytes(plaintext)


def make_world(anvil_url: str) -> World:
    ml = Medledger.open(rpc=anvil_url, deploy=True)
    patient = Party.generate("x25519")
    ml.fund(patient.address, 10 * ETHER)
    pid = ml.session(patient).identity.register().patient_id
    contract = ml.contracts.medledger.connect_as(TxSender(ml.chain, patient.account))
    return World(
        ml,
        patient,
        pid,
        contract,
        umbral.SecretKey.random(),
        umbral.Signer(umbral.SecretKey.random()),
    )


def other_account() -> Any:
    return Account.create()
