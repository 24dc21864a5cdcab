"""Sending transactions: local signing, simulation, fees, nonces, receipts, decoded failures.

:class:`TxSender` signs with an ``eth_account`` ``LocalAccount`` and sends raw transactions, so it
works against any JSON-RPC node (it never asks the node to sign). Every transaction is executed
first without being sent: ``eth_estimateGas`` runs the call against the latest state (or
``eth_call`` when the caller fixes the gas), so a revert surfaces as a decoded
:class:`medledger.errors.ContractError` before any gas is spent. A mined transaction with status
0 (the state changed between simulation and mining) raises ``TransactionFailed`` with its hash,
decoded from a trace or a replay when the node allows.
"""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import TimeExhausted, Web3Exception
from web3.types import RPCEndpoint, TxParams, TxReceipt

from medledger.chain.codec import AbiRegistry
from medledger.chain.connection import Chain
from medledger.chain.errors import (
    decode_revert,
    error_from_exception,
    error_from_rpc_error,
    revert_data,
    shared_registry,
)
from medledger.chain.types import TxResult
from medledger.errors import TransactionFailed

#: Extra gas on top of the node's estimate: estimates are exact for the simulated state, and a
#: concurrent transaction may make ours take a slightly longer path (e.g. a new storage slot).
DEFAULT_GAS_MULTIPLIER = 1.25
_GAS_MARGIN = 10_000
_FALLBACK_PRIORITY_FEE = 1_000_000_000  # 1 gwei, when the node has no eth_maxPriorityFeePerGas
_NONCE_ERRORS = ("nonce too low", "nonce has already been used", "already known", "nonce too high")


