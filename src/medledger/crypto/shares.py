"""Guardian key shares: a patient's identity key, recoverable by M of N guardians (SLIP-39).

What is split is not the identity key itself but a dedicated random **recovery secret** ``S``
(16 bytes for X25519 identities, 32 for the hybrid suite: 20- or 33-word SLIP-39 mnemonics). The
identity key is *escrowed* in the shares document under AES-256-GCM with a key derived from
``S`` (HKDF-SHA256). M shares rebuild ``S``, ``S`` opens the escrow, the escrow is the identity
key, and the identity key opens the keyring. A new guardian set means a new ``S`` (fresh shares
with a new SLIP-39 identifier), so shares of an old set cannot be combined with the new ones;
see docs/decisions.md for the choice and its cost.

Each guardian share is a one-member SLIP-39 *group* (``groups = [(1, 1)] * N``, group threshold
``M``): this is the SLIP-39 encoding of a plain M-of-N split that also allows M = 1. A share is
sealed with HPKE to its guardian's public key, or left out of the document for a *paper*
guardian (printed once, never stored). The document commits to every share (SHA-256 of the
normalized mnemonic), so a wrong, tampered or superseded share is detected and named before
any combination is attempted.

Layout::

    header  = "MLGS" | version u8 | patient_id u64 | threshold u8 | n u8
              | identity public key (u16 length) | n x (guardian 20 | commitment 32)
    shares  = header | escrow (u16 length: nonce 12 | AES-256-GCM(identity private key))
              | n x sealed share (u16 length; empty for a paper share;
                                  HPKE(guardian key, mnemonic, info = ... header | guardian))

    reshare = "MLRS" | version u8 | patient_id u64 | guardian 20 | candidate 20 | round u32
              | commitment 32 | sealed (u16 length; HPKE(candidate key, mnemonic, info = ... head))
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import shamir_mnemonic
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_utils.address import to_checksum_address
from shamir_mnemonic.wordlist import WORDLIST

from medledger.crypto._wire import Reader, Writer, check_uint, parse_address
from medledger.crypto.hpke import hpke_open, hpke_seal
from medledger.crypto.keys import IdentityKey, PrivateKey, PublicKey, Suite
from medledger.errors import CryptoError, DecryptionFailed, InvalidInput, KeyNotAvailable

MAGIC = b"MLGS"
RESHARE_MAGIC = b"MLRS"
FORMAT_VERSION = 1
MAX_GUARDIANS = 10  # the contract's limit (SLIP-39 allows 16 groups)
_SHARE_LABEL = b"guardian-share"
_RESHARE_LABEL = b"guardian-reshare"
_ESCROW_INFO = b"medledger/v1/recovery-escrow\x00"
_COMMIT_PREFIX = b"medledger/v1/guardian-share-commitment\x00"
_WORDS = frozenset(WORDLIST)


class ShareError(CryptoError):
    """A share is malformed, tampered, wrong or superseded; ``guardian`` names its holder when
    known (``None`` for a paper share that matches no guardian of the current set)."""

    def __init__(self, message: str, *, guardian: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.guardian = guardian


class NotEnoughShares(KeyNotAvailable):
    """Fewer valid shares than the threshold; ``missing`` more are needed."""

    def __init__(self, have: int, need: int) -> None:
        self.have, self.need, self.missing = have, need, need - have
        super().__init__(
            f"{have} of the {need} guardian shares needed: {need - have} missing",
            hint="ask more guardians to reshare (`medledger recovery reshare`) or type in a "
            "paper share",
        )


def normalize_mnemonic(mnemonic: str) -> str:
    """Lower case, single spaces: the form commitments and SLIP-39 decoding use."""
    return " ".join(mnemonic.lower().split())


def share_commitment(patient_id: int, mnemonic: str) -> bytes:
    """SHA-256 commitment to one share (public in the shares document; a share carries 128 or
    256 bits of entropy, so the commitment does not help guess it)."""
    data = _COMMIT_PREFIX + patient_id.to_bytes(8, "big") + normalize_mnemonic(mnemonic).encode()
    return hashlib.sha256(data).digest()


def check_mnemonic(mnemonic: str) -> str:
    """The normalized mnemonic if it is a well-formed SLIP-39 share (checksum, words, padding);
    else :class:`ShareError` saying what is wrong."""
    text = normalize_mnemonic(mnemonic)
    words = text.split()
    # The library's messages can quote a word of the share: say where instead, never what.
    for i, word in enumerate(words, 1):
        if word not in _WORDS:
            raise ShareError(f"not a valid SLIP-39 share: word {i} is not in the word list")
    if len(words) not in (20, 33):
        raise ShareError(f"not a valid SLIP-39 share: {len(words)} words (20 or 33 expected)")
    try:
        shamir_mnemonic.Share.from_mnemonic(text)
    except shamir_mnemonic.MnemonicError as exc:
        reason = "checksum mismatch (a word is wrong)" if "checksum" in str(exc) else "malformed"
        raise ShareError(f"not a valid SLIP-39 share: {reason}") from None
    return text


@dataclass(frozen=True)
class GuardianEntry:
    """One guardian's line in the shares document."""

    guardian: str
    commitment: bytes
    #: the share sealed to the guardian's key; empty for a paper share
    sealed: bytes

    @property
    def paper(self) -> bool:
        return not self.sealed


