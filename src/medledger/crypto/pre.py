"""Custodian mode: Umbral threshold proxy re-encryption and the custodial record format.

Issue 16; docs/crypto.md section 12 ("Custodian mode"). The primitive is Umbral
(``umbral-pre``, the NuCypher / Threshold network implementation): a record's 32-byte data key is
encapsulated to the patient's Umbral public key (a *capsule* plus a small ciphertext); for each
grantee the patient makes ``n`` key fragments (kfrags) with threshold ``k``, one per custodian;
a custodian turns the capsule into a capsule fragment (cfrag) for that grantee only; ``k`` cfrags
let the grantee open that one capsule. No custodian, nor any set of them, learns the data key or
the patient's secret key; every cfrag is verifiable (signed kfrags, Umbral's correctness proofs),
so a custodian returning a forged one is caught and named.

Keys (none is stored anywhere new; all are derived, so they survive what their roots survive):

- **patient** (delegating key, and the key that signs kfrags): made from a 32-byte *Umbral seed*
  kept in the patient's keyring secrets (:attr:`medledger.crypto.keyring.Keyring.umbral_seed`),
  which identity rotation and guardian recovery re-seal to the new identity key. So the keys, the
  policy that publishes them, the capsules encapsulated to them and the delegations signed with
  them all survive a new identity key. New keyrings get a random seed; a keyring written before
  the seed existed has none, and its keys are the ones derived then from the identity key
  (:meth:`PatientUmbralKeys.legacy_seed`), which the next ``configure`` or rotation writes into
  the keyring as its seed (docs/crypto.md section 12, docs/decisions.md).
- **receiving key of a grantee / responder**: HKDF-SHA256 of the X25519 shared secret of the
  patient's identity key and the grantee's on-chain encryption key (either side can compute it:
  the patient from its private key and the grantee's public key, the grantee the other way round).
  Nothing is sent: no key bundle exists in custodian mode, and a receiving key alone opens nothing.

Custodial record (format "MLCR" v1, big-endian)::

    header = "MLCR" | version u8 | category u8 | patient_id u64 | author 20 | created_at u64
             | chain_id u64 | contract 20 | key_commitment 32 | nonce 12 | delegating_key 33
             | capsule_len u16 | capsule | wrapped_len u16 | wrapped (Umbral ciphertext of the key)
    body   = AES-256-GCM(data_key, nonce, plaintext, aad = header)

The key commitment is the sealed format's (``record.key_commitment``): a capsule that opens to
another key is refused before the body is touched. A custodial record is one AEAD segment: it is
meant for clinical documents, not imaging series (docs/crypto.md section 12).
"""

from __future__ import annotations

import hmac
import os
import struct
from dataclasses import dataclass

import umbral_pre as umbral
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_utils.address import to_checksum_address

from medledger.crypto._wire import Domain, Reader, Writer, check_uint, parse_address
from medledger.crypto.keys import PrivateKey
from medledger.crypto.record import DATA_KEY_LEN, key_commitment
from medledger.errors import DecryptionFailed, InvalidInput, KeyMismatch

MAGIC = b"MLCR"
FORMAT_VERSION = 1
NONCE_LEN = 12
PUBLIC_KEY_LEN = 33
#: the largest custodial record this module seals or opens in memory
MAX_CUSTODIAL_RECORD = 64 << 20
_X25519_LEN = 32
#: bytes of a patient's Umbral seed
UMBRAL_SEED_LEN = 32
#: what umbral-pre raises for a fragment that fails verification (its stubs omit the class)
_VERIFY_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    getattr(umbral, "VerificationError", ValueError),
)
_PATIENT_INFO = b"medledger/v1/umbral-patient\x00"
_RECEIVING_INFO = b"medledger/v1/umbral-receiving\x00"


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def _x25519_private(identity: PrivateKey) -> x25519.X25519PrivateKey:
    # private_bytes() = suite (1) || X25519 (32) [|| ML-KEM seed]: the X25519 half is the
    # on-chain encryptionKey's secret for both suites.
    raw = identity.private_bytes()
    return x25519.X25519PrivateKey.from_private_bytes(raw[1 : 1 + _X25519_LEN])


