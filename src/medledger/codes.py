"""Fixed code lists shared with the contracts (``contracts/libraries/Codes.sol``).

Categories and purposes are small integers on-chain; a grant carries bit masks of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum, IntFlag
from typing import TypeVar

from medledger.errors import InvalidInput


class Category(IntEnum):
    ALLERGIES = 0
    MEDICATIONS = 1
    CONDITIONS = 2
    LABS = 3
    IMAGING = 4
    NOTES = 5
    VITALS = 6
    IMMUNIZATIONS = 7
    PROCEDURES = 8
    GENOMICS = 9


class Purpose(IntEnum):
    TREATMENT = 0
    EMERGENCY = 1
    PAYMENT = 2
    OPERATIONS = 3
    RESEARCH = 4
    PUBLIC_HEALTH = 5
    PATIENT_REQUEST = 6
    LEGAL = 7


class Action(IntFlag):
    READ = 1
    WRITE = 2


class Outcome(IntEnum):
    ALLOWED_CONSENT = 0
    ALLOWED_PATIENT = 1
    ALLOWED_EMERGENCY = 2
    BREAK_GLASS_OPENED = 3
    # v2: every patient-touching operation is a chain entry with its own code (< 16, not denials)
    BREAK_GLASS_CLOSED = 4
    CONSENT_GRANTED = 5
    CONSENT_REPLACED = 6
    CONSENT_REVOKED = 7
    RECORD_ADDED = 8
    RECORD_ERASED = 9
    CONTROLLER_CHANGED = 10
    PATIENT_REGISTERED = 11
    DENIED_NO_CONSENT = 16
    DENIED_EXPIRED = 17
    DENIED_NOT_YET_VALID = 18
    DENIED_CATEGORY = 19
    DENIED_PURPOSE = 20
    DENIED_ACTION = 21
    DENIED_SUSPENDED = 22
    DENIED_ERASED = 23
    # v2: a denied write is logged with the read-denial reason + 8 (28, purpose, never occurs)
    WRITE_DENIED_NO_CONSENT = 24
    WRITE_DENIED_EXPIRED = 25
    WRITE_DENIED_NOT_YET_VALID = 26
    WRITE_DENIED_CATEGORY = 27
    WRITE_DENIED_ACTION = 29
    WRITE_DENIED_SUSPENDED = 30

    @property
    def allowed(self) -> bool:
        """Not a denial: an allowed access or a recorded operation."""
        return self.value < OUTCOME_FIRST_DENIAL

    @property
    def is_access(self) -> bool:
        """A read (allowed or denied), as opposed to an operation entry or a denied write."""
        return self.value <= 2 or OUTCOME_FIRST_DENIAL <= self.value < 24

    @property
    def is_write_denial(self) -> bool:
        return self.value >= OUTCOME_FIRST_DENIAL + OUTCOME_WRITE_DENIAL_OFFSET


OUTCOME_FIRST_DENIAL = 16
OUTCOME_WRITE_DENIAL_OFFSET = 8


class BreakGlassReason(IntEnum):
    UNCONSCIOUS_PATIENT = 0
    LIFE_THREATENING = 1
    UNABLE_TO_CONSENT = 2
    OTHER = 3


DEFAULT_EMERGENCY_CATEGORIES = (Category.ALLERGIES, Category.MEDICATIONS, Category.CONDITIONS)
MAX_BREAK_GLASS_SECONDS = 24 * 3600
CID_CODEC_RAW = 0x55
CID_CODEC_DAG_PB = 0x70


_E = TypeVar("_E", Category, Purpose)


def _lookup(enum: type[_E], value: str | int | _E) -> _E:
    if isinstance(value, enum):
        return value
    try:
        if isinstance(value, int):
            return enum(value)
        key = value.strip().upper().replace("-", "_").replace(" ", "_")
        if key.isdigit():
            return enum(int(key))
        return enum[key]
    except (KeyError, ValueError, AttributeError):  # AttributeError: not a str (None, ...)
        names = ", ".join(m.name.lower() for m in enum)
        raise InvalidInput(
            f"unknown {enum.__name__.lower()} {value!r}", hint=f"use one of: {names}"
        ) from None


def category(value: str | int | Category) -> Category:
    """Parse a category from its name (``"labs"``), code (``3``) or enum member."""
    return _lookup(Category, value)


def purpose(value: str | int | Purpose) -> Purpose:
    """Parse a purpose from its name (``"treatment"``), code or enum member."""
    return _lookup(Purpose, value)


def mask(values: Iterable[int]) -> int:
    """Bit mask with bit ``1 << v`` set for each code."""
    out = 0
    for v in values:
        out |= 1 << int(v)
    return out


def unmask_categories(bits: int) -> list[Category]:
    return [c for c in Category if bits & (1 << c.value)]


def unmask_purposes(bits: int) -> list[Purpose]:
    return [p for p in Purpose if bits & (1 << p.value)]
