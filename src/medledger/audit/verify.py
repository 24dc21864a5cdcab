"""Verify the archived hash chain of a patient against the on-chain head.

The chain keeps, per patient, only ``(head, count)``. Every patient-touching operation is an entry
(registration = seq 0, grants, revocations, records added and erased, break-glass opened and
closed, controller changes, reads and denied writes). The archive holds every entry with the head
the contract emitted after it. Recomputing the chain from zero over the archived entries must end
at the on-chain head after exactly ``count`` entries. When it does not, each entry's own recorded
``head`` localises the damage:

* a gap in ``seq`` is a missing entry;
* the first entry whose recomputed head departs from its recorded head is the altered one. The next
  entry tells which part changed: if it chains on from the *recorded* head, the entry's content was
  altered; if it chains on from the *recomputed* head, the recorded head itself was;
* the altered field is named by comparing with the original log when the node still serves it, or
  else by trying every value of the one-byte fields (purpose, outcome).

A dropped ``ConsentRevoked`` (or any other entry) is a gap in ``seq``: ``missing entry seq N``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.types import BlockIdentifier

from medledger.audit.archive import Archive, ChainEntry
from medledger.audit.events import CHAINED_EVENT_NAMES, EVENT_SPECS, chain_fields, decode_log
from medledger.audit.hashchain import ZERO_HEAD, check_entry_fields, next_head
from medledger.errors import ChainError, ChainUnavailable, InvalidInput

#: ABI of ``MedLedger.logHead`` (docs/architecture.md).
LOG_HEAD_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "logHead",
        "stateMutability": "view",
        "inputs": [{"name": "patientId", "type": "uint64"}],
        "outputs": [{"name": "head", "type": "bytes24"}, {"name": "count", "type": "uint64"}],
    }
]

#: Fetches the chain's own chained events of the patient between two blocks (inclusive) as
#: entries, by seq; empty if the node no longer serves those logs.
OriginalFetcher = Callable[[int, int], Mapping[int, ChainEntry]]

_FIELDS = (
    "event", "patient_id", "seq", "actor", "subject", "purpose", "outcome", "timestamp", "head",
)  # fmt: skip
_FIELD_NAMES = {
    "event": "event",
    "patient_id": "patientId",
    "subject": "subject",
    "actor": "actor",
    "seq": "seq",
    "purpose": "purpose",
    "outcome": "outcome",
    "timestamp": "timestamp",
    "head": "head",
}


@dataclass(frozen=True)
class Problem:
    """One discrepancy. ``kind`` is ``missing``, ``altered``, ``extra``, ``malformed``,
    ``duplicate`` or ``diverged``; ``seq`` is the first entry concerned."""

    kind: str
    seq: int | None
    detail: str


@dataclass(frozen=True)
class VerificationReport:
    """Result of verifying one patient's archived hash chain (every entry kind).

    ``problem`` is the first problem in words (e.g. ``"missing entry seq 41"``,
    ``"entry seq 17 altered (outcome: archived 0, on chain 16)"``); ``problems`` lists all found.
    """

    patient_id: int
    ok: bool
    count_onchain: int
    count_archived: int
    head_onchain: str
    head_recomputed: str
    first_bad_seq: int | None
    problem: str | None
    problems: tuple[Problem, ...] = field(default=())
    checked_at_block: int | None = None


@dataclass(frozen=True)
class _Row:
    entry: ChainEntry
    head: bytes
    actor: bytes
    subject: bytes


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _link(prev: bytes, r: _Row) -> bytes:
    e = r.entry
    return next_head(
        prev, e.patient_id, e.seq, r.actor, r.subject, e.purpose, e.outcome, e.timestamp
    )


def _parse(entry: ChainEntry) -> _Row | str:
    try:
        head = bytes.fromhex(entry.head.removeprefix("0x"))
        actor = bytes.fromhex(entry.actor.removeprefix("0x"))
        subject = bytes.fromhex(entry.subject.removeprefix("0x"))
        check_entry_fields(
            head,
            int(entry.patient_id),
            int(entry.seq),
            actor,
            subject,
            int(entry.purpose),
            int(entry.outcome),
            int(entry.timestamp),
        )
    except (ValueError, TypeError, InvalidInput) as exc:
        return str(exc)
    return _Row(entry, head, actor, subject)


def _name_fields(archived: ChainEntry, original: ChainEntry) -> str | None:
    diffs = []
    for f in _FIELDS:
        a, o = getattr(archived, f), getattr(original, f)
        if o == "":  # not in the original log (the actor of RecordErased)
            continue
        same = a.lower() == o.lower() if isinstance(a, str) and isinstance(o, str) else a == o
        if not same:
            diffs.append(f"{_FIELD_NAMES[f]}: archived {a}, on chain {o}")
    return "; ".join(diffs) if diffs else None


def _guess_byte_field(prev: bytes, r: _Row) -> str | None:
    # purpose and outcome are uint8: all 2 x 256 alternatives cost microseconds.
    e = r.entry
    for f in ("outcome", "purpose"):
        for v in range(256):
            if v == getattr(e, f):
                continue
            alt = replace(e, outcome=v) if f == "outcome" else replace(e, purpose=v)
            if _link(prev, _Row(alt, r.head, r.actor, r.subject)) == r.head:
                return f"{f}: archived {getattr(e, f)}, original {v}"
    return None


class _Verifier:
    def __init__(
        self,
        patient_id: int,
        onchain_head: bytes,
        onchain_count: int,
        original: OriginalFetcher | None,
        max_problems: int,
    ) -> None:
        self.patient_id = patient_id
        self.onchain_head = onchain_head
        self.onchain_count = onchain_count
        self.original = original
        self.max_problems = max_problems
        self.problems: list[Problem] = []

    def add(self, kind: str, seq: int | None, detail: str) -> None:
        if len(self.problems) < self.max_problems:
            self.problems.append(Problem(kind, seq, detail))

    def _original(self, entry: ChainEntry) -> ChainEntry | None:
        if self.original is None:
            return None
        try:
            found = self.original(entry.block_number, entry.block_number)
        except ChainError:
            return None
        return found.get(entry.seq)

    def altered(self, prev: bytes, computed: bytes, r: _Row, succ: _Row | None) -> bytes:
        """Classify an entry whose recomputed head differs from its recorded head; returns the
        head to chain the next entry on."""
        seq = r.entry.seq
        if succ is not None:
            content = _link(r.head, succ) == succ.head
            head_only = not content and _link(computed, succ) == succ.head
        else:  # the last archived entry: the on-chain head plays the successor's part
            last = seq == self.onchain_count - 1
            content = last and r.head == self.onchain_head
            head_only = last and computed == self.onchain_head
        if head_only:
            self.add(
                "altered", seq, f"entry seq {seq} altered (head: archived {r.entry.head}, "
                f"recomputed {_hex(computed)})",
            )  # fmt: skip
            return computed
        what = None
        original = self._original(r.entry)
        if original is not None:
            what = _name_fields(r.entry, original)
        if what is None and content:
            what = _guess_byte_field(prev, r)
        if what is None:
            what = "content does not match its recorded head" if content else "content or head"
        self.add("altered", seq, f"entry seq {seq} altered ({what})")
        return r.head

    def run(self, entries: Sequence[ChainEntry]) -> tuple[bytes, int]:
        rows: list[_Row] = []
        for e in entries:
            parsed = _parse(e)
            if isinstance(parsed, str):
                self.add("malformed", e.seq, f"entry seq {e.seq} malformed ({parsed})")
            elif e.patient_id != self.patient_id:
                self.add("malformed", e.seq, f"entry seq {e.seq} belongs to patient {e.patient_id}")
            else:
                rows.append(parsed)
        prev, expected = ZERO_HEAD, 0
        for i, r in enumerate(rows):
            seq = r.entry.seq
            if seq < expected:
                self.add("duplicate", seq, f"entry seq {seq} archived twice")
                continue
            if seq > expected:
                gap = f"seq {expected}" if seq == expected + 1 else f"seqs {expected}..{seq - 1}"
                self.add("missing", expected, f"missing entry {gap}")
                # The head before this entry is unknown: chain on from its recorded head.
                prev, expected = r.head, seq + 1
                continue
            computed = _link(prev, r)
            if computed == r.head:
                prev = computed
            else:
                nxt = rows[i + 1] if i + 1 < len(rows) else None
                succ = nxt if nxt is not None and nxt.entry.seq == seq + 1 else None
                prev = self.altered(prev, computed, r, succ)
            expected = seq + 1
        if expected < self.onchain_count:
            gap = (
                f"seq {expected}"
                if expected == self.onchain_count - 1
                else f"seqs {expected}..{self.onchain_count - 1}"
            )
            self.add("missing", expected, f"missing entry {gap}")
        elif expected > self.onchain_count:
            self.add(
                "extra", self.onchain_count,
                f"archive has entries the chain does not (seq {self.onchain_count} and later)",
            )  # fmt: skip
        elif not self.problems and prev != self.onchain_head:
            self.diverged(rows)
        return prev, len(rows)

    def diverged(self, rows: Sequence[_Row]) -> None:
        """Every entry chains correctly but the result is not the on-chain head: the archive was
        rewritten consistently. Only the chain's own logs can localise that."""
        originals: Mapping[int, ChainEntry] = {}
        if self.original is not None and rows:
            try:
                originals = self.original(rows[0].entry.block_number, rows[-1].entry.block_number)
            except ChainError:
                originals = {}
        for r in rows:
            o = originals.get(r.entry.seq)
            what = _name_fields(r.entry, o) if o is not None else None
            if what is not None:
                seq = r.entry.seq
                self.add("altered", seq, f"entry seq {seq} altered ({what}; chain re-hashed)")
                return
        self.add(
            "diverged", None,
            "archived entries are self-consistent but do not end at the on-chain head "
            "(history rewritten; the node no longer serves the original logs to localise it)",
        )  # fmt: skip


