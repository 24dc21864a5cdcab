"""ABI lookup tables: custom-error selectors and event topics of the loaded contracts.

Revert data and logs name neither the contract nor the ABI they came from, so the chain layer
keeps one registry of every ``error`` and ``event`` entry it knows (the shipped suite, plus any
ABI a caller registers) and decodes by selector / topic.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import collapse_if_tuple
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from medledger.chain.types import DecodedEvent

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

_BUILTIN_ERRORS: list[dict[str, Any]] = [
    {"type": "error", "name": "Error", "inputs": [{"name": "message", "type": "string"}]},
    {"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]},
]


def abi_signature(entry: Mapping[str, Any]) -> str:
    """``Name(type1,type2)`` with tuples expanded, as hashed for selectors and topics."""
    types = ",".join(collapse_if_tuple(dict(i)) for i in entry.get("inputs", []))
    return f"{entry['name']}({types})"


def selector(entry: Mapping[str, Any]) -> bytes:
    """4-byte selector of a function or error ABI entry."""
    return keccak(text=abi_signature(entry))[:4]


def event_topic(entry: Mapping[str, Any]) -> bytes:
    """topic0 of a non-anonymous event ABI entry."""
    return keccak(text=abi_signature(entry))


def _normalize(abi_type: Mapping[str, Any], value: Any, *, named: bool = True) -> Any:
    """Checksum addresses; decoded tuples become dicts keyed by component name, or stay
    positional tuples with ``named=False`` (for struct dataclasses)."""
    t = str(abi_type["type"])
    if t.endswith("]"):
        inner = dict(abi_type)
        inner["type"] = t[: t.rindex("[")]
        return tuple(_normalize(inner, v, named=named) for v in value)
    if t == "address":
        return to_checksum_address(value)
    if t == "tuple":
        pairs = zip(abi_type.get("components", []), value, strict=True)
        if named:
            return {c["name"]: _normalize(c, v) for c, v in pairs}
        return tuple(_normalize(c, v, named=False) for c, v in pairs)
    return value


def decode_outputs(outputs: Sequence[Mapping[str, Any]], data: bytes) -> Any:
    """Decode a function's return data: the single value, or a tuple for several outputs.

    Addresses come back checksummed and structs as positional tuples.
    """
    types = [collapse_if_tuple(dict(o)) for o in outputs]
    values = abi_decode(types, data)
    decoded = tuple(_normalize(o, v, named=False) for o, v in zip(outputs, values, strict=True))
    return decoded[0] if len(decoded) == 1 else decoded


def decode_values(inputs: Sequence[Mapping[str, Any]], data: bytes) -> dict[str, Any]:
    """ABI-decode ``data`` against ``inputs`` into ``{name: value}`` (unnamed -> ``arg<i>``)."""
    types = [collapse_if_tuple(dict(i)) for i in inputs]
    values = abi_decode(types, data)
    return {
        (i.get("name") or f"arg{n}"): _normalize(i, v)
        for n, (i, v) in enumerate(zip(inputs, values, strict=True))
    }


class AbiRegistry:
    """Errors by selector and events by topic over every registered ABI (thread-safe)."""

    def __init__(self, abis: Iterable[Sequence[Mapping[str, Any]]] = ()) -> None:
        self._lock = threading.Lock()
        self._errors: dict[bytes, dict[str, Any]] = {}
        self._events: dict[tuple[bytes, int], dict[str, Any]] = {}
        self.register(_BUILTIN_ERRORS)
        for abi in abis:
            self.register(abi)

    def register(self, abi: Sequence[Mapping[str, Any]]) -> None:
        """Add the ``error`` and ``event`` entries of one contract ABI."""
        with self._lock:
            for entry in abi:
                if entry.get("type") == "error":
                    self._errors.setdefault(selector(entry), dict(entry))
                elif entry.get("type") == "event" and not entry.get("anonymous"):
                    # Same topic0 with a different indexed layout is a different event to decode.
                    n_indexed = sum(1 for i in entry.get("inputs", []) if i.get("indexed"))
                    self._events.setdefault((event_topic(entry), n_indexed), dict(entry))

    def error_for(self, data: bytes) -> dict[str, Any] | None:
        """The error ABI entry whose selector starts ``data``."""
        return self._errors.get(bytes(data[:4])) if len(data) >= 4 else None

    def decode_error(self, data: bytes) -> tuple[str, dict[str, Any]] | None:
        """``(name, args_by_name)`` for revert data, or None if the selector is unknown."""
        entry = self.error_for(data)
        if entry is None:
            return None
        try:
            return str(entry["name"]), decode_values(entry.get("inputs", []), bytes(data[4:]))
        except (DecodingError, ValueError, TypeError, OverflowError):
            return None

    def decode_log(self, log: Mapping[str, Any]) -> DecodedEvent | None:
        """Decode one receipt/``eth_getLogs`` log, or None if no registered event matches."""
        topics = [bytes(t) for t in log.get("topics", [])]
        if not topics:
            return None
        entry = self._events.get((topics[0], len(topics) - 1))
        if entry is None:
            return None
        inputs = entry.get("inputs", [])
        indexed = [i for i in inputs if i.get("indexed")]
        plain = [i for i in inputs if not i.get("indexed")]
        try:
            args = decode_values(plain, bytes(log.get("data", b"")))
            for i, topic in zip(indexed, topics[1:], strict=True):
                t = collapse_if_tuple(dict(i))
                if t in ("string", "bytes") or t.endswith("]") or t.startswith("("):
                    # dynamic indexed values are stored hashed; the topic is all we have
                    args[i["name"]] = topic
                else:
                    args[i["name"]] = _normalize(i, abi_decode([t], topic)[0])
        except (DecodingError, ValueError, TypeError, OverflowError):
            return None
        ordered = {i["name"]: args[i["name"]] for i in inputs}
        tx_hash = log.get("transactionHash", b"")
        return DecodedEvent(
            name=str(entry["name"]),
            args=ordered,
            address=to_checksum_address(log["address"]),
            block_number=int(log.get("blockNumber") or 0),
            tx_hash=_hex(tx_hash),
            log_index=int(log.get("logIndex") or 0),
        )


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value)
