"""Key bundles for grants and emergency kits for responders."""

from __future__ import annotations

import pytest

from helpers.crypto import AUTHOR, GRANTEE, IMAGING, LABS, NOTES, OTHER, PATIENT
from medledger.codes import DEFAULT_EMERGENCY_CATEGORIES, Category
from medledger.crypto import (
    IdentityKey,
    Keyring,
    Suite,
    emergency_kit_responders,
    open_emergency_kit,
    open_key_bundle,
    open_record,
    seal_emergency_kit,
    seal_key_bundle,
    seal_record,
)
from medledger.errors import DecryptionFailed, InvalidInput, KeyNotAvailable, PostQuantumDowngrade

EMERGENCY = [int(c) for c in DEFAULT_EMERGENCY_CATEGORIES]
RESPONDER_A = "0xaAaAaAaaAaAaAaaAaAAAAAAAAaaaAaAaAaaAaaAa"
RESPONDER_B = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"


def _bundle(keyring: Keyring, grantee: IdentityKey, until: int | None = 5_000) -> bytes:
    if until is not None:
        keyring.split_at([LABS, NOTES], until)
    return seal_key_bundle(
        keyring,
        categories=[LABS, NOTES],
        valid_until=until,
        grantee=GRANTEE,
        grantee_key=grantee.public_key,
        allow_classical=True,  # suites mix here; the downgrade refusal is tested below
    )


@pytest.mark.parametrize("grantee_suite", list(Suite), ids=lambda s: s.label)
def test_bundle_holds_granted_epochs_before_the_end(keyring: Keyring, grantee_suite: Suite) -> None:
    keyring.rotate([LABS], 100)
    keyring.split_at([LABS], 9_000)  # an epoch starting after the grant's end
    grantee = IdentityKey.generate(grantee_suite)  # any suite (a downgrade needs the override)
    keys = open_key_bundle(
        _bundle(keyring, grantee), grantee, patient_id=PATIENT, grantee=GRANTEE.lower()
    )
    assert keys.patient_id == PATIENT
    assert keys.categories == {LABS, NOTES}
    assert [(e.valid_from, e.valid_until) for e in keys.epochs(LABS)] == [
        (0, 100),
        (100, 5_000),
    ]
    assert [(e.valid_from, e.valid_until) for e in keys.epochs(NOTES)] == [(0, 5_000)]
    for e in keys:
        theirs = keyring.private_key(PATIENT, e.category, e.epoch)
        assert e.private_key.public_key == theirs.public_key


def test_bundle_without_expiry_holds_every_epoch(keyring: Keyring, suite: Suite) -> None:
    keyring.rotate([LABS], 100)
    grantee = IdentityKey.generate(suite)
    keys = open_key_bundle(
        _bundle(keyring, grantee, until=None), grantee, patient_id=PATIENT, grantee=GRANTEE
    )
    assert len(keys.epochs(LABS)) == 2
    assert len(keys.epochs(NOTES)) == 1


def test_bundle_refuses_a_grant_end_without_an_epoch_boundary(keyring: Keyring) -> None:
    grantee = IdentityKey.generate(keyring.suite)
    with pytest.raises(InvalidInput):
        seal_key_bundle(
            keyring,
            categories=[LABS],
            valid_until=5_000,
            grantee=GRANTEE,
            grantee_key=grantee.public_key,
        )
    for cats in ([], [16]):
        with pytest.raises(InvalidInput):
            seal_key_bundle(
                keyring,
                categories=cats,
                valid_until=None,
                grantee=GRANTEE,
                grantee_key=grantee.public_key,
            )


def test_bundle_is_bound_to_patient_grantee_and_key(keyring: Keyring, suite: Suite) -> None:
    grantee = IdentityKey.generate(suite)
    bundle = _bundle(keyring, grantee)
    with pytest.raises(DecryptionFailed):
        open_key_bundle(bundle, IdentityKey.generate(suite), patient_id=PATIENT, grantee=GRANTEE)
    with pytest.raises(DecryptionFailed):
        open_key_bundle(bundle, grantee, patient_id=PATIENT + 1, grantee=GRANTEE)
    with pytest.raises(DecryptionFailed):
        open_key_bundle(bundle, grantee, patient_id=PATIENT, grantee=OTHER)


# Header byte offsets: magic 0-3, version 4, patient 5-12, grantee 13-32, mask 33-34, until 35-42.
@pytest.mark.parametrize(
    ("offset", "what"),
    [(12, "patient"), (32, "grantee"), (34, "categories"), (37, "valid_until"), (-1, "ciphertext")],
)
def test_bundle_tampering_fails(keyring: Keyring, offset: int, what: str) -> None:
    grantee = IdentityKey.generate(keyring.suite)
    tampered = bytearray(_bundle(keyring, grantee))
    tampered[offset] ^= 0x04
    patient = PATIENT ^ 0x04 if what == "patient" else PATIENT
    address = "0x" + bytes(tampered[13:33]).hex()
    with pytest.raises(DecryptionFailed):
        open_key_bundle(bytes(tampered), grantee, patient_id=patient, grantee=address)


def test_malformed_bundles_fail_cleanly(keyring: Keyring) -> None:
    grantee = IdentityKey.generate(keyring.suite)
    bundle = _bundle(keyring, grantee)
    for data in (b"", bundle[:20], bundle[:-1], bundle + b"\x00", b"XXXX" + bundle[4:]):
        with pytest.raises(DecryptionFailed):
            open_key_bundle(data, grantee, patient_id=PATIENT, grantee=GRANTEE)