def verify_entries(
    patient_id: int,
    entries: Sequence[ChainEntry],
    onchain_head: bytes,
    onchain_count: int,
    *,
    original: OriginalFetcher | None = None,
    max_problems: int = 20,
    checked_at_block: int | None = None,
) -> VerificationReport:
    """Verify archived ``entries`` (sorted by seq) against an on-chain ``(head, count)``."""
    if len(onchain_head) != len(ZERO_HEAD):
        raise InvalidInput("the on-chain head must be 24 bytes")
    v = _Verifier(patient_id, onchain_head, onchain_count, original, max_problems)
    recomputed, _ = v.run(entries)
    first = v.problems[0] if v.problems else None
    return VerificationReport(
        patient_id=patient_id,
        ok=first is None,
        count_onchain=onchain_count,
        count_archived=len(entries),
        head_onchain=_hex(onchain_head),
        head_recomputed=_hex(recomputed),
        first_bad_seq=first.seq if first else None,
        problem=first.detail if first else None,
        problems=tuple(v.problems),
        checked_at_block=checked_at_block,
    )


def chain_log_fetcher(w3: Web3, medledger: str, patient_id: int) -> OriginalFetcher:
    """An :data:`OriginalFetcher` reading the patient's chained events from the node."""
    topic_pid = "0x" + patient_id.to_bytes(32, "big").hex()
    topics = ["0x" + EVENT_SPECS[n].topic0.hex() for n in CHAINED_EVENT_NAMES]

    def fetch(from_block: int, to_block: int) -> Mapping[int, ChainEntry]:
        times: dict[int, int] = {}
        try:
            logs = w3.eth.get_logs(
                {
                    "fromBlock": from_block,
                    "toBlock": to_block,
                    "address": to_checksum_address(medledger),
                    "topics": [topics, topic_pid],
                }
            )
            out: dict[int, ChainEntry] = {}
            for log in logs:
                ev = decode_log(log)
                if ev is None or ev.name not in CHAINED_EVENT_NAMES:
                    continue
                if ev.name != "AccessRecorded" and ev.block_number not in times:
                    times[ev.block_number] = int(w3.eth.get_block(ev.block_number)["timestamp"])
                # The erasing controller is not in the log: "" leaves it out of the comparison.
                f = chain_fields(ev.name, ev.args, times.get(ev.block_number, 0), "")
                out[f.seq] = ChainEntry(
                    patient_id, f.seq, f.actor, f.subject, f.purpose, f.outcome, f.timestamp,
                    ev.args["head"], ev.block_number, ev.log_index, ev.tx_hash, ev.name,
                )  # fmt: skip
        except (ConnectionError, OSError, Web3RPCError) as exc:
            raise ChainError(f"cannot fetch the chain's logs: {exc}") from exc
        return out

    return fetch


