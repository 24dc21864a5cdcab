"""Input parsing shared by the flows: names or codes to typed values, or ``InvalidInput``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any, TypeVar

from medledger import codes
from medledger.codes import Action, Category, Purpose
from medledger.errors import InvalidInput
from medledger.storage import CID

C = TypeVar("C", bound=IntEnum)


def _items(values: object, what: str) -> list[Any]:
    """One value or an iterable of values as a list; InvalidInput for anything else."""
    if isinstance(values, (str, int)):
        return [values]
    if not isinstance(values, Iterable):
        raise InvalidInput(
            f"{what} must be a name, a code or a list of them, not {type(values).__name__}"
        )
    try:
        return list(values)
    except TypeError:
        raise InvalidInput(
            f"{what} must be a name, a code or a list of them, not {type(values).__name__}"
        ) from None


def _code_set(
    values: object, parse: Callable[[Any], C], plural: str, singular: str, example: str
) -> tuple[C, ...]:
    """The distinct codes named by ``values``, in code order; at least one."""
    found = tuple(sorted({parse(v) for v in _items(values, plural)}))
    if not found:
        raise InvalidInput(
            f"at least one {singular} is needed", hint=f"e.g. {plural}=['{example}']"
        )
    return found


def as_categories(values: Iterable[str | int | Category] | str | int) -> tuple[Category, ...]:
    return _code_set(values, codes.category, "categories", "category", "labs")


def as_purposes(values: Iterable[str | int | Purpose] | str | int) -> tuple[Purpose, ...]:
    return _code_set(values, codes.purpose, "purposes", "purpose", "treatment")


def as_actions(values: Iterable[str | int] | str | int) -> int:
    items = _items(values, "actions")
    mask = 0
    for v in items:
        if not isinstance(v, str | int):
            raise InvalidInput(f"unknown action {v!r}", hint="use read, write or both")
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
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidInput(
            f"a record id is bytes, hex text or a CID, not {type(value).__name__}",
            hint="0x + 64 hex digits, or a CID",
        )
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
    """A duration in whole seconds from a timedelta or an int (InvalidInput otherwise)."""
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(
            f"a duration is a timedelta or a number of seconds, not {value!r}",
            hint="e.g. timedelta(days=30) or 2592000",
        )
    return int(value)


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
