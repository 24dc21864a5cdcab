"""Consent-checked, logged reads of a patient's FHIR records for the API.

Every resource the API returns comes out of a record read with ``session.access`` (the access
is recorded on-chain, consent checked by the contract, before the record is fetched). What this
module keeps between requests holds no clinical content: the links file (resource id -> record)
and, per record id, the ``(type, id)`` pairs it holds, so that a second page of a search reads
only the records it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from medledger.client.session import Session
from medledger.codes import Action, Category, Outcome, Purpose
from medledger.errors import AccessDenied, InvalidInput
from medledger.fhir import records
from medledger.fhir.api.links import FhirLinks, PatientLink
from medledger.fhir.api.outcomes import FhirError, denied
from medledger.fhir.categories import categories_for_type

#: ``recordAccessBatch`` takes at most this many accesses (one transaction).
READ_BATCH = 256


@dataclass(frozen=True)
class Entry:
    """A record of the patient's timeline, as the API selects records."""

    record_id: bytes
    category: Category
    erased: bool


@dataclass
class Withheld:
    """Records of the patient not returned, by reason (contract outcome code)."""

    by_outcome: dict[int, set[Category]] = field(default_factory=dict)

    def add(self, outcome: int, category: Category) -> None:
        self.by_outcome.setdefault(outcome, set()).add(category)

    def __bool__(self) -> bool:
        return bool(self.by_outcome)


@dataclass
class Page:
    resources: list[dict[str, Any]]
    total: int | None  # None when some matching records have never been read
    more: bool
    withheld: Withheld


