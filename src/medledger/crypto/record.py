"""The sealed record format: a segmented AES-256-GCM stream with a header bound to its context.

Layout (big-endian; the full byte-by-byte description is in docs/crypto.md)::

    header  = magic "MLRC" | version u8 | suite u8 | category u8 | patient_id u64 | author 20
              | created_at u64 | epoch u32 | segment_size u32 | nonce_prefix 7
              [v2: | chain_id u64 | contract 20 | key_commitment 32]
              | wrapped_len u16 | wrapped_key (HPKE: enc || AES-GCM(data key) || tag)
    key_commitment = SHA-256("medledger/v2/record-key-commitment" 0x00 || data key)

Version 2 (written since issue 14) adds the deployment (chain id, contract: also in the HPKE
``info`` of the wrapped key) and a commitment to the data key, checked right after unwrapping and
before any segment is decrypted: AES-GCM is not key-committing, so without it two different keys
can open one record to two different authenticated plaintexts (``KeyMismatch`` now). Version 1
records still open (no commitment, no deployment: the reader's key checks are all they get).
    body    = segment_0 || ... || segment_{n-1}
    segment = AES-256-GCM(data_key, nonce_i, plaintext_i, aad=header) -> ciphertext_i || tag_i
    nonce_i = nonce_prefix (7) || i as u32 (4) || last flag (1: 0x01 on the final segment)

Every segment but the last carries exactly ``segment_size`` plaintext bytes; the last carries
0..segment_size bytes (an empty record is one empty final segment). Because the segment index and
the last flag are in the nonce, reordering, dropping, duplicating or truncating segments fails
authentication (the construction of Tink's streaming AEAD and age's STREAM). The whole header is
the associated data of every segment and its fixed part is the HPKE ``info`` context of the wrapped
data key, so no header field can change and no body can move under another header.

Anything wrong with a sealed record -- malformed, truncated, tampered or opened with a wrong key --
raises :class:`~medledger.errors.DecryptionFailed`; a missing key raises ``KeyNotAvailable``.
No unauthenticated plaintext is ever released: each segment is verified before it is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import io
import os
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol, Required, TypedDict, Unpack

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_utils.address import to_checksum_address

from medledger.crypto._wire import UNBOUND, Domain, Reader, Writer, check_uint, parse_address
from medledger.crypto.epochs import KeySource
from medledger.crypto.hpke import OVERHEAD, hpke_open, hpke_seal
from medledger.crypto.keyring import PublicDirectory
from medledger.crypto.keys import PrivateKey, Suite
from medledger.errors import DecryptionFailed, IntegrityError, InvalidInput, KeyMismatch
from medledger.fsutil import atomic_open

MAGIC = b"MLRC"
FORMAT_VERSION = 2  # written; 1 is still read
READ_VERSIONS = (1, 2)
TAG_LEN = 16
NONCE_PREFIX_LEN = 7
DATA_KEY_LEN = 32
COMMITMENT_LEN = 32
#: everything before the wrapped key (ends with its u16 length), per version
FIXED_HEADER_LENS = {1: 60, 2: 60 + 8 + 20 + COMMITMENT_LEN}
FIXED_HEADER_LEN = FIXED_HEADER_LENS[1]  # the v1 length (kept for callers of format v1)
_PREFIX_LEN = 5  # magic + version: enough to know the fixed length
DEFAULT_SEGMENT_SIZE = 1 << 20
MIN_SEGMENT_SIZE = 1 << 8  # small sizes exist for tests of segment boundaries
MAX_SEGMENT_SIZE = 1 << 24  # bounds what a reader allocates for one segment
MAX_SEGMENTS = 1 << 32  # the u32 counter in the nonce

_LABEL = b"record-key"
_COMMIT_LABEL = b"medledger/v2/record-key-commitment\x00"


def key_commitment(data_key: bytes) -> bytes:
    """The v2 header's commitment to the record's data key (SHA-256 is collision resistant,
    so no two data keys share one: a record opens to at most one plaintext)."""
    return hashlib.sha256(_COMMIT_LABEL + data_key).digest()


_NONCE_TAIL = struct.Struct(">IB")


class ReadableStream(Protocol):
    """A binary source (files, ``io.BytesIO``, ``io.BufferedReader`` ...)."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


