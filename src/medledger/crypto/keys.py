"""Asymmetric key types: the two HPKE suites, public/private keys and their byte encodings.

A medledger key pair is either plain X25519 or the post-quantum hybrid ML-KEM-768 + X25519
(``KEM.MLKEM768_X25519`` in HPKE). The suite is a per-patient choice and covers the identity key
and the category epoch keys.

Encodings (all big-endian, documented in docs/crypto.md):

* public key: ``suite (1) || X25519 public (32) [|| ML-KEM-768 public (1184)]`` -> 33 or 1217 bytes
* private key: ``suite (1) || X25519 private (32) [|| ML-KEM-768 seed (64)]`` -> 33 or 97 bytes;
  it only ever appears inside an HPKE- or AES-GCM-sealed container.

Private keys never show their material in ``repr()``/``str()``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import IntEnum
from typing import Self

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from medledger.errors import InvalidInput, PostQuantumDowngrade

X25519_LEN = 32
MLKEM768_PUBLIC_LEN = 1184
MLKEM768_SEED_LEN = 64


class Suite(IntEnum):
    """Key suite of a patient (identity key and category keys) or of a grantee's key."""

    X25519 = 1
    MLKEM768_X25519 = 2

    @property
    def label(self) -> str:
        """Stable text name used in JSON (keystore)."""
        return _LABELS[self]

    @classmethod
    def parse(cls, value: Suite | int | str) -> Suite:
        """Accept a member, its code, or its label (``"x25519"``, ``"mlkem768-x25519"``)."""
        if isinstance(value, Suite):
            return value
        try:
            if isinstance(value, int) and not isinstance(value, bool):
                return cls(value)
            if isinstance(value, str):
                return _BY_LABEL[value.strip().lower()]
        except (KeyError, ValueError):
            pass
        raise InvalidInput(f"unknown key suite {value!r}", hint="use 'x25519' or 'mlkem768-x25519'")


_LABELS = {Suite.X25519: "x25519", Suite.MLKEM768_X25519: "mlkem768-x25519"}
_BY_LABEL = {v: k for k, v in _LABELS.items()}

HpkePublic = x25519.X25519PublicKey | hpke.MLKEM768X25519PublicKey
HpkePrivate = x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey


class PublicKey:
    """A recipient public key (X25519, or ML-KEM-768 + X25519 hybrid)."""

    __slots__ = ("_encoded", "_hpke", "_mlkem", "_suite", "_x25519")

    def __init__(
        self,
        x25519_key: x25519.X25519PublicKey,
        mlkem_key: mlkem.MLKEM768PublicKey | None = None,
    ) -> None:
        self._x25519 = x25519_key
        self._mlkem = mlkem_key
        if mlkem_key is None:
            self._suite = Suite.X25519
            self._hpke: HpkePublic = x25519_key
        else:
            self._suite = Suite.MLKEM768_X25519
            self._hpke = hpke.MLKEM768X25519PublicKey(mlkem_key, x25519_key)
        out = bytes([self._suite]) + x25519_key.public_bytes_raw()
        if mlkem_key is not None:
            out += mlkem_key.public_bytes_raw()
        self._encoded = out

    @property
    def suite(self) -> Suite:
        return self._suite

    @property
    def hpke_key(self) -> HpkePublic:
        """The key object the HPKE implementation takes."""
        return self._hpke

    def x25519_public_bytes(self) -> bytes:
        """The 32-byte X25519 half (what goes on-chain as ``encryptionKey``)."""
        return self._x25519.public_bytes_raw()

    def encode(self) -> bytes:
        """Compact encoding: suite id, X25519 (32) and, for the hybrid, ML-KEM-768 (1184)."""
        return self._encoded

    @classmethod
    def decode(cls, data: bytes) -> PublicKey:
        """Parse :meth:`encode` output; malformed keys raise ``InvalidInput``."""
        data = bytes(data)
        if not data:
            raise InvalidInput("empty public key")
        suite = Suite.parse(data[0])
        expected = 1 + X25519_LEN + (MLKEM768_PUBLIC_LEN if suite is Suite.MLKEM768_X25519 else 0)
        if len(data) != expected:
            raise InvalidInput(
                f"{suite.label} public key must be {expected} bytes, got {len(data)}"
            )
        try:
            xk = x25519.X25519PublicKey.from_public_bytes(data[1 : 1 + X25519_LEN])
            mk = None
            if suite is Suite.MLKEM768_X25519:
                mk = mlkem.MLKEM768PublicKey.from_public_bytes(data[1 + X25519_LEN :])
        except ValueError as exc:
            raise InvalidInput(f"invalid {suite.label} public key: {exc}") from None
        return cls(xk, mk)

    @classmethod
    def from_x25519_bytes(cls, data: bytes) -> PublicKey:
        """An X25519-suite key from the 32 raw bytes (e.g. ``encryptionKey`` read on-chain)."""
        if len(data) != X25519_LEN:
            raise InvalidInput(f"an X25519 public key is 32 bytes, got {len(data)}")
        return cls(x25519.X25519PublicKey.from_public_bytes(bytes(data)))

    def fingerprint(self) -> str:
        """First 8 bytes of SHA-256 over the encoding, hex (for display and logs)."""
        return hashlib.sha256(self._encoded).hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other._encoded == self._encoded

    def __hash__(self) -> int:
        return hash(self._encoded)

    def __repr__(self) -> str:
        return f"PublicKey({self._suite.label}, {self.fingerprint()})"