def public_key_bytes(key: umbral.PublicKey) -> bytes:
    """The 33-byte compressed encoding (what the registry stores and the protocol hashes)."""
    return bytes(key.to_compressed_bytes())


def parse_public_key(data: bytes, what: str = "Umbral public key") -> umbral.PublicKey:
    """A compressed secp256k1 point; InvalidInput if it is not one."""
    try:
        return umbral.PublicKey.from_compressed_bytes(bytes(data))
    except (ValueError, TypeError):
        raise InvalidInput(f"{what} is not a 33-byte compressed secp256k1 point") from None


@dataclass(frozen=True)
class PatientUmbralKeys:
    """A patient's Umbral delegating key and kfrag-signing key (derived, see module doc)."""

    delegating: umbral.SecretKey
    signing: umbral.SecretKey

    @classmethod
    def from_seed(cls, seed: bytes) -> PatientUmbralKeys:
        """The keys of a 32-byte Umbral seed (the one the patient's keyring keeps)."""
        if len(seed) != UMBRAL_SEED_LEN:
            raise InvalidInput(f"an Umbral seed is {UMBRAL_SEED_LEN} bytes")
        factory = umbral.SecretKeyFactory.from_secure_randomness(bytes(seed))
        return cls(factory.make_key(b"delegating"), factory.make_key(b"kfrag-signing"))

    @staticmethod
    def new_seed() -> bytes:
        """A fresh random Umbral seed (every new keyring gets one)."""
        return os.urandom(UMBRAL_SEED_LEN)

    @staticmethod
    def legacy_seed(identity: PrivateKey, domain: Domain, patient_id: int) -> bytes:
        """The seed that keyrings written before the seed existed imply: HKDF-SHA256 of the
        identity private key, bound to the deployment and the patient id (what a patient
        configured then has in its policy)."""
        check_uint("patient id", patient_id, 64)
        return _hkdf(
            identity.private_bytes(),
            _PATIENT_INFO + domain.encode() + struct.pack(">Q", patient_id),
        )

    @classmethod
    def derive(cls, identity: PrivateKey, domain: Domain, patient_id: int) -> PatientUmbralKeys:
        """The keys derived from the identity key (keyrings without a seed: the fallback)."""
        return cls.from_seed(cls.legacy_seed(identity, domain, patient_id))

    @property
    def delegating_pk(self) -> umbral.PublicKey:
        return self.delegating.public_key()

    @property
    def verifying_pk(self) -> umbral.PublicKey:
        return self.signing.public_key()

    def public_keys(self) -> bytes:
        """delegating || verifying, compressed (the registry policy's ``umbralKeys``)."""
        return public_key_bytes(self.delegating_pk) + public_key_bytes(self.verifying_pk)

    def kfrags(self, receiving_pk: umbral.PublicKey, threshold: int, shares: int) -> list[bytes]:
        """``shares`` signed key fragments for ``receiving_pk``; any ``threshold`` re-encrypt."""
        if not 1 <= threshold <= shares <= 255:
            raise InvalidInput(f"threshold {threshold} of {shares} custodians is not valid")
        frags = umbral.generate_kfrags(
            delegating_sk=self.delegating,
            receiving_pk=receiving_pk,
            signer=umbral.Signer(self.signing),
            threshold=threshold,
            shares=shares,
            sign_delegating_key=True,
            sign_receiving_key=True,
        )
        return [bytes(f.unverify()) for f in frags]

    def __repr__(self) -> str:
        return f"PatientUmbralKeys(delegating={public_key_bytes(self.delegating_pk).hex()[:16]}..)"


