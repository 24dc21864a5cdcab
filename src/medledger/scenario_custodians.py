"""The demo's custodian act (issue 16): break-glass through custodians, 25 h later nothing,
an erasure with receipts. ``medledger demo --custodians`` plays it after the reference scenario.

Three custodian services run in this process (:class:`LocalCustodians`, each its own SQLite
database and keys) against the same chain node: custodians check every request against a node
they query themselves, so this act needs an RPC chain (the CLI starts an Anvil when none is
given). It uses its own patient (dev account 5) and the clinic and ER of the reference scenario.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medledger.client import Medledger, Session
from medledger.client.custodial_read import through_custodians
from medledger.client.custodial_types import CustodialRead
from medledger.crypto.pre import (
    open_custodial_reencrypted,
    read_custodial_header,
    receiving_key,
    verify_cfrag,
)
from medledger.errors import AccessDenied, CustodiansUnavailable, DecryptionFailed
from medledger.scenario import Narration, ScenarioFailed, Step

HOUR = 3600


@dataclass
class LocalCustodians:
    """``n`` custodian services on loopback threads, registered on-chain with their own keys."""

    urls: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    _servers: list[Any] = field(default_factory=list)
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def start(cls, ml: Medledger, owner: Session, n: int = 3) -> LocalCustodians:
        """Start, register (``owner`` owns the CustodianRegistry) and key ``n`` custodians."""
        from medledger.chain.transactions import TxSender
        from medledger.custodian.app import create_app
        from medledger.custodian.config import CustodianConfig, CustodianKeys
        from medledger.services.runner import BackgroundServer

        rpc = ml.chain.url
        if rpc is None or ml.chain.kind == "embedded":
            raise ScenarioFailed("the custodian act needs an RPC chain (custodians query it)")
        out = cls(_tmp=tempfile.TemporaryDirectory(prefix="medledger-custodians-"))
        assert out._tmp is not None
        registry = ml.contracts.custodians
        if registry is None:
            raise ScenarioFailed("this deployment has no CustodianRegistry")
        for i in range(n):
            keys = CustodianKeys.generate()
            db = f"sqlite:{Path(out._tmp.name) / f'custodian-{i}.db'}"
            config = CustodianConfig(
                keys=keys, rpc=rpc, medledger=ml.contracts.medledger.address, db=db, max_lag=0
            )
            server = BackgroundServer(create_app(config), log_level="warning").start()
            out._servers.append(server)
            out.urls.append(server.url)
            out.addresses.append(keys.address)
            owner.consortium.register_custodian(keys.address, f"Custodian {i + 1}", server.url)
            ml.fund(keys.address, 10**17)
            registry.connect_as(TxSender(ml.chain, keys.account)).set_custodian_key(
                keys.encryption_key
            )
        return out

    def stop(self) -> None:
        for s in self._servers:
            s.stop()
        self._servers.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def run_custodian_act(
    ml: Medledger, custodians: LocalCustodians, on_step: Callable[[Step], None] | None = None
) -> list[Step]:
    """Play the act; raises ScenarioFailed when an expectation does not hold."""
    step = Narration(on_step)
    steps = step.steps

    patient = ml.session(ml.dev_party(5))
    clinic = ml.session(ml.dev_party(2))
    er = ml.session(ml.dev_party(4))
    pid = patient.identity.register().patient_id
    policy = patient.custodians.configure(
        custodians.addresses, 2, ["allergies", "medications", "conditions"]
    )
    patient.emergency.configure(["allergies", "medications"], max_duration=24 * HOUR)
    pre = patient.custodians.delegate(er.address, emergency=True)
    step(
        "Custodian mode",
        "A second patient keeps allergies, medications and conditions in custodian mode: any "
        "2 of 3 custodians must re-encrypt each read. The ER is pre-delegated through them "
        "(one signed key fragment per custodian, no emergency kit): it holds no key.",
        policy.threshold == 2 and pre.complete,
        custodians=len(policy.custodians),
        threshold=policy.threshold,
        delegation_receipts=len(pre.receipts),
    )
    patient.consent.grant(clinic.address, ["allergies"], ["treatment"], ["read", "write"],
                          duration=365 * 24 * HOUR)  # fmt: skip
    first = clinic.records.add(pid, b'{"allergy": "penicillin", "reaction": "anaphylaxis"}',
                               "allergies")  # fmt: skip
    later = clinic.records.add(pid, b'{"allergy": "latex", "reaction": "urticaria"}',
                               "allergies")  # fmt: skip
    bg = er.emergency.break_glass(pid, "unconscious-patient", duration=HOUR)
    read = er.custodians.read(first.record_id, "emergency", patient_id=pid)
    step(
        "ER reads through the custodians",
        "The ER opens a 1-hour break-glass window and logs its read on-chain; two custodians, "
        "each checking that logged access against its own node, re-encrypt that one record.",
        b"penicillin" in read.plaintext and len(read.served_by) == 2,
        outcome=read.access.outcome.name,
        served_by=", ".join(a[:10] for a in read.served_by),
        expires_at=bg.expires_at,
    )
    ml.increase_time(25 * HOUR)
    denied = False
    try:
        er.access.read(later.record_id, "emergency", patient_id=pid)
    except AccessDenied:
        denied = True
    offline = _try_everything(ml, er, pid, later.record_id, [read])
    refused = _refusals(er, read)
    step(
        "25 h later the ER has nothing",
        "The window is over: the chain denies (and logs) the ER's read, every custodian refuses "
        "its earlier logged access, and holding everything it ever received (its receiving "
        "key, every capsule fragment) it cannot decrypt the record it never read.",
        denied and offline and bool(refused),
        custodian_refusals=refused,
    )
    report = patient.records.erase(first.record_id)
    erasure = patient.custodians.last_erasure
    ok = erasure is not None and erasure.receipts.complete and report.tombstone_tx is not None
    step(
        "Erasure with custodian receipts",
        "The patient erases the penicillin record: each custodian signs a receipt that it will "
        "refuse the record for good. Who could still decrypt is stated exactly, and plaintext "
        "already read cannot be recalled.",
        ok,
        receipts=len(erasure.receipts.receipts) if erasure else 0,
        could_still_decrypt=dict(erasure.could_still_decrypt) if erasure else {},
    )
    return steps


def _try_everything(
    ml: Medledger, reader: Session, pid: int, rid: bytes, held: list[CustodialRead]
) -> bool:
    """True when nothing the reader holds opens ``rid`` (every attempt fails)."""
    import umbral_pre as umbral

    blob = reader.access._sealed(rid, pid)
    header = read_custodial_header(blob)
    policy = reader.custodians.policy(pid)
    rk = receiving_key(
        reader.party.identity, ml.patient(pid).encryption_key, reader.custodians._domain(), pid,
        reader.address,
    )  # fmt: skip
    keys = {
        "verifying_pk": umbral.PublicKey.from_compressed_bytes(policy.verifying_key),
        "delegating_pk": umbral.PublicKey.from_compressed_bytes(policy.delegating_key),
        "receiving_pk": rk.public_key(),
    }
    frags = [c for r in held for c in r.cfrags]
    for c in frags:
        try:
            verify_cfrag(c, header.capsule, **keys)
            return False
        except DecryptionFailed:
            pass
    unchecked = [umbral.CapsuleFrag.from_bytes(c).skip_verification() for c in frags]
    try:
        open_custodial_reencrypted(blob, rk, unchecked)
        return False
    except DecryptionFailed:
        return True


def _refusals(reader: Session, held: CustodialRead) -> dict[str, str]:
    """Present the reader's old logged access again: each custodian's refusal reason."""
    blob = reader.access._sealed(held.access.record_id, held.access.patient_id)
    try:
        through_custodians(
            reader.custodians, blob, held.access, read_custodial_header(blob).capsule_bytes
        )
    except CustodiansUnavailable as exc:
        return {a[:10]: why.split(":")[0] for a, why in exc.unavailable.items()}
    return {}
