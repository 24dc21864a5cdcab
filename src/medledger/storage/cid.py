"""The CID value type: content identifiers as decoded values, never as strings.

medledger only produces and accepts the CIDs its stores can verify: sha2-256 multihashes (32-byte
digests) with codec raw (0x55) or dag-pb (0x70); CIDv0 (``Qm...``, always dag-pb) or CIDv1.
Anything else (identity hashes, other codecs) is refused with :class:`InvalidInput`, because a
CID we cannot recompute is a CID we cannot check content against.

Two CIDs are equal when their decoded values are equal (version, codec, digest), so
``bafy...`` and ``zdj7...`` (the same CIDv1 in base32 and base58btc, as js-ipfs returns it) compare
equal, while a CIDv0 and a CIDv1 never do (use :meth:`CID.to_v1` to compare across versions).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Final

from multiformats import CID as _MfCID
from multiformats import multibase

from medledger.errors import InvalidInput

#: multicodec of raw binary blocks (CIDv1 raw leaves, ``bafk...``)
RAW: Final = 0x55
#: multicodec of dag-pb (UnixFS) nodes (``Qm...``, ``bafy...``)
DAG_PB: Final = 0x70
#: multihash code of sha2-256
SHA2_256: Final = 0x12
DIGEST_SIZE: Final = 32

_CODECS: Final = {RAW: "raw", DAG_PB: "dag-pb"}
_MH_PREFIX: Final = bytes((SHA2_256, DIGEST_SIZE))
# CIDv1 binary prefix per codec: version 1, codec varint (both codecs < 0x80), sha2-256, 32 bytes
_V1_PREFIX: Final = {codec: bytes((1, codec)) + _MH_PREFIX for codec in _CODECS}


@dataclass(frozen=True, slots=True)
class CID:
    """A content identifier (decoded): ``version`` 0/1, ``codec`` raw/dag-pb, sha2-256 ``digest``.

    Construct with :meth:`parse` (string or binary form), :func:`cid_from_digest`, or directly.
    ``str(cid)`` gives the canonical text form: base58btc ``Qm...`` for v0, base32 ``b...`` for v1
    (what ``ipfs add --only-hash -Q [--cid-version=1]`` prints).
    """

    version: int
    codec: int
    digest: bytes

    def __post_init__(self) -> None:
        if self.version not in (0, 1):
            raise InvalidInput(f"unsupported CID version {self.version!r}")
        if self.codec not in _CODECS:
            raise InvalidInput(
                f"unsupported CID codec 0x{self.codec:x}: medledger stores only raw (0x55) "
                "and dag-pb (0x70) blocks"
            )
        if self.version == 0 and self.codec != DAG_PB:
            raise InvalidInput("a CIDv0 is always dag-pb")
        if not isinstance(self.digest, bytes) or len(self.digest) != DIGEST_SIZE:
            raise InvalidInput("a CID digest must be 32 bytes (sha2-256)")

    # --- parsing -------------------------------------------------------------------------

    @classmethod
    def parse(cls, value: str | bytes | CID) -> CID:
        """Decode a CID from text (any multibase, or a bare ``Qm...``) or its binary form."""
        if isinstance(value, CID):
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            return cls.from_bytes(bytes(value))
        if not isinstance(value, str):
            raise InvalidInput(f"a CID must be a string or bytes, not {type(value).__name__}")
        text = value.strip()
        if text.startswith("/ipfs/"):
            text = text[len("/ipfs/") :]
        try:
            decoded = _MfCID.decode(text)
        except Exception as exc:  # multiformats raises many unrelated types; all mean "not a CID"
            raise InvalidInput(f"not a valid CID: {value!r} ({exc})") from None
        if decoded.hashfun.code != SHA2_256:
            raise InvalidInput(f"CID {value!r} does not use sha2-256; medledger cannot verify it")
        return cls(decoded.version, decoded.codec.code, bytes(decoded.raw_digest))

    @classmethod
    def from_bytes(cls, data: bytes) -> CID:
        """Decode the binary form (a CIDv0 is its bare multihash)."""
        if len(data) == 2 + DIGEST_SIZE and data[:2] == _MH_PREFIX:
            return cls(0, DAG_PB, bytes(data[2:]))
        if len(data) == 4 + DIGEST_SIZE:
            for codec, prefix in _V1_PREFIX.items():
                if data[:4] == prefix:
                    return cls(1, codec, bytes(data[4:]))
        raise InvalidInput(
            f"not a sha2-256 raw/dag-pb CID: {bytes(data[:8]).hex()}... ({len(data)} bytes)"
        )

    # --- forms ---------------------------------------------------------------------------

    @property
    def multihash(self) -> bytes:
        """The sha2-256 multihash (``0x12 0x20 || digest``): what blockstores key blocks by."""
        return _MH_PREFIX + self.digest

    @property
    def codec_name(self) -> str:
        """``"raw"`` or ``"dag-pb"``."""
        return _CODECS[self.codec]

    def to_bytes(self) -> bytes:
        """The binary form, as it appears in dag-pb links and CAR files."""
        if self.version == 0:
            return self.multihash
        return _V1_PREFIX[self.codec] + self.digest

    def __bytes__(self) -> bytes:
        return self.to_bytes()

    def encode(self, base: str = "base32") -> str:
        """Text form. v0 is always base58btc without prefix; v1 uses ``base`` (default base32)."""
        if self.version == 0:
            return str(multibase.encode(self.multihash, "base58btc"))[1:]
        if base == "base32":
            # The hot path (every block name): standard library, lower case, no padding.
            return "b" + base64.b32encode(self.to_bytes()).decode("ascii").lower().rstrip("=")
        try:
            return str(multibase.encode(self.to_bytes(), base))
        except Exception as exc:
            raise InvalidInput(f"unknown multibase {base!r}: {exc}") from None

    def __str__(self) -> str:
        return self.encode()

    def __repr__(self) -> str:
        return f"CID({self.encode()!r})"

    def to_v1(self) -> CID:
        """The same content as CIDv1 (identity for v1)."""
        return self if self.version == 1 else CID(1, self.codec, self.digest)

    def to_v0(self) -> CID:
        """The same dag-pb node as CIDv0; raises :class:`InvalidInput` for raw blocks."""
        if self.codec != DAG_PB:
            raise InvalidInput("only dag-pb CIDs have a CIDv0 form")
        return self if self.version == 0 else CID(0, DAG_PB, self.digest)


def cid_from_digest(digest: bytes, codec: int) -> CID:
    """Rebuild the CIDv1 that the chain references by its 32-byte digest and codec flag."""
    if not isinstance(digest, (bytes, bytearray)):
        raise InvalidInput("a CID digest must be bytes")
    return CID(1, codec, bytes(digest))


def as_cid(value: str | bytes | CID) -> CID:
    """Accept any CID form callers may hold (shorthand for :meth:`CID.parse`)."""
    return CID.parse(value)
