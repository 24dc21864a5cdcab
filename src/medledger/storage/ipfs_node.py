"""IPFS node backend: any daemon speaking the Kubo RPC API (Kubo, a pinning-cluster proxy, js-ipfs).

Talks through ``ipfshttpclient`` 0.7.0, constructed directly (``ipfshttpclient.connect()``
refuses every daemon newer than 0.8). The node is never trusted:

- ``add`` is sent with medledger's UnixFS parameters spelled out (chunker, CID version, raw
  leaves, no trickle), never the daemon's defaults, and the CID it answers must equal the CID
  computed locally while uploading;
- every read recomputes the CID from the bytes that came back (``cat``) or hashes each block
  (``block/get``, ``dag/export``) and raises IntegrityError on a mismatch;
- CIDs are compared as decoded values (js-ipfs answers CIDv1 in base58btc).

Every call has a client-side timeout (the node must answer HTTP in time, else StoreTimeout) and,
where a missing block could make the node search forever, the RPC ``timeout`` argument (the node
gives up after ``rpc_timeout`` and we raise BlockNotFound: content the node cannot produce in
time is, for the caller, not there). Exceptions from the HTTP layer never escape unwrapped.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterator
from typing import IO, Any, Final, TypeVar

import ipfshttpclient
import requests
from ipfshttpclient import exceptions as ipfs_exc

from medledger.errors import (
    BlockNotFound,
    IntegrityError,
    InvalidInput,
    MedledgerError,
    StorageError,
    StoreTimeout,
    StoreUnavailable,
)
from medledger.storage import car
from medledger.storage.base import (
    BlockStore,
    CidLike,
    ContentStat,
    GcResult,
    bounded,
    check_size,
)
from medledger.storage.cid import CID, RAW
from medledger.storage.unixfs import (
    CHUNK_SIZE,
    FileDagBuilder,
    Rechunker,
    Source,
    file_size_of_root,
    iter_chunks,
    verify_block,
)

# ipfshttpclient 0.7.0 passes urllib3 1.x's `strict=True` to every connection pool it creates;
# urllib3 2.x ignores it but warns on every request. The argument is harmless and the library is
# unmaintained, so silence exactly that message (not FutureWarnings in general).
warnings.filterwarnings(
    "ignore", message=r"The 'strict' parameter is no longer needed", category=FutureWarning
)

T = TypeVar("T")

_CONNECT_TIMEOUT: Final = 5.0
#: No medledger block is larger (256 KiB leaves, dag-pb nodes of at most 174 links); Kubo's own
#: block limit is 2 MiB too. A node sending more for one block is refused while it streams.
MAX_BLOCK_SIZE: Final = 2 << 20
_NOT_FOUND_MARKERS: Final = (
    "not found",
    "timed out",
    "deadline exceeded",
    "no link named",
    "could not resolve",
    "dag node not found",
)


def api_multiaddr(api: str) -> tuple[str, str]:
    """(multiaddr, URL) of an RPC API given as ``/ip4/H/tcp/P/http`` or ``http://H:P``."""
    text = api.strip()
    if text.startswith("/"):
        parts = text.strip("/").split("/")
        if len(parts) < 4 or parts[0] not in ("ip4", "ip6", "dns", "dns4", "dns6"):
            raise InvalidInput(f"unsupported IPFS API multiaddr {api!r}")
        if parts[2] != "tcp" or not parts[3].isdigit():
            raise InvalidInput(f"IPFS API multiaddr {api!r} needs /tcp/<port>")
        scheme = parts[4] if len(parts) > 4 else "http"
        if scheme not in ("http", "https") or len(parts) > 5:
            raise InvalidInput(f"unsupported IPFS API multiaddr {api!r}")
        host = f"[{parts[1]}]" if parts[0] == "ip6" else parts[1]
        return "/" + "/".join([*parts[:4], scheme]), f"{scheme}://{host}:{parts[3]}"
    url = urllib.parse.urlsplit(text)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise InvalidInput(f"IPFS API must be http(s)://host:port or a multiaddr, not {api!r}")
    if url.path.rstrip("/") not in ("", "/api/v0"):
        raise InvalidInput(f"unexpected path in IPFS API URL {api!r}")
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
    except ValueError:
        raise InvalidInput(f"bad port in IPFS API URL {api!r}") from None
    host = url.hostname
    try:
        proto = "ip4" if ipaddress.ip_address(host).version == 4 else "ip6"
    except ValueError:
        proto = "dns"
    netloc = f"[{host}]" if proto == "ip6" else host
    return f"/{proto}/{host}/tcp/{port}/{url.scheme}", f"{url.scheme}://{netloc}:{port}"