def receiving_key(
    own_identity: PrivateKey,
    peer_encryption_key: bytes,
    domain: Domain,
    patient_id: int,
    grantee: str,
) -> umbral.SecretKey:
    """The Umbral receiving key of ``grantee`` for ``patient_id``'s custodial records.

    The patient calls it with its identity key and the grantee's on-chain encryption key (it
    needs only the public half); the grantee with its identity key and the patient's. Both get
    the same key (X25519 is symmetric), bound to the deployment, the patient and the grantee.
    """
    if len(peer_encryption_key) != _X25519_LEN:
        raise InvalidInput("peer encryption key must be a 32-byte X25519 public key")
    try:
        shared = _x25519_private(own_identity).exchange(
            x25519.X25519PublicKey.from_public_bytes(bytes(peer_encryption_key))
        )
    except ValueError:
        raise InvalidInput("peer encryption key is not a usable X25519 public key") from None
    info = (
        _RECEIVING_INFO
        + domain.encode()
        + struct.pack(">Q", check_uint("patient id", patient_id, 64))
        + parse_address(grantee)
    )
    factory = umbral.SecretKeyFactory.from_secure_randomness(_hkdf(shared, info))
    return factory.make_key(b"receiving")


def verify_cfrag(
    cfrag: bytes,
    capsule: umbral.Capsule,
    *,
    verifying_pk: umbral.PublicKey,
    delegating_pk: umbral.PublicKey,
    receiving_pk: umbral.PublicKey,
) -> umbral.VerifiedCapsuleFrag:
    """Check a custodian's cfrag for this capsule and these keys; DecryptionFailed if forged."""
    try:
        suspicious = umbral.CapsuleFrag.from_bytes(bytes(cfrag))
        return suspicious.verify(
            capsule,
            verifying_pk=verifying_pk,
            delegating_pk=delegating_pk,
            receiving_pk=receiving_pk,
        )
    except _VERIFY_ERRORS as exc:
        raise DecryptionFailed(f"capsule fragment does not verify: {exc}") from None


# --- the custodial record format ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustodialHeader:
    """The parsed header of a custodial record (not authenticated until the body opens)."""

    category: int
    patient_id: int
    author: str
    created_at: int
    domain: Domain
    key_commitment: bytes
    nonce: bytes
    delegating_key: bytes
    capsule_bytes: bytes
    wrapped: bytes
    version: int = FORMAT_VERSION

    def encode(self) -> bytes:
        """The header bytes (the AEAD's associated data)."""
        w = Writer().raw(MAGIC).u8(self.version).u8(self.category).u64(self.patient_id)
        w.raw(parse_address(self.author)).u64(self.created_at).raw(self.domain.encode())
        w.raw(self.key_commitment).raw(self.nonce).raw(self.delegating_key)
        return w.bytes16(self.capsule_bytes).bytes16(self.wrapped).getvalue()

    @property
    def size(self) -> int:
        return len(self.encode())

    @property
    def capsule(self) -> umbral.Capsule:
        try:
            return umbral.Capsule.from_bytes(self.capsule_bytes)
        except (ValueError, TypeError):
            raise DecryptionFailed("custodial record: malformed capsule") from None

    @property
    def delegating_pk(self) -> umbral.PublicKey:
        return parse_public_key(self.delegating_key, "record's delegating key")


def is_custodial(blob: bytes | memoryview) -> bool:
    """True when ``blob`` starts like a custodial record (custodian mode)."""
    return bytes(memoryview(blob)[:4]) == MAGIC


def read_custodial_header(blob: bytes | memoryview) -> CustodialHeader:
    """Parse (without authenticating) a custodial record's header."""
    try:
        r = Reader(bytes(memoryview(blob)[: 1 << 12]), "custodial record")
        r.magic(MAGIC)
        version = r.u8()
        if version != FORMAT_VERSION:
            raise InvalidInput(f"unsupported custodial record version {version}")
        category, patient_id = r.u8(), r.u64()
        author = to_checksum_address(r.raw(20))
        created_at = r.u64()
        domain = Domain(r.u64(), r.raw(20))
        commitment, nonce, dk = r.raw(32), r.raw(NONCE_LEN), r.raw(PUBLIC_KEY_LEN)
        capsule_bytes = r.bytes16()
        wrapped = r.bytes16()
    except InvalidInput as exc:
        raise DecryptionFailed(f"malformed custodial record: {exc}") from None
    return CustodialHeader(
        category, patient_id, author, created_at, domain, commitment, nonce, dk,
        capsule_bytes, wrapped, version,
    )  # fmt: skip


