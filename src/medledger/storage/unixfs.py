"""UnixFS files exactly as Kubo imports them, computed in Python, streaming.

Parameters are fixed here and never taken from a daemon (Kubo 0.40's opt-in profile changes them):
fixed-size chunks of 262,144 bytes, sha2-256, balanced layout with at most 174 links per node.

- CIDv1 (medledger's default, ``ipfs add --cid-version=1``): leaves are raw blocks (codec 0x55),
  internal nodes dag-pb.
- CIDv0 (``ipfs add``): leaves are dag-pb nodes holding UnixFS ``{Type=File, Data, filesize}``.

A one-chunk file's CID is its leaf's CID. Otherwise leaves are grouped left to right into nodes
of 174, those into nodes of 174, ... until one root remains (go-unixfs ``balanced.Layout``:
partially filled nodes on the right edge are kept even when they hold a single child). An
internal node is ``PBNode{Links: [{Hash, Name: "", Tsize}], Data: UnixFS{Type=File, filesize,
blocksizes}}``, links encoded before data, as dag-pb requires.

Only the link list of the tree's right edge is held in memory (a few KiB per GiB), so files of any
size are processed chunk by chunk. Hashing a leaf never copies the chunk: a v0 leaf is hashed as
``prefix || chunk || suffix`` with three ``update`` calls, and block writers get the same parts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Final, NamedTuple

from medledger.errors import IntegrityError, InvalidInput
from medledger.storage.cid import CID, DAG_PB, RAW

CHUNK_SIZE: Final = 262_144
MAX_LINKS: Final = 174

#: bytes-like objects accepted as data (``collections.abc.Buffer`` needs Python 3.12)
Buffer = bytes | bytearray | memoryview
#: receives every block of a DAG as it is built: its CID and the parts whose concatenation is it
BlockSink = Callable[[CID, tuple[Buffer, ...]], None]

# UnixFS Data.Type values
UNIXFS_RAW: Final = 0
UNIXFS_DIRECTORY: Final = 1
UNIXFS_FILE: Final = 2

_sha256 = hashlib.sha256


def varint(value: int) -> bytes:
    """Unsigned LEB128 (protobuf / multiformats varint)."""
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _v0_leaf_frame(size: int) -> tuple[bytes, bytes]:
    """(prefix, suffix) around a chunk of ``size`` bytes making its CIDv0 leaf block."""
    if size == 0:
        # Data field omitted when empty (as go-unixfs encodes it): {Type=File, filesize=0}
        unixfs = b"\x08\x02\x18\x00"
        return b"\x0a" + varint(len(unixfs)) + unixfs, b""
    inner = b"\x08\x02\x12" + varint(size)  # Type=File, Data=<size bytes follow>
    suffix = b"\x18" + varint(size)  # filesize
    return b"\x0a" + varint(len(inner) + size + len(suffix)) + inner, suffix


_FULL_V0_FRAME: Final = _v0_leaf_frame(CHUNK_SIZE)
_V1_RAW_LINK_PREFIX: Final = bytes((1, RAW, 0x12, 0x20))
_V0_LINK_PREFIX: Final = bytes((0x12, 0x20))


class _Link(NamedTuple):
    cid: bytes  # binary CID, as written in the link
    tsize: int  # cumulative encoded size of the child's DAG
    filesize: int  # file bytes below the child


def leaf_parts(chunk: Buffer, version: int) -> tuple[Buffer, ...]:
    """The parts whose concatenation is the leaf block for ``chunk``."""
    if version == 1:
        return (chunk,)
    prefix, suffix = _FULL_V0_FRAME if len(chunk) == CHUNK_SIZE else _v0_leaf_frame(len(chunk))
    return (prefix, chunk, suffix) if suffix else (prefix, chunk)


def leaf_digest(chunk: Buffer, version: int) -> bytes:
    """sha2-256 of the leaf block for ``chunk`` (no copy of the chunk)."""
    if version == 1:
        return _sha256(chunk).digest()
    prefix, suffix = _FULL_V0_FRAME if len(chunk) == CHUNK_SIZE else _v0_leaf_frame(len(chunk))
    h = _sha256(prefix)
    h.update(chunk)
    h.update(suffix)
    return h.digest()


def _check_version(version: int) -> int:
    if version not in (0, 1):
        raise InvalidInput(f"CID version must be 0 or 1, not {version!r}")
    return version


class FileDagBuilder:
    """Builds a Kubo-identical UnixFS file DAG from chunks, streaming.

    Feed full 262,144-byte chunks (only the last may be shorter) with :meth:`add_chunk`, or
    pre-hashed leaves with :meth:`add_leaf`; :meth:`finish` returns the root CID. When a ``sink``
    is given, it receives every block (leaves first, each parent after its children).
    """

    __slots__ = ("_done", "_levels", "_link_prefix", "_short", "_sink", "_size", "_version")

    def __init__(self, version: int = 1, sink: BlockSink | None = None) -> None:
        self._version = _check_version(version)
        self._sink = sink
        self._levels: list[list[_Link]] = [[]]
        self._link_prefix = _V1_RAW_LINK_PREFIX if version == 1 else _V0_LINK_PREFIX
        self._size = 0
        self._short = False
        self._done = False

    @property
    def size(self) -> int:
        """File bytes added so far."""
        return self._size

    def add_chunk(self, chunk: Buffer) -> None:
        """Hash ``chunk`` as the next leaf (and hand its block to the sink)."""
        self.add_leaf(chunk, leaf_digest(chunk, self._version))

    def add_leaf(self, chunk: Buffer, digest: bytes) -> None:
        """Add the next leaf whose block digest was already computed (see :func:`leaf_digest`)."""
        if self._done:
            raise InvalidInput("the DAG is finished")
        size = len(chunk)
        if size > CHUNK_SIZE:
            raise InvalidInput(f"a chunk holds at most {CHUNK_SIZE} bytes, got {size}")
        if self._short:
            raise InvalidInput("only the last chunk of a file may be shorter than a full chunk")
        self._short = size < CHUNK_SIZE
        if self._version == 1:
            tsize = size
        else:
            prefix, suffix = _FULL_V0_FRAME if size == CHUNK_SIZE else _v0_leaf_frame(size)
            tsize = len(prefix) + size + len(suffix)
        if self._sink is not None:
            codec = RAW if self._version == 1 else DAG_PB
            self._sink(CID(self._version, codec, digest), leaf_parts(chunk, self._version))
        self._size += size
        self._push(0, _Link(self._link_prefix + digest, tsize, size))

    def _push(self, level: int, link: _Link) -> None:
        # A node is final as soon as it holds MAX_LINKS children (balanced layout fills left to
        # right), so full nodes are emitted eagerly and only the right edge stays in memory.
        levels = self._levels
        levels[level].append(link)
        if len(levels[level]) == MAX_LINKS:
            node_link = self._emit_node(levels[level])
            levels[level] = []
            if len(levels) == level + 1:
                levels.append([])
            self._push(level + 1, node_link)

    def _emit_node(self, links: list[_Link]) -> _Link:
        block = encode_file_node(links)
        cid = CID(self._version, DAG_PB, _sha256(block).digest())
        if self._sink is not None:
            self._sink(cid, (block,))
        return _Link(cid.to_bytes(), len(block) + sum(link.tsize for link in links), _total(links))

    def finish(self) -> CID:
        """Close the DAG and return its root CID (an empty input is one empty leaf)."""
        if self._done:
            raise InvalidInput("the DAG is finished")
        if self._leaf_count() == 0:
            self.add_chunk(b"")
        self._done = True
        leaves = self._leaf_count()
        if leaves == 1:
            return self._cid_of_link(self._levels[0][0], leaf=True)
        depth, capacity = 1, MAX_LINKS
        while capacity < leaves:
            depth, capacity = depth + 1, capacity * MAX_LINKS
        while len(self._levels) <= depth:
            self._levels.append([])
        for level in range(depth):
            if self._levels[level]:
                self._levels[level + 1].append(self._emit_node(self._levels[level]))
                self._levels[level] = []
        (root,) = self._levels[depth]
        return self._cid_of_link(root, leaf=False)

    def _leaf_count(self) -> int:
        count, weight = 0, 1
        for level in self._levels:
            count += len(level) * weight
            weight *= MAX_LINKS
        return count

    def _cid_of_link(self, link: _Link, *, leaf: bool) -> CID:
        if leaf and self._version == 1:
            return CID(1, RAW, link.cid[4:])
        return CID(self._version, DAG_PB, link.cid[-32:])


def _total(links: list[_Link]) -> int:
    return sum(link.filesize for link in links)


def encode_file_node(links: list[_Link]) -> bytes:
    """dag-pb bytes of an internal UnixFS file node over ``links`` (links before data)."""
    out = bytearray()
    for link in links:
        body = b"\x0a" + varint(len(link.cid)) + link.cid + b"\x12\x00\x18" + varint(link.tsize)
        out += b"\x12" + varint(len(body)) + body
    data = bytearray(b"\x08\x02\x18")
    data += varint(_total(links))
    for link in links:
        data += b"\x20" + varint(link.filesize)
    out += b"\x0a" + varint(len(data)) + data
    return bytes(out)


# --- chunking ----------------------------------------------------------------------------


class Rechunker:
    """Regroups pieces of any size into full chunks (only the final one may be short)."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, piece: Buffer) -> Iterator[Buffer]:
        """Yield every chunk completed by ``piece``."""
        if not isinstance(piece, bytes):
            # The caller may reuse a mutable buffer once we return; chunks handed on must not
            # change under a hashing thread or a block writer.
            piece = bytes(piece)
        if not self._buf and len(piece) == CHUNK_SIZE:
            yield piece  # already a chunk: no copy
            return
        view = memoryview(piece).cast("B")
        start = 0
        if self._buf:
            need = CHUNK_SIZE - len(self._buf)
            self._buf += view[:need]
            start = need
            if len(self._buf) < CHUNK_SIZE:
                return
            yield bytes(self._buf)
            self._buf = bytearray()
        while len(view) - start >= CHUNK_SIZE:
            yield view[start : start + CHUNK_SIZE]
            start += CHUNK_SIZE
        self._buf += view[start:]

    def flush(self) -> Iterator[Buffer]:
        """Yield the final short chunk, if any."""
        if self._buf:
            yield bytes(self._buf)
            self._buf = bytearray()


