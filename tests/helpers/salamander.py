"""A malicious patient's tool: one sealed record that two keys open to two different plaintexts.

AES-GCM is not key-committing: given two keys, a ciphertext that authenticates under both is one
linear equation in GF(2^128) away (the "invisible salamanders" / partitioning-oracle attacks).
HPKE's single-shot AES-GCM wrap of the data key is no different. A patient who hands grantee A
the published epoch key and grantee B another one can therefore make one record read
"PENICILLIN - anaphylaxis" to A and "none known" to B. Only X25519 HPKE is implemented here
(RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM); that is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from medledger.crypto.keys import PrivateKey

_R = 0xE1 << 120


def _gf_mul(x: int, y: int) -> int:
    z, v = 0, y
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ _R if v & 1 else v >> 1
    return z


def _gf_pow(x: int, e: int) -> int:
    out = 1 << 127  # the field's one (x^0 is the leftmost bit)
    while e:
        if e & 1:
            out = _gf_mul(out, x)
        x = _gf_mul(x, x)
        e >>= 1
    return out


def _gf_inv(x: int) -> int:
    return _gf_pow(x, (1 << 128) - 2)


def _ecb(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - GCM internals
    return enc.update(block) + enc.finalize()


def _blocks(data: bytes) -> list[int]:
    padded = data + b"\0" * (-len(data) % 16)
    return [int.from_bytes(padded[i : i + 16], "big") for i in range(0, len(padded), 16)]


class _Gcm:
    """The parts of AES-GCM (96-bit nonce) an attacker computes by hand."""

    def __init__(self, key: bytes, nonce: bytes) -> None:
        self.key, self.nonce = key, nonce
        self.h = int.from_bytes(_ecb(key, b"\0" * 16), "big")
        self.ek_j0 = int.from_bytes(_ecb(key, nonce + b"\0\0\0\1"), "big")

    def keystream(self, n: int) -> bytes:
        out = b"".join(
            _ecb(self.key, self.nonce + struct.pack(">I", i + 2)) for i in range(-(-n // 16))
        )
        return out[:n]


def collide(
    k1: bytes, n1: bytes, k2: bytes, n2: bytes, aad: bytes, layout: Callable[[bytes, bytes], bytes]
) -> bytes:
    """``ciphertext || tag`` valid under (k1, n1) and (k2, n2) with associated data ``aad``.

    ``layout(ks1, ks2)`` returns the ciphertext with its last full 16-byte block free (any
    value): that block is solved for so that both tags are equal.
    """
    g1, g2 = _Gcm(k1, n1), _Gcm(k2, n2)
    probe = layout(b"", b"")
    n = len(probe)
    ct = bytearray(layout(g1.keystream(n), g2.keystream(n)))
    free = (n // 16 - 1) * 16  # the free block's offset in the ciphertext
    xs = [*_blocks(aad), *_blocks(bytes(ct)), (len(aad) * 8 << 64) | (n * 8)]
    m = len(xs)
    free_index = len(_blocks(aad)) + free // 16

    def coeff(i: int) -> int:
        return _gf_pow(g1.h, m - i) ^ _gf_pow(g2.h, m - i)

    rhs = g1.ek_j0 ^ g2.ek_j0
    for i, x in enumerate(xs):
        if i != free_index:
            rhs ^= _gf_mul(x, coeff(i))
    solved = _gf_mul(rhs, _gf_inv(coeff(free_index)))
    ct[free : free + 16] = solved.to_bytes(16, "big")
    xs[free_index] = solved
    tag = 0
    for x in xs:
        tag = _gf_mul(tag ^ x, g1.h)
    tag ^= g1.ek_j0
    return bytes(ct) + tag.to_bytes(16, "big")


# --- RFC 9180 base mode, X25519 suite ----------------------------------------------------

_KEM_ID, _KDF_ID, _AEAD_ID = 0x0020, 0x0001, 0x0002


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or b"\0" * 32, ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, n: int) -> bytes:
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out, i = out + t, i + 1
    return out[:n]


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite + label + ikm)


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, n: int) -> bytes:
    return _expand(prk, struct.pack(">H", n) + b"HPKE-v1" + suite + label + info, n)


def hpke_key_nonce(recipient: PrivateKey, enc: bytes, info: bytes) -> tuple[bytes, bytes]:
    """The AES-256-GCM key and nonce an X25519 HPKE single-shot seal to ``recipient`` used."""
    sk = recipient.hpke_key
    assert isinstance(sk, x25519.X25519PrivateKey)
    dh = sk.exchange(x25519.X25519PublicKey.from_public_bytes(enc))
    kem = b"KEM" + struct.pack(">H", _KEM_ID)
    ctx = enc + sk.public_key().public_bytes_raw()
    prk = _labeled_extract(kem, b"", b"eae_prk", dh)
    shared = _labeled_expand(kem, prk, b"shared_secret", ctx, 32)
    suite = b"HPKE" + struct.pack(">HHH", _KEM_ID, _KDF_ID, _AEAD_ID)
    psk_id_hash = _labeled_extract(suite, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(suite, b"", b"info_hash", info)
    ksc = b"\0" + psk_id_hash + info_hash
    secret = _labeled_extract(suite, shared, b"secret", b"")
    return (
        _labeled_expand(suite, secret, b"key", ksc, 32),
        _labeled_expand(suite, secret, b"base_nonce", ksc, 12),
    )


def two_faced_wrap(k1: PrivateKey, k2: PrivateKey, info: bytes) -> tuple[bytes, bytes, bytes]:
    """``enc || ct || tag`` that HPKE-opens under both keys; returns it and the two data keys."""
    enc = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()
    key1, nonce1 = hpke_key_nonce(k1, enc, info)
    key2, nonce2 = hpke_key_nonce(k2, enc, info)
    free = os.urandom(16)
    sealed = collide(key1, nonce1, key2, nonce2, b"", lambda _a, _b: free + b"\0" * 16)
    ct = sealed[:32]
    d1 = bytes(a ^ b for a, b in zip(ct, _Gcm(key1, nonce1).keystream(32), strict=True))
    d2 = bytes(a ^ b for a, b in zip(ct, _Gcm(key2, nonce2).keystream(32), strict=True))
    return enc + sealed, d1, d2


def two_faced_body(
    d1: bytes, d2: bytes, nonce: bytes, aad: bytes, text1: bytes, text2: bytes
) -> bytes:
    """One AES-GCM segment that reads ``text1`` (then noise) under ``d1`` and noise, then
    ``text2``, then noise under ``d2`` (each text padded to whole 16-byte blocks)."""
    t1 = text1 + b" " * (-len(text1) % 16)
    t2 = text2 + b" " * (-len(text2) % 16)

    def layout(ks1: bytes, ks2: bytes) -> bytes:
        if not ks1:
            return b"\0" * (len(t1) + len(t2) + 16)
        first = bytes(a ^ b for a, b in zip(t1, ks1, strict=False))
        second = bytes(a ^ b for a, b in zip(t2, ks2[len(t1) :], strict=False))
        return first + second + b"\0" * 16

    return collide(d1, nonce, d2, nonce, aad, layout)