class ChartReader:
    """Reads resources of linked patients as the serving provider's :class:`Session`."""

    def __init__(self, session: Session, links: FhirLinks) -> None:
        self.session = session
        self.links = links
        #: record id -> the (type, id) of each resource it holds (learnt by reading it)
        self._contents: dict[bytes, list[tuple[str, str]]] = {}

    # --- patients --------------------------------------------------------------------------

    def link(self, reference: str) -> PatientLink:
        """The linked patient of ``reference`` (``<id>`` or ``Patient/<id>``); 404 if unknown."""
        fhir_id = reference.removeprefix("Patient/")
        link = self.links.patient(fhir_id)
        if link is None or "/" in fhir_id:
            raise FhirError(404, "not-found", f"no patient {fhir_id!r} is linked on this server")
        return link

    def patient(self, link: PatientLink, purpose: Purpose) -> dict[str, Any]:
        """The Patient resource: the provider's own copy from the link file (demographics are
        the hospital's master patient index, not a medledger record), served only while the
        patient's consent covers this provider for ``purpose`` in at least one category."""
        allowed, outcomes = self._check(link.patient_id, set(Category), purpose)
        if not allowed:
            self._refuse(link.patient_id, outcomes, purpose, "Patient")
        return _patient_resource(link)

    # --- reads -----------------------------------------------------------------------------

    def read(self, kind: str, resource_id: str, purpose: Purpose) -> dict[str, Any]:
        """One resource by id: one logged read of the record that holds it."""
        where = self.links.locate(kind, resource_id)
        if where is None:
            raise FhirError(
                404,
                "not-found",
                f"{kind}/{resource_id} is not known to this server (search the patient's "
                f"{kind} first, or import it)",
            )
        pid, rid = where
        try:
            plaintext = self.session.access.read(rid, purpose, patient_id=pid)
        except AccessDenied as exc:
            raise denied(exc.outcome or 0, f"{kind}/{resource_id}", exc.tx_hash) from None
        for resource in self._learn(pid, rid, plaintext):
            if resource.get("resourceType") == kind and resource.get("id") == resource_id:
                return resource
        raise FhirError(404, "not-found", f"{kind}/{resource_id} is no longer in its record")

    def search(
        self, kind: str, link: PatientLink, purpose: Purpose, offset: int, count: int
    ) -> Page:
        """Resources of type ``kind`` of the patient, in record order, ``[offset, offset+count)``.

        Records are read (and logged) in order, batched, until the page is full; a record whose
        content is known from an earlier read is skipped when it cannot hold the page.
        """
        categories = categories_for_type(kind)
        if not categories:
            raise FhirError(400, "not-supported", f"{kind} is not a clinical resource type here")
        pid = link.patient_id
        allowed, outcomes = self._check(pid, set(categories), purpose)
        if not allowed:
            self._refuse(pid, outcomes, purpose, f"{kind} of Patient/{link.fhir_id}", categories)
        withheld = Withheld()
        for cat in categories - allowed:
            withheld.add(outcomes[cat], cat)
        cands = self._candidates(self._timeline(pid), allowed)
        end = offset + count
        page: list[dict[str, Any]] = []
        position = 0
        i = 0
        while i < len(cands) and position < end:
            while i < len(cands):  # skip what is known to lie before the page
                n = self._known(cands[i].record_id, kind)
                if n is None or (position + n > offset and n > 0):
                    break
                position += n
                i += 1
            batch: list[Entry] = []
            guess = position
            while i < len(cands) and len(batch) < READ_BATCH and guess < end:
                n = self._known(cands[i].record_id, kind)
                if n != 0:
                    batch.append(cands[i])
                    guess += 1 if n is None else n
                i += 1
            for rec, got in self._read_many(pid, batch, purpose):
                if isinstance(got, AccessDenied):
                    withheld.add(got.outcome or 0, rec.category)
                    continue
                for resource in got:
                    if resource.get("resourceType") != kind:
                        continue
                    if offset <= position < end:
                        page.append(resource)
                    position += 1
        rest = [self._known(r.record_id, kind) for r in cands[i:]]
        more = position > end or any(n is None or n > 0 for n in rest)
        counts = [self._known(r.record_id, kind) for r in cands]
        total = None if any(n is None for n in counts) else sum(n or 0 for n in counts)
        return Page(page, total, more, withheld)

    def everything(self, link: PatientLink, purpose: Purpose) -> Page:
        """Every resource of the patient the consent covers (``Patient/$everything``): all
        records of every allowed category, read in batches, each read logged."""
        pid = link.patient_id
        allowed, outcomes = self._check(pid, set(Category), purpose)
        if not allowed:
            self._refuse(pid, outcomes, purpose, f"Patient/{link.fhir_id}/$everything")
        withheld = Withheld()
        timeline = self._timeline(pid)
        cands = self._candidates(timeline, allowed)
        for rec in self._candidates(timeline, set(Category) - allowed):
            withheld.add(outcomes[rec.category], rec.category)
        out: list[dict[str, Any]] = [_patient_resource(link)]
        for start in range(0, len(cands), READ_BATCH):
            for rec, got in self._read_many(pid, cands[start : start + READ_BATCH], purpose):
                if isinstance(got, AccessDenied):
                    withheld.add(got.outcome or 0, rec.category)
                else:
                    out.extend(got)
        return Page(out, len(out), False, withheld)

    # --- internals -------------------------------------------------------------------------

    def _check(
        self, pid: int, categories: Iterable[Category], purpose: Purpose
    ) -> tuple[set[Category], dict[Category, int]]:
        """The categories the contract would let this provider read now (a view: nothing is
        logged; the reads that follow are)."""
        contract = self.session.contract
        me = self.session.address
        outcomes = {
            c: contract.check_access(pid, me, int(c), int(Action.READ), int(purpose))
            for c in categories
        }
        allowed = {c for c, o in outcomes.items() if o < Outcome.DENIED_NO_CONSENT}
        return allowed, outcomes

    def _refuse(
        self,
        pid: int,
        outcomes: dict[Category, int],
        purpose: Purpose,
        what: str,
        categories: Iterable[Category] | None = None,
    ) -> None:
        """403: log one denied attempt on the patient's first record in scope (so the patient
        sees it; logging every record would spend gas on a foregone answer), then raise."""
        cats = set(categories) if categories is not None else set(outcomes)
        worst = min((outcomes[c] for c in cats), default=int(Outcome.DENIED_NO_CONSENT))
        scope = self._candidates(self._timeline(pid), cats)
        tx_hash = None
        if scope:
            result = self.session.access.log(scope[0].record_id, purpose, patient_id=pid)
            worst, tx_hash = int(result.outcome), result.tx.tx_hash
            if result.allowed:  # consent arrived between the check and the log: ask again
                raise FhirError(409, "conflict", "consent changed during the request; retry")
        raise denied(worst, what, tx_hash)

    def _timeline(self, pid: int) -> list[Entry]:
        """The patient's records, oldest first, from its ``RecordAdded``/``RecordErased`` logs
        alone: what the API picks records by (id, category, erased) is all in the events, so
        no per-record lookup here; each record read still checks its chain entry."""
        contract = self.session.contract
        filters = {"patientId": pid}
        added = contract.get_events("RecordAdded", argument_filters=filters)
        erased = {
            bytes(e.args["recordId"])
            for e in contract.get_events("RecordErased", argument_filters=filters)
        }
        out = []
        for e in added:
            rid = bytes(e.args["recordId"])
            out.append(Entry(rid, Category(int(e.args["category"])), rid in erased))
        return out

    @staticmethod
    def _candidates(timeline: list[Entry], categories: set[Category]) -> list[Entry]:
        return [r for r in timeline if not r.erased and r.category in categories]

    def _known(self, rid: bytes, kind: str) -> int | None:
        held = self._contents.get(rid)
        return None if held is None else sum(1 for t, _ in held if t == kind)

    def _read_many(
        self, pid: int, recs: Sequence[Entry], purpose: Purpose
    ) -> list[tuple[Entry, list[dict[str, Any]] | AccessDenied]]:
        if not recs:
            return []
        got = self.session.access.read_many([r.record_id for r in recs], purpose, patient_id=pid)
        out: list[tuple[Entry, list[dict[str, Any]] | AccessDenied]] = []
        for rec, item in zip(recs, got, strict=True):
            if isinstance(item, AccessDenied):
                out.append((rec, item))
            else:
                out.append((rec, self._learn(pid, rec.record_id, item)))
        return out

    def _learn(self, pid: int, rid: bytes, plaintext: bytes) -> list[dict[str, Any]]:
        """The resources of a record just read; remember where they are. A record that is not
        FHIR (an opaque file added by other means) holds no resources for the API."""
        if not records.is_fhir(plaintext):
            self._contents[rid] = []
            return []
        try:
            found = records.unpack(plaintext)
        except InvalidInput:
            self._contents[rid] = []
            return []
        self._contents[rid] = [(str(r.get("resourceType")), str(r.get("id"))) for r in found]
        for r in found:
            if isinstance(r.get("id"), str):
                self.links.remember(str(r["resourceType"]), r["id"], pid, rid)
        return found


def _patient_resource(link: PatientLink) -> dict[str, Any]:
    if link.resource is not None:
        return dict(link.resource)
    return {"resourceType": "Patient", "id": link.fhir_id}  # linked without the resource