class WritableStream(Protocol):
    """A binary sink whose ``write`` consumes the data before returning (all ``io`` classes)."""

    def write(self, data: memoryview, /) -> object: ...


@dataclass(frozen=True, slots=True)
class RecordHeader:
    """The parsed header of a sealed record.

    A header read with :func:`read_header` is *not yet authenticated*; the one returned by
    :func:`open_record` / :func:`open_stream` is.
    """

    version: int
    suite: Suite
    category: int
    patient_id: int
    author: str
    created_at: int
    epoch: int
    segment_size: int
    nonce_prefix: bytes
    wrapped_key: bytes
    #: v2: the deployment the record is bound to (``UNBOUND`` in v1 headers)
    domain: Domain = UNBOUND
    #: v2: SHA-256 commitment to the data key (empty in v1 headers)
    key_commitment: bytes = b""

    def fixed_bytes(self) -> bytes:
        """Magic to nonce prefix (v1: 58 bytes) or to the key commitment (v2): the HPKE context
        of the wrapped data key."""
        w = Writer().raw(MAGIC).u8(self.version).u8(self.suite).u8(self.category)
        w.u64(self.patient_id).raw(parse_address(self.author)).u64(self.created_at)
        w.u32(self.epoch).u32(self.segment_size).raw(self.nonce_prefix)
        if self.version >= 2:
            w.raw(self.domain.encode()).raw(self.key_commitment)
        return w.getvalue()

    def encode(self) -> bytes:
        """The complete header (also the associated data of every segment)."""
        return self.fixed_bytes() + Writer().bytes16(self.wrapped_key).getvalue()

    @property
    def size(self) -> int:
        return FIXED_HEADER_LENS[self.version] + len(self.wrapped_key)

    def expect(
        self,
        *,
        patient_id: int | None = None,
        category: int | None = None,
        author: str | None = None,
        domain: Domain | None = None,
    ) -> None:
        """Raise ``IntegrityError`` unless the header matches what the caller knows (e.g. the
        on-chain record entry): a valid record of another patient/category/author is rejected,
        and a v2 record of another deployment (``domain``; v1 records carry none)."""
        if domain is not None and self.version >= 2 and domain != self.domain:
            raise IntegrityError(
                f"record is bound to chain {self.domain.chain_id}, contract "
                f"0x{self.domain.contract.hex()}, not to this deployment (chain "
                f"{domain.chain_id}, contract 0x{domain.contract.hex()})"
            )
        if patient_id is not None and patient_id != self.patient_id:
            raise IntegrityError(f"record belongs to patient {self.patient_id}, not {patient_id}")
        if category is not None and category != self.category:
            raise IntegrityError(f"record has category {self.category}, expected {category}")
        if author is not None and parse_address(author) != parse_address(self.author):
            raise IntegrityError(f"record was written by {self.author}, not {author}")


class OpenedRecord(NamedTuple):
    """An authenticated header and the decrypted plaintext."""

    header: RecordHeader
    plaintext: bytes


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= MAX_SEGMENTS:
        raise InvalidInput("record too large: more than 2**32 segments")
    return prefix + _NONCE_TAIL.pack(index, 1 if last else 0)


def _fixed_len(prefix: bytes) -> int:
    """The fixed header length announced by the first 5 bytes (magic and version)."""
    if len(prefix) < _PREFIX_LEN or prefix[:4] != MAGIC:
        raise DecryptionFailed("malformed sealed record: not a sealed record (bad magic)")
    length = FIXED_HEADER_LENS.get(prefix[4])
    if length is None:
        raise DecryptionFailed(f"malformed sealed record: unsupported version {prefix[4]}")
    return length


