"""The custodian's own view of the chain, and the access checks of ``/v1/reencrypt``.

Each custodian asks ITS OWN node (never the reader) whether the access the reader logged is
real, final, allowed, the reader's, for this record, recent, and whether the grant or the
break-glass window behind it is live now. Every chain call is bounded by the connection's
timeout; a node that does not answer, or whose latest block is too old, makes the custodian
refuse with 503 rather than decide on stale state.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound, Web3Exception
from web3.types import RPCEndpoint

from medledger.chain.codec import decode_outputs, event_topic
from medledger.chain.connection import connect
from medledger.chain.suite import MedLedgerContract
from medledger.chain.types import Record
from medledger.codes import Action
from medledger.custodian.protocol import KIND_EMERGENCY, KIND_GRANT, Reencryption
from medledger.custodian.store import KfragRow
from medledger.errors import ChainError, CustodianError

#: Outcomes of an allowed read: consent, the patient itself, emergency (break-glass).
ALLOWED_OUTCOMES = frozenset({0, 1, 2})


class Refusal(CustodianError):
    """The custodian says no: ``code`` is the protocol reason, ``status`` the HTTP status."""

    def __init__(self, code: str, message: str, *, status: int = 403) -> None:
        super().__init__(message, code=code)
        self.status = status


@dataclass(frozen=True)
class Head:
    """The latest block of the custodian's node."""

    number: int
    timestamp: int


@dataclass
class Timer:
    """Wall time spent in chain calls during one request (reported in logs and benchmarks)."""

    chain: float = 0.0
    #: CPU time of this thread spent in chain calls (decoding responses)
    chain_cpu: float = 0.0
    calls: int = 0
    started: float = field(default_factory=time.perf_counter)
    started_cpu: float = field(default_factory=time.thread_time)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def cpu(self) -> float:
        """CPU time of this thread since the start (unaffected by other processes' load)."""
        return time.thread_time() - self.started_cpu


@dataclass(frozen=True)
class AccessEvidence:
    """What the chain showed for an accepted re-encryption request."""

    block: int
    outcome: int
    category: int
    delegation: KfragRow


#: getRecord calls per JSON-RPC batch request (see ChainView.records)
RECORDS_PER_BATCH = 64