Source = IO[bytes] | Iterable[Buffer] | Buffer


def iter_chunks(source: Source) -> Iterator[Buffer]:
    """Split a binary stream, an iterable of byte pieces, or a bytes-like object into chunks.

    Streams are read one chunk at a time (short reads are filled up, as Kubo's splitter does),
    so memory stays at a chunk or two whatever the size.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source).cast("B")
        for start in range(0, len(view), CHUNK_SIZE):
            yield view[start : start + CHUNK_SIZE]
        return
    read = getattr(source, "read", None)
    if read is not None:
        yield from _iter_stream_chunks(read)
        return
    if isinstance(source, str) or not isinstance(source, Iterable):
        raise InvalidInput(f"expected bytes, a binary stream or byte pieces, not {type(source)}")
    rechunker = Rechunker()
    for piece in source:
        if not isinstance(piece, (bytes, bytearray, memoryview)):
            raise InvalidInput(f"stream pieces must be bytes, not {type(piece).__name__}")
        yield from rechunker.feed(piece)
    yield from rechunker.flush()


def _iter_stream_chunks(read: Callable[[int], object]) -> Iterator[bytes]:
    while True:
        chunk = read(CHUNK_SIZE)
        if chunk is None:
            raise InvalidInput("non-blocking streams are not supported")
        if not isinstance(chunk, bytes):
            raise InvalidInput(f"the stream must be binary, it returned {type(chunk).__name__}")
        if len(chunk) == CHUNK_SIZE:
            yield chunk
            continue
        if not chunk:
            return
        parts, have = [chunk], len(chunk)
        while have < CHUNK_SIZE:  # short read (pipe, socket): fill the chunk up
            more = read(CHUNK_SIZE - have)
            if not isinstance(more, bytes) or not more:
                break
            parts.append(more)
            have += len(more)
        yield b"".join(parts)
        if have < CHUNK_SIZE:
            return


# --- decoding (for reading DAGs back) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class PBNode:
    """A decoded dag-pb node: its links (child CID, Tsize) and its Data bytes."""

    links: tuple[tuple[CID, int], ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class UnixfsData:
    """The UnixFS fields medledger reads from a node's Data."""

    type: int
    data: bytes
    filesize: int | None
    blocksizes: tuple[int, ...]


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise IntegrityError("malformed protobuf varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) for the varint (0) and length-delimited (2) wire types."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
            yield field, value
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            if pos + length > len(buf):
                raise IntegrityError("truncated protobuf field")
            yield field, buf[pos : pos + length]
            pos += length
        else:
            raise IntegrityError(f"unexpected protobuf wire type {wire}")


def decode_pb_node(block: bytes) -> PBNode:
    """Decode a dag-pb block; raises :class:`IntegrityError` if it is not one."""
    links: list[tuple[CID, int]] = []
    data = b""
    for field, value in _fields(block):
        if field == 2 and isinstance(value, bytes):
            link_cid: CID | None = None
            tsize = 0
            for lfield, lvalue in _fields(value):
                if lfield == 1 and isinstance(lvalue, bytes):
                    try:
                        link_cid = CID.from_bytes(lvalue)
                    except InvalidInput as exc:
                        raise IntegrityError(f"unsupported link in dag-pb node: {exc}") from None
                elif lfield == 3 and isinstance(lvalue, int):
                    tsize = lvalue
            if link_cid is None:
                raise IntegrityError("dag-pb link without a hash")
            links.append((link_cid, tsize))
        elif field == 1 and isinstance(value, bytes):
            data = value
        else:
            raise IntegrityError(f"unexpected field {field} in a dag-pb node")
    return PBNode(tuple(links), data)


def decode_unixfs(data: bytes) -> UnixfsData:
    """Decode UnixFS Data (Type, Data, filesize, blocksizes)."""
    kind: int | None = None
    payload = b""
    filesize: int | None = None
    blocksizes: list[int] = []
    for field, value in _fields(data):
        if field == 1 and isinstance(value, int):
            kind = value
        elif field == 2 and isinstance(value, bytes):
            payload = value
        elif field == 3 and isinstance(value, int):
            filesize = value
        elif field == 4 and isinstance(value, int):
            blocksizes.append(value)
        elif field == 4 and isinstance(value, bytes):  # packed encoding, tolerated on read
            pos = 0
            while pos < len(value):
                size, pos = _read_varint(value, pos)
                blocksizes.append(size)
    if kind is None:
        raise IntegrityError("UnixFS data without a type")
    return UnixfsData(kind, payload, filesize, tuple(blocksizes))


def file_node(block: bytes) -> tuple[PBNode, UnixfsData]:
    """Decode a dag-pb block that must be a UnixFS file node."""
    node = decode_pb_node(block)
    unixfs = decode_unixfs(node.data)
    if unixfs.type not in (UNIXFS_FILE, UNIXFS_RAW):
        raise InvalidInput("the CID names a UnixFS directory or symlink, not a file")
    return node, unixfs


def file_size_of_root(cid: CID, block: bytes) -> int:
    """File size given the (verified) root block."""
    if cid.codec == RAW:
        return len(block)
    _node, unixfs = file_node(block)
    if unixfs.filesize is not None:
        return unixfs.filesize
    return len(unixfs.data)


def iter_file(root: CID, load: Callable[[CID], bytes]) -> Iterator[bytes]:
    """Yield a file's content leaf by leaf; ``load`` must return *verified* block bytes."""
    stack: list[CID] = [root]
    while stack:
        cid = stack.pop()
        block = load(cid)
        if cid.codec == RAW:
            if block:
                yield block
            continue
        node, unixfs = file_node(block)
        if unixfs.data:
            yield unixfs.data
        stack.extend(child for child, _tsize in reversed(node.links))


def child_cids(cid: CID, block: bytes) -> tuple[CID, ...]:
    """The CIDs a block links to (none for raw blocks)."""
    if cid.codec == RAW:
        return ()
    return tuple(child for child, _tsize in decode_pb_node(block).links)


def block_digest(parts: Iterable[Buffer]) -> bytes:
    """sha2-256 over the concatenation of ``parts``."""
    h = _sha256()
    for part in parts:
        h.update(part)
    return h.digest()


def verify_block(cid: CID, block: Buffer) -> None:
    """Raise :class:`IntegrityError` unless ``block`` hashes to ``cid``."""
    if _sha256(block).digest() != cid.digest:
        raise IntegrityError(f"block {cid} does not match its content hash (tampered or corrupt)")
