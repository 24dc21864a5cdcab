"""Custodian mode crypto (issue 16): Umbral key derivation, kfrags, cfrag checks, MLCR records."""

from __future__ import annotations

import pytest
import umbral_pre as umbral

from medledger.crypto._wire import Domain
from medledger.crypto.keys import IdentityKey
from medledger.crypto.pre import (
    PatientUmbralKeys,
    is_custodial,
    open_custodial_original,
    open_custodial_reencrypted,
    public_key_bytes,
    read_custodial_header,
    receiving_key,
    seal_custodial,
    verify_cfrag,
)
from medledger.errors import DecryptionFailed, InvalidInput, KeyMismatch

DOMAIN = Domain.of(31337, "0x" + "11" * 20)
GRANTEE = "0x" + "22" * 20
AUTHOR = "0x" + "33" * 20


@pytest.fixture(scope="module")
def patient_identity() -> IdentityKey:
    return IdentityKey.generate()


@pytest.fixture(scope="module")
def grantee_identity() -> IdentityKey:
    return IdentityKey.generate()


def _seal(keys: PatientUmbralKeys, text: bytes = b"penicillin: anaphylaxis") -> bytes:
    return seal_custodial(
        text,
        public_key_bytes(keys.delegating_pk),
        category=0,
        patient_id=7,
        author=AUTHOR,
        created_at=1_700_000_000,
        domain=DOMAIN,
    )


def _cfrags(
    keys: PatientUmbralKeys, capsule: umbral.Capsule, receiving: umbral.PublicKey, k: int, n: int
) -> list[bytes]:
    frags = [umbral.KeyFrag.from_bytes(f).skip_verification() for f in keys.kfrags(receiving, k, n)]
    return [bytes(umbral.reencrypt(capsule=capsule, kfrag=f)) for f in frags]


def test_patient_keys_are_derived_from_the_identity_key(patient_identity: IdentityKey) -> None:
    a = PatientUmbralKeys.derive(patient_identity, DOMAIN, 7)
    # the same identity key (e.g. restored by guardian recovery) derives the same keys
    restored = IdentityKey.from_private_bytes(patient_identity.private_bytes())
    b = PatientUmbralKeys.derive(restored, DOMAIN, 7)
    assert public_key_bytes(a.delegating_pk) == public_key_bytes(b.delegating_pk)
    assert public_key_bytes(a.verifying_pk) == public_key_bytes(b.verifying_pk)
    # another patient id, deployment or identity key derives other keys
    others = [
        PatientUmbralKeys.derive(patient_identity, DOMAIN, 8),
        PatientUmbralKeys.derive(patient_identity, Domain.of(1, DOMAIN.contract), 7),
        PatientUmbralKeys.derive(IdentityKey.generate(), DOMAIN, 7),
    ]
    assert len({public_key_bytes(k.delegating_pk) for k in [a, *others]}) == 4
    assert public_key_bytes(a.delegating_pk) != public_key_bytes(a.verifying_pk)


def test_receiving_key_agrees_on_both_sides(
    patient_identity: IdentityKey, grantee_identity: IdentityKey
) -> None:
    from_patient = receiving_key(
        patient_identity, grantee_identity.x25519_public_bytes(), DOMAIN, 7, GRANTEE
    )
    from_grantee = receiving_key(
        grantee_identity, patient_identity.x25519_public_bytes(), DOMAIN, 7, GRANTEE
    )
    assert from_patient.to_be_bytes() == from_grantee.to_be_bytes()
    other = receiving_key(
        patient_identity, grantee_identity.x25519_public_bytes(), DOMAIN, 7, AUTHOR
    )
    assert other.to_be_bytes() != from_patient.to_be_bytes()
    with pytest.raises(InvalidInput):
        receiving_key(patient_identity, b"\x00" * 31, DOMAIN, 7, GRANTEE)