class ChainView:
    """Read-only calls to MedLedger on the custodian's node, each timed and bounded."""

    def __init__(self, rpc: str, medledger: str, *, timeout: float) -> None:
        self.chain = connect(rpc, timeout=timeout)
        self.medledger = MedLedgerContract(self.chain, medledger)
        self.address = self.medledger.address
        self.chain_id = self.chain.chain_id
        entry = next(
            e for e in self.medledger.artifact.abi_entries("event") if e["name"] == "AccessRecorded"
        )
        self._access_topic = event_topic(entry)

    def _call(self, timer: Timer | None, fn: Any, *args: Any) -> Any:
        start, start_cpu = time.perf_counter(), time.thread_time()
        try:
            return fn(*args)
        except CustodianError:
            raise
        except (ChainError, Web3Exception, OSError, requests.RequestException) as exc:
            raise Refusal(
                "chain_unavailable",
                f"the custodian's chain node did not answer ({type(exc).__name__})",
                status=503,
            ) from None
        finally:
            if timer is not None:
                timer.chain += time.perf_counter() - start
                timer.chain_cpu += time.thread_time() - start_cpu
                timer.calls += 1

    def has_code(self) -> bool:
        return bool(self._call(None, self.medledger.has_code))

    def head(self, timer: Timer | None = None) -> Head:
        block = self._call(timer, self.chain.w3.eth.get_block, "latest")
        return Head(int(block["number"]), int(block["timestamp"]))

    def receipt(self, tx_hash: bytes, timer: Timer | None = None) -> Any:
        def fetch() -> Any:
            try:
                return self.chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:
                return None

        return self._call(timer, fetch)

    def controller(self, patient_id: int, timer: Timer | None = None) -> str:
        return str(self._call(timer, self.medledger.get_patient, patient_id).controller)

    def record(self, patient_id: int, record_id: bytes, timer: Timer | None = None) -> Record:
        result: Record = self._call(timer, self.medledger.get_record, patient_id, record_id)
        return result

    def records(
        self, patient_id: int, record_ids: Sequence[bytes], timer: Timer | None = None
    ) -> list[Record]:
        """:meth:`record` for many ids, as JSON-RPC batches of ``eth_call`` (one round trip per
        ``RECORDS_PER_BATCH``): a batched capsule registration checks up to 256 records, and
        one HTTP round trip each cost about 12 ms on a loaded machine."""
        out: list[Record] = []
        for i in range(0, len(record_ids), RECORDS_PER_BATCH):
            out += self._call(
                timer, self._records, patient_id, record_ids[i : i + RECORDS_PER_BATCH]
            )
        return out

    def _batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any] | None:
        """One JSON-RPC batch request (one HTTP round trip); None when the provider has none."""
        batch = getattr(self.chain.w3.provider, "make_batch_request", None)
        if batch is None:
            return None
        responses = batch([(RPCEndpoint(method), params) for method, params in calls])
        if not isinstance(responses, list) or len(responses) != len(calls):
            raise ChainError("the node refused a JSON-RPC batch")
        out = []
        for response in responses:
            if "error" in response or "result" not in response:
                raise ChainError("a call in a JSON-RPC batch failed")
            out.append(response["result"])
        return out

    def _get_record_call(self, patient_id: int, record_id: bytes) -> tuple[Any, list[Any]]:
        fn, data = self.medledger._encode("getRecord", patient_id, record_id)
        return fn, [{"to": self.address, "data": data}, "latest"]

    @staticmethod
    def _decode_record(patient_id: int, fn: Any, result: str) -> Record:
        author, category, codec, created_at, erased = decode_outputs(
            fn.get("outputs", []), bytes(HexBytes(result))
        )
        known = int(author, 16) != 0  # as MedLedgerContract.get_record
        return Record(patient_id if known else 0, author, category, codec, created_at, erased)

    def _records(self, patient_id: int, record_ids: Sequence[bytes]) -> list[Record]:
        calls = [self._get_record_call(patient_id, rid) for rid in record_ids]
        results = self._batch([("eth_call", params) for _, params in calls])
        if results is None:  # a provider without JSON-RPC batches: one call each
            return [self.medledger.get_record(patient_id, rid) for rid in record_ids]
        return [
            self._decode_record(patient_id, fn, r)
            for (fn, _), r in zip(calls, results, strict=True)
        ]

    def snapshot(
        self,
        tx_hash: bytes,
        patient_id: int,
        record_id: bytes,
        timer: Timer,
        *,
        grant: tuple[str, int] | None = None,
    ) -> tuple[Head, Any, Record, bool | None]:
        """The latest block, the access transaction's receipt (None if unknown) and the record,
        in one JSON-RPC batch: one round trip to the node instead of three for each
        re-encryption request (the checks that use them run in their documented order).

        ``grant`` = (reader, category): the reader's ``hasAccess`` for reading that category
        rides in the same batch (last value; None without ``grant``). The caller passes the
        record's category when it already knows it (a record's category never changes) and
        uses the answer only if the record read here has that category."""

        def fetch() -> tuple[Head, Any, Record, bool | None]:
            fn, call = self._get_record_call(patient_id, record_id)
            calls: list[tuple[str, list[Any]]] = [
                ("eth_getBlockByNumber", ["latest", False]),
                ("eth_getTransactionReceipt", ["0x" + tx_hash.hex()]),
                ("eth_call", call),
            ]
            if grant is not None:
                access_fn, data = self.medledger._encode(
                    "hasAccess", patient_id, grant[0], grant[1], int(Action.READ)
                )
                calls.append(("eth_call", [{"to": self.address, "data": data}, "latest"]))
            results = self._batch(calls)
            if results is None:
                return self.head(), self.receipt(tx_hash), self.record(patient_id, record_id), None
            block, receipt, record = results[:3]
            head = Head(int(block["number"], 16), int(block["timestamp"], 16))
            live = None
            if grant is not None:
                outputs = access_fn.get("outputs", [])
                live = bool(decode_outputs(outputs, bytes(HexBytes(results[3]))))
            return head, _receipt_of(receipt), self._decode_record(patient_id, fn, record), live

        result: tuple[Head, Any, Record, bool | None] = self._call(timer, fetch)
        return result

    def has_access(self, patient_id: int, reader: str, category: int, timer: Timer) -> bool:
        return bool(
            self._call(
                timer, self.medledger.has_access, patient_id, reader, category, int(Action.READ)
            )
        )

    def break_glass_until(self, patient_id: int, reader: str, timer: Timer) -> int:
        return int(self._call(timer, self.medledger.break_glass_until, patient_id, reader))

    # --- the logged access -------------------------------------------------------------------

    def access_logs(self, receipt: Any) -> list[dict[str, Any]]:
        """The ``AccessRecorded`` entries MedLedger emitted in a transaction receipt."""
        out = []
        for log in receipt.get("logs", []):
            topics = [bytes(t) for t in log.get("topics", [])]
            if (
                to_checksum_address(log["address"]) != self.address
                or len(topics) != 4
                or topics[0] != self._access_topic
            ):
                continue
            data = bytes(log["data"])
            if len(data) != 5 * 32:
                continue
            # five static words: seq (uint64), purpose (uint8), outcome (uint8),
            # timestamp (uint40), head (bytes24); read directly (eth_abi costs ~0.3 ms here)
            seq, purpose, outcome, stamp = (
                int.from_bytes(data[i * 32 : (i + 1) * 32], "big") for i in range(4)
            )
            out.append(
                {
                    "patientId": int.from_bytes(topics[1], "big"),
                    "accessor": to_checksum_address(topics[2][12:]),
                    "recordId": topics[3],
                    "seq": seq,
                    "purpose": purpose,
                    "outcome": outcome,
                    "timestamp": stamp,
                }
            )
        return out