def seal_custodial(
    plaintext: bytes | bytearray | memoryview,
    delegating_key: bytes,
    *,
    category: int,
    patient_id: int,
    author: str,
    created_at: int,
    domain: Domain,
) -> bytes:
    """Seal ``plaintext`` in custodian mode: its fresh data key is encapsulated to the patient's
    Umbral public key ``delegating_key`` (from the on-chain custodian policy)."""
    if len(plaintext) > MAX_CUSTODIAL_RECORD:
        raise InvalidInput(f"custodial records are at most {MAX_CUSTODIAL_RECORD} bytes")
    check_uint("category", category, 8)
    check_uint("created_at", created_at, 64)
    pk = parse_public_key(delegating_key, "patient's delegating key")
    data_key = AESGCM.generate_key(bit_length=256)
    capsule, wrapped = umbral.encrypt(pk, data_key)
    header = CustodialHeader(
        category,
        check_uint("patient id", patient_id, 64),
        to_checksum_address(parse_address(author)),
        created_at,
        domain,
        key_commitment(data_key),
        os.urandom(NONCE_LEN),
        public_key_bytes(pk),
        bytes(capsule),
        bytes(wrapped),
    )
    aad = header.encode()
    return aad + AESGCM(data_key).encrypt(header.nonce, bytes(plaintext), aad)


def _open_body(blob: bytes | memoryview, header: CustodialHeader, data_key: bytes) -> bytes:
    if len(data_key) != DATA_KEY_LEN:
        raise DecryptionFailed("custodial record: data key has the wrong length")
    if not hmac.compare_digest(key_commitment(data_key), header.key_commitment):
        raise KeyMismatch(
            "the capsule opened to a key the record is not committed to; nothing was decrypted"
        )
    aad = header.encode()
    body = bytes(memoryview(blob)[len(aad) :])
    if len(body) > MAX_CUSTODIAL_RECORD + 16:
        raise DecryptionFailed("custodial record is larger than any this SDK writes")
    try:
        return AESGCM(data_key).decrypt(header.nonce, body, aad)
    except InvalidTag:
        raise DecryptionFailed("custodial record failed authentication (tampered)") from None


def open_custodial_original(blob: bytes | memoryview, keys: PatientUmbralKeys) -> bytes:
    """The patient's direct path: open with the patient's own Umbral secret key."""
    header = read_custodial_header(blob)
    if header.delegating_key != public_key_bytes(keys.delegating_pk):
        raise KeyMismatch("record was encapsulated to another Umbral key than this patient's")
    try:
        data_key = umbral.decrypt_original(keys.delegating, header.capsule, header.wrapped)
    except (ValueError, TypeError):
        raise DecryptionFailed("custodial record: capsule does not open") from None
    return _open_body(blob, header, bytes(data_key))


def open_custodial_reencrypted(
    blob: bytes | memoryview,
    receiving_sk: umbral.SecretKey,
    cfrags: list[umbral.VerifiedCapsuleFrag],
) -> bytes:
    """A grantee's path: open with ``k`` verified cfrags of this record's capsule."""
    header = read_custodial_header(blob)
    try:
        data_key = umbral.decrypt_reencrypted(
            receiving_sk=receiving_sk,
            delegating_pk=header.delegating_pk,
            capsule=header.capsule,
            verified_cfrags=cfrags,
            ciphertext=header.wrapped,
        )
    except (ValueError, TypeError):
        raise DecryptionFailed(
            "custodial record: the capsule fragments do not open it (too few, or for another "
            "receiving key)"
        ) from None
    if data_key is None:
        raise DecryptionFailed("custodial record: the capsule fragments do not open it")
    return _open_body(blob, header, bytes(data_key))
