"""Parsers for what people type: durations (``24h``, ``30d``, ``1d12h``), ether amounts, lists.

Each raises :class:`~medledger.errors.InvalidInput` with a hint, so a typo exits with code 2
before anything is sent.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from medledger.errors import InvalidInput

#: Latest time the CLI accepts for a grant end or the chain clock: 9999-12-31T23:59:59Z. The
#: contracts store times as uint40 (good until the year 36812); Python dates, which print and
#: parse them, end at 9999, so that is the bound checked before anything is sent.
MAX_TIME = 253_402_300_799
#: The contracts' time width (uint40): a block after this makes every time-stamping call revert.
UINT40_MAX = 2**40 - 1
#: Durations the contracts store as uint32 seconds (break-glass windows, recovery delays).
UINT32_MAX = 2**32 - 1

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_PART = re.compile(r"(\d+)\s*([smhdwy])")
_DURATION_HINT = "write a number and a unit: 90s, 45m, 24h, 30d, 2w, 1y, or combined like 1d12h"


def parse_duration(text: str) -> timedelta:
    """``"24h"`` -> 24 hours; units s, m, h, d, w, y (365 d); parts combine (``"1d12h"``)."""
    compact = text.strip().lower().replace(" ", "")
    if not compact:
        raise InvalidInput("empty duration", hint=_DURATION_HINT)
    if compact.isdigit():
        raise InvalidInput(f"duration {text!r} has no unit", hint=_DURATION_HINT)
    pos = 0
    seconds = 0
    for match in _PART.finditer(compact):
        if match.start() != pos:
            break
        seconds += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(compact):
        raise InvalidInput(f"cannot read duration {text!r}", hint=_DURATION_HINT)
    if seconds <= 0:
        raise InvalidInput(f"duration {text!r} must be positive", hint=_DURATION_HINT)
    if seconds > MAX_TIME:
        raise InvalidInput(
            f"duration {text!r} is too far: it ends after the year 9999",
            hint="medledger times end at 9999-12-31 (the contracts store 40-bit times)",
        )
    return timedelta(seconds=seconds)


def check_time(ts: int, what: str) -> int:
    """``ts`` if it is no later than :data:`MAX_TIME`; else InvalidInput naming ``what``."""
    if ts > MAX_TIME:
        raise InvalidInput(
            f"{what} is too far in the future (after 9999-12-31)",
            hint="medledger times end at 9999-12-31 (the contracts store 40-bit times)",
        )
    return ts


def format_duration(seconds: int) -> str:
    """The inverse, for display: ``90000`` -> ``"1d 1h"``."""
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts)


def parse_time(text: str) -> int:
    """A point in time as unix seconds: ``1767225600`` or ISO 8601 (naive means UTC)."""
    text = text.strip()
    if text.isdigit():
        return check_time(int(text), f"time {text}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"cannot read time {text!r}", hint="e.g. 2026-12-31, 2026-12-31T18:00+01:00 or unix"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


_WEI = {"wei": 0, "gwei": 9, "eth": 18, "ether": 18}


def parse_amount(text: str) -> int:
    """An amount in wei from ``"10"`` (ether), ``"0.5eth"``, ``"20gwei"`` or ``"1000wei"``."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*", text.lower())
    unit = match.group(2) if match else ""
    if match is None or (unit and unit not in _WEI):
        raise InvalidInput(f"cannot read amount {text!r}", hint="e.g. 10, 0.5eth, 20gwei, 1000wei")
    try:
        value = Decimal(match.group(1)) * (Decimal(10) ** _WEI[unit or "eth"])
    except InvalidOperation:
        raise InvalidInput(f"cannot read amount {text!r}") from None
    if value != value.to_integral_value():
        raise InvalidInput(f"amount {text!r} is not a whole number of wei")
    return int(value)


def split_names(values: tuple[str, ...] | list[str]) -> list[str]:
    """Flatten repeated and comma-separated option values: ``("labs,allergies", "notes")``."""
    out: list[str] = []
    for value in values:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out