def _kit(keyring: Keyring, a: IdentityKey, b: IdentityKey) -> bytes:
    return seal_emergency_kit(
        keyring,
        categories=EMERGENCY,
        responders={RESPONDER_A: a.public_key, RESPONDER_B: b.public_key},
        allow_classical=True,
    )


def test_each_responder_opens_its_own_part(keyring: Keyring) -> None:
    keyring.rotate(EMERGENCY, 100)
    a = IdentityKey.generate(Suite.X25519)
    b = IdentityKey.generate(Suite.MLKEM768_X25519)
    kit = _kit(keyring, a, b)
    assert emergency_kit_responders(kit) == (PATIENT, sorted([RESPONDER_A, RESPONDER_B]))
    allergy_old = seal_record(
        b"penicillin", keyring.directory(), category=Category.ALLERGIES, author=AUTHOR, created_at=5
    )
    allergy_new = seal_record(
        b"latex", keyring.directory(), category=Category.ALLERGIES, author=AUTHOR, created_at=500
    )
    labs = seal_record(b"hba1c", keyring.directory(), category=LABS, author=AUTHOR, created_at=5)
    for addr, key in ((RESPONDER_A, a), (RESPONDER_B, b)):
        keys = open_emergency_kit(kit, key, patient_id=PATIENT, responder=addr)
        assert keys.categories == set(EMERGENCY)
        assert all(len(keys.epochs(c)) == 2 for c in EMERGENCY)  # every epoch
        assert open_record(allergy_old, keys).plaintext == b"penicillin"
        assert open_record(allergy_new, keys).plaintext == b"latex"
        with pytest.raises(KeyNotAvailable):
            open_record(labs, keys)


def test_a_responder_cannot_open_another_part(keyring: Keyring, suite: Suite) -> None:
    a, b = IdentityKey.generate(suite), IdentityKey.generate(suite)
    kit = _kit(keyring, a, b)
    with pytest.raises(DecryptionFailed):
        open_emergency_kit(kit, a, patient_id=PATIENT, responder=RESPONDER_B)
    with pytest.raises(KeyNotAvailable):
        open_emergency_kit(kit, a, patient_id=PATIENT, responder=OTHER)
    with pytest.raises(DecryptionFailed):
        open_emergency_kit(kit, a, patient_id=PATIENT + 1, responder=RESPONDER_A)
    tampered = bytearray(kit)
    tampered[-3] ^= 1
    with pytest.raises(DecryptionFailed):
        open_emergency_kit(bytes(tampered), b, patient_id=PATIENT, responder=RESPONDER_B)
    tampered = bytearray(kit)
    tampered[14] ^= 1 << IMAGING  # claim IMAGING in the category mask (byte 14 = low byte)
    with pytest.raises(DecryptionFailed):
        open_emergency_kit(bytes(tampered), a, patient_id=PATIENT, responder=RESPONDER_A)


def test_kit_input_errors(keyring: Keyring) -> None:
    key = IdentityKey.generate(keyring.suite).public_key
    with pytest.raises(InvalidInput):
        seal_emergency_kit(keyring, categories=EMERGENCY, responders={})
    with pytest.raises(InvalidInput):
        seal_emergency_kit(
            keyring,
            categories=EMERGENCY,
            responders={RESPONDER_A: key, RESPONDER_A.lower(): key},
        )
    with pytest.raises(InvalidInput):
        seal_emergency_kit(keyring, categories=EMERGENCY, responders={"0x12": key})


def test_hybrid_keys_are_not_sealed_to_classical_keys_without_the_override() -> None:
    """Issue 14 point 5 (crypto level): old code sealed a mlkem768-x25519 keyring's epoch keys
    to an X25519 key silently (verified); now :class:`PostQuantumDowngrade` names the recipient
    unless ``allow_classical=True``. A classical patient and hybrid recipients need nothing."""
    hybrid = Keyring.create(PATIENT, suite=Suite.MLKEM768_X25519, categories=[LABS, NOTES])
    classical = IdentityKey.generate(Suite.X25519)
    pq = IdentityKey.generate(Suite.MLKEM768_X25519)
    kwargs = {"categories": [LABS], "valid_until": None, "grantee": GRANTEE}
    with pytest.raises(PostQuantumDowngrade, match=GRANTEE) as caught:
        seal_key_bundle(hybrid, grantee_key=classical.public_key, **kwargs)  # type: ignore[arg-type]
    assert caught.value.recipients == (GRANTEE,)
    seal_key_bundle(hybrid, grantee_key=pq.public_key, **kwargs)  # type: ignore[arg-type]
    seal_key_bundle(hybrid, grantee_key=classical.public_key, allow_classical=True, **kwargs)  # type: ignore[arg-type]
    old = Keyring.create(PATIENT, suite=Suite.X25519, categories=[LABS])
    seal_key_bundle(old, grantee_key=classical.public_key, **kwargs)  # type: ignore[arg-type]
    hybrid_em = Keyring.create(PATIENT, suite=Suite.MLKEM768_X25519, categories=EMERGENCY)
    with pytest.raises(PostQuantumDowngrade, match=RESPONDER_B) as kit_refused:
        seal_emergency_kit(
            hybrid_em,
            categories=EMERGENCY,
            responders={RESPONDER_A: pq.public_key, RESPONDER_B: classical.public_key},
        )
    assert kit_refused.value.recipients == (RESPONDER_B,)
