"""Keyring epochs (split/rotate) and the keyring document restored from the identity key alone."""

from __future__ import annotations

import pytest

from helpers.crypto import AUTHOR, IMAGING, LABS, NOTES, PATIENT
from medledger.codes import Category
from medledger.crypto import (
    IdentityKey,
    Keyring,
    PublicDirectory,
    Suite,
    open_record,
    seal_record,
)
from medledger.errors import DecryptionFailed, InvalidInput, KeyNotAvailable


def _intervals(keyring: Keyring, category: int) -> list[tuple[int, int | None]]:
    return [(e.valid_from, e.valid_until) for e in keyring.epochs(category)]


def test_new_keyring_has_one_open_epoch_per_category(keyring: Keyring) -> None:
    assert keyring.categories == tuple(int(c) for c in Category)
    for c in keyring.categories:
        assert _intervals(keyring, c) == [(0, None)]
        assert keyring.current_epoch(c, 1_700_000_000).epoch == 0
    publics = {keyring.current_epoch(c, 0).private_key.public_key for c in keyring.categories}
    assert len(publics) == len(keyring.categories)  # every category has its own key pair


def test_split_at_cuts_the_covering_epoch_and_starts_a_fresh_one(keyring: Keyring) -> None:
    before = keyring.current_epoch(LABS, 50)
    created = keyring.split_at([LABS, NOTES], 100)
    assert [(e.category, e.epoch, e.valid_from, e.valid_until) for e in created] == [
        (LABS, 1, 100, None),
        (NOTES, 1, 100, None),
    ]
    assert _intervals(keyring, LABS) == [(0, 100), (100, None)]
    assert _intervals(keyring, IMAGING) == [(0, None)]  # untouched
    # The old epoch keeps its key (history stays readable); the new one has a new key.
    assert keyring.current_epoch(LABS, 99).private_key is before.private_key
    assert keyring.current_epoch(LABS, 100).private_key.public_key != before.private_key.public_key
    assert keyring.current_epoch(LABS, 100).epoch == 1


def test_split_inside_a_closed_epoch_and_idempotence(keyring: Keyring) -> None:
    keyring.split_at([LABS], 1_000)  # a grant expiring at 1000
    keyring.rotate([LABS], 400)  # then a revocation at 400
    assert _intervals(keyring, LABS) == [(0, 400), (400, 1_000), (1_000, None)]
    assert [e.epoch for e in keyring.epochs(LABS)] == [0, 2, 1]
    assert keyring.split_at([LABS], 400) == []  # boundary already there
    assert keyring.split_at([LABS], 1_000) == []
    assert len(keyring.epochs(LABS)) == 3


def test_split_with_an_unknown_category_changes_nothing() -> None:
    keyring = Keyring.create(PATIENT, categories=[LABS])
    with pytest.raises(KeyNotAvailable):
        keyring.split_at([LABS, NOTES], 100)
    assert _intervals(keyring, LABS) == [(0, None)]
    with pytest.raises(InvalidInput):
        keyring.split_at([LABS], -5)


def test_time_before_the_first_epoch_has_no_key() -> None:
    keyring = Keyring.create(PATIENT, categories=[LABS], start=1_000)
    with pytest.raises(KeyNotAvailable):
        keyring.current_epoch(LABS, 999)
    with pytest.raises(KeyNotAvailable):
        seal_record(b"x", keyring.directory(), category=LABS, author=AUTHOR, created_at=999)


