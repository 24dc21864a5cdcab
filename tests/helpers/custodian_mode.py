"""A custodian-mode world on Anvil: a patient with 3 custodians (k = 2), a clinic, a specialist
and an ER, all through the SDK, with real ``medledger custodian serve`` processes on loopback.

The processes come from ``helpers.custodian_procs``; everything else is the public SDK
(``session.custodians`` and the flows it hooks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.custodian_procs import CustodianProc, start_custodians
from medledger import Medledger, Session
from medledger.chain.transactions import TxSender
from medledger.client.types import Party

ETHER = 10**18
THRESHOLD = 2
#: what the custodians accept: mined once (automine), logged at most 5 minutes earlier
CUSTODIAN_ARGS = ("--finality", "1", "--max-age", "300", "--max-lag", "0")


@dataclass
class CustodianWorld:
    ml: Medledger
    consortium: Session
    patient: Session
    clinic: Session
    specialist: Session
    er: Session
    pid: int
    custodians: list[CustodianProc]
    #: what each reader was given so far (reads), by session name
    held: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def addresses(self) -> list[str]:
        return [c.keys.address for c in self.custodians]

    def stop(self) -> None:
        for c in self.custodians:
            c.stop()
        for s in (self.patient, self.clinic, self.specialist, self.er, self.consortium):
            s.custodians.close()
        self.ml.close()


def _party(ml: Medledger) -> Party:
    party = Party.generate("x25519")
    ml.fund(party.address, 10 * ETHER)
    return party


def make_custodian_world(
    anvil_url: str, workdir: Path, n: int = 3, threshold: int = THRESHOLD
) -> CustodianWorld:
    """Deploy, start ``n`` custodians, register them, and put the patient's allergies,
    conditions and labs in custodian mode with ``threshold`` of them."""
    ml = Medledger.open(rpc=anvil_url, store=str(workdir / "store"), deploy=True)
    consortium = ml.session(ml.dev_party(0))
    patient, clinic, specialist, er = (ml.session(_party(ml)) for _ in range(4))
    consortium.providers.register(clinic.party, name="Riverside Clinic")
    consortium.providers.register(specialist.party, name="Dr. Lee")
    consortium.providers.register(er.party, name="City ER", emergency_responder=True)
    pid = patient.identity.register().patient_id
    medledger = ml.contracts.medledger.address
    procs = [
        CustodianProc(workdir / f"custodian-{i}", anvil_url, medledger, *CUSTODIAN_ARGS)
        for i in range(n)
    ]
    start_custodians(procs)
    for i, c in enumerate(procs):
        consortium.consortium.register_custodian(c.keys.address, f"Custodian {i}", c.url)
        ml.fund(c.keys.address, ETHER)
        # the custodian sets its own key with its own account
        registry = ml.contracts.custodians
        assert registry is not None
        registry.connect_as(TxSender(ml.chain, c.keys.account)).set_custodian_key(
            c.keys.encryption_key
        )
    patient.custodians.configure(
        [c.keys.address for c in procs], threshold, ["allergies", "conditions", "labs"]
    )
    return CustodianWorld(ml, consortium, patient, clinic, specialist, er, pid, procs)
