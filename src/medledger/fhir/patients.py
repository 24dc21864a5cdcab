"""Which medledger patient a FHIR Patient is: a mapping file, or registration on the fly.

A hospital's export names patients by its own ids (here the FHIR ``Patient.id``; in practice
often an MRN). Those ids never go on-chain: the link from the hospital's id to the medledger
patient id lives in the hospital's own systems, as this mapping file (or a table of its master
patient index). A patient enrols once (``medledger register patient`` on their own device,
giving the patient id to the hospital at the desk, as they would show an insurance card); the
hospital adds the pair to its mapping. See docs/fhir.md, "Patients".

``Registrar`` instead registers a fresh patient per FHIR Patient and grants the importing
provider write consent: for a test deployment only (the importer then holds the patients' keys).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from medledger.codes import Category
from medledger.errors import InvalidInput
from medledger.fsutil import atomic_write

if TYPE_CHECKING:
    from medledger.client import Medledger, Party

#: What a registered test patient grants the importing provider.
TEST_GRANT_DAYS = 365


class PatientMap:
    """FHIR Patient id -> medledger patient id, from a JSON object or a two-column CSV
    (``fhir_id,patient_id``, header optional)."""

    def __init__(self, mapping: dict[str, int], path: Path | None = None) -> None:
        self.mapping = mapping
        self.path = path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PatientMap:
        p = Path(path)
        if not p.exists():
            return cls({}, p)
        text = p.read_text(encoding="utf-8")
        mapping: dict[str, int] = {}
        if p.suffix == ".csv":
            for number, row in enumerate(csv.reader(text.splitlines()), 1):
                if not row or (number == 1 and not row[-1].strip().isdigit()):
                    continue
                if len(row) != 2 or not row[1].strip().isdigit():
                    raise InvalidInput(f"{p}:{number}: expected fhir_id,patient_id")
                mapping[row[0].strip()] = int(row[1])
        else:
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{p}:{exc.lineno}: mapping is not JSON: {exc.msg}") from None
            if not isinstance(raw, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in raw.values()
            ):
                raise InvalidInput(f"{p}: expected an object of FHIR id -> patient id (> 0)")
            mapping = {str(k): int(v) for k, v in raw.items()}
        return cls(mapping, p)

    def get(self, fhir_id: str) -> int | None:
        return self.mapping.get(fhir_id)

    def add(self, fhir_id: str, patient_id: int) -> None:
        """Record a new pair and save the file at once."""
        self.mapping[fhir_id] = patient_id
        if self.path is None:
            return
        if self.path.suffix == ".csv":
            rows = "".join(f"{k},{v}\n" for k, v in sorted(self.mapping.items()))
            text = "fhir_id,patient_id\n" + rows
        else:
            text = json.dumps(self.mapping, indent=1, sort_keys=True)
        # 0600, written whole then renamed; a non-regular target (a device, a FIFO) is refused
        atomic_write(self.path, text, mode=0o600, make_parents=True)


class Registrar:
    """Registers a patient per FHIR Patient on a test deployment and grants ``provider`` read
    and write for every category, for a year. ``keep(fhir_id, party)`` is given each new
    patient's keys before anything is sent (the caller saves them; they are not kept here)."""

    def __init__(
        self,
        ml: Medledger,
        provider: str,
        keep: Callable[[str, Party], None] | None = None,
        *,
        funding: int = 10**18,
    ) -> None:
        self._ml = ml
        self._provider = provider
        self._keep = keep
        self._funding = funding

    def register(self, fhir_id: str) -> int:
        from medledger.client import Party

        party = Party.generate("x25519")
        if self._keep is not None:
            self._keep(fhir_id, party)
        self._ml.fund(party.address, self._funding)
        session = self._ml.session(party)
        pid = session.identity.register().patient_id
        session.consent.grant(
            self._provider,
            categories=[c.name.lower() for c in Category],
            purposes=["treatment"],
            actions=["read", "write"],
            duration=timedelta(days=TEST_GRANT_DAYS),
        )
        return pid
