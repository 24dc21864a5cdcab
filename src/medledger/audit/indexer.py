"""Pull the contracts' events into the archive: paged ``eth_getLogs``, resumable, reorg-safe.

Each :meth:`AuditIndexer.sync` first checks the kept window of block hashes against the chain. If a
kept block's hash changed, the chain reorganised: the archive rolls back everything after the newest
block that still matches (the common ancestor) and re-syncs from there. A reorganisation deeper than
the window cannot be repaired safely and raises :class:`IntegrityError`.

Pages are written atomically (see :meth:`Archive.apply_page`), so an interrupted sync resumes from
the last complete page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils.address import is_address, to_checksum_address
from web3 import Web3
from web3.exceptions import BlockNotFound as Web3BlockNotFound
from web3.exceptions import Web3RPCError

from medledger.audit.archive import Archive, SyncedBlock
from medledger.audit.events import (
    ANCHOR_EVENT_NAMES,
    MEDLEDGER_EVENT_NAMES,
    DecodedEvent,
    decode_log,
    topics_for,
)
from medledger.errors import ChainError, ChainUnavailable, IntegrityError, InvalidInput


@dataclass(frozen=True)
class Reorg:
    """A chain reorganisation handled by a sync."""

    common_ancestor: int
    previous_last_block: int
    events_removed: int


@dataclass(frozen=True)
class SyncResult:
    """What one :meth:`AuditIndexer.sync` did. ``from_block > to_block`` means nothing new."""

    from_block: int
    to_block: int
    events: int
    pages: int
    reorg: Reorg | None


class _ForkedDuringSync(Exception):
    """A log's block hash disagrees with the header fetched for the same page: retry."""


