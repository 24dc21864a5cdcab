"""HPKE (RFC 9180) base-mode single-shot sealing with a medledger context label.

Suites: DHKEM(X25519, HKDF-SHA256) or ML-KEM-768+X25519, always with HKDF-SHA256 and AES-256-GCM.
The HPKE ``info`` is ``b"medledger/vN/" || label || 0x00 || context`` where ``N`` is the
container's format version and ``context`` its serialized header (patient id, category, epoch,
grantee, ...; from format v2 on also the chain id and the MedLedger contract address).
``info`` enters the HPKE key schedule, so a ciphertext sealed for one context cannot be opened
under another: moving a wrapped key to a different record, patient, grantee or deployment makes
decryption fail.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke

from medledger.crypto.keys import PrivateKey, PublicKey, Suite
from medledger.errors import DecryptionFailed, InvalidInput

_KEMS = {Suite.X25519: hpke.KEM.X25519, Suite.MLKEM768_X25519: hpke.KEM.MLKEM768_X25519}
_SUITES = {s: hpke.Suite(k, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM) for s, k in _KEMS.items()}

#: Bytes HPKE adds to the plaintext: the KEM encapsulation plus the 16-byte AES-GCM tag.
OVERHEAD = {s: k.enc_length() + 16 for s, k in _KEMS.items()}


def _info(label: bytes, context: bytes, version: int) -> bytes:
    # Format-v2 containers put the chain id and contract address in ``context`` (so in
    # ``info``); their prefix differs too, so no v1 context can be read as a v2 one.
    return b"medledger/v%d/" % version + label + b"\x00" + context


def hpke_seal(
    recipient: PublicKey, plaintext: bytes, *, label: bytes, context: bytes, version: int = 1
) -> bytes:
    """Seal ``plaintext`` to ``recipient``; returns ``enc || ciphertext || tag``."""
    try:
        return _SUITES[recipient.suite].encrypt(
            plaintext, recipient.hpke_key, info=_info(label, context, version)
        )
    except ValueError as exc:  # e.g. an all-zero / low-order X25519 public key
        raise InvalidInput(f"cannot seal to this public key: {exc}") from None


def hpke_open(
    key: PrivateKey, sealed: bytes, *, label: bytes, context: bytes, version: int = 1
) -> bytes:
    """Open what :func:`hpke_seal` produced; any mismatch raises ``DecryptionFailed``."""
    if len(sealed) < OVERHEAD[key.suite]:
        raise DecryptionFailed("sealed key material is too short for this key's suite")
    try:
        return _SUITES[key.suite].decrypt(sealed, key.hpke_key, info=_info(label, context, version))
    except (InvalidTag, ValueError):
        raise DecryptionFailed(
            "HPKE decryption failed: wrong key, or the data or its context was changed"
        ) from None