def _seconds(value: float) -> str:
    return f"{max(1, round(value * 1000))}ms"


class IpfsNodeStore(BlockStore):
    """Records on an IPFS node reached through its RPC API.

    ``timeout``: seconds the node may stay silent on the HTTP connection (client side).
    ``rpc_timeout``: seconds the node may spend finding content (RPC ``timeout`` argument);
    keep it below ``timeout`` so a missing block is reported as BlockNotFound.
    ``has_timeout``: the same bound for :meth:`has`, which should answer fast.
    ``read_deadline``: seconds one content read may take in total (``timeout`` bounds each
    silence only, so a node trickling bytes would otherwise hold a read forever).
    """

    def __init__(
        self,
        api: str,
        *,
        timeout: float = 60.0,
        rpc_timeout: float = 30.0,
        has_timeout: float = 2.0,
        read_deadline: float = 600.0,
    ) -> None:
        if min(timeout, rpc_timeout, has_timeout, read_deadline) <= 0:
            raise InvalidInput("timeouts must be positive")
        self._addr, self.url = api_multiaddr(api)
        self.location = f"ipfs:{self.url}"
        self._timeout = timeout
        self._rpc_timeout = rpc_timeout
        self._has_timeout = has_timeout
        self._read_deadline = read_deadline
        try:
            self._client = ipfshttpclient.Client(
                self._addr, timeout=(_CONNECT_TIMEOUT, timeout), chunk_size=CHUNK_SIZE
            )
        except ipfs_exc.AddressError as exc:
            raise InvalidInput(f"unusable IPFS API address {api!r}: {exc}") from None

    # --- error mapping -------------------------------------------------------------------

    def _call(self, what: str, cid: CID | None, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except MedledgerError:
            raise
        except BaseException as exc:
            raise self._wrap(exc, what, cid) from exc

    def _wrap(self, exc: BaseException, what: str, cid: CID | None) -> BaseException:
        subject = f"{what} {cid}" if cid is not None else what
        if isinstance(exc, (ipfs_exc.TimeoutError, requests.Timeout, TimeoutError)):
            return StoreTimeout(
                f"IPFS node {self.url} did not answer within {self._timeout:g} s ({subject})",
                hint="check that the node is healthy, or raise the timeout",
            )
        if isinstance(
            exc, (ipfs_exc.ConnectionError, ipfs_exc.ProtocolError, requests.ConnectionError)
        ):
            return StoreUnavailable(
                f"IPFS node {self.url} is unreachable ({subject})",
                hint="start the node, or check MEDLEDGER_IPFS_API / --store",
            )
        if isinstance(exc, ipfs_exc.ErrorResponse):
            message = str(exc)
            if cid is not None and any(m in message.lower() for m in _NOT_FOUND_MARKERS):
                return BlockNotFound(
                    f"{cid} not found on IPFS node {self.url} within "
                    f"{self._rpc_timeout:g} s: {message}"
                )
            return StorageError(f"IPFS node {self.url} refused {subject}: {message}")
        if isinstance(exc, (ipfs_exc.Error, requests.RequestException)):
            return StorageError(f"IPFS node {self.url} failed {subject}: {exc}")
        return exc  # not an HTTP-layer failure (e.g. a bug, KeyboardInterrupt): keep it

    def _guard_stream(self, what: str, cid: CID, pieces: Iterator[bytes]) -> Iterator[bytes]:
        """Re-raise HTTP failures that happen while a response streams in, as typed errors."""
        try:
            yield from pieces
        except MedledgerError:
            raise
        except BaseException as exc:
            raise self._wrap(exc, what, cid) from exc

    # --- writing -------------------------------------------------------------------------

    def put_stream(self, source: Source, *, version: int = 1, pin: bool = True) -> CID:
        """Add content with medledger's UnixFS parameters; the node's CID must match ours."""
        if version not in (0, 1):
            raise InvalidInput(f"CID version must be 0 or 1, not {version!r}")
        builder = FileDagBuilder(version)

        def body() -> Iterator[bytes]:
            # Hash while uploading: the upload is 30x slower than hashing, so this is free.
            for chunk in iter_chunks(source):
                builder.add_chunk(chunk)
                yield chunk if isinstance(chunk, bytes) else bytes(chunk)

        opts = {
            "cid-version": str(version),
            "raw-leaves": "true" if version == 1 else "false",
            "chunker": f"size-{CHUNK_SIZE}",
            "hash": "sha2-256",
            "trickle": "false",
            "pin": "true" if pin else "false",
            "wrap-with-directory": "false",
        }
        # add_bytes streams the generator as one multipart part that carries
        # "Content-Type: application/octet-stream" (js-ipfs answers 500 without one).
        answer = self._call(
            "adding content", None, lambda: self._client.add_bytes(body(), opts=opts)
        )
        expected = builder.finish()
        try:
            got = CID.parse(str(answer))
        except InvalidInput:
            raise IntegrityError(
                f"IPFS node {self.url} answered a malformed CID {answer!r}"
            ) from None
        if got != expected:
            if pin:
                # Best effort: do not leave the node pinning content under a CID we refuse.
                with contextlib.suppress(Exception):
                    self._client.pin.rm(str(got), opts={"timeout": _seconds(self._rpc_timeout)})
            raise IntegrityError(
                f"IPFS node {self.url} stored the content as {got}, expected {expected}: it "
                "ignores the requested UnixFS parameters or altered the data"
            )
        return expected

    # --- reading -------------------------------------------------------------------------

    def _cat(self, cid: CID, *, stream: bool) -> Any:
        return self._call(
            "reading",
            cid,
            lambda: self._client.cat(
                str(cid), opts={"timeout": _seconds(self._rpc_timeout)}, stream=stream
            ),
        )

    def get_block(self, cid: CidLike, *, max_size: int | None = None) -> bytes:
        """``block/get``, verified, streamed with a cap (never more than MAX_BLOCK_SIZE)."""
        return self._block(CID.parse(cid), max_size)

    def get_stream(self, cid: CidLike, *, max_size: int | None = None) -> Iterator[bytes]:
        """The root block is fetched and verified first and its declared size checked against
        ``max_size``; then ``cat`` streams, counted (never past the declared size), within the
        read deadline; the final ``next()`` raises IntegrityError if the CID does not match."""
        root = CID.parse(cid)
        block = self._block(root, max_size if root.codec == RAW else None)
        declared = file_size_of_root(root, block)
        check_size(root, declared, max_size)
        if root.codec == RAW:  # the block is the content, verified already
            return bounded(root, iter([block] if block else []), declared, max_size)
        response = self._cat(root, stream=True)
        return self._verified_stream(root, response, declared, max_size)

    def _verified_stream(
        self, root: CID, response: Any, declared: int, max_size: int | None
    ) -> Iterator[bytes]:
        builder = FileDagBuilder(root.version)
        rechunker = Rechunker()
        deadline = time.monotonic() + self._read_deadline
        pieces = self._guard_stream("reading", root, iter(response))
        try:
            for piece in bounded(root, pieces, declared, max_size):
                if time.monotonic() > deadline:
                    raise StoreTimeout(
                        f"IPFS node {self.url} did not deliver {root} ({declared} bytes) within "
                        f"the read deadline of {self._read_deadline:g} s",
                        hint="raise read_deadline for very large content on a slow node",
                    )
                for chunk in rechunker.feed(piece):
                    builder.add_chunk(chunk)
                yield piece
            for chunk in rechunker.flush():
                builder.add_chunk(chunk)
        finally:
            response.close()
        got = builder.finish()
        if got != root:
            raise IntegrityError(
                f"IPFS node {self.url} returned content for {root} that hashes to {got} "
                "(tampered, or added with other UnixFS parameters than medledger's)"
            )

    def _block(self, cid: CID, max_size: int | None = None) -> bytes:
        limit = MAX_BLOCK_SIZE if max_size is None else min(max_size, MAX_BLOCK_SIZE)
        response = self._call(
            "reading block",
            cid,
            lambda: self._client.block.get(
                str(cid), opts={"timeout": _seconds(self._rpc_timeout)}, stream=True
            ),
        )
        buf = bytearray()
        deadline = time.monotonic() + self._read_deadline
        try:
            for piece in self._guard_stream("reading block", cid, iter(response)):
                buf += piece
                if len(buf) > limit:
                    if max_size is not None and limit == max_size:
                        check_size(cid, len(buf), max_size)
                    raise IntegrityError(
                        f"IPFS node {self.url} sends a block {cid} larger than "
                        f"{MAX_BLOCK_SIZE} bytes (no medledger block is); reading stopped"
                    )
                if time.monotonic() > deadline:
                    raise StoreTimeout(
                        f"IPFS node {self.url} did not deliver block {cid} within the read "
                        f"deadline of {self._read_deadline:g} s"
                    )
        finally:
            response.close()
        block = bytes(buf)
        verify_block(cid, block)
        return block

    def has(self, cid: CidLike) -> bool:
        """Root block present on the node (Kubo: local only; js-ipfs: within ``has_timeout``)."""
        root = CID.parse(cid)
        try:
            self._client.block.stat(
                str(root), opts={"timeout": _seconds(self._has_timeout)}, offline=True
            )
        except ipfs_exc.ErrorResponse as exc:
            if any(m in str(exc).lower() for m in _NOT_FOUND_MARKERS):
                return False
            raise self._wrap(exc, "checking", root) from exc
        except BaseException as exc:
            wrapped = self._wrap(exc, "checking", root)
            if wrapped is exc:
                raise
            raise wrapped from exc
        return True

    def stat(self, cid: CidLike) -> ContentStat:
        """Size from the verified root block; pin state from ``pin/ls``."""
        root = CID.parse(cid)
        size = file_size_of_root(root, self._block(root))
        return ContentStat(root, size, self._is_pinned(root))

    def _is_pinned(self, cid: CID) -> bool:
        opts = {"timeout": _seconds(self._rpc_timeout)}
        answer = self._unless_not_pinned(
            "listing pins of",
            cid,
            lambda: self._client.pin.ls(str(cid), type="recursive", opts=opts),
        )
        return answer is not None and cid in _parse_pin_keys(answer)

    def _unless_not_pinned(self, what: str, cid: CID, fn: Callable[[], T]) -> T | None:
        """``fn()``, or None when the node answers that ``cid`` is not pinned."""
        try:
            return fn()
        except ipfs_exc.ErrorResponse as exc:
            if "not pinned" in str(exc).lower():
                return None
            raise self._wrap(exc, what, cid) from exc
        except BaseException as exc:
            wrapped = self._wrap(exc, what, cid)
            if wrapped is exc:
                raise
            raise wrapped from exc

    # --- pins and GC ---------------------------------------------------------------------

    def pin(self, cid: CidLike) -> None:
        """Pin recursively on the node (fetching what it lacks, within ``rpc_timeout``)."""
        root = CID.parse(cid)
        self._call(
            "pinning",
            root,
            lambda: self._client.pin.add(str(root), opts={"timeout": _seconds(self._rpc_timeout)}),
        )

    def unpin(self, cid: CidLike) -> bool:
        """Remove the recursive pin; False if it was not pinned."""
        root = CID.parse(cid)
        opts = {"timeout": _seconds(self._rpc_timeout)}
        removed = self._unless_not_pinned(
            "unpinning", root, lambda: self._client.pin.rm(str(root), opts=opts) or True
        )
        return removed is not None

    def pins(self) -> frozenset[CID]:
        """The node's recursive pins (may include pins made by others on a shared node)."""
        answer = self._call("listing pins", None, lambda: self._client.pin.ls(type="recursive"))
        return frozenset(_parse_pin_keys(answer))

    def gc(self) -> GcResult:
        """Run the node's garbage collector (``repo/gc``)."""
        answer = self._call("collecting garbage", None, lambda: self._client.repo.gc())
        removed = 0
        answer = _plain(answer)
        for item in answer if isinstance(answer, list) else []:
            if isinstance(item, dict) and item.get("Error"):
                raise StorageError(f"IPFS node {self.url} failed to collect: {item['Error']}")
            removed += 1
        return GcResult(removed, None)

    # --- CAR -----------------------------------------------------------------------------

    def export_car(self, cid: CidLike, out: IO[bytes]) -> int:
        """``dag/export``, re-encoded after verifying every block and the root."""
        root = CID.parse(cid)
        response = self._call(
            "exporting",
            root,
            lambda: self._client.dag.export(
                str(root), opts={"timeout": _seconds(self._rpc_timeout)}, stream=True
            ),
        )
        try:
            reader = _IterReader(self._guard_stream("exporting", root, iter(response)))
            roots = car.read_header(reader)
            if roots != (root,):
                raise IntegrityError(f"IPFS node {self.url} exported {roots} for {root}")
            return car.write_car(out, roots, car.read_blocks(reader))
        finally:
            response.close()

    def import_car(self, source: IO[bytes], *, pin: bool = True) -> tuple[CID, ...]:
        """``dag/import`` (roots pinned if ``pin``); the node's roots must equal the header's."""
        roots = car.read_header(source)
        reader = _PrefixedReader(car.encode_header(roots), source)
        answer = self._call(
            "importing a CAR",
            None,
            lambda: self._client.dag.imprt(reader, opts={"pin-roots": "true" if pin else "false"}),
        )
        got: set[CID] = set()
        answer = _plain(answer)
        for item in answer if isinstance(answer, list) else [answer]:
            root_info = item.get("Root") if isinstance(item, dict) else None
            if isinstance(root_info, dict):
                if root_info.get("PinErrorMsg"):
                    raise StorageError(f"IPFS node {self.url}: {root_info['PinErrorMsg']}")
                got.add(CID.parse(_cid_text(root_info.get("Cid"))))
        if pin and got != set(roots):
            raise IntegrityError(f"IPFS node {self.url} imported roots {got}, expected {roots}")
        return roots


def _cid_text(value: object) -> str:
    if isinstance(value, dict):
        value = value.get("/")
    if not isinstance(value, str):
        raise StorageError(f"unexpected CID value from the IPFS node: {value!r}")
    return value


def _plain(answer: object) -> object:
    """ipfshttpclient wraps JSON answers in ResponseBase objects; unwrap to dicts and lists."""
    as_json = getattr(answer, "as_json", None)
    if callable(as_json):
        return as_json()
    if isinstance(answer, list):
        return [_plain(item) for item in answer]
    return answer


def _parse_pin_keys(answer: object) -> set[CID]:
    answer = _plain(answer)
    keys = answer.get("Keys") if isinstance(answer, dict) else None
    if not isinstance(keys, dict):
        raise StorageError(f"unexpected pin/ls answer: {answer!r}")
    return {CID.parse(key) for key in keys}


def _check_content(root: CID, chunks: Iterator[Any], url: str) -> None:
    builder = FileDagBuilder(root.version)
    for chunk in chunks:
        builder.add_chunk(chunk)
    got = builder.finish()
    if got != root:
        raise IntegrityError(
            f"IPFS node {url} returned content for {root} that hashes to {got} "
            "(tampered, or added with other UnixFS parameters than medledger's)"
        )


class _IterReader:
    """A minimal ``read(n)`` file interface over an iterator of byte pieces."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._buf = b""
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        while len(self._buf) - self._pos < n or n < 0:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buf = self._buf[self._pos :] + piece
            self._pos = 0
        if n < 0:
            n = len(self._buf) - self._pos
        out = self._buf[self._pos : self._pos + n]
        self._pos += len(out)
        return out


class _PrefixedReader:
    """``prefix`` followed by the rest of ``stream``, as a readable file object."""

    name = "records.car"  # part name for the multipart upload (content type guessed from it)

    def __init__(self, prefix: bytes, stream: IO[bytes]) -> None:
        self._prefix = prefix
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            out = self._prefix if n < 0 else self._prefix[:n]
            self._prefix = self._prefix[len(out) :]
            return out
        return self._stream.read(n)

    def close(self) -> None:
        """Nothing to close: the caller owns the stream."""