class AuditIndexer:
    """Syncs one deployment's events into an :class:`Archive`.

    ``page_size`` is the block span of one ``eth_getLogs`` call (halved automatically when a node
    refuses a range as too large); ``reorg_window`` the number of recent block hashes kept;
    ``confirmations`` how many of the newest blocks to leave for a later sync.
    """

    def __init__(
        self,
        w3: Web3,
        archive: Archive,
        medledger: str,
        anchor_registry: str | None = None,
        *,
        start_block: int = 0,
        page_size: int = 2000,
        reorg_window: int = 64,
        confirmations: int = 0,
    ) -> None:
        for addr in (medledger, anchor_registry):
            if addr is not None and not is_address(addr):
                raise InvalidInput(f"not an address: {addr!r}")
        if page_size < 1 or reorg_window < 1 or confirmations < 0 or start_block < 0:
            raise InvalidInput(
                "page_size and reorg_window must be >= 1, confirmations and start_block >= 0"
            )
        self.w3 = w3
        self.archive = archive
        self.medledger = to_checksum_address(medledger)
        self.anchor_registry = to_checksum_address(anchor_registry) if anchor_registry else None
        self.start_block = start_block
        self.page_size = page_size
        self.reorg_window = reorg_window
        self.confirmations = confirmations
        archive.bind(self._rpc(lambda: w3.eth.chain_id), self.medledger, self.anchor_registry)
        names = sorted(MEDLEDGER_EVENT_NAMES | (ANCHOR_EVENT_NAMES if anchor_registry else set()))
        self._topics = topics_for(names)
        self._addresses = [self.medledger] + (
            [self.anchor_registry] if self.anchor_registry else []
        )

    # --- RPC helpers ----------------------------------------------------------------------------

    @staticmethod
    def _rpc(call: Any) -> Any:
        try:
            return call()
        except (ConnectionError, OSError) as exc:
            raise ChainUnavailable(f"cannot reach the chain: {exc}") from exc
        except Web3RPCError as exc:
            raise ChainError(f"chain RPC failed: {exc}") from exc

    def _block(self, number: int) -> SyncedBlock | None:
        try:
            blk = self._rpc(lambda: self.w3.eth.get_block(number))
        except Web3BlockNotFound:
            return None  # not (yet / any more) on this chain
        return SyncedBlock(
            int(blk["number"]), "0x" + bytes(blk["hash"]).hex(), int(blk["timestamp"])
        )

    def _get_logs(self, start: int, end: int) -> list[Any]:
        params: Any = {
            "fromBlock": start,
            "toBlock": end,
            "address": self._addresses,
            "topics": [self._topics],
        }
        try:
            return list(self.w3.eth.get_logs(params))
        except (ConnectionError, OSError) as exc:
            raise ChainUnavailable(f"cannot reach the chain: {exc}") from exc
        except Web3RPCError:
            # Nodes cap the range or the result size of eth_getLogs ("query returned more than
            # 10000 results", "block range too large"): split the range and try again.
            if end <= start:
                raise
            mid = (start + end) // 2
            return self._get_logs(start, mid) + self._get_logs(mid + 1, end)

    # --- reorg ----------------------------------------------------------------------------------

    def _check_reorg(self) -> Reorg | None:
        last = self.archive.last_block
        if last is None:
            return None
        kept = self.archive.synced_blocks()
        if not kept:
            return None
        for blk in kept:  # newest first; usually the first one matches
            now = self._block(blk.number)
            if now is not None and now.hash == blk.hash:
                if blk.number == last:
                    return None
                removed = self.archive.rollback_after(blk.number)
                return Reorg(blk.number, last, removed)
        raise IntegrityError(
            f"chain reorganised deeper than the {self.reorg_window}-block window kept by the "
            f"audit archive (no kept block from {kept[-1].number} to {kept[0].number} matches)",
            hint="rebuild the archive from an earlier block, or raise reorg_window",
        )

    # --- sync -----------------------------------------------------------------------------------

    def sync(self, to_block: int | None = None) -> SyncResult:
        """Bring the archive up to ``to_block`` (default: chain head minus ``confirmations``)."""
        for _attempt in range(3):
            try:
                return self._sync(to_block)
            except _ForkedDuringSync:
                continue  # the next attempt's reorg check rolls back and re-syncs
        raise ChainError("chain kept reorganising during the audit sync; try again later")

    def _sync(self, to_block: int | None) -> SyncResult:
        if to_block is not None and to_block < 0:
            raise InvalidInput("to_block must be >= 0")
        reorg = self._check_reorg()
        last = self.archive.last_block
        start = self.start_block if last is None else last + 1
        head = int(self._rpc(lambda: self.w3.eth.block_number))
        target = head - self.confirmations if to_block is None else min(to_block, head)
        total, pages, first = 0, 0, start
        while start <= target:
            end = min(start + self.page_size - 1, target)
            total += self._sync_page(start, end, target)
            pages += 1
            start = end + 1
        return SyncResult(first, target, total, pages, reorg)

    def _sync_page(self, start: int, end: int, target: int) -> int:
        try:
            raw = self._get_logs(start, end)
        except Web3RPCError as exc:
            raise ChainError(f"eth_getLogs {start}..{end} failed: {exc}") from exc
        events = [ev for ev in map(decode_log, raw) if ev is not None]
        events.sort(key=lambda e: (e.block_number, e.log_index))

        # Block hashes: the reorg window, plus the page's last block (the resume point).
        window_from = max(start, target - self.reorg_window + 1)
        headers: dict[int, SyncedBlock] = {}
        for n in range(window_from, end + 1):
            blk = self._block(n)
            if blk is None:
                raise _ForkedDuringSync
            headers[n] = blk
        if end not in headers:
            blk = self._block(end)
            if blk is None:
                raise _ForkedDuringSync
            headers[end] = blk
        block_times = self._block_times(events, headers)
        for ev in events:
            known = headers.get(ev.block_number)
            if known is not None and known.hash != ev.block_hash:
                raise _ForkedDuringSync
        # Keep the window's hashes and always the page's last block (the resume point), so the
        # next sync's reorg check starts exactly where this one stopped.
        window = [headers[n] for n in sorted({*range(window_from, end + 1), end})]
        self.archive.apply_page(events, block_times, window, headers[end], self.reorg_window)
        return len(events)

    def _block_times(
        self, events: Sequence[DecodedEvent], headers: Mapping[int, SyncedBlock]
    ) -> dict[int, int]:
        times = {n: b.timestamp for n, b in headers.items()}
        for ev in events:  # AccessRecorded carries its block's timestamp: no header needed
            if ev.name == "AccessRecorded":
                times.setdefault(ev.block_number, int(ev.args["timestamp"]))
        for ev in events:
            if ev.block_number not in times:
                blk = self._block(ev.block_number)
                if blk is None or blk.hash != ev.block_hash:
                    raise _ForkedDuringSync
                times[ev.block_number] = blk.timestamp
        return times