class TxSender:
    """Signs and sends transactions for one account on one chain (thread-safe)."""

    def __init__(
        self,
        chain: Chain,
        account: LocalAccount,
        *,
        registry: AbiRegistry | None = None,
        gas_multiplier: float = DEFAULT_GAS_MULTIPLIER,
        receipt_timeout: float = 120.0,
        poll_latency: float = 0.02,
    ) -> None:
        self.chain = chain
        self.account = account
        self.registry = registry if registry is not None else shared_registry()
        self.gas_multiplier = gas_multiplier
        self.receipt_timeout = receipt_timeout
        self.poll_latency = poll_latency
        self._eip1559: bool | None = None
        self._block_gas_limit: int | None = None
        self._priority_fee: int | None = None

    @property
    def address(self) -> str:
        """Checksummed address of the signing account."""
        return str(self.account.address)

    def __repr__(self) -> str:  # never show the key
        return f"TxSender({self.address}, {self.chain!r})"

    # --- public API ------------------------------------------------------------------------

    def send(
        self,
        call: ContractFunction,
        *,
        value: int = 0,
        gas: int | None = None,
        simulate: bool = True,
    ) -> TxResult:
        """Send a contract call built by web3 (``contract.functions.f(args)``)."""
        to = to_checksum_address(call.address)
        # web3's public encoder lives on the contract class, not on the bound function.
        factory = call.w3.eth.contract(abi=call.contract_abi)
        data = factory.encode_abi(call.abi_element_identifier, args=call.args, kwargs=call.kwargs)
        return self.send_raw(to, data, value=value, gas=gas, simulate=simulate)

    def deploy(
        self, constructor: ContractConstructor, *, value: int = 0, gas: int | None = None
    ) -> TxResult:
        """Deploy a contract (``w3.eth.contract(abi=..., bytecode=...).constructor(args)``)."""
        data = constructor.data_in_transaction
        result = self.send_raw(None, data, value=value, gas=gas)
        if not result.contract_address:
            raise TransactionFailed(
                "deployment mined without a contract address", tx_hash=result.tx_hash
            )
        return result

    def transfer(self, to: str, value: int) -> TxResult:
        """Send native currency."""
        return self.send_raw(to_checksum_address(to), b"", value=value, gas=21_000, simulate=False)

    def send_raw(
        self,
        to: str | None,
        data: bytes | str,
        *,
        value: int = 0,
        gas: int | None = None,
        simulate: bool = True,
    ) -> TxResult:
        """Simulate, sign, send and wait for one transaction; ``to=None`` deploys ``data``."""
        payload = HexBytes(data)
        base: dict[str, Any] = {"from": self.address, "data": payload, "value": value}
        if to is not None:
            base["to"] = to
        gas, fees = self._prepare(base, gas, simulate)
        tx_hash, tx = self._sign_and_send(base, gas, fees)
        receipt = self._wait(tx_hash)
        if receipt["status"] != 1:
            raise self._failure(tx_hash, tx, receipt)
        events = [e for e in (self.registry.decode_log(log) for log in receipt["logs"]) if e]
        contract_address = receipt.get("contractAddress")
        return TxResult(
            tx_hash=tx_hash,
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            status=int(receipt["status"]),
            events=events,
            contract_address=str(contract_address) if contract_address else None,
        )

    # --- steps -------------------------------------------------------------------------------

    def _prepare(
        self, base: dict[str, Any], gas: int | None, simulate: bool
    ) -> tuple[int, dict[str, int]]:
        """The gas limit and the fees, after the simulation (an estimate, or a call when the
        gas is fixed): on a node both and the latest block go in one JSON-RPC batch, one round
        trip instead of two; separately on the embedded chain or a node refusing batches."""
        batched = self._prepare_batched(base, gas, simulate)
        if batched is not None:
            return batched
        if gas is None:
            gas = self._estimate(base)
        elif simulate:
            self._simulate(base)
        return gas, self._fees()

    def _prepare_batched(
        self, base: dict[str, Any], gas: int | None, simulate: bool
    ) -> tuple[int, dict[str, int]] | None:
        batch = getattr(self.chain.w3.provider, "make_batch_request", None)
        if self.chain.kind == "embedded" or batch is None:
            return None  # in-process: no round trip to save
        calls: list[tuple[str, list[Any]]] = []
        check = "eth_estimateGas" if gas is None else "eth_call" if simulate else None
        if check is not None:
            calls.append((check, [_rpc_tx(base)] + (["latest"] if check == "eth_call" else [])))
        calls.append(("eth_getBlockByNumber", ["latest", False]))
        # the fee inputs read once per sender ride along on the first batch
        if self._eip1559 is False:
            calls.append(("eth_gasPrice", []))
        elif self._priority_fee is None:
            calls.append(("eth_maxPriorityFeePerGas", []))
        what = "gas estimation" if gas is None else "simulation"
        try:
            responses = batch([(RPCEndpoint(method), params) for method, params in calls])
        except (Web3Exception, ValueError, OSError) as exc:  # OSError: requests' errors
            raise TransactionFailed(f"{what} failed: {exc}") from exc
        if not isinstance(responses, list) or len(responses) != len(calls):
            return None  # the node refuses batches: one request each
        replies = dict(zip((method for method, _ in calls), responses, strict=True))
        if check is not None and "error" in replies[check]:
            error = replies[check]["error"]
            err = error_from_rpc_error(error, self.registry, what=what)
            if isinstance(err, TransactionFailed):
                raise err  # a revert, decoded
            message = error.get("message", error) if isinstance(error, dict) else error
            hint = "is the account funded?" if gas is None else None
            raise TransactionFailed(f"{what} failed: {message}", hint=hint)
        block = replies["eth_getBlockByNumber"].get("result")
        if not block:
            return None  # odd node: ask again the plain way
        if gas is None:
            estimate = int(replies[check or ""]["result"], 16)
            limit = int(block["gasLimit"], 16)
            gas = self._gas_limit(estimate, limit)
        return gas, self._fees_from(block, replies)

    def _fees_from(self, block: dict[str, Any], replies: dict[str, Any]) -> dict[str, int]:
        """``_fees`` from a raw latest block and the batched fee replies."""
        self._eip1559 = block.get("baseFeePerGas") is not None
        if not self._eip1559:
            price = replies.get("eth_gasPrice", {}).get("result")
            return {"gasPrice": int(price, 16) if price else int(self.chain.w3.eth.gas_price)}
        if self._priority_fee is None:
            tip = replies.get("eth_maxPriorityFeePerGas", {}).get("result")
            self._priority_fee = int(tip, 16) if tip else _FALLBACK_PRIORITY_FEE
        return self._eip1559_fees(int(block["baseFeePerGas"], 16))

    def _estimate(self, base: dict[str, Any]) -> int:
        try:
            estimate = int(self.chain.w3.eth.estimate_gas(_params(base)))
        except Exception as exc:  # py-evm raises eth_utils.ValidationError, not web3 errors
            err = error_from_exception(exc, self.registry)
            if err is not None:
                raise err from exc
            raise TransactionFailed(
                f"gas estimation failed: {exc}", hint="is the account funded?"
            ) from exc
        if self._block_gas_limit is None:
            # read once: dev nodes keep it fixed and public chains move it by 1/1024 a block,
            # which only matters for an estimate right at the cap
            self._block_gas_limit = int(self.chain.w3.eth.get_block("latest")["gasLimit"])
        return self._gas_limit(estimate, self._block_gas_limit)

    def _simulate(self, base: dict[str, Any]) -> None:
        try:
            self.chain.w3.eth.call(_params(base), "latest")
        except (Web3Exception, ValueError) as exc:
            err = error_from_exception(exc, self.registry)
            if err is not None:
                raise err from exc
            raise TransactionFailed(f"simulation failed: {exc}") from exc

    def _fees(self) -> dict[str, int]:
        w3 = self.chain.w3
        if self._eip1559 is None:
            self._eip1559 = w3.eth.get_block("latest").get("baseFeePerGas") is not None
        if not self._eip1559:
            return {"gasPrice": int(w3.eth.gas_price)}
        base_fee = int(w3.eth.get_block("latest")["baseFeePerGas"])
        if self._priority_fee is None:
            try:
                self._priority_fee = int(w3.eth.max_priority_fee)
            except (Web3Exception, ValueError):
                self._priority_fee = _FALLBACK_PRIORITY_FEE
        return self._eip1559_fees(base_fee)

    def _eip1559_fees(self, base_fee: int) -> dict[str, int]:
        # 2x base fee survives six full blocks of base-fee increases before the tx is stuck.
        tip = self._priority_fee if self._priority_fee is not None else _FALLBACK_PRIORITY_FEE
        return {"maxFeePerGas": 2 * base_fee + tip, "maxPriorityFeePerGas": tip}

    def _gas_limit(self, estimate: int, block_gas_limit: int) -> int:
        """The estimate with its safety margin, capped at the block gas limit."""
        return min(int(estimate * self.gas_multiplier) + _GAS_MARGIN, block_gas_limit)

    def _sign_and_send(
        self, base: dict[str, Any], gas: int, fees: dict[str, int]
    ) -> tuple[str, dict[str, Any]]:
        w3 = self.chain.w3
        for attempt in (1, 2):
            tx_hash = None
            try:
                with self.chain.nonces.lease(self.address) as nonce:
                    tx: dict[str, Any] = {
                        **base,
                        **fees,
                        "gas": gas,
                        "nonce": nonce,
                        "chainId": self.chain.chain_id,
                    }
                    del tx["from"]  # implied by the signature
                    signed = self.account.sign_transaction(tx)
                    tx_hash = "0x" + bytes(signed.hash).hex()
                    w3.eth.send_raw_transaction(signed.raw_transaction)
                    return tx_hash, tx
            except Exception as exc:  # any submission failure; py-evm raises its own types
                # Hardhat executes on submission and reports a revert here (tx is mined).
                data = revert_data(exc)
                if data is not None:
                    raise decode_revert(data, self.registry, tx_hash=tx_hash) from exc
                if attempt == 1 and any(s in str(exc).lower() for s in _NONCE_ERRORS):
                    continue  # someone else used this account: the lease resynced, retry once
                hint = None
                if any(s in str(exc).lower() for s in ("insufficient funds", "balance")):
                    hint = (
                        f"{self.address} cannot pay for gas: fund it (dev chains: "
                        "`medledger fund ACCOUNT`), or have a relayer submit a signed request"
                    )
                raise TransactionFailed(
                    f"sending failed: {exc}", tx_hash=tx_hash, hint=hint
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, tx_hash: str) -> TxReceipt:
        try:
            return self.chain.w3.eth.wait_for_transaction_receipt(
                HexBytes(tx_hash), timeout=self.receipt_timeout, poll_latency=self.poll_latency
            )
        except TimeExhausted as exc:
            raise TransactionFailed(
                f"transaction {tx_hash} not mined within {self.receipt_timeout:.0f} s",
                tx_hash=tx_hash,
                hint="the node may be stalled or the fee too low",
            ) from exc

    def _failure(self, tx_hash: str, tx: dict[str, Any], receipt: TxReceipt) -> TransactionFailed:
        data = failed_tx_revert_data(self.chain, tx_hash, tx, int(receipt["blockNumber"]))
        if data is None:
            return TransactionFailed(
                f"transaction {tx_hash} reverted (gas used {receipt['gasUsed']} of {tx['gas']})",
                tx_hash=tx_hash,
            )
        return decode_revert(data, self.registry, tx_hash=tx_hash)


