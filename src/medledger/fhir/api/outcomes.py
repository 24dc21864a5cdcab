"""Errors as FHIR ``OperationOutcome`` resources, and the purpose-of-use request header."""

from __future__ import annotations

from typing import Any

from medledger import codes
from medledger.audit.accounting import outcome_text
from medledger.audit.fhir import FHIR_BASE, PURPOSE_CODES, V3_ACT_REASON
from medledger.codes import Outcome, Purpose
from medledger.errors import InvalidInput, MedledgerError

#: The request header an EHR names its purpose of use in (default: treatment). Values: an HL7
#: v3 ActReason PurposeOfUse code (``TREAT``, ``ETREAT``, ``HPAYMT``, ``HOPERAT``, ``HRESCH``,
#: ``PUBHLTH``, ``PATRQT``, ``HLEGAL``), optionally as ``<system>|<code>``, or medledger's
#: purpose name (``treatment``, ``emergency``, ``payment``, ``operations``, ``research``,
#: ``public_health``, ``patient_request``, ``legal``).
PURPOSE_HEADER = "X-Purpose-Of-Use"
DEFAULT_PURPOSE = Purpose.TREATMENT

#: medledger's own code system for access outcomes (the contract's outcome codes).
OUTCOME_SYSTEM = f"{FHIR_BASE}/CodeSystem/access-outcome"

_BY_V3 = {code: purpose for purpose, (code, _display) in PURPOSE_CODES.items()}


class FhirError(MedledgerError):
    """A request the API answers with an HTTP error and an ``OperationOutcome``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        outcome: int | None = None,
        tx_hash: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.outcome = outcome
        self.tx_hash = tx_hash

    def resource(self) -> dict[str, Any]:
        return operation_outcome(
            "error", self.code, str(self), outcome=self.outcome, tx_hash=self.tx_hash
        )


def operation_outcome(
    severity: str,
    code: str,
    diagnostics: str,
    *,
    outcome: int | None = None,
    tx_hash: str | None = None,
) -> dict[str, Any]:
    """An ``OperationOutcome`` with one issue; ``outcome`` (a contract outcome code) goes in
    ``details`` so a client can act on the reason without parsing text."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if outcome is not None:
        issue["details"] = {
            "coding": [
                {
                    "system": OUTCOME_SYSTEM,
                    "code": _outcome_name(outcome),
                    "display": outcome_text(outcome),
                }
            ],
            "text": outcome_text(outcome),
        }
    if tx_hash:
        issue["expression"] = [f"medledger.transaction('{tx_hash}')"]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def _outcome_name(code: int) -> str:
    try:
        return Outcome(code).name.lower().replace("_", "-")
    except ValueError:
        return str(code)


def denied(outcome: int, what: str, tx_hash: str | None = None) -> FhirError:
    """HTTP 403 for a consent denial (``outcome`` is the contract's code)."""
    reason = outcome_text(outcome).removeprefix("denied: ")
    logged = "; the attempt was logged on-chain" if tx_hash else ""
    return FhirError(
        403, "forbidden", f"{what}: {reason}{logged}", outcome=outcome, tx_hash=tx_hash
    )


def parse_purpose(value: str | None) -> Purpose:
    """The purpose of use named in the :data:`PURPOSE_HEADER` header (absent: treatment)."""
    if value is None or not value.strip():
        return DEFAULT_PURPOSE
    text = value.strip()
    system, bar, code = text.rpartition("|")
    if bar and system not in ("", V3_ACT_REASON):
        raise FhirError(
            400, "value", f"{PURPOSE_HEADER}: unknown code system {system!r} (use {V3_ACT_REASON})"
        )
    if code.upper() in _BY_V3:
        return _BY_V3[code.upper()]
    try:
        return codes.purpose(code)
    except InvalidInput:
        known = ", ".join(c for c, _ in PURPOSE_CODES.values())
        raise FhirError(
            400, "value", f"{PURPOSE_HEADER}: unknown purpose of use {code!r} (use {known})"
        ) from None