def check_access(
    view: ChainView,
    request: Reencryption,
    head: Head,
    delegations: list[KfragRow],
    *,
    finality: int,
    max_age: int,
    erased_locally: bool,
    timer: Timer,
    receipt: Any,
    record: Record,
    grant_live: bool | None = None,
) -> AccessEvidence:
    """Steps 2-7 of ``/v1/reencrypt`` (docs/custodians.md), in order; Refusal on the first
    failure. ``receipt`` and ``record`` come from :meth:`ChainView.snapshot` with ``head``;
    ``grant_live``, when given, is the reader's ``hasAccess`` for ``record``'s category read
    in that same snapshot (else it is asked here)."""
    if receipt is None or int(receipt.get("status", 0)) != 1:
        raise Refusal("unknown_access", "the access transaction is not on this custodian's chain")
    block = int(receipt["blockNumber"])
    confirmations = head.number - block + 1
    if confirmations < finality:
        raise Refusal(
            "not_final",
            f"the access transaction has {confirmations} confirmation(s); "
            f"this custodian needs {finality}",
        )
    logs = view.access_logs(receipt)
    if not logs:
        raise Refusal("unknown_access", "the transaction logged no access on MedLedger")
    mine = [e for e in logs if e["accessor"] == request.reader]
    if not mine:
        raise Refusal("wrong_reader", "the logged access was made by another account")
    matching = [
        e
        for e in mine
        if e["patientId"] == request.patient_id and e["recordId"] == request.record_id
    ]
    if not matching:
        raise Refusal("wrong_record", "the logged access names another record or patient")
    allowed = [e for e in matching if e["outcome"] in ALLOWED_OUTCOMES]
    if not allowed:
        raise Refusal(
            "access_denied",
            f"the logged access was denied on-chain (outcome {matching[0]['outcome']})",
        )
    event = allowed[0]
    age = head.timestamp - int(event["timestamp"])
    if age > max_age:
        raise Refusal(
            "stale_access", f"the logged access is {age} s old; this custodian allows {max_age} s"
        )
    if erased_locally or record.erased:
        raise Refusal("erased", "the record was erased: no custodian re-encrypts it")
    if not delegations:
        raise Refusal("no_delegation", "this custodian holds no key fragment for this reader")
    reasons = []
    for row in delegations:
        if row.kind == KIND_GRANT:
            if grant_live is None:
                grant_live = view.has_access(
                    request.patient_id, request.reader, record.category, timer
                )
            if grant_live:
                return AccessEvidence(block, int(event["outcome"]), record.category, row)
            reasons.append(("grant_not_live", "the reader's grant is not live now"))
        elif row.kind == KIND_EMERGENCY:
            until = view.break_glass_until(request.patient_id, request.reader, timer)
            if until > head.timestamp:
                return AccessEvidence(block, int(event["outcome"]), record.category, row)
            reasons.append(("window_closed", "the reader's break-glass window is closed"))
    code, message = reasons[0]
    raise Refusal(code, message)


def _receipt_of(raw: Any) -> dict[str, Any] | None:
    """The fields :func:`check_access` reads from a raw JSON-RPC receipt (hex strings)."""
    if raw is None:
        return None
    return {
        "status": int(raw.get("status", "0x0"), 16),
        "blockNumber": int(raw["blockNumber"], 16),
        "logs": [
            {
                "address": log["address"],
                "topics": [HexBytes(t) for t in log.get("topics", [])],
                "data": HexBytes(log.get("data", "0x")),
            }
            for log in raw.get("logs", [])
        ],
    }
