"""Rendering: rich tables for people, JSON for scripts.

Every command builds one plain data object (dicts, lists, strings, numbers) and hands it to
:func:`emit` with a function that draws it for humans; ``--json`` prints the data object instead.
So the JSON is never an afterthought and both views always show the same facts.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

#: C0/C1 control characters (and DEL): an escape sequence in a provider name could recolour,
#: hide or hyperlink text on a terminal, so they are shown as ``\x1b`` escapes instead.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(text: object) -> str:
    """``text`` as a string with every control character made visible (``\\x1b``)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def plain(text: object, style: str | None = None) -> Text:
    """Data as a rich Text: never parsed as markup, control characters escaped."""
    from rich.text import Text

    return Text(safe(text), style=style or "")


def to_jsonable(obj: Any) -> Any:
    """Turn SDK values (dataclasses, bytes, enums, datetimes, CIDs) into JSON-ready values."""
    if isinstance(obj, enum.Enum):  # before int: IntEnum codes print as their names
        return obj.name.lower() if obj.name else int(obj.value)
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, bytes | bytearray | memoryview):
        return "0x" + bytes(obj).hex()
    if isinstance(obj, _dt.datetime | _dt.date):
        return obj.isoformat()
    if isinstance(obj, _dt.timedelta):
        return int(obj.total_seconds())
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    return str(obj)  # CIDs, HexBytes subclasses are caught above, addresses are str


def error_payload(
    type_name: str,
    message: str,
    *,
    code: int,
    hint: str | None = None,
    outcome: int | None = None,
    tx_hash: object = None,
) -> dict[str, Any]:
    """The ``"error"`` object of ``--json`` output (one shape for every command and failure).

    ``outcome`` (an access-denial code) and ``tx_hash`` appear only when given.
    """
    from medledger.cli.exitcodes import error_kind

    error: dict[str, Any] = {
        "type": type_name,
        "kind": error_kind(code),
        "message": message,
        "hint": hint,
        "exit_code": code,
    }
    if outcome is not None:
        error["outcome"] = outcome
    if tx_hash is not None:
        error["tx_hash"] = str(tx_hash)
    return error


def console(*, stderr: bool = False, markup: bool = False) -> Console:
    """A rich console; wide when not a terminal so piped tables keep whole addresses and CIDs.

    Markup and emoji codes are off: strings printed are data (names and reasons come from the
    chain, and ``[/]`` in a provider name must print as ``[/]``). Styled output uses
    :func:`plain` with a style.
    """
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 250
    return Console(
        file=stream, highlight=False, width=width, soft_wrap=False, markup=markup, emoji=False
    )


def print_json(data: Any) -> None:
    click.echo(json.dumps(to_jsonable(data), indent=2, sort_keys=False))


def emit(as_json: bool, data: Any, human: Callable[[Console], None] | None = None) -> None:
    """Print ``data`` as JSON, or call ``human`` with a console (default: key/value table)."""
    if as_json:
        print_json(data)
        return
    con = console()
    if human is not None:
        human(con)
    elif isinstance(data, Mapping):
        con.print(kv_table(data))
    else:
        con.print(plain(to_jsonable(data)))


def kv_table(data: Mapping[str, Any], title: str | None = None) -> Table:
    """A two-column table of labelled values."""
    from rich.table import Table

    table = Table(show_header=False, title=title, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in data.items():
        table.add_row(key.replace("_", " "), _cell(value))
    return table


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> Table:
    """A table with a header row."""
    from rich.table import Table

    tbl = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        tbl.add_column(col, overflow="fold")
    for row in rows:
        tbl.add_row(*(_cell(v) for v in row))
    return tbl


def _cell(value: Any) -> Text:
    """A table cell: a Text (styled by the caller) as is, anything else as escaped plain text."""
    from rich.text import Text

    if isinstance(value, Text):
        return value
    value = to_jsonable(value)
    if value is None:
        return plain("-")
    if isinstance(value, bool):
        return plain("yes" if value else "no")
    if isinstance(value, list):
        return plain(", ".join(str(v) for v in value) or "-")
    if isinstance(value, dict):
        return plain(json.dumps(value))
    return plain(value)


#: 9999-12-31T23:59:59Z, the last second Python dates can show.
MAX_DATE = 253_402_300_799


def when(ts: int | None) -> str:
    """A unix time as ``YYYY-MM-DD HH:MM:SS UTC`` (chain time, so always UTC)."""
    if not ts:
        return "-"
    if not 0 < ts <= MAX_DATE:
        return f"unix {ts}"
    return _dt.datetime.fromtimestamp(ts, tz=_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def note(message: str) -> None:
    """A progress/status line for humans on stderr (keeps stdout clean for data and --json)."""
    click.echo(safe(message), err=True)