@dataclass(frozen=True)
class ShareSet:
    """The guardians' shares document (its CID digest is on-chain with the guardian set)."""

    patient_id: int
    threshold: int
    identity_key: PublicKey
    entries: tuple[GuardianEntry, ...]
    escrow: bytes

    @property
    def guardians(self) -> tuple[str, ...]:
        return tuple(e.guardian for e in self.entries)

    def header(self) -> bytes:
        w = Writer().raw(MAGIC).u8(FORMAT_VERSION).u64(self.patient_id)
        w.u8(self.threshold).u8(len(self.entries)).bytes16(self.identity_key.encode())
        for e in self.entries:
            w.raw(parse_address(e.guardian)).raw(e.commitment)
        return w.getvalue()

    def to_document(self) -> bytes:
        w = Writer().raw(self.header()).bytes16(self.escrow)
        for e in self.entries:
            w.bytes16(e.sealed)
        return w.getvalue()

    @classmethod
    def from_document(cls, document: bytes) -> ShareSet:
        r = Reader(document, "guardian shares document")
        r.magic(MAGIC)
        if r.u8() != FORMAT_VERSION:
            raise InvalidInput("unsupported guardian shares document version")
        pid, threshold, n = r.u64(), r.u8(), r.u8()
        key = PublicKey.decode(r.raw(r.u16()))
        heads = [(to_checksum_address(r.raw(20)), r.raw(32)) for _ in range(n)]
        escrow = r.raw(r.u16())
        sealed = [r.raw(r.u16()) for _ in range(n)]
        r.end()
        if not 1 <= threshold <= n <= MAX_GUARDIANS:
            raise InvalidInput("guardian shares document: bad threshold or guardian count")
        entries = tuple(GuardianEntry(g, c, s) for (g, c), s in zip(heads, sealed, strict=True))
        return cls(pid, threshold, key, entries, escrow)

    def entry(self, guardian: str) -> GuardianEntry:
        addr = to_checksum_address(guardian)
        for e in self.entries:
            if e.guardian == addr:
                return e
        raise ShareError(
            f"{addr} holds no share of patient {self.patient_id}'s current guardian set",
            guardian=addr,
        )

    def open_share(self, guardian: str, key: PrivateKey) -> str:
        """A guardian opens its own sealed share (to reseal it to a recovery candidate)."""
        e = self.entry(guardian)
        if e.paper:
            raise ShareError(
                f"{e.guardian} holds a paper share (not in the document)",
                guardian=e.guardian,
                hint="type the paper share in on the recovering device",
            )
        try:
            text = hpke_open(
                key, e.sealed, label=_SHARE_LABEL, context=self.header() + parse_address(e.guardian)
            ).decode()
        except (DecryptionFailed, UnicodeDecodeError):
            raise ShareError(
                f"the sealed share of {e.guardian} does not open with this key (wrong key, or the "
                "document was tampered with)",
                guardian=e.guardian,
            ) from None
        self.verify(text, guardian=e.guardian)
        return text

    def verify(self, mnemonic: str, *, guardian: str | None = None) -> str:
        """The guardian whose committed share ``mnemonic`` is (checked against ``guardian`` when
        given). A malformed, tampered or foreign share raises :class:`ShareError`."""
        try:
            text = check_mnemonic(mnemonic)
        except ShareError as exc:
            raise ShareError(str(exc), guardian=guardian) from None
        commitment = share_commitment(self.patient_id, text)
        for e in self.entries:
            if e.commitment == commitment:
                if guardian is not None and to_checksum_address(guardian) != e.guardian:
                    raise ShareError(
                        f"the share sent by {guardian} is {e.guardian}'s", guardian=guardian
                    )
                return e.guardian
        who = f"the share of {guardian}" if guardian else "this share"
        raise ShareError(
            f"{who} is not part of patient {self.patient_id}'s current guardian shares (a "
            "share of an older guardian set, or altered)",
            guardian=guardian,
        )

    def recover(self, shares: Mapping[str, str]) -> IdentityKey:
        """Rebuild the identity key from guardian -> mnemonic (each :meth:`verify` d).

        Fewer than ``threshold`` distinct guardians: :class:`NotEnoughShares` (with how many are
        missing). Nothing is changed by a failure: this is a pure computation.
        """
        checked: dict[str, str] = {}
        for guardian, mnemonic in shares.items():
            checked[self.verify(mnemonic, guardian=guardian)] = normalize_mnemonic(mnemonic)
        if len(checked) < self.threshold:
            raise NotEnoughShares(len(checked), self.threshold)
        chosen = [checked[g] for g in sorted(checked)][: self.threshold]
        try:
            secret = shamir_mnemonic.combine_mnemonics(chosen)
        except shamir_mnemonic.MnemonicError:  # committed shares always combine
            raise ShareError("the shares do not combine (inconsistent share set)") from None
        return self._open_escrow(secret)

    def _open_escrow(self, secret: bytes) -> IdentityKey:
        header = self.header()
        if len(self.escrow) < 12 + 16:
            raise ShareError("the identity key escrow is truncated")
        try:
            plain = AESGCM(_escrow_key(secret, header)).decrypt(
                self.escrow[:12], self.escrow[12:], header
            )
            key = IdentityKey.from_private_bytes(plain)
        except (InvalidTag, InvalidInput):
            raise ShareError(
                "the shares rebuild a secret that does not open the identity key escrow "
                "(tampered document)"
            ) from None
        if key.public_key != self.identity_key:
            raise ShareError("the escrowed identity key does not match the document's public key")
        return key


