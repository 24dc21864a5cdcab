"""The patient's Umbral seed inside the keyring's sealed part (custodian mode, issue 16): kept
through every re-sealing and epoch change, absent in keyrings written before it, never public."""

from __future__ import annotations

import pytest

from helpers.crypto import LABS, PATIENT
from medledger.crypto import Domain, IdentityKey, Keyring, PublicDirectory
from medledger.crypto._wire import Writer
from medledger.crypto.epochs import encode_epoch_keys
from medledger.crypto.hpke import hpke_seal
from medledger.crypto.pre import PatientUmbralKeys
from medledger.errors import DecryptionFailed, InvalidInput, KeyMismatch


def _entries(k: Keyring) -> list:  # type: ignore[type-arg]
    return [e for c in k.categories for e in k.epochs(c)]


def test_new_keyrings_get_distinct_random_seeds() -> None:
    a, b = Keyring.create(PATIENT), Keyring.create(PATIENT)
    assert a.umbral_seed is not None
    assert b.umbral_seed is not None
    assert a.umbral_seed != b.umbral_seed
    assert len(a.umbral_seed) == 32


def test_seed_survives_resealing_to_a_new_identity_and_epoch_changes() -> None:
    old, new = IdentityKey.generate("x25519"), IdentityKey.generate("x25519")
    k = Keyring.create(PATIENT)
    seed = k.umbral_seed
    k.rotate([LABS], 100)
    moved = Keyring.load(k.to_document(new.public_key), new)  # what rotation does
    assert moved.umbral_seed == seed
    assert moved.with_entries(_entries(moved)).umbral_seed == seed
    with pytest.raises(DecryptionFailed):
        Keyring.load(k.to_document(new.public_key), old)
    # the public directory does not carry it
    doc = k.to_document(new.public_key)
    assert seed is not None
    assert seed not in doc
    assert PublicDirectory.from_document(doc) == k.directory()


def test_a_keyring_of_before_seeds_loads_without_one_and_adopts_the_derived_seed() -> None:
    identity = IdentityKey.generate("x25519")
    k = Keyring(PATIENT, Keyring.create(PATIENT).suite, _entries(Keyring.create(PATIENT)))
    assert k.umbral_seed is None
    # a document exactly as the previous format wrote it: the epoch key list alone
    directory = k.directory().encode()
    sealed = hpke_seal(
        identity.public_key, encode_epoch_keys(_entries(k)), label=b"keyring", context=directory
    )
    legacy_doc = directory + Writer().bytes32(sealed).getvalue()
    loaded = Keyring.load(legacy_doc, identity)
    assert loaded.umbral_seed is None
    domain = Domain.of(31337, "0x" + "11" * 20)
    legacy = PatientUmbralKeys.legacy_seed(identity, domain, PATIENT)
    assert PatientUmbralKeys.from_seed(legacy).public_keys() == (
        PatientUmbralKeys.derive(identity, domain, PATIENT).public_keys()
    )
    loaded.adopt_umbral_seed(legacy)
    assert Keyring.load(loaded.to_document(identity.public_key), identity).umbral_seed == legacy
    loaded.adopt_umbral_seed(legacy)  # the same seed again: nothing changes
    with pytest.raises(KeyMismatch):
        loaded.adopt_umbral_seed(b"\x01" * 32)
    with pytest.raises(InvalidInput):
        loaded.adopt_umbral_seed(b"\x01" * 31)


def test_a_truncated_seed_is_refused() -> None:
    identity = IdentityKey.generate("x25519")
    k = Keyring.create(PATIENT)
    directory = k.directory().encode()
    private = b"MLUS" + b"\x02" * 10
    sealed = hpke_seal(identity.public_key, private, label=b"keyring", context=directory)
    with pytest.raises(DecryptionFailed, match="malformed"):
        Keyring.load(directory + Writer().bytes32(sealed).getvalue(), identity)
