"""Connecting to a chain: the embedded py-evm default, Anvil, Hardhat 2 or any EVM JSON-RPC.

``connect(None)`` (or ``"embedded"``) starts an in-process py-evm chain through web3's
``EthereumTesterProvider``: nothing to install or start, fresh state per process. An
``http(s)://`` or ``ws(s)://`` URL attaches to a node; its client version tells Anvil and
Hardhat (which support time travel, balance setting and the standard test mnemonic) apart from
other networks.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any, Literal, cast

import requests
from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed as TesterTransactionFailed
from eth_utils.address import to_checksum_address
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.exceptions import Web3Exception
from web3.types import RPCEndpoint, RPCResponse

from medledger.chain.errors import revert_bytes_from_tester_message
from medledger.chain.estimate import measured_gas_search
from medledger.chain.nonces import NonceManager
from medledger.errors import ChainError, ChainUnavailable, InvalidInput

ChainKind = Literal["embedded", "anvil", "hardhat", "rpc"]

#: The mnemonic Anvil and Hardhat fund their dev accounts from.
TEST_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNT_COUNT = 10
#: Block gas limit of the embedded chain (as Anvil's default); a 24 KiB contract needs ~5.5 M.
EMBEDDED_GAS_LIMIT = 30_000_000
_RPC_TIMEOUT = 30.0
#: The contracts store times as uint40.
_MAX_CHAIN_TIME = 2**40 - 1


class _EmbeddedProvider(EthereumTesterProvider):
    """EthereumTesterProvider that is thread-safe and reports reverts like a real node.

    py-evm is not thread-safe, so requests are serialised. eth-tester raises
    ``TransactionFailed`` with the revert bytes stringified; we turn that back into a JSON-RPC
    error with ``data`` = the revert bytes (code 3, as Anvil/geth do), so web3 raises its usual
    ``ContractCustomError`` and one decoder serves every backend.
    """

    def __init__(self, tester: EthereumTester) -> None:
        super().__init__(tester)
        self._lock = threading.RLock()

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with self._lock:
            try:
                return super().make_request(method, params)
            except TesterTransactionFailed as exc:
                message = str(exc.args[0]) if exc.args else "execution reverted"
                data = revert_bytes_from_tester_message(message) or b""
                return cast(
                    RPCResponse,
                    {
                        "jsonrpc": "2.0",
                        "id": 0,
                        "error": {
                            "code": 3,
                            "message": "execution reverted",
                            "data": "0x" + data.hex(),
                        },
                    },
                )


class Chain:
    """A connected chain: ``w3`` plus the dev conveniences tests and the CLI need."""

    def __init__(
        self,
        w3: Web3,
        *,
        kind: ChainKind,
        url: str | None = None,
        tester: EthereumTester | None = None,
    ) -> None:
        self.w3 = w3
        self.kind: ChainKind = kind
        self.url = url
        self._tester = tester
        #: Shared by every TxSender on this chain, so one account's nonces never collide.
        self.nonces = NonceManager(w3)
        self._fund_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Chain(kind={self.kind!r}, url={self.url!r}, chain_id={self.chain_id})"

    @cached_property
    def chain_id(self) -> int:
        """EIP-155 chain id (cached: it cannot change for a connection)."""
        return int(self.w3.eth.chain_id)

    @property
    def network(self) -> str:
        """Network name for manifests: ``embedded``, ``anvil``, ``hardhat`` or ``rpc``."""
        return self.kind

    @property
    def is_dev(self) -> bool:
        """True for chains with funded dev accounts and time travel."""
        return self.kind != "rpc"

    def block_number(self) -> int:
        """Number of the latest block."""
        return int(self.w3.eth.block_number)

    def now(self) -> int:
        """Timestamp of the latest block (the chain's idea of "now")."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def mine(self, blocks: int = 1) -> None:
        """Mine empty blocks (dev chains only)."""
        self._require_dev("mine blocks")
        if self._tester is not None:
            self._tester.mine_blocks(blocks)
            return
        for _ in range(blocks):
            self.w3.provider.make_request(RPCEndpoint("evm_mine"), [])

    def increase_time(self, seconds: int) -> int:
        """Move the chain clock forward by ``seconds`` and mine a block; return the new ``now()``.

        The new block's timestamp is at least the previous latest timestamp + ``seconds``.
        Raises ChainError on networks that cannot travel in time.
        """
        if seconds < 0:
            raise InvalidInput("cannot move the chain clock backwards")
        self._require_dev("move the chain clock")
        before = self.now()
        if before + seconds > _MAX_CHAIN_TIME:
            # past uint40 every time-stamping contract call reverts, and clocks never go back
            raise InvalidInput(
                f"moving the chain clock by {seconds} s passes the contracts' 40-bit time",
                hint="advance by less (the contracts' times end in the year 36812)",
            )
        if self._tester is not None:
            target = before + seconds
            pending = int(self._tester.get_block_by_number("pending")["timestamp"])
            if target >= pending:
                # eth-tester 0.13 mines the travelled-to block one second early
                self._tester.time_travel(target + 1)
            else:
                self._tester.mine_blocks(1)
        else:
            self._rpc("evm_increaseTime", [seconds])
            self._rpc("evm_mine", [])
        return self.now()

    def _rpc(self, method: str, params: list[Any]) -> Any:
        response = self.w3.provider.make_request(RPCEndpoint(method), params)
        if "error" in response:
            raise ChainError(f"{method} failed on {self.url}: {response['error']}")
        return response.get("result")

    def _require_dev(self, what: str) -> None:
        if not self.is_dev:
            raise ChainError(
                f"cannot {what} on {self.url}: not a development chain",
                hint="time travel and dev accounts exist only on embedded, Anvil and Hardhat",
            )

    def dev_accounts(self) -> list[LocalAccount]:
        """Funded accounts with their private keys (dev chains only).

        Anvil and Hardhat: the first 10 accounts of the standard test mnemonic. Embedded:
        eth-tester's own funded keys. Never use these on a real network.
        """
        self._require_dev("list dev accounts")
        if self._tester is not None:
            keys = self._embedded_keys()[:DEV_ACCOUNT_COUNT]
        else:
            keys = _mnemonic_keys()
        return [Account.from_key(k) for k in keys]

    def _embedded_keys(self) -> list[bytes]:
        backend = cast(PyEVMBackend, self._tester.backend) if self._tester else None
        if backend is None:
            return []
        return [k.to_bytes() for k in backend.account_keys]

    def fund(self, address: str, wei: int) -> None:
        """Give ``address`` ``wei`` more native currency (dev chains only)."""
        if wei < 0:
            raise InvalidInput("cannot fund a negative amount")
        self._require_dev("fund accounts")
        addr = to_checksum_address(address)
        if self._tester is not None:
            self._fund_embedded(addr, wei)
            return
        method = "anvil_setBalance" if self.kind == "anvil" else "hardhat_setBalance"
        with self._fund_lock:  # read-modify-write of the balance
            balance = int(self.w3.eth.get_balance(addr))
            self._rpc(method, [addr, hex(balance + wei)])

    def _fund_embedded(self, address: str, wei: int) -> None:
        # An extra genesis account that dev_accounts() never hands out pays, so its nonce
        # cannot collide with a caller's transactions.
        faucet = Account.from_key(self._embedded_keys()[DEV_ACCOUNT_COUNT])
        with self.nonces.lease(faucet.address) as nonce:
            block = self.w3.eth.get_block("latest")
            base_fee = int(block.get("baseFeePerGas", 0))
            tx = {
                "to": address,
                "value": wei,
                "gas": 21_000,
                "nonce": nonce,
                "chainId": self.chain_id,
                "maxFeePerGas": 2 * base_fee + 1,
                "maxPriorityFeePerGas": 1,
            }
            tx_hash = self.w3.eth.send_raw_transaction(faucet.sign_transaction(tx).raw_transaction)
        self.w3.eth.wait_for_transaction_receipt(tx_hash)

    def snapshot(self) -> Any:
        """Take a state snapshot (dev chains); pass the result to :meth:`revert`."""
        self._require_dev("take snapshots")
        if self._tester is not None:
            return self._tester.take_snapshot()
        return self._rpc("evm_snapshot", [])

    def revert(self, snapshot_id: Any) -> None:
        """Return to a snapshot; nonces are re-read from the node afterwards."""
        self._require_dev("revert to snapshots")
        if self._tester is not None:
            self._tester.revert_to_snapshot(snapshot_id)
        elif not self._rpc("evm_revert", [snapshot_id]):
            raise ChainError(f"snapshot {snapshot_id} is unknown to {self.url}")
        self.nonces = NonceManager(self.w3)


_mnemonic_cache: list[bytes] = []
_mnemonic_lock = threading.Lock()


def _mnemonic_keys() -> list[bytes]:
    # Derived directly (no Account.enable_unaudited_hdwallet_features(), a process-wide switch).
    with _mnemonic_lock:
        if not _mnemonic_cache:
            seed = seed_from_mnemonic(TEST_MNEMONIC, "")
            _mnemonic_cache.extend(
                key_from_seed(seed, f"m/44'/60'/0'/0/{i}") for i in range(DEV_ACCOUNT_COUNT)
            )
        return list(_mnemonic_cache)


def embedded_chain() -> Chain:
    """A fresh in-process py-evm chain (its own state; gone when the object is)."""
    genesis_params = PyEVMBackend.generate_genesis_params(
        overrides={"gas_limit": EMBEDDED_GAS_LIMIT}
    )
    # One account more than dev_accounts() returns: the private faucet of Chain.fund().
    genesis_state = PyEVMBackend.generate_genesis_state(num_accounts=DEV_ACCOUNT_COUNT + 1)
    backend = PyEVMBackend(genesis_parameters=genesis_params, genesis_state=genesis_state)
    # estimate in 2-3 executions, not ~13 (estimate.py); the chain class is this backend's own,
    # and set on it too for the chains eth-tester rebuilds when it reverts to a snapshot
    type(backend.chain).gas_estimator = staticmethod(measured_gas_search)
    backend.chain.gas_estimator = measured_gas_search
    tester = EthereumTester(backend)
    w3 = Web3(_EmbeddedProvider(tester))
    return Chain(w3, kind="embedded", url=None, tester=tester)


def _detect_kind(w3: Web3) -> ChainKind:
    try:
        version = str(w3.client_version).lower()
    except (Web3Exception, ValueError):
        return "rpc"
    if version.startswith("anvil"):
        return "anvil"
    if "hardhat" in version:
        return "hardhat"
    return "rpc"


#: web3's provider request cache, for ``eth_chainId`` alone: web3's validation middleware asks
#: the node for it around every ``eth_estimateGas`` and ``eth_call`` it formats (twice: for the
#: request and for the response), and a connection's chain id cannot change (``Chain.chain_id``
#: is cached too).
#: Nothing else is cached: blocks, balances, nonces and contract state all move. The threshold
#: None means "cache without a finality check" (the default re-asks the chain id to pick one);
#: web3 keys the cache per thread, so each thread asks once.
_CACHE_CHAIN_ID: dict[str, Any] = {
    "cache_allowed_requests": True,
    "cacheable_requests": {RPCEndpoint("eth_chainId")},
    "request_cache_validation_threshold": None,
}


def connect(rpc: str | None = None, *, timeout: float = _RPC_TIMEOUT) -> Chain:
    """Connect to a chain.

    ``None`` or ``"embedded"``: a new in-process py-evm chain. ``http(s)://host:port``: any EVM
    JSON-RPC node (Anvil and Hardhat 2 detected by client version). ``ws(s)://...``: the same
    over websocket. Raises ChainUnavailable when the endpoint does not answer.
    """
    if rpc is None or rpc == "embedded":
        return embedded_chain()
    if rpc.startswith(("http://", "https://")):
        # No automatic retries: web3 retries a timed-out request five times with backoff, so a
        # frozen node held a command for minutes; one timeout is one ChainUnavailable.
        w3 = Web3(
            HTTPProvider(
                rpc,
                request_kwargs={"timeout": timeout},
                exception_retry_configuration=None,
                **_CACHE_CHAIN_ID,
            )
        )
    elif rpc.startswith(("ws://", "wss://")):
        # imported here: it pulls in the (deprecated) websockets.legacy module
        from web3.providers.legacy_websocket import LegacyWebSocketProvider

        w3 = Web3(LegacyWebSocketProvider(rpc, websocket_timeout=int(timeout), **_CACHE_CHAIN_ID))
    else:
        raise InvalidInput(
            f"unsupported chain endpoint {rpc!r}",
            hint='use "embedded", http(s)://host:port or ws(s)://host:port',
        )
    try:
        w3.eth.chain_id  # noqa: B018 - the probe request
    except (requests.exceptions.RequestException, OSError, Web3Exception) as exc:
        raise ChainUnavailable(
            f"cannot reach the chain at {rpc}: {exc.__class__.__name__}",
            hint="start a node (e.g. `anvil`, `medledger node`) or check the --rpc URL",
        ) from exc
    return Chain(w3, kind=_detect_kind(w3), url=rpc)