def _escrow_key(secret: bytes, header: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_ESCROW_INFO + header)
    return hkdf.derive(secret)


def split_identity(
    identity: IdentityKey,
    patient_id: int,
    threshold: int,
    guardians: Sequence[tuple[str, PublicKey | None]],
) -> tuple[ShareSet, dict[str, str]]:
    """Split a fresh recovery secret M-of-N among ``guardians`` (address, public key or
    ``None`` for a paper share) and escrow ``identity`` under it.

    Returns the shares document and the paper mnemonics (guardian -> words). The paper
    mnemonics exist nowhere else: print them once and drop them.
    """
    check_uint("patient id", patient_id, 64)
    n = len(guardians)
    if not 1 <= threshold <= n <= MAX_GUARDIANS:
        raise InvalidInput(f"need 1 <= threshold <= guardians <= {MAX_GUARDIANS}")
    addrs = [to_checksum_address(g) for g, _ in guardians]
    if len(set(addrs)) != n:
        raise InvalidInput("duplicate guardian")
    secret = os.urandom(32 if identity.suite is Suite.MLKEM768_X25519 else 16)
    groups = shamir_mnemonic.generate_mnemonics(threshold, [(1, 1)] * n, secret)
    mnemonics = [normalize_mnemonic(g[0]) for g in groups]
    heads = [
        GuardianEntry(a, share_commitment(patient_id, m), b"")
        for a, m in zip(addrs, mnemonics, strict=True)
    ]
    draft = ShareSet(patient_id, threshold, identity.public_key, tuple(heads), b"")
    header = draft.header()
    nonce = os.urandom(12)
    escrow = nonce + AESGCM(_escrow_key(secret, header)).encrypt(
        nonce, identity.private_bytes(), header
    )
    entries: list[GuardianEntry] = []
    paper: dict[str, str] = {}
    for head, (_, key), m in zip(heads, guardians, mnemonics, strict=True):
        if key is None:
            paper[head.guardian] = m
            entries.append(head)
            continue
        context = header + parse_address(head.guardian)
        sealed = hpke_seal(key, m.encode(), label=_SHARE_LABEL, context=context)
        entries.append(GuardianEntry(head.guardian, head.commitment, sealed))
    return ShareSet(patient_id, threshold, identity.public_key, tuple(entries), escrow), paper