class PrivateKey:
    """A private key of either suite. Its material never appears in ``repr()``/``str()``."""

    __slots__ = ("_hpke", "_mlkem", "_public", "_x25519")

    def __init__(
        self,
        x25519_key: x25519.X25519PrivateKey,
        mlkem_key: mlkem.MLKEM768PrivateKey | None = None,
    ) -> None:
        self._x25519 = x25519_key
        self._mlkem = mlkem_key
        if mlkem_key is None:
            self._hpke: HpkePrivate = x25519_key
            self._public = PublicKey(x25519_key.public_key())
        else:
            self._hpke = hpke.MLKEM768X25519PrivateKey(mlkem_key, x25519_key)
            self._public = PublicKey(x25519_key.public_key(), mlkem_key.public_key())

    @classmethod
    def generate(cls, suite: Suite | int | str = Suite.X25519) -> Self:
        """A fresh random key pair of ``suite``."""
        suite = Suite.parse(suite)
        mk = mlkem.MLKEM768PrivateKey.generate() if suite is Suite.MLKEM768_X25519 else None
        return cls(x25519.X25519PrivateKey.generate(), mk)

    @property
    def suite(self) -> Suite:
        return self._public.suite

    @property
    def public_key(self) -> PublicKey:
        return self._public

    @property
    def hpke_key(self) -> HpkePrivate:
        """The key object the HPKE implementation takes."""
        return self._hpke

    def x25519_public_bytes(self) -> bytes:
        """The 32-byte X25519 public half (on-chain ``encryptionKey``)."""
        return self._public.x25519_public_bytes()

    def private_bytes(self) -> bytes:
        """Secret encoding (suite || X25519 32 [|| ML-KEM seed 64]). Only for sealed containers."""
        out = bytes([self.suite]) + self._x25519.private_bytes_raw()
        if self._mlkem is not None:
            out += self._mlkem.private_bytes_raw()
        return out

    @classmethod
    def from_private_bytes(cls, data: bytes) -> Self:
        """Parse :meth:`private_bytes` output; malformed input raises ``InvalidInput``."""
        data = bytes(data)
        if not data:
            raise InvalidInput("empty private key")
        suite = Suite.parse(data[0])
        expected = 1 + X25519_LEN + (MLKEM768_SEED_LEN if suite is Suite.MLKEM768_X25519 else 0)
        if len(data) != expected:
            raise InvalidInput(f"{suite.label} private key must be {expected} bytes")
        try:
            xk = x25519.X25519PrivateKey.from_private_bytes(data[1 : 1 + X25519_LEN])
            mk = None
            if suite is Suite.MLKEM768_X25519:
                mk = mlkem.MLKEM768PrivateKey.from_seed_bytes(data[1 + X25519_LEN :])
        except ValueError:
            raise InvalidInput(f"invalid {suite.label} private key") from None
        return cls(xk, mk)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.suite.label}, public={self._public.fingerprint()})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would silently write the secret somewhere unencrypted; refuse.
        raise TypeError(f"{type(self).__name__} cannot be pickled; use the keystore")


class IdentityKey(PrivateKey):
    """A long-term encryption key of a patient or provider (the root of their key hierarchy).

    ``x25519_public_bytes()`` is the on-chain ``encryptionKey``; for the hybrid suite
    ``key_document()`` is the full public key whose CID digest goes on-chain as ``keyDocument``.
    """

    __slots__ = ()

    @classmethod
    def generate(cls, suite: Suite | int | str = Suite.MLKEM768_X25519) -> Self:
        """A fresh identity key; post-quantum hybrid unless ``suite`` says otherwise (new
        providers and patients get harvest-now-decrypt-later protection by default)."""
        return super().generate(suite)

    def key_document(self) -> bytes:
        """The public key document: the compact public key encoding (33 or 1217 bytes)."""
        return self.public_key.encode()


def refuse_downgrade(
    patient_suite: Suite, recipients: Mapping[str, PublicKey], allow_classical: bool, role: str
) -> None:
    """Raise :class:`PostQuantumDowngrade` if a hybrid patient's keys would be sealed to a
    classical X25519 key without the caller's explicit ``allow_classical=True``.

    One classical recipient is enough to expose the patient's epoch private keys to a
    harvest-now-decrypt-later attacker (the weakest wrap of a key is its protection).
    """
    if patient_suite is not Suite.MLKEM768_X25519 or allow_classical:
        return
    classical = tuple(sorted(a for a, k in recipients.items() if k.suite is Suite.X25519))
    if classical:
        names = ", ".join(classical)
        raise PostQuantumDowngrade(
            f"refusing to seal this post-quantum (mlkem768-x25519) patient's keys to the "
            f"classical x25519 key of {role} {names}: a harvest-now-decrypt-later attacker "
            "could recover them",
            recipients=classical,
            hint=f"the {role} registers a mlkem768-x25519 key (providers.rotate_key), or pass "
            "allow_classical=True to accept the downgrade",
        )
