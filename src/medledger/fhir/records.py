"""The plaintext of a FHIR record: a ``collection`` Bundle holding resources exactly as imported.

One format for every FHIR record, whatever the import's granularity, so a reader never has to
know how the record was cut: it unpacks a list of resources. Resources are kept as the parsed
JSON objects of the source (no model round trip) so the API serves them back field for field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from medledger.errors import InvalidInput

#: The first bytes of every packed FHIR record (lets a viewer tell FHIR from an opaque file).
MAGIC = b'{"resourceType":"Bundle","type":"collection"'


def pack(resources: Iterable[Mapping[str, Any]]) -> bytes:
    """Serialise ``resources`` as the plaintext of one record (compact UTF-8 JSON)."""
    entries = [{"resource": dict(r)} for r in resources]
    if not entries:
        raise InvalidInput("a FHIR record holds at least one resource")
    for entry in entries:
        if not isinstance(entry["resource"].get("resourceType"), str):
            raise InvalidInput("every resource needs a resourceType")
    body = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def is_fhir(plaintext: bytes) -> bool:
    """True if ``plaintext`` was made by :func:`pack`."""
    return plaintext.startswith(MAGIC)


def unpack(plaintext: bytes) -> list[dict[str, Any]]:
    """The resources of a record made by :func:`pack`, in order."""
    if not is_fhir(plaintext):
        raise InvalidInput("not a FHIR record")
    try:
        body = json.loads(plaintext)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"FHIR record is not valid JSON: {exc}") from None
    entries = body.get("entry")
    if not isinstance(entries, list):
        raise InvalidInput("FHIR record has no entries")
    out: list[dict[str, Any]] = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise InvalidInput("FHIR record entry without a resource")
        out.append(resource)
    return out