def _reshare_head(
    patient_id: int, guardian: str, candidate: str, round_: int, commitment: bytes
) -> bytes:
    w = Writer().raw(RESHARE_MAGIC).u8(FORMAT_VERSION).u64(patient_id)
    w.raw(parse_address(guardian)).raw(parse_address(candidate)).u32(round_)
    return w.raw(commitment).getvalue()


def reseal_share(
    mnemonic: str,
    *,
    patient_id: int,
    guardian: str,
    candidate: str,
    round_: int,
    candidate_key: PublicKey,
) -> bytes:
    """A guardian's share re-sealed to a recovery candidate (bound to patient, guardian,
    candidate and round: it cannot be replayed into another recovery)."""
    text = check_mnemonic(mnemonic)
    head = _reshare_head(
        patient_id, guardian, candidate, round_, share_commitment(patient_id, text)
    )
    sealed = hpke_seal(candidate_key, text.encode(), label=_RESHARE_LABEL, context=head)
    return head + Writer().bytes16(sealed).getvalue()


def open_reshare(
    document: bytes, key: PrivateKey, *, patient_id: int, candidate: str, round_: int
) -> tuple[str, str]:
    """(guardian, mnemonic) from a reshare document sent to ``candidate`` in ``round_``."""
    r = Reader(document, "reshared guardian share")
    r.magic(RESHARE_MAGIC)
    if r.u8() != FORMAT_VERSION:
        raise InvalidInput("unsupported reshare version")
    pid, guardian, to = r.u64(), to_checksum_address(r.raw(20)), to_checksum_address(r.raw(20))
    rnd, commitment = r.u32(), r.raw(32)
    head = bytes(document[: r.position])
    sealed = r.raw(r.u16())
    r.end()
    if (pid, to, rnd) != (patient_id, to_checksum_address(candidate), round_):
        raise ShareError(
            f"the share sent by {guardian} is for patient {pid}, candidate {to}, round {rnd}",
            guardian=guardian,
        )
    try:
        text = hpke_open(key, sealed, label=_RESHARE_LABEL, context=head).decode()
    except (DecryptionFailed, UnicodeDecodeError):
        raise ShareError(
            f"the share sent by {guardian} does not open (tampered, or sealed to another key)",
            guardian=guardian,
        ) from None
    if share_commitment(patient_id, text) != commitment:
        raise ShareError(f"the share sent by {guardian} was altered", guardian=guardian)
    return guardian, text