def _parse_fixed(data: bytes) -> tuple[RecordHeader, int]:
    """Parse the fixed header; returns it (with an empty wrapped key) and the wrapped length."""
    domain, commitment = UNBOUND, b""
    try:
        r = Reader(data, "sealed record")
        version = r.header(MAGIC, READ_VERSIONS)
        suite = Suite.parse(r.u8())
        category = r.u8()
        patient_id = r.u64()
        author = to_checksum_address(r.raw(20))
        created_at, epoch, segment_size = r.u64(), r.u32(), r.u32()
        nonce_prefix = r.raw(NONCE_PREFIX_LEN)
        if version >= 2:
            domain = Domain(r.u64(), r.raw(20))
            commitment = r.raw(COMMITMENT_LEN)
        wrapped_len = r.u16()
    except InvalidInput as exc:
        raise DecryptionFailed(f"malformed sealed record: {exc}") from None
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise DecryptionFailed(f"malformed sealed record: segment size {segment_size}")
    if wrapped_len != OVERHEAD[suite] + DATA_KEY_LEN:
        raise DecryptionFailed("malformed sealed record: wrapped key length does not fit suite")
    header = RecordHeader(
        version,
        suite,
        category,
        patient_id,
        author,
        created_at,
        epoch,
        segment_size,
        nonce_prefix,
        b"",
        domain,
        commitment,
    )
    return header, wrapped_len


def read_header(blob: bytes | memoryview) -> RecordHeader:
    """Parse (without authenticating) the header at the start of a sealed record.

    Useful to learn which (patient, category, epoch) key is needed before fetching keys.
    """
    view = memoryview(blob)
    fixed_len = _fixed_len(bytes(view[:_PREFIX_LEN]))
    header, wrapped_len = _parse_fixed(bytes(view[:fixed_len]))
    end = fixed_len + wrapped_len
    if len(view) < end:
        raise DecryptionFailed("malformed sealed record: truncated header")
    return _with_wrapped(header, bytes(view[fixed_len:end]))


def _with_wrapped(header: RecordHeader, wrapped: bytes) -> RecordHeader:
    return dataclasses.replace(header, wrapped_key=wrapped)


class SealOptions(TypedDict, total=False):
    """Keyword options of :func:`seal_record`, :func:`seal_stream` and :func:`seal_file`.

    ``category`` and ``author`` (the writer's EVM address) are required. ``created_at`` (unix
    seconds, default now) is when the sealed record is made -- not a clinical date, which belongs
    inside the plaintext: it selects the epoch, and back-dating a new record into an old epoch
    would expose it to former grantees. ``segment_size`` defaults to
    :data:`DEFAULT_SEGMENT_SIZE`. ``domain`` (default unbound) binds the record to its deployment
    (chain id, contract); the SDK always passes it.
    """

    category: Required[int]
    author: Required[str]
    created_at: int | None
    segment_size: int
    domain: Domain


def _new_header(
    directory: PublicDirectory,
    *,
    category: int,
    author: str,
    created_at: int | None = None,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    domain: Domain = UNBOUND,
) -> tuple[RecordHeader, bytes]:
    """A fresh data key and the header that carries it wrapped to the covering epoch key."""
    if created_at is None:
        created_at = int(time.time())
    check_uint("created_at", created_at, 64)
    check_uint("category", category, 8)
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise InvalidInput(
            f"segment size must be within {MIN_SEGMENT_SIZE}..{MAX_SEGMENT_SIZE} bytes"
        )
    recipient = directory.recipient(category, created_at)
    data_key = AESGCM.generate_key(bit_length=256)
    header = RecordHeader(
        FORMAT_VERSION,
        recipient.public_key.suite,
        category,
        directory.patient_id,
        to_checksum_address(parse_address(author)),
        created_at,
        recipient.epoch,
        segment_size,
        os.urandom(NONCE_PREFIX_LEN),
        b"",
        domain,
        key_commitment(data_key),
    )
    wrapped = hpke_seal(
        recipient.public_key,
        data_key,
        label=_LABEL,
        context=header.fixed_bytes(),
        version=FORMAT_VERSION,
    )
    return _with_wrapped(header, wrapped), data_key