def read_log_head(
    w3: Web3, medledger: str, patient_id: int, block_identifier: BlockIdentifier = "latest"
) -> tuple[bytes, int]:
    """``logHead(patientId)`` of the MedLedger contract at a block."""
    contract = w3.eth.contract(address=to_checksum_address(medledger), abi=LOG_HEAD_ABI)
    try:
        head, count = contract.functions.logHead(patient_id).call(block_identifier=block_identifier)
    except (ConnectionError, OSError) as exc:
        raise ChainUnavailable(f"cannot reach the chain: {exc}") from exc
    except Exception as exc:  # web3 raises several types for reverts / missing state
        raise ChainError(
            f"logHead({patient_id}) failed at block {block_identifier!r}: {exc}"
        ) from exc
    return bytes(head), int(count)


def verify_patient(
    w3: Web3,
    archive: Archive,
    patient_id: int,
    *,
    block_identifier: BlockIdentifier | None = None,
    localise_with_chain_logs: bool = True,
) -> VerificationReport:
    """Verify one patient's archived hash chain (all entry kinds) against ``logHead`` on chain.

    By default the head is read at the archive's last synced block, so that an archive that is
    merely behind the chain still verifies; if the node has pruned that state, at ``latest``.
    """
    medledger = archive.medledger_address
    if medledger is None:
        raise InvalidInput("the audit archive has not been synced yet", hint="run a sync first")
    if patient_id < 1:
        raise InvalidInput(f"patient id must be >= 1, got {patient_id}")
    at: BlockIdentifier = block_identifier if block_identifier is not None else "latest"
    if block_identifier is None and archive.last_block is not None:
        at = archive.last_block
    try:
        head, count = read_log_head(w3, medledger, patient_id, at)
    except ChainError:
        if block_identifier is not None or at == "latest":
            raise
        at = "latest"
        head, count = read_log_head(w3, medledger, patient_id, at)
    checked = int(w3.eth.block_number) if at == "latest" else int(at)
    fetcher = chain_log_fetcher(w3, medledger, patient_id) if localise_with_chain_logs else None
    return verify_entries(
        patient_id,
        archive.chain_entries(patient_id),
        head,
        count,
        original=fetcher,
        checked_at_block=checked,
    )
