"""Read a FHIR export without holding it in memory: a Bulk Data directory (NDJSON) or a Bundle.

The import needs two looks at the input: a first pass learns which patients exist and which
resources belong together (:func:`scan`), a second reads each record's resources back
(:meth:`Source.load`). Neither keeps resource content between the passes: an NDJSON resource is
remembered by its file, byte offset and length (about 100 bytes each, whatever its size) and
re-read with one seek. A Bundle is one JSON document, and without a streaming JSON parser
(none is installed) it is parsed whole with :func:`json.load`, so a Bundle file is capped at
:data:`MAX_BUNDLE_BYTES` (larger exports come as Bulk Data NDJSON, which has no such limit).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medledger.errors import InvalidInput

#: A Bundle file is parsed whole: refuse larger ones (use Bulk Data NDJSON for big exports).
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
#: One NDJSON line (one resource) larger than this is reported as bad input, not parsed.
MAX_LINE_BYTES = 16 * 1024 * 1024
#: Bundle types whose entries are resources to import.
BUNDLE_TYPES = frozenset({"collection", "transaction", "batch"})
#: Files of a Bulk Data output directory that hold no resources (the export's own log).
_NOT_RESOURCES = frozenset({"log.ndjson"})


@dataclass(frozen=True)
class Location:
    """Where a resource (or a problem) is: a file and a 1-based line, or a Bundle entry index."""

    file: str
    line: int
    entry: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return where if self.entry is None else f"{where} (entry {self.entry})"


@dataclass(frozen=True)
class Item:
    """One input unit: a parsed resource, or the reason it could not be parsed."""

    at: Location
    resource: dict[str, Any] | None
    error: str | None = None
    #: where to re-read it: (byte offset, length) in an NDJSON file; None for Bundle entries
    span: tuple[int, int] | None = None
    #: a Bundle entry's fullUrl (what other entries may reference it by)
    full_url: str | None = None
    #: the problem kind when ``error`` is set: "malformed" (a line) or "not_json" (a Bundle)
    kind: str = "malformed"


class Source:
    """The export at ``path``: a directory of ``*.ndjson`` files, one ``.ndjson`` file, or one
    Bundle ``.json`` file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InvalidInput(f"{self.path} does not exist")
        self._bundle: list[Any] | None = None  # entries of a parsed Bundle, for load()

    def files(self) -> list[Path]:
        if self.path.is_dir():
            found = sorted(p for p in self.path.glob("*.ndjson") if p.name not in _NOT_RESOURCES)
            found += sorted(self.path.glob("*.json"))
            if not found:
                raise InvalidInput(f"{self.path} holds no .ndjson or .json file")
            return found
        return [self.path]

    def items(self) -> Iterator[Item]:
        """Every resource of the export in file order, bad input included as errors."""
        for path in self.files():
            if path.suffix == ".ndjson":
                yield from _ndjson_items(path, self._name(path))
            else:
                yield from self._bundle_items(path)

    def _name(self, path: Path) -> str:
        return path.name if self.path.is_dir() else str(path)

    def load(self, item: Item) -> dict[str, Any]:
        """The resource of ``item`` read again (NDJSON: one seek and one line)."""
        if item.span is None:
            if item.resource is None:
                raise InvalidInput(f"{item.at}: nothing to load")
            return item.resource
        path = self.path / item.at.file if self.path.is_dir() else self.path
        offset, length = item.span
        with open(path, "rb") as fh:
            fh.seek(offset)
            raw = fh.read(length)
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise InvalidInput(f"{item.at}: changed since it was scanned")
        return value

    def _bundle_items(self, path: Path) -> Iterator[Item]:
        name = self._name(path)
        size = path.stat().st_size
        if size > MAX_BUNDLE_BYTES:
            yield Item(
                Location(name, 1),
                None,
                f"Bundle file of {size} bytes is over the {MAX_BUNDLE_BYTES}-byte limit "
                "(export large sets as Bulk Data NDJSON)",
            )
            return
        try:
            with open(path, "rb") as fh:
                body = json.load(fh)
        except json.JSONDecodeError as exc:
            yield Item(Location(name, exc.lineno), None, f"not JSON: {exc.msg}", kind="not_json")
            return
        except UnicodeDecodeError as exc:
            yield Item(Location(name, 1), None, f"not UTF-8 JSON: {exc.reason}", kind="not_json")
            return
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
            yield Item(
                Location(name, 1), None, "not a FHIR Bundle (resourceType is not Bundle)",
                kind="not_json",
            )  # fmt: skip
            return
        kind = body.get("type")
        if kind not in BUNDLE_TYPES:
            yield Item(
                Location(name, 1),
                None,
                f"Bundle of type {kind!r} is not imported (collection, transaction or batch)",
            )
            return
        entries = body.get("entry") or []
        if not isinstance(entries, list):
            yield Item(Location(name, 1), None, "Bundle.entry is not a list")
            return
        for index, entry in enumerate(entries):
            at = Location(name, 1, index)
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                yield Item(at, None, "Bundle entry without a resource")
            else:
                url = entry.get("fullUrl")
                yield Item(at, resource, full_url=url if isinstance(url, str) else None)


def _ndjson_items(path: Path, name: str) -> Iterator[Item]:
    offset = 0
    with open(path, "rb") as fh:
        for number, raw in enumerate(iter(lambda: fh.readline(MAX_LINE_BYTES + 1), b""), 1):
            start, offset = offset, offset + len(raw)
            at = Location(name, number)
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                yield Item(at, None, f"line longer than {MAX_LINE_BYTES} bytes")
                for rest in iter(lambda: fh.readline(MAX_LINE_BYTES + 1), b""):
                    offset += len(rest)
                    if rest.endswith(b"\n"):
                        break
                continue
            body = raw.strip()
            if not body:
                continue  # a blank line (a trailing newline) is not a resource
            try:
                value = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield Item(at, None, f"malformed JSON: {exc}")
                continue
            if not isinstance(value, dict):
                yield Item(at, None, "line is not a JSON object")
                continue
            yield Item(at, value, span=(start, len(raw)))
