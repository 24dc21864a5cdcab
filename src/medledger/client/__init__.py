"""The SDK: :class:`Medledger` (a deployment) and :class:`Session` (a party acting on it).

Modules: ``facade`` (Medledger), ``session`` (Session and its namespaces, one module each:
``identity``, ``providers``, ``records``, ``consent``, ``relay``, ``emergency``, ``access``,
``audit``, ``anchors``, ``recovery``), ``planner`` (the one consent planner), ``types`` (the
public dataclasses), ``documents`` / ``directory`` / ``keys`` (shared internals).
"""

from medledger.client.anchors import prove_item
from medledger.client.facade import Medledger
from medledger.client.session import Session
from medledger.client.types import (
    BATCH_FORMAT,
    DEFAULT_SIGNATURE_TTL,
    MAX_GRANT_BATCH,
    AccessResult,
    AnchoredBatch,
    AuditEntry,
    AuditTrail,
    BreakGlassInfo,
    GrantInfo,
    InclusionProof,
    KitUpdate,
    Party,
    PatientInfo,
    RecordInfo,
    RevokeInfo,
    SignedConsent,
    SignedStep,
    TxReceipt,
    stream_id_of,
)

__all__ = [
    "BATCH_FORMAT",
    "DEFAULT_SIGNATURE_TTL",
    "MAX_GRANT_BATCH",
    "AccessResult",
    "AnchoredBatch",
    "AuditEntry",
    "AuditTrail",
    "BreakGlassInfo",
    "GrantInfo",
    "InclusionProof",
    "KitUpdate",
    "Medledger",
    "Party",
    "PatientInfo",
    "RecordInfo",
    "RevokeInfo",
    "Session",
    "SignedConsent",
    "SignedStep",
    "TxReceipt",
    "prove_item",
    "stream_id_of",
]