def _params(base: dict[str, Any]) -> TxParams:
    return base  # type: ignore[return-value]  # a TxParams-shaped dict


def _rpc_tx(base: dict[str, Any]) -> dict[str, str]:
    """``base`` as a raw JSON-RPC transaction object (hex quantities and data)."""
    tx = {
        "from": base["from"],
        "data": "0x" + bytes(base["data"]).hex(),
        "value": hex(base["value"]),
    }
    if "to" in base:
        tx["to"] = base["to"]
    return tx


def failed_tx_revert_data(
    chain: Chain, tx_hash: str, tx: dict[str, Any], block_number: int
) -> bytes | None:
    """Revert data of a mined failed transaction: a callTracer trace, else a replay.

    The replay runs the same call on the parent block's state: exact unless an earlier
    transaction of the same block changed what the call saw.
    """
    w3 = chain.w3
    try:
        response = w3.provider.make_request(
            RPCEndpoint("debug_traceTransaction"), [tx_hash, {"tracer": "callTracer"}]
        )
        output = (response.get("result") or {}).get("output")
        if isinstance(output, str) and output.startswith("0x"):
            return bytes(HexBytes(output))
    except (Web3Exception, ValueError, OSError):
        pass  # tracer not supported: replay instead
    replay: dict[str, Any] = {k: tx[k] for k in ("to", "data", "value", "gas") if k in tx}
    try:
        sender = w3.eth.get_transaction(HexBytes(tx_hash))["from"]
        replay["from"] = sender
        w3.eth.call(_params(replay), max(block_number - 1, 0))
    except (Web3Exception, ValueError) as exc:
        return revert_data(exc)
    return None
