"""CAR v1 (content-addressed archive) encoding: move a record's blocks between stores.

``ipfs dag export CID > x.car`` / ``ipfs dag import x.car`` use this format, so a record held in
the embedded store can be handed to any IPFS node and back. Layout: ``varint(len) || header``
(dag-cbor ``{"roots": [CID...], "version": 1}``) followed by ``varint(len) || CID || block``
sections. The reader verifies every block against its CID before yielding it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO, Final, Protocol

from medledger.errors import IntegrityError, InvalidInput
from medledger.storage.cid import CID
from medledger.storage.unixfs import varint, verify_block

#: largest block accepted from a CAR (IPFS blocks are at most 1-2 MiB; bounds memory)
MAX_BLOCK: Final = 4 * 1024 * 1024
_MAX_HEADER: Final = 64 * 1024


class Readable(Protocol):
    """Anything with a binary ``read(n)`` (files, sockets wrapped as files, HTTP bodies)."""

    def read(self, n: int = -1, /) -> bytes:
        """Up to ``n`` bytes; empty at the end of the stream."""
        ...


def _cbor_head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes((major << 5 | value,))
    if value < 0x100:
        return bytes((major << 5 | 24, value))
    if value < 0x10000:
        return bytes((major << 5 | 25,)) + value.to_bytes(2, "big")
    return bytes((major << 5 | 26,)) + value.to_bytes(4, "big")


def encode_header(roots: Iterable[CID]) -> bytes:
    """The length-prefixed CAR v1 header (dag-cbor, keys in canonical order)."""
    root_list = list(roots)
    out = bytearray(b"\xa2\x65roots")
    out += _cbor_head(4, len(root_list))
    for root in root_list:
        raw = b"\x00" + root.to_bytes()  # tag 42: CID bytes behind the identity multibase byte
        out += b"\xd8\x2a" + _cbor_head(2, len(raw)) + raw
    out += b"\x67version\x01"
    return varint(len(out)) + bytes(out)


def encode_section(cid: CID, block: bytes) -> bytes:
    """One length-prefixed ``CID || block`` section."""
    raw = cid.to_bytes()
    return varint(len(raw) + len(block)) + raw + block


def write_car(out: IO[bytes], roots: Iterable[CID], blocks: Iterable[tuple[CID, bytes]]) -> int:
    """Write a CAR v1 stream; return the bytes written."""
    written = out.write(encode_header(roots)) or 0
    for cid, block in blocks:
        written += out.write(encode_section(cid, block)) or 0
    return written


# --- reading -----------------------------------------------------------------------------


def _read_exact(stream: Readable, n: int) -> bytes:
    parts, have = [], 0
    while have < n:
        piece = stream.read(n - have)
        if not piece:
            raise IntegrityError("truncated CAR stream")
        parts.append(piece)
        have += len(piece)
    return b"".join(parts)


def _read_varint(stream: Readable) -> int | None:
    """A varint from the stream, or None at a clean end of stream."""
    value = shift = 0
    first = True
    while True:
        byte = stream.read(1)
        if not byte:
            if first:
                return None
            raise IntegrityError("truncated varint in CAR stream")
        first = False
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
        shift += 7
        if shift > 63:
            raise IntegrityError("malformed varint in CAR stream")


class _Cbor:
    """Just enough dag-cbor to read a CAR header."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def _head(self) -> tuple[int, int]:
        if self.pos >= len(self.data):
            raise IntegrityError("truncated CAR header")
        byte = self.data[self.pos]
        self.pos += 1
        major, info = byte >> 5, byte & 0x1F
        if info < 24:
            return major, info
        width = {24: 1, 25: 2, 26: 4, 27: 8}.get(info)
        if width is None or self.pos + width > len(self.data):
            raise IntegrityError("malformed CAR header")
        value = int.from_bytes(self.data[self.pos : self.pos + width], "big")
        self.pos += width
        return major, value

    def item(self) -> object:
        major, value = self._head()
        if major == 0:
            return value
        if major in (2, 3):
            raw = self.data[self.pos : self.pos + value]
            if len(raw) != value:
                raise IntegrityError("truncated CAR header")
            self.pos += value
            return raw if major == 2 else raw.decode("utf-8", "replace")
        if major == 4:
            return [self.item() for _ in range(value)]
        if major == 5:
            mapping: dict[object, object] = {}
            for _ in range(value):
                key = self.item()
                mapping[key] = self.item()
            return mapping
        if major == 6 and value == 42:
            tagged = self.item()
            if not isinstance(tagged, bytes) or not tagged.startswith(b"\x00"):
                raise IntegrityError("malformed CID in CAR header")
            try:
                return CID.from_bytes(tagged[1:])
            except InvalidInput as exc:
                raise IntegrityError(f"unsupported root in CAR header: {exc}") from None
        raise IntegrityError(f"unexpected dag-cbor item (major type {major}) in CAR header")


def read_header(stream: Readable) -> tuple[CID, ...]:
    """Read and check the CAR v1 header; return its roots."""
    length = _read_varint(stream)
    if length is None or not 0 < length <= _MAX_HEADER:
        raise IntegrityError("not a CAR v1 stream (bad header length)")
    header = _Cbor(_read_exact(stream, length)).item()
    if not isinstance(header, dict) or header.get("version") != 1:
        raise IntegrityError("not a CAR v1 stream (version is not 1)")
    roots = header.get("roots")
    if not isinstance(roots, list) or not all(isinstance(r, CID) for r in roots):
        raise IntegrityError("CAR header roots are not a list of CIDs")
    return tuple(r for r in roots if isinstance(r, CID))


def _split_cid(section: bytes) -> tuple[CID, bytes]:
    # v0: bare multihash; v1: version, one-byte codec (raw/dag-pb), sha2-256, 32-byte digest
    cid_len = 34 if section[:2] == b"\x12\x20" else 36
    try:
        cid = CID.from_bytes(section[:cid_len])
    except InvalidInput as exc:
        raise IntegrityError(f"unsupported block in CAR stream: {exc}") from None
    return cid, section[cid_len:]


def read_blocks(stream: Readable) -> Iterator[tuple[CID, bytes]]:
    """Yield the verified ``(CID, block)`` sections following the header."""
    while True:
        length = _read_varint(stream)
        if length is None:
            return
        if not 34 <= length <= MAX_BLOCK + 64:
            raise IntegrityError(f"CAR section of {length} bytes is out of bounds")
        cid, block = _split_cid(_read_exact(stream, length))
        verify_block(cid, block)
        yield cid, block