def test_patient_direct_path_and_header(patient_identity: IdentityKey) -> None:
    keys = PatientUmbralKeys.derive(patient_identity, DOMAIN, 7)
    blob = _seal(keys)
    assert is_custodial(blob)
    header = read_custodial_header(blob)
    assert (header.category, header.patient_id, header.domain) == (0, 7, DOMAIN)
    assert header.delegating_key == public_key_bytes(keys.delegating_pk)
    assert open_custodial_original(blob, keys) == b"penicillin: anaphylaxis"
    # another patient's keys do not open it
    stranger = PatientUmbralKeys.derive(IdentityKey.generate(), DOMAIN, 7)
    with pytest.raises(KeyMismatch):
        open_custodial_original(blob, stranger)


def test_threshold_reencryption(
    patient_identity: IdentityKey, grantee_identity: IdentityKey
) -> None:
    keys = PatientUmbralKeys.derive(patient_identity, DOMAIN, 7)
    blob = _seal(keys)
    capsule = read_custodial_header(blob).capsule
    rk = receiving_key(grantee_identity, patient_identity.x25519_public_bytes(), DOMAIN, 7, GRANTEE)
    cfrags = _cfrags(keys, capsule, rk.public_key(), 2, 3)
    checks = {
        "verifying_pk": keys.verifying_pk,
        "delegating_pk": keys.delegating_pk,
        "receiving_pk": rk.public_key(),
    }
    verified = [verify_cfrag(c, capsule, **checks) for c in cfrags]
    for pair in ([0, 1], [1, 2], [0, 2]):
        chosen = [verified[i] for i in pair]
        assert open_custodial_reencrypted(blob, rk, chosen) == b"penicillin: anaphylaxis"
    # one cfrag is below the threshold
    with pytest.raises(DecryptionFailed):
        open_custodial_reencrypted(blob, rk, verified[:1])
    # cfrags made for another receiving key do not open it for this one
    other = umbral.SecretKey.random()
    with pytest.raises(DecryptionFailed):
        open_custodial_reencrypted(blob, other, verified[:2])


def test_forged_and_misdirected_cfrags_are_detected(
    patient_identity: IdentityKey, grantee_identity: IdentityKey
) -> None:
    keys = PatientUmbralKeys.derive(patient_identity, DOMAIN, 7)
    blob = _seal(keys)
    capsule = read_custodial_header(blob).capsule
    rk = umbral.SecretKey.random()
    good = _cfrags(keys, capsule, rk.public_key(), 2, 3)[0]
    checks = {
        "verifying_pk": keys.verifying_pk,
        "delegating_pk": keys.delegating_pk,
        "receiving_pk": rk.public_key(),
    }
    # a flipped byte, random bytes, a cfrag of another record's capsule, one made with a kfrag
    # the patient never signed: all refused
    flipped = bytearray(good)
    flipped[-5] ^= 1
    other_capsule = read_custodial_header(_seal(keys, b"other")).capsule
    rogue = PatientUmbralKeys(umbral.SecretKey.random(), umbral.SecretKey.random())
    rogue_cfrag = _cfrags(rogue, capsule, rk.public_key(), 1, 1)[0]
    for forged in (bytes(flipped), b"\x01" * len(good), rogue_cfrag):
        with pytest.raises(DecryptionFailed):
            verify_cfrag(forged, capsule, **checks)
    with pytest.raises(DecryptionFailed):
        verify_cfrag(good, other_capsule, **checks)


def test_tampered_records_are_refused(patient_identity: IdentityKey) -> None:
    keys = PatientUmbralKeys.derive(patient_identity, DOMAIN, 7)
    blob = bytearray(_seal(keys))
    size = read_custodial_header(bytes(blob)).size
    for pos in (5, 10, size - 1, size + 2, len(blob) - 1):
        changed = bytearray(blob)
        changed[pos] ^= 1
        with pytest.raises((DecryptionFailed, KeyMismatch)):
            open_custodial_original(bytes(changed), keys)
    with pytest.raises(DecryptionFailed):
        read_custodial_header(bytes(blob[:40]))
    with pytest.raises(InvalidInput):
        seal_custodial(
            b"x", b"\x02" + b"\x00" * 31, category=0, patient_id=1, author=AUTHOR,
            created_at=1, domain=DOMAIN,
        )  # fmt: skip
