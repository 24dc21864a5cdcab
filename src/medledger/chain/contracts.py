"""Typed bindings for the deployed MedLedger and AnchorRegistry contracts.

One Python method per external function of docs/architecture.md, snake_case. View functions are
a single ``eth_call`` and return the dataclasses of :mod:`medledger.chain.types`; state-changing
functions go through a :class:`~medledger.chain.transactions.TxSender` (simulated first, reverts
raised as decoded typed errors) and return a :class:`~medledger.chain.types.TxResult` with the
decoded events. Bind a different signer with :meth:`BoundContract.connect_as`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self, cast

from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError, EncodingError
from eth_typing import ABIFunction, HexStr
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.contract import Contract
from web3.exceptions import Web3Exception
from web3.types import BlockIdentifier, FilterParams, RPCEndpoint

from medledger.chain.artifacts import Artifact
from medledger.chain.codec import AbiRegistry, decode_outputs, event_topic
from medledger.chain.connection import Chain
from medledger.chain.errors import error_from_exception, error_from_rpc_error, shared_registry
from medledger.chain.transactions import TxSender
from medledger.chain.types import (
    DecodedEvent,
    TxResult,
)
from medledger.errors import ChainError, InvalidInput

DEFAULT_PAGE_SIZE = 5_000
_RANGE_ERRORS = ("range", "limit", "too many", "exceed", "10000", "block range")


def checksum(value: Any, what: str = "address") -> str:
    """``value`` as a checksummed address; :class:`InvalidInput` (not ValueError) otherwise."""
    try:
        return str(to_checksum_address(value))
    except (ValueError, TypeError):
        raise InvalidInput(
            f"{what} {value!r} is not an address", hint="0x followed by 40 hex digits"
        ) from None


class BoundContract:
    """A deployed contract: web3 object, ABI registry and (optionally) a default sender."""

    def __init__(
        self,
        chain: Chain,
        address: str,
        artifact: Artifact,
        *,
        sender: TxSender | None = None,
        deploy_block: int = 0,
        registry: AbiRegistry | None = None,
    ) -> None:
        self.chain = chain
        self.address = to_checksum_address(address)
        self.artifact = artifact
        self.deploy_block = deploy_block
        self.registry = (
            registry
            if registry is not None
            else (sender.registry if sender is not None else shared_registry())
        )
        self.registry.register(artifact.abi)
        self.contract: Contract = chain.w3.eth.contract(address=self.address, abi=artifact.abi)
        self.sender = sender
        self._events = {e["name"]: e for e in artifact.abi_entries("event")}
        self._functions: dict[tuple[str, int], tuple[Mapping[str, Any], bytes, list[str]]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address})"

    def connect_as(self, sender: TxSender) -> Self:
        """The same contract, sending transactions from ``sender``'s account."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.sender = sender
        sender.registry.register(self.artifact.abi)
        return clone

    # --- plumbing ----------------------------------------------------------------------------

    def _encode(self, name: str, *args: Any) -> tuple[Mapping[str, Any], HexStr]:
        """The function's ABI entry (for its outputs) and the calldata.

        Encoded with ``eth_abi`` against the ABI entry resolved once per (name, arity): web3's
        ``functions[name](...)`` + ``encode_abi`` re-resolve the ABI on every call (~20 ms a
        call on these ABIs, a seventh of a logged read).
        """
        key = (name, len(args))
        resolved = self._functions.get(key)
        if resolved is None:
            candidates = [
                e
                for e in self.artifact.abi_entries("function")
                if e["name"] == name and len(e.get("inputs", [])) == len(args)
            ]
            if len(candidates) != 1:
                raise InvalidInput(
                    f"{type(self).__name__} has no function {name} taking {len(args)} arguments"
                )
            found = cast(ABIFunction, candidates[0])
            resolved = (found, function_abi_to_4byte_selector(found), get_abi_input_types(found))
            self._functions[key] = resolved
        entry, selector, types = resolved
        try:
            return entry, HexStr("0x" + (selector + abi_encode(types, list(args))).hex())
        except (EncodingError, TypeError, ValueError, OverflowError) as exc:
            # e.g. a patient id beyond uint64: eth_abi's message is long; keep its gist
            shown = ", ".join(repr(a) for a in args)
            shown = shown if len(shown) <= 200 else shown[:200] + "..."
            raise InvalidInput(
                f"bad arguments for {name}({shown}): a value is malformed or out of range",
                hint="check the ids, addresses, times and amounts given",
            ) from exc

    def calldata(self, name: str, *args: Any) -> bytes:
        """Calldata of ``name(args)`` (for a multisig, a timelock or a batch to send)."""
        return bytes.fromhex(self._encode(name, *args)[1][2:])

    def call(self, name: str, *args: Any, block: BlockIdentifier = "latest") -> Any:
        """Call the view function ``name`` (ABI name) and return its decoded result.

        One value for a single output, a tuple for several; structs as positional tuples,
        addresses checksummed. A revert raises the decoded typed error.
        """
        return self._view(name, *args, block=block)

    def _view(self, name: str, *args: Any, block: BlockIdentifier = "latest") -> Any:
        # A single raw eth_call: web3's ContractFunction.call() adds ~8 ms of formatting and
        # middleware per call, 3-4x the node's own time on Anvil.
        fn, data = self._encode(name, *args)
        try:
            if self.chain.kind == "embedded":
                # in-process: the provider needs web3's request formatting; py-evm dominates
                result = bytes(self.chain.w3.eth.call({"to": self.address, "data": data}, block))
            else:
                block_param = hex(block) if isinstance(block, int) else block
                response = self.chain.w3.provider.make_request(
                    RPCEndpoint("eth_call"), [{"to": self.address, "data": data}, block_param]
                )
        except (Web3Exception, OSError, ValueError) as exc:
            err = error_from_exception(exc, self.registry)
            if err is not None:
                raise err from exc
            raise ChainError(f"{name} call failed: {exc}") from exc
        if self.chain.kind != "embedded":
            if "error" in response:
                raise error_from_rpc_error(response["error"], self.registry, what=f"{name} call")
            result = bytes(HexBytes(response["result"]))
        try:
            return decode_outputs(fn.get("outputs", []), result)
        except (DecodingError, ValueError, TypeError) as exc:
            raise ChainError(
                f"{name} returned undecodable data: is {self.address} a {self.artifact.name}?"
            ) from exc

    def _tx(self, name: str, *args: Any, gas: int | None = None) -> TxResult:
        if self.sender is None:
            raise InvalidInput(
                f"{name} sends a transaction: bind a signer first",
                hint="contract.connect_as(TxSender(chain, account))",
            )
        return self.sender.send_raw(self.address, self._encode(name, *args)[1], gas=gas)

    # --- events ------------------------------------------------------------------------------

    def get_events(
        self,
        event_name: str | Sequence[str],
        from_block: int | None = None,
        to_block: int | None = None,
        argument_filters: Mapping[str, Any] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> list[DecodedEvent]:
        """Decoded ``event_name`` logs of this contract, oldest first.

        Queries ``eth_getLogs`` in pages of ``page_size`` blocks (halved automatically when the
        node refuses a range), from ``from_block`` (default: the deployment block) to
        ``to_block`` (default: latest). ``argument_filters`` matches indexed arguments by name;
        a list value matches any of its items. Several event names are fetched in one query
        (oldest first across them) when the filtered arguments sit at the same topic positions.
        """
        names = (event_name,) if isinstance(event_name, str) else tuple(event_name)
        if not names:
            raise InvalidInput("no event names given")
        topic_sets = []
        for name in names:
            entry = self._events.get(name)
            if entry is None:
                raise InvalidInput(f"{type(self).__name__} has no event {name!r}")
            topic_sets.append(_topics(entry, argument_filters or {}))
        if any(t[1:] != topic_sets[0][1:] for t in topic_sets):
            raise InvalidInput(f"events {list(names)} index the filtered arguments differently")
        if page_size < 1:
            raise InvalidInput("page_size must be positive")
        topics = topic_sets[0]
        if len(names) > 1:
            topics = [[t[0] for t in topic_sets], *topics[1:]]
        start = self.deploy_block if from_block is None else from_block
        end = self.chain.block_number() if to_block is None else to_block
        events: list[DecodedEvent] = []
        while start <= end:
            stop = min(start + page_size - 1, end)
            params: FilterParams = {
                "address": self.address,
                "fromBlock": start,
                "toBlock": stop,
                "topics": topics,  # None entries are wildcards
            }
            try:
                logs = self.chain.w3.eth.get_logs(params)
            except (Web3Exception, ValueError) as exc:
                if page_size > 1 and any(s in str(exc).lower() for s in _RANGE_ERRORS):
                    page_size = max(1, page_size // 2)
                    continue
                raise ChainError(f"eth_getLogs failed for {event_name}: {exc}") from exc
            for log in logs:
                decoded = self.registry.decode_log(log)
                if decoded is not None and decoded.name in names:
                    events.append(decoded)
            start = stop + 1
        return events

    def has_code(self) -> bool:
        """True when contract code exists at :attr:`address`."""
        return len(self.chain.w3.eth.get_code(self.address)) > 0


def _topic_value(abi_type: str, value: Any) -> str:
    if abi_type in ("string", "bytes") or abi_type.endswith("]") or abi_type.startswith("("):
        raise InvalidInput(f"cannot filter on dynamic indexed type {abi_type}")
    if abi_type.startswith("bytes") and isinstance(value, str):
        value = bytes(HexBytes(value))
    return "0x" + abi_encode([abi_type], [value]).hex()


def _topics(entry: Mapping[str, Any], filters: Mapping[str, Any]) -> list[Any]:
    indexed = [i for i in entry.get("inputs", []) if i.get("indexed")]
    unknown = set(filters) - {i["name"] for i in indexed}
    if unknown:
        raise InvalidInput(f"{entry['name']} has no indexed argument(s) {sorted(unknown)}")
    topics: list[Any] = ["0x" + event_topic(entry).hex()]
    for i in indexed:
        value = filters.get(i["name"])
        if value is None:
            topics.append(None)
        elif isinstance(value, list | tuple | set):
            topics.append([_topic_value(i["type"], v) for v in value])
        else:
            topics.append(_topic_value(i["type"], value))
    while topics and topics[-1] is None:
        topics.pop()
    return topics