def test_document_restores_everything_from_the_identity_key_alone(
    keyring: Keyring, identity: IdentityKey, suite: Suite
) -> None:
    keyring.split_at([LABS], 100)
    keyring.rotate([LABS, NOTES], 50)
    records = {
        t: seal_record(
            f"record at {t}".encode(),
            keyring.directory(),
            category=LABS,
            author=AUTHOR,
            created_at=t,
        )
        for t in (10, 60, 150)
    }
    document = keyring.to_document(identity.public_key)

    # A new device: only the document (from IPFS) and the identity key (from the keystore).
    device_identity = IdentityKey.from_private_bytes(identity.private_bytes())
    restored = Keyring.load(document, device_identity)
    assert restored.patient_id == PATIENT
    assert restored.suite is suite
    assert restored.directory() == keyring.directory()
    for t, blob in records.items():
        assert open_record(blob, restored).plaintext == f"record at {t}".encode()
    # The restored keyring keeps working: a new split, a new document.
    restored.rotate([LABS], 500)
    again = Keyring.load(restored.to_document(identity.public_key), identity)
    assert _intervals(again, LABS) == [(0, 50), (50, 100), (100, 500), (500, None)]


def test_public_directory_is_readable_without_any_key(
    keyring: Keyring, identity: IdentityKey
) -> None:
    keyring.rotate([LABS], 77)
    document = keyring.to_document(identity.public_key)
    directory = PublicDirectory.from_document(document)
    assert directory == keyring.directory()
    assert directory.recipient(LABS, 77).epoch == 1
    assert document.startswith(directory.encode())


def test_wrong_identity_key_cannot_load(
    keyring: Keyring, identity: IdentityKey, suite: Suite
) -> None:
    document = keyring.to_document(identity.public_key)
    with pytest.raises(DecryptionFailed):
        Keyring.load(document, IdentityKey.generate(suite))


def test_tampered_documents_are_rejected(keyring: Keyring, identity: IdentityKey) -> None:
    document = keyring.to_document(identity.public_key)
    directory_len = len(keyring.directory().encode())
    # Swap in another public key for LABS (an attacker wanting writers to seal to them).
    attacker = Keyring.create(PATIENT, suite=keyring.suite)
    forged_dir = PublicDirectory(
        PATIENT,
        keyring.suite,
        [
            attacker.current_epoch(c, 0).public if c == LABS else keyring.current_epoch(c, 0).public
            for c in keyring.categories
        ],
    ).encode()
    assert len(forged_dir) == directory_len
    with pytest.raises(DecryptionFailed):
        Keyring.load(forged_dir + document[directory_len:], identity)
    # Any flipped byte in the sealed private part.
    tampered = bytearray(document)
    tampered[-5] ^= 0x40
    with pytest.raises(DecryptionFailed):
        Keyring.load(bytes(tampered), identity)
    # Changed patient id (bytes 6..13 of the directory).
    tampered = bytearray(document)
    tampered[13] ^= 1
    with pytest.raises(DecryptionFailed):
        Keyring.load(bytes(tampered), identity)
    for malformed in (document[:-1], document + b"\x00", b"MLKR", b""):
        with pytest.raises(InvalidInput):
            Keyring.load(malformed, identity)


def test_keyring_refuses_inconsistent_epochs() -> None:
    keyring = Keyring.create(PATIENT, categories=[LABS])
    keyring.split_at([LABS], 10)
    first, second = keyring.epochs(LABS)
    with pytest.raises(InvalidInput):  # gap between the epochs
        Keyring(PATIENT, Suite.X25519, [first, type(second)(LABS, 1, 11, None, second.private_key)])
    hybrid = Keyring.create(PATIENT, suite=Suite.MLKEM768_X25519, categories=[NOTES])
    with pytest.raises(InvalidInput):  # mixed suites
        Keyring(PATIENT, Suite.X25519, [*keyring.epochs(LABS), *hybrid.epochs(NOTES)])
    with pytest.raises(InvalidInput):
        Keyring.create(PATIENT, categories=[])


def test_keyring_repr_hides_keys(keyring: Keyring) -> None:
    secrets = [e.private_key.private_bytes()[1:33].hex() for e in keyring.key_set()]
    texts = [repr(keyring), repr(keyring.key_set()), repr(keyring.epochs(LABS))]
    for text in texts:
        assert not any(s[:16] in text for s in secrets)
