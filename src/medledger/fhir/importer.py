"""``import fhir``: a FHIR export into medledger records, idempotent and resumable.

Two passes (:mod:`medledger.fhir.plan`): the scan plans one record per patient x category x
encounter and lists bad input; the import then packs each record's resources
(:func:`medledger.fhir.records.pack`), seals them for the patient and registers them in
batches of one patient's records (``addRecordBatch``), journalling each batch first
(:mod:`medledger.fhir.journal`). A re-run skips what the journal says is registered; a run after a
kill first settles the batch the kill interrupted.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from medledger.errors import AccessDenied, InvalidInput
from medledger.fhir import records
from medledger.fhir.journal import Journal
from medledger.fhir.patients import PatientMap, Registrar
from medledger.fhir.plan import KINDS, Group, Problem, scan
from medledger.fhir.reader import Source

if TYPE_CHECKING:
    from medledger.client import Session
    from medledger.storage import CID

#: Records per addRecordBatch transaction (the contract takes up to 256).
DEFAULT_BATCH = 128
#: Problems listed in the summary (all are counted).
MAX_LISTED = 100

#: progress(resources done, resources planned)
Progress = Callable[[int, int], None]


class StrictStop(InvalidInput):
    """``--strict`` and the input has a problem: nothing was imported."""


@dataclass
class Summary:
    """What an import did (the ``--json`` output)."""

    patients: int = 0
    resources: int = 0  # clinical resources in the export, planned into records
    context_resources: int = 0
    records_planned: int = 0
    records_added: int = 0
    resources_added: int = 0
    records_already_imported: int = 0
    records_changed_since_import: int = 0
    interrupted_batches: int = 0  # batches a killed run left between intent and done
    resumed_records: int = 0  # found on-chain from an interrupted run
    orphans_unpinned: int = 0
    patients_registered: int = 0
    transactions: int = 0
    gas_used: int = 0
    seconds: float = 0.0
    problems: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    problem_list: list[dict[str, Any]] = field(default_factory=list)

    @property
    def gas_per_resource(self) -> float:
        return self.gas_used / self.resources_added if self.resources_added else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "problem_list"}
        out["gas_per_resource"] = round(self.gas_per_resource, 1)
        out["resources_per_second"] = (
            round(self.resources_added / self.seconds, 1) if self.seconds else 0.0
        )
        out["seconds"] = round(self.seconds, 2)
        out["problems_total"] = sum(self.problems.values())
        out["problem_list"] = self.problem_list
        return out


class Importer:
    """Imports ``source`` as records authored by ``session``'s party (a registered provider
    with write consent, or registering test patients through ``registrar``)."""

    def __init__(
        self,
        session: Session,
        source: Source,
        journal: Journal,
        patients: PatientMap,
        *,
        registrar: Registrar | None = None,
        strict: bool = False,
        batch_size: int = DEFAULT_BATCH,
        progress: Progress | None = None,
    ) -> None:
        if not 0 < batch_size <= 256:
            raise InvalidInput("batch size must be 1..256 records")
        self._session = session
        self._source = source
        self._journal = journal
        self._patients = patients
        self._registrar = registrar
        self._strict = strict
        self._batch = batch_size
        self.progress = progress
        self.summary = Summary()

    def run(self) -> Summary:
        start = time.perf_counter()
        s = self.summary
        plan = scan(self._source, stop=(lambda _p: True) if self._strict else None)
        for p in plan.problems:
            self._count(p)
        if self._strict and plan.problems:
            first = plan.problems[0]
            raise StrictStop(f"{first} ({first.kind}); --strict: nothing was imported")
        contract, store = self._session.contract, self._session.ml.store
        # custodian mode: a run stopped after its batch landed on-chain but before the custodians
        # stored the capsules (down, or killed) finishes that first (idempotent; raises
        # CustodiansUnavailable, leaving the journal as it was, while they are still down)
        self._session.custodians.complete_registration(
            (e.patient_id, e.cid)
            for batch in self._journal.uncertain.values()
            for e in batch.values()
        )
        s.interrupted_batches, s.resumed_records, s.orphans_unpinned = self._journal.reconcile(
            lambda pid, cid: contract.get_record(pid, cid.digest).patient_id == pid, store
        )
        by_patient = plan.by_patient()
        s.patients = len(by_patient)
        s.resources, s.context_resources = plan.resources, plan.context
        s.records_planned = len(plan.groups)
        if self._registrar is None:
            self._check_mapped(by_patient)
        done = 0
        for ref, groups in by_patient.items():
            pid = self._patient_id(ref.removeprefix("Patient/"))
            if pid is None:
                done += sum(len(g.members) for g in groups)
                continue
            todo = []
            for group in groups:
                known = self._journal.done.get(group.key.digest())
                if known is None:
                    todo.append(group)
                    continue
                done += len(group.members)
                if known.content != _digest(self._pack(group)):
                    s.records_changed_since_import += 1
                else:
                    s.records_already_imported += 1
            for i in range(0, len(todo), self._batch):
                chunk = todo[i : i + self._batch]
                self._import(pid, chunk)
                done += sum(len(g.members) for g in chunk)
                if self.progress is not None:
                    self.progress(done, plan.resources)
        s.seconds = time.perf_counter() - start
        return s

    def _count(self, p: Problem) -> None:
        self.summary.problems[p.kind] = self.summary.problems.get(p.kind, 0) + 1
        if len(self.summary.problem_list) < MAX_LISTED:
            self.summary.problem_list.append(
                {"kind": p.kind, "file": p.at.file, "line": p.at.line, "entry": p.at.entry,
                 "message": p.message}
            )  # fmt: skip

    def _check_mapped(self, by_patient: dict[str, list[Group]]) -> None:
        """Report every Patient the mapping lacks, before anything is written (--strict:
        stop, nothing imported)."""
        for ref, groups in by_patient.items():
            if self._patients.get(ref.removeprefix("Patient/")) is not None:
                continue
            first = min((m[2].at for g in groups for m in g.members), key=str)
            n = sum(len(g.members) for g in groups)
            problem = Problem(
                "unmapped_patient", first, f"{ref} is not in the mapping file ({n} resources)"
            )
            self._count(problem)
            if self._strict:
                raise StrictStop(f"{problem}; --strict: nothing was imported")

    def _patient_id(self, fhir_id: str) -> int | None:
        pid = self._patients.get(fhir_id)
        if pid is not None or self._registrar is None:
            return pid
        pid = self._registrar.register(fhir_id)
        self._patients.add(fhir_id, pid)
        self.summary.patients_registered += 1
        return pid

    def _pack(self, group: Group) -> bytes:
        members = sorted(group.members, key=lambda m: (m[0], m[1]))
        return records.pack(self._source.load(item) for _, _, item in members)

    def _import(self, pid: int, groups: list[Group]) -> None:
        payloads = [self._pack(g) for g in groups]
        keys = [g.key.digest() for g in groups]
        batch: list[int] = []

        def announce(cids: Sequence[CID]) -> None:
            rows = [(k, _digest(p), c) for k, p, c in zip(keys, payloads, cids, strict=True)]
            if batch:  # a retry after a stale keyring: the first attempt stored nothing
                self._journal.finish(batch[-1], set())
            batch.append(self._journal.intent(pid, rows))

        items = [(p, g.key.category) for p, g in zip(payloads, groups, strict=True)]
        try:
            added = self._session.records.add_batch(pid, items, before_store=announce)
        except AccessDenied:
            if batch:  # some were refused (no write consent): keep what the chain has
                get = self._session.contract.get_record
                entries = self._journal.uncertain.get(batch[-1], {}).values()
                landed = {e.cid for e in entries if get(pid, e.cid.digest).patient_id == pid}
                self._journal.finish(batch[-1], landed)
            raise
        self._journal.finish(batch[-1], {r.cid for r in added})
        s = self.summary
        s.records_added += len(added)
        s.resources_added += sum(len(g.members) for g in groups)
        s.transactions += 1
        s.gas_used += added[0].tx.gas_used if added and added[0].tx else 0


def _digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()
