"""Key types, their encodings, and context-bound HPKE sealing."""

from __future__ import annotations

import pickle

import pytest

from medledger.crypto import IdentityKey, PrivateKey, PublicKey, Suite
from medledger.crypto.hpke import hpke_open, hpke_seal
from medledger.errors import DecryptionFailed, InvalidInput

SIZES = {Suite.X25519: 33, Suite.MLKEM768_X25519: 1217}


def test_public_key_encoding_round_trips_with_documented_size(suite: Suite) -> None:
    key = IdentityKey.generate(suite)
    encoded = key.public_key.encode()
    assert len(encoded) == SIZES[suite]
    assert encoded[0] == suite.value
    # The on-chain encryptionKey is the X25519 half, right after the suite byte.
    assert encoded[1:33] == key.x25519_public_bytes()
    assert len(key.x25519_public_bytes()) == 32
    assert PublicKey.decode(encoded) == key.public_key
    assert key.key_document() == encoded


def test_private_key_encoding_restores_the_same_key_pair(suite: Suite) -> None:
    key = PrivateKey.generate(suite)
    restored = PrivateKey.from_private_bytes(key.private_bytes())
    assert restored.public_key == key.public_key
    sealed = hpke_seal(key.public_key, b"secret", label=b"t", context=b"c")
    assert hpke_open(restored, sealed, label=b"t", context=b"c") == b"secret"


def test_x25519_key_from_on_chain_bytes_is_usable_for_sealing() -> None:
    key = IdentityKey.generate(Suite.X25519)
    pub = PublicKey.from_x25519_bytes(key.x25519_public_bytes())
    assert pub == key.public_key
    sealed = hpke_seal(pub, b"k" * 32, label=b"t", context=b"")
    assert hpke_open(key, sealed, label=b"t", context=b"") == b"k" * 32


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x09" + bytes(32),  # unknown suite id
        b"\x01" + bytes(31),  # X25519 key one byte short
        b"\x02" + bytes(32),  # hybrid without the ML-KEM half
        b"\x02" + bytes(32) + b"\xff" * 1184,  # ML-KEM key with out-of-range coefficients
    ],
)
def test_malformed_public_keys_are_rejected(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        PublicKey.decode(data)


def test_malformed_private_keys_are_rejected() -> None:
    for data in (b"", b"\x01" + bytes(5), b"\x02" + bytes(33), b"\x07" + bytes(32)):
        with pytest.raises(InvalidInput):
            PrivateKey.from_private_bytes(data)


def test_sealing_to_a_low_order_x25519_point_is_refused() -> None:
    with pytest.raises(InvalidInput):
        hpke_seal(PublicKey.from_x25519_bytes(bytes(32)), b"x", label=b"t", context=b"")


def test_hpke_context_and_label_are_bound(suite: Suite) -> None:
    key = PrivateKey.generate(suite)
    sealed = hpke_seal(key.public_key, b"data key", label=b"record-key", context=b"patient 1")
    assert hpke_open(key, sealed, label=b"record-key", context=b"patient 1") == b"data key"
    with pytest.raises(DecryptionFailed):
        hpke_open(key, sealed, label=b"record-key", context=b"patient 2")
    with pytest.raises(DecryptionFailed):
        hpke_open(key, sealed, label=b"key-bundle", context=b"patient 1")
    with pytest.raises(DecryptionFailed):
        hpke_open(PrivateKey.generate(suite), sealed, label=b"record-key", context=b"patient 1")
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        hpke_open(key, bytes(tampered), label=b"record-key", context=b"patient 1")
    with pytest.raises(DecryptionFailed):
        hpke_open(key, sealed[:10], label=b"record-key", context=b"patient 1")


def test_a_hybrid_envelope_does_not_open_with_the_x25519_half_alone() -> None:
    hybrid = PrivateKey.generate(Suite.MLKEM768_X25519)
    sealed = hpke_seal(hybrid.public_key, b"x" * 32, label=b"t", context=b"")
    x_only = PrivateKey.from_private_bytes(b"\x01" + hybrid.private_bytes()[1:33])
    assert x_only.x25519_public_bytes() == hybrid.x25519_public_bytes()
    with pytest.raises(DecryptionFailed):
        hpke_open(x_only, sealed, label=b"t", context=b"")


def test_private_material_never_shows_in_repr_or_pickle(suite: Suite) -> None:
    key = IdentityKey.generate(suite)
    secret_hex = key.private_bytes()[1:33].hex()
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert secret_hex not in text
        assert secret_hex[:16] not in text
    assert suite.label in repr(key)
    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_suite_parse_accepts_labels_and_codes() -> None:
    assert Suite.parse("mlkem768-x25519") is Suite.MLKEM768_X25519
    assert Suite.parse(1) is Suite.X25519
    with pytest.raises(InvalidInput):
        Suite.parse("rsa")
