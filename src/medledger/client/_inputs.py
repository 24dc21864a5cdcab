"""Input parsing shared by the flows: names or codes to typed values, or ``InvalidInput``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from medledger import codes
from medledger.codes import Action, Category, Purpose
from medledger.errors import InvalidInput
from medledger.storage import CID


def as_categories(values: Iterable[str | int | Category] | str | int) -> tuple[Category, ...]:
    items = [values] if isinstance(values, (str, int)) else list(values)
    cats = tuple(sorted({codes.category(v) for v in items}))
    if not cats:
        raise InvalidInput("at least one category is needed", hint="e.g. categories=['labs']")
    return cats


def as_purposes(values: Iterable[str | int | Purpose] | str | int) -> tuple[Purpose, ...]:
    items = [values] if isinstance(values, (str, int)) else list(values)
    purposes = tuple(sorted({codes.purpose(v) for v in items}))
    if not purposes:
        raise InvalidInput("at least one purpose is needed", hint="e.g. purposes=['treatment']")
    return purposes


def as_actions(values: Iterable[str | int] | str | int) -> int:
    items = [values] if isinstance(values, (str, int)) else list(values)
    mask = 0
    for v in items:
        if isinstance(v, int):
            if v not in (1, 2, 3):
                raise InvalidInput(f"unknown action {v}", hint="use read, write or both")
            mask |= v
            continue
        name = v.strip().lower()
        if name not in ("read", "write"):
            raise InvalidInput(f"unknown action {v!r}", hint="use read, write or both")
        mask |= Action.READ if name == "read" else Action.WRITE
    if not mask:
        raise InvalidInput("at least one action is needed", hint="actions=['read']")
    return int(mask)


def record_id(value: bytes | str | CID) -> bytes:
    if isinstance(value, CID):
        return value.digest
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("b", "Q")) and not text.startswith("0x"):
            try:
                return CID.parse(text).digest
            except (InvalidInput, ValueError):
                pass
        try:
            value = bytes.fromhex(text.removeprefix("0x"))
        except ValueError:
            raise InvalidInput(
                f"not a record id: {text!r}", hint="0x + 64 hex digits, or a CID"
            ) from None
    if len(value) != 32:
        raise InvalidInput("a record id is 32 bytes (the CID's sha2-256 digest)")
    return bytes(value)


def as_timestamp(value: int | datetime) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInput("use a timezone-aware datetime")
        return int(value.timestamp())
    if value < 0:
        raise InvalidInput("timestamps are positive")
    return int(value)


def seconds(value: timedelta | int) -> int:
    return int(value.total_seconds()) if isinstance(value, timedelta) else int(value)


def grant_end(
    now: int, duration: timedelta | int | None, valid_until: int | datetime | None
) -> int:
    """The end of a grant given exactly one of ``duration`` (from ``now``) or ``valid_until``."""
    if (duration is None) == (valid_until is None):
        raise InvalidInput("give exactly one of duration or valid_until")
    if duration is not None:
        secs = seconds(duration)
        if secs <= 0:
            raise InvalidInput("the duration must be positive")
        return now + secs
    assert valid_until is not None
    return as_timestamp(valid_until)
