"""A small world on the embedded chain for the SDK namespace tests (one per test module), and
the misbehaving patient and writer the read-check tests run against it (raw contract calls and
crypto functions, what an attacker has: the SDK's own flows refuse to do these things)."""

from __future__ import annotations

from dataclasses import dataclass

from medledger import Medledger, Session, codes
from medledger.crypto import (
    Domain,
    Keyring,
    PrivateKey,
    PublicDirectory,
    seal_key_bundle,
    seal_record,
)
from medledger.crypto.epochs import EpochKey


@dataclass
class World:
    ml: Medledger
    consortium: Session
    patient: Session
    clinic: Session
    specialist: Session
    er: Session
    pid: int

    def session(self, index: int) -> Session:
        return self.ml.session(self.ml.dev_party(index))


def make_world() -> World:
    ml = Medledger.embedded()
    consortium, patient, clinic, specialist, er = (ml.session(ml.dev_party(i)) for i in range(5))
    consortium.providers.register(clinic.party, name="Riverside Clinic")
    consortium.providers.register(specialist.party, name="Dr. Lee, endocrinology")
    consortium.providers.register(er.party, name="City ER", emergency_responder=True)
    pid = patient.identity.register().patient_id
    patient.consent.grant(
        clinic.address, ["allergies", "labs", "vitals"], ["treatment"], ["read", "write"],
        duration=365 * 86400,
    )  # fmt: skip
    return World(ml, consortium, patient, clinic, specialist, er, pid)


def _domain(world: World) -> Domain:
    return Domain.of(world.ml.chain.chain_id, world.patient.contract.address)


def add_backdated_vitals(world: World) -> bytes:
    """A vitals record the clinic (write consent) seals ten days back, into an epoch former
    grantees hold, and registers now; returns its record id."""
    clinic = world.clinic
    p = clinic.contract.get_patient(world.pid)
    directory = PublicDirectory.from_document(world.ml.documents.get(p.keyring))
    sealed = seal_record(
        b"vitals: BP 120/80",
        directory,
        category=int(codes.Category.VITALS),
        author=clinic.address,
        created_at=world.ml.now() - 10 * 86400,
        domain=_domain(world),
    )
    cid = world.ml.store.put(sealed)
    clinic.contract.add_record(world.pid, cid.digest, int(codes.Category.VITALS), 0x55, p.keyring)
    return cid.digest


def grant_unpublished_allergy_keys(world: World) -> None:
    """The patient grants the specialist allergies with a key bundle whose keys are not the
    published ones (so that a crafted record could read differently to it than to others)."""
    patient, specialist = world.patient, world.specialist
    allergies = int(codes.Category.ALLERGIES)
    honest = patient.keys.keyring(world.pid)
    fake = Keyring(
        world.pid,
        honest.suite,
        [
            EpochKey(
                e.category, e.epoch, e.valid_from, e.valid_until, PrivateKey.generate(honest.suite)
            )
            for e in honest.epochs(allergies)
        ],
    )
    last = honest.epochs(allergies)[-1].valid_until
    until = last or (world.ml.now() + 86400)
    bundle = seal_key_bundle(
        fake,
        categories=[allergies],
        valid_until=last,
        grantee=specialist.address,
        grantee_key=specialist.party.identity.public_key,
        domain=_domain(world),
    )
    digest = world.ml.store.put(bundle).digest
    read, treatment = int(codes.Action.READ), codes.mask([codes.Purpose.TREATMENT])
    patient.contract.grant(specialist.address, 1 << allergies, read, treatment, 0, until, digest)