def _unwrap(header: RecordHeader, key: PrivateKey) -> AESGCM:
    data_key = hpke_open(
        key,
        header.wrapped_key,
        label=_LABEL,
        context=header.fixed_bytes(),
        version=min(header.version, 2),
    )
    if len(data_key) != DATA_KEY_LEN:
        raise DecryptionFailed("wrapped data key has the wrong length")
    if header.version >= 2 and not hmac.compare_digest(
        key_commitment(data_key), header.key_commitment
    ):
        raise KeyMismatch(
            "the record's data key does not match its header's key commitment: the key used "
            "is not the one the record was sealed with (a patient or writer handing readers "
            "different keys); nothing was decrypted"
        )
    return AESGCM(data_key)


def _zero_filled(size: int) -> tuple[io.BytesIO, memoryview]:
    """A ``BytesIO`` of exactly ``size`` bytes and a writable view of it.

    Filling the view in place and calling ``getvalue()`` after releasing it returns the buffer
    without a copy, so sealing/opening in memory holds one copy of the input and one of the output.
    """
    out = io.BytesIO()
    if size:
        out.seek(size - 1)
        out.write(b"\0")
    return out, out.getbuffer()


def seal_record(
    plaintext: bytes | bytearray | memoryview,
    directory: PublicDirectory,
    **options: Unpack[SealOptions],
) -> bytes:
    """Seal ``plaintext`` for ``directory``'s patient under the epoch covering ``created_at``
    (options: :class:`SealOptions`). Returns the sealed record (format v2).
    """
    header, data_key = _new_header(directory, **options)
    segment_size = header.segment_size
    aad = header.encode()
    aes = AESGCM(data_key)
    src = memoryview(plaintext).cast("B")
    n = len(src)
    segments = max(1, -(-n // segment_size))
    out, view = _zero_filled(len(aad) + n + segments * TAG_LEN)
    with view:
        view[: len(aad)] = aad
        pos = len(aad)
        for i in range(segments):
            chunk = src[i * segment_size : (i + 1) * segment_size]
            nonce = _nonce(header.nonce_prefix, i, i == segments - 1)
            end = pos + len(chunk) + TAG_LEN
            aes.encrypt_into(nonce, chunk, aad, view[pos:end])
            pos = end
    return out.getvalue()


def _open_body(header: RecordHeader, aes: AESGCM, body: memoryview) -> bytes:
    aad = header.encode()
    seg = header.segment_size + TAG_LEN
    segments = max(1, -(-len(body) // seg))
    last_len = len(body) - (segments - 1) * seg
    if last_len < TAG_LEN:
        raise DecryptionFailed("sealed record is truncated")
    out, view = _zero_filled(len(body) - segments * TAG_LEN)
    with view:
        for i in range(segments):
            chunk = body[i * seg : (i + 1) * seg]
            nonce = _nonce(header.nonce_prefix, i, i == segments - 1)
            start = i * header.segment_size
            try:
                aes.decrypt_into(nonce, chunk, aad, view[start : start + len(chunk) - TAG_LEN])
            except InvalidTag:
                raise DecryptionFailed(
                    f"segment {i} failed authentication (tampered, truncated or reordered)"
                ) from None
    return out.getvalue()


def open_record(blob: bytes | memoryview, keys: KeySource) -> OpenedRecord:
    """Authenticate and decrypt a sealed record with the key ``keys`` holds for its epoch.

    Raises ``KeyNotAvailable`` if ``keys`` has no key for the record's (patient, category, epoch)
    and ``DecryptionFailed`` if the record is malformed or was tampered with.
    """
    header = read_header(blob)
    key = keys.private_key(header.patient_id, header.category, header.epoch)
    return OpenedRecord(
        header, _open_body(header, _unwrap(header, key), memoryview(blob)[header.size :])
    )


def open_record_with_key(blob: bytes | memoryview, key: PrivateKey) -> OpenedRecord:
    """Like :func:`open_record` with one explicit category epoch private key."""
    header = read_header(blob)
    return OpenedRecord(
        header, _open_body(header, _unwrap(header, key), memoryview(blob)[header.size :])
    )


def _fill(src: ReadableStream, view: memoryview) -> int:
    """Read until ``view`` is full or the stream ends; returns the number of bytes read."""
    got = 0
    while got < len(view):
        n = src.readinto(view[got:])
        if n is None:
            raise InvalidInput("non-blocking streams are not supported")
        if n == 0:
            break
        got += n
    return got


def _chunks(src: ReadableStream, size: int) -> Iterator[tuple[memoryview, bool]]:
    """Yield ``(chunk, last)``: full chunks of ``size`` bytes, then a final one of 0..size bytes.

    One byte of look-ahead tells a full final chunk from a full middle one, so a single buffer is
    reused; each chunk must be consumed before the next is requested.
    """
    buf = memoryview(bytearray(size))
    peek = memoryview(bytearray(1))
    n = _fill(src, buf)
    while True:
        more = n == size and _fill(src, peek) == 1
        yield buf[:n], not more
        if not more:
            return
        buf[0] = peek[0]
        n = 1 + _fill(src, buf[1:])


def seal_stream(
    src: ReadableStream,
    dst: WritableStream,
    directory: PublicDirectory,
    **options: Unpack[SealOptions],
) -> RecordHeader:
    """Seal everything ``src`` yields into ``dst`` in constant memory (two segment buffers).

    Produces the same format as :func:`seal_record` (each call uses a fresh key and nonce).
    """
    header, data_key = _new_header(directory, **options)
    segment_size = header.segment_size
    aad = header.encode()
    aes = AESGCM(data_key)
    out = memoryview(bytearray(segment_size + TAG_LEN))
    dst.write(memoryview(aad))
    for i, (chunk, last) in enumerate(_chunks(src, segment_size)):
        sealed = out[: len(chunk) + TAG_LEN]
        aes.encrypt_into(_nonce(header.nonce_prefix, i, last), chunk, aad, sealed)
        dst.write(sealed)
    return header


def _read_exact(src: ReadableStream, n: int) -> bytes:
    buf = bytearray(n)
    if _fill(src, memoryview(buf)) != n:
        raise DecryptionFailed("malformed sealed record: truncated header")
    return bytes(buf)


def open_stream(src: ReadableStream, dst: WritableStream, keys: KeySource) -> RecordHeader:
    """Authenticate and decrypt a sealed record from ``src`` into ``dst`` segment by segment.

    Only authenticated segments reach ``dst``, but if the record turns out to be truncated or
    tampered with further on, earlier segments have already been written: on any exception the
    caller must discard ``dst`` (:func:`open_file` does that for files).
    """
    prefix = _read_exact(src, _PREFIX_LEN)
    fixed = prefix + _read_exact(src, _fixed_len(prefix) - _PREFIX_LEN)
    header, wrapped_len = _parse_fixed(fixed)
    header = _with_wrapped(header, _read_exact(src, wrapped_len))
    key = keys.private_key(header.patient_id, header.category, header.epoch)
    aes = _unwrap(header, key)
    aad = header.encode()
    out = memoryview(bytearray(header.segment_size))
    for i, (chunk, last) in enumerate(_chunks(src, header.segment_size + TAG_LEN)):
        if len(chunk) < TAG_LEN:
            raise DecryptionFailed("sealed record is truncated")
        plain = out[: len(chunk) - TAG_LEN]
        try:
            aes.decrypt_into(_nonce(header.nonce_prefix, i, last), chunk, aad, plain)
        except InvalidTag:
            raise DecryptionFailed(
                f"segment {i} failed authentication (tampered, truncated or reordered)"
            ) from None
        dst.write(plain)
    return header


def seal_file(
    src_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    directory: PublicDirectory,
    **options: Unpack[SealOptions],
) -> RecordHeader:
    """:func:`seal_stream` from a file to a file; ``dst_path`` appears only when complete."""
    with open(src_path, "rb") as fsrc, atomic_open(dst_path) as fdst:
        return seal_stream(fsrc, fdst, directory, **options)


def open_file(
    src_path: str | os.PathLike[str], dst_path: str | os.PathLike[str], keys: KeySource
) -> RecordHeader:
    """:func:`open_stream` from a file to a file; on failure no output file is left behind."""
    with open(src_path, "rb") as fsrc, atomic_open(dst_path) as fdst:
        return open_stream(fsrc, fdst, keys)
