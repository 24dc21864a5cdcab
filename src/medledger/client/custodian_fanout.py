"""What every custodian flow of a session shares (``session.custodians`` and the batched writes
of :mod:`medledger.client.custodial_batch`): the registry and the custodians' HTTP clients, a
short read cache, the parallel fan-out to a policy's custodians with its quorum, request signing,
and the check of each signed receipt."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from medledger.chain.custodians import CustodianEntry, CustodianPolicy, CustodianRegistryContract
from medledger.client._base import Context, Namespace
from medledger.client.custodial_types import CustodianReceipts
from medledger.crypto import Domain
from medledger.custodian import protocol as p
from medledger.custodian.client import CustodianClient
from medledger.errors import (
    CustodianError,
    CustodiansUnavailable,
    DeploymentNotFound,
    ForgedFragment,
)

T = TypeVar("T")
_Request = (p.Delegation | p.Revocation | p.Erasure | p.CapsuleRegistration
            | p.CapsuleRegistrationBatch | p.Reencryption)  # fmt: skip

#: how long a signed custodian request stays valid (the protocol allows up to 10 minutes)
REQUEST_LIFETIME = 120
#: per-custodian HTTP timeout: a slow custodian is skipped, not waited for
DEFAULT_TIMEOUT = 3.0
#: how long a read trusts its cached copy of a policy or a custodian's registry entry. Staleness
#: costs availability only: every custodian checks the grant itself, and a patient's own
#: policy change clears this session's cache
CACHE_SECONDS = 10.0


class CustodianFanout(Namespace):
    """The custodians of a deployment as one party's session reaches them."""

    def __init__(self, ctx: Context, registry: CustodianRegistryContract | None) -> None:
        super().__init__(ctx)
        self._registry_contract = registry
        self._clients: dict[str, CustodianClient] = {}
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="custodians")
        self.timeout = DEFAULT_TIMEOUT
        self._cache: dict[tuple[str, object], tuple[float, object]] = {}

    @property
    def registry(self) -> CustodianRegistryContract:
        if self._registry_contract is None:
            raise DeploymentNotFound(
                "this deployment has no CustodianRegistry (deployed before custodian mode)",
                hint="redeploy with this SDK to use custodian mode",
            )
        return self._registry_contract

    def _domain(self) -> Domain:
        return Domain.of(self._chain.chain_id, self._contract.address)

    def _client(self, url: str) -> CustodianClient:
        client = self._clients.get(url)
        if client is None:
            client = self._clients[url] = CustodianClient(url, timeout=self.timeout)
        return client

    def close(self) -> None:
        """Close the HTTP clients and the worker threads."""
        for c in self._clients.values():
            c.close()
        self._clients.clear()
        self._pool.shutdown(wait=False)

    def _cached(self, key: tuple[str, object], load: Callable[[], T]) -> T:
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]  # type: ignore[return-value]
        value = load()
        self._cache[key] = (now, value)
        return value

    def _entry(self, addr: str) -> CustodianEntry:
        return self._cached(("custodian", addr), lambda: self.registry.get_custodian(addr))

    def _deadline(self, now: int | None = None) -> int:
        return max(self._chain.now() if now is None else now, int(time.time())) + REQUEST_LIFETIME

    def _quorum(
        self,
        kind: str,
        policy: CustodianPolicy,
        send: Callable[[str, CustodianClient], p.SignedReceipt],
        shortfall: Callable[[int], str],
    ) -> CustodianReceipts:
        """Send to every custodian of ``policy``; fewer than its threshold answering is
        ``CustodiansUnavailable`` (``shortfall(answered)`` says what is missing)."""
        receipts, failed = self._fanout(policy.custodians, send)
        if len(receipts) < policy.threshold:
            raise CustodiansUnavailable(shortfall(len(receipts)), unavailable=failed)
        return CustodianReceipts(kind, receipts, failed)

    def _fanout(
        self, custodians: Sequence[str], call: Callable[[str, CustodianClient], T]
    ) -> tuple[dict[str, T], dict[str, str]]:
        """``call`` for every custodian in parallel: results and failures by address."""
        endpoints: dict[str, str] = {}
        failed: dict[str, str] = {}
        for addr in custodians:
            entry = self._entry(addr)
            if not entry.is_active:
                failed[addr] = "removed from the custodian registry"
            else:
                endpoints[addr] = entry.endpoint
        futures = {a: self._pool.submit(call, a, self._client(url)) for a, url in endpoints.items()}
        results: dict[str, T] = {}
        for addr, fut in futures.items():
            try:
                results[addr] = fut.result()
            except CustodianError as exc:
                failed[addr] = f"{exc.code or type(exc).__name__}: {exc}"
        return results, failed

    def _sign(self, message: _Request) -> bytes:  # the digest custodians verify (~1 ms less)
        digest = message.digest(self._chain.chain_id, self._contract.address)
        return p.sign_digest(bytes(self._party.account.key), digest)

    def _verified(
        self, addr: str, signed: p.SignedReceipt, request: _Request, action: int
    ) -> p.SignedReceipt:
        """Check the receipt is ``addr``'s, for this request and this action (else the
        custodian counts as failed, named)."""
        digest = request.digest(self._chain.chain_id, self._contract.address)
        signed.verify(self._chain.chain_id, self._contract.address, addr, request_digest=digest)
        if signed.receipt.action != action:
            raise ForgedFragment(
                f"custodian {addr} answered with a receipt for action {signed.receipt.action}",
                custodian=addr,
                code="bad_receipt",
            )
        return signed
