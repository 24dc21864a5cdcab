"""Big-endian binary encoding helpers shared by the crypto formats (private).

Every medledger binary format is a fixed sequence of big-endian integers and length-prefixed byte
strings. The reader turns any truncation, trailing garbage or out-of-range value into
:class:`~medledger.errors.InvalidInput` so that parsers never raise ``struct.error`` or
``IndexError`` at callers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from medledger.errors import InvalidInput

#: Sentinel for "no end" in u64 time fields (an open epoch or a grant without expiry).
OPEN_END = 0xFFFF_FFFF_FFFF_FFFF

_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


class Writer:
    """Appends fixed-width integers and byte strings to a buffer."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def raw(self, data: bytes) -> Writer:
        self._buf += data
        return self

    def u8(self, value: int) -> Writer:
        return self.raw(_U8.pack(value))

    def u16(self, value: int) -> Writer:
        return self.raw(_U16.pack(value))

    def u32(self, value: int) -> Writer:
        return self.raw(_U32.pack(value))

    def u64(self, value: int) -> Writer:
        return self.raw(_U64.pack(value))

    def bytes16(self, data: bytes) -> Writer:
        """A byte string with a u16 length prefix."""
        return self.u16(len(data)).raw(data)

    def bytes32(self, data: bytes) -> Writer:
        """A byte string with a u32 length prefix."""
        return self.u32(len(data)).raw(data)

    def getvalue(self) -> bytes:
        return bytes(self._buf)


class Reader:
    """Reads what :class:`Writer` wrote; every malformation becomes ``InvalidInput``."""

    def __init__(self, data: bytes | memoryview, what: str) -> None:
        self._view = memoryview(data)
        self._pos = 0
        self._what = what

    @property
    def position(self) -> int:
        return self._pos

    def _take(self, n: int) -> memoryview:
        end = self._pos + n
        if end > len(self._view):
            raise InvalidInput(f"{self._what} is truncated")
        out = self._view[self._pos : end]
        self._pos = end
        return out

    def u8(self) -> int:
        return int(_U8.unpack(self._take(1))[0])

    def u16(self) -> int:
        return int(_U16.unpack(self._take(2))[0])

    def u32(self) -> int:
        return int(_U32.unpack(self._take(4))[0])

    def u64(self) -> int:
        return int(_U64.unpack(self._take(8))[0])

    def raw(self, n: int) -> bytes:
        return bytes(self._take(n))

    def bytes16(self) -> bytes:
        return self.raw(self.u16())

    def bytes32(self) -> bytes:
        return self.raw(self.u32())

    def magic(self, expected: bytes) -> None:
        if self.raw(len(expected)) != expected:
            raise InvalidInput(f"not a {self._what} (bad magic)")

    def header(self, magic: bytes, versions: tuple[int, ...]) -> int:
        """Check the format's magic, then read its u8 version; one of ``versions`` or
        ``InvalidInput``."""
        self.magic(magic)
        version = self.u8()
        if version not in versions:
            raise InvalidInput(f"unsupported {self._what} version {version}")
        return version

    def end(self) -> None:
        """Assert that everything was consumed."""
        if self._pos != len(self._view):
            raise InvalidInput(f"{self._what} has {len(self._view) - self._pos} trailing bytes")


def encode_until(valid_until: int | None) -> int:
    """``None`` (open) -> the u64 sentinel."""
    return OPEN_END if valid_until is None else valid_until


def decode_until(value: int) -> int | None:
    return None if value == OPEN_END else value


def parse_address(address: str | bytes) -> bytes:
    """An EVM address as 20 raw bytes, from ``0x``-hex (any case) or 20 bytes."""
    if isinstance(address, bytes):
        if len(address) != 20:
            raise InvalidInput(f"an address is 20 bytes, got {len(address)}")
        return address
    if not isinstance(address, str):
        raise InvalidInput(f"address must be a 0x-hex string, got {type(address).__name__}")
    text = address[2:] if address[:2] in ("0x", "0X") else address
    if len(text) != 40:
        raise InvalidInput(f"not an EVM address: {address!r}")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise InvalidInput(f"not an EVM address: {address!r}") from None


def check_uint(name: str, value: int, bits: int) -> int:
    """Range-check an unsigned integer field before it is encoded."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer, got {type(value).__name__}")
    if not 0 <= value < (1 << bits):
        raise InvalidInput(f"{name} out of range for uint{bits}: {value}")
    return value


@dataclass(frozen=True, slots=True)
class Domain:
    """The deployment a format-v2 container is bound to: chain id and MedLedger contract.

    It is part of the container's authenticated header and of its HPKE ``info``; a reader
    compares it with its own deployment, so a container cannot be replayed on another chain or
    another deployment (whose patient ids and grantees would otherwise line up).
    """

    chain_id: int
    contract: bytes

    @classmethod
    def of(cls, chain_id: int, contract: str | bytes) -> Domain:
        return cls(check_uint("chain id", chain_id, 64), parse_address(contract))

    def encode(self) -> bytes:
        return _U64.pack(self.chain_id) + self.contract


#: "not bound to a deployment" (chain id 0, zero address): what crypto-level callers that pass
#: no domain get; a reader expecting a real deployment refuses it.
UNBOUND = Domain(0, bytes(20))
