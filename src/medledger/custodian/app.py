"""The custodian's HTTP API (FastAPI; OpenAPI at ``/openapi.json``, docs at ``/docs``).

Bodies are read as a stream and cut at ``max_body`` bytes (413 before the rest is read). Every
error is ``{"error": code, "message": sentence}``: 400 malformed, 403 refused by a check, 409
conflict, 413 too large, 429 rate limited, 503 chain or store unavailable. Request logs carry
method, route, status and milliseconds, never a body.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from medledger.custodian.checks import ChainView, Refusal
from medledger.custodian.config import CustodianConfig
from medledger.custodian.fhir_audit import decisions_bundle
from medledger.custodian.service import Custodian, log_event
from medledger.custodian.store import Store
from medledger.errors import CustodianError, InvalidInput, MedledgerError, StorageError
from medledger.services.requestlog import log_requests

log = logging.getLogger("medledger.custodian")


class BodyTooLarge(CustodianError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds {limit} bytes", code="too_large")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


async def _json_body(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the request body is not valid JSON") from None
    except RecursionError:  # 64 KiB of "[" nests deeper than the parser's stack
        raise InvalidInput("the request body nests too deeply") from None


def _body_doc(name: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": f"see docs/custodians.md, {name}",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }


_Call = Callable[[Callable[[Any], Any], Request], Awaitable[Any]]


def _write_once(
    call: _Call, register: Callable[[Any], Any]
) -> Callable[[Request], Awaitable[JSONResponse]]:
    """The endpoint of a write-once registration: ``register`` returns (receipt, stored now)."""

    async def endpoint(request: Request) -> JSONResponse:
        receipt, new = await call(register, request)
        return JSONResponse(receipt.to_json(), status_code=201 if new else 200)

    return endpoint


def create_app(
    config: CustodianConfig,
    *,
    store: Store | None = None,
    view: ChainView | None = None,
) -> FastAPI:
    """The custodian app; opens the store and the chain view unless given."""
    view = view or ChainView(config.rpc, config.medledger, timeout=config.chain_timeout)
    store = store or Store.open(config.db)
    custodian = Custodian(config, store, view)
    app = FastAPI(
        title="medledger custodian",
        version="1",
        description="Threshold proxy re-encryption custodian (protocol v1, docs/custodians.md).",
    )
    app.state.custodian = custodian

    log_requests(
        app,
        lambda method, route, status, ms: log_event(
            "http", method=method, path=route, status=status, ms=round(ms, 3)
        ),
    )

    @app.exception_handler(Refusal)
    async def on_refusal(_r: Request, exc: Refusal) -> JSONResponse:
        log_event("refused", code=exc.code, status=exc.status)
        return _error(exc.status, exc.code, str(exc))

    @app.exception_handler(BodyTooLarge)
    async def on_too_large(_r: Request, exc: BodyTooLarge) -> JSONResponse:
        return _error(413, "too_large", str(exc))

    @app.exception_handler(InvalidInput)
    async def on_invalid(_r: Request, exc: InvalidInput) -> JSONResponse:
        return _error(400, "bad_request", str(exc))

    @app.exception_handler(StorageError)
    async def on_storage(_r: Request, exc: StorageError) -> JSONResponse:
        log_event("store_error", error=type(exc).__name__)
        return _error(503, "store_unavailable", "the custodian's database is unavailable")

    @app.exception_handler(MedledgerError)
    async def on_other(_r: Request, exc: MedledgerError) -> JSONResponse:
        log_event("error", error=type(exc).__name__)
        return _error(500, "internal", "the custodian failed to handle the request")

    def guarded(fn: Callable[[Any], Any], body: Any) -> Any:
        try:
            return fn(body)
        except MedledgerError:
            raise
        except Exception as exc:
            # a bug or a library error: no traceback (it could quote request bytes) in the log
            log_event("unexpected_error", error=type(exc).__name__)
            raise MedledgerError("unexpected error") from None

    async def call(fn: Callable[[Any], Any], request: Request) -> Any:
        body = await _json_body(request, config.max_body)
        return await run_in_threadpool(guarded, fn, body)

    @app.get("/health", summary="Process is alive")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Store and chain node answer; node not behind")
    async def ready() -> JSONResponse:
        def probe() -> JSONResponse:
            try:
                store.ping()
            except StorageError as exc:
                return JSONResponse(
                    {"status": "unavailable", "reason": "store", "message": str(exc)}, 503
                )
            try:
                head = custodian.fresh_head()
            except Refusal as exc:
                return JSONResponse({"status": "unavailable", "reason": exc.code}, 503)
            return JSONResponse({"status": "ready", "block": head.number})

        result: JSONResponse = await run_in_threadpool(probe)
        return result

    @app.get("/v1/info", summary="Identity and policy of this custodian")
    async def info() -> dict[str, Any]:
        return custodian.info()

    @app.post(
        "/v1/delegations",
        status_code=201,
        summary="Store a key fragment",
        openapi_extra=_body_doc("Delegation"),
    )
    async def delegations(request: Request) -> dict[str, Any]:
        receipt = await call(custodian.delegate, request)
        return dict(receipt.to_json())

    @app.post("/v1/revocations", summary="Delete a grantee's fragments")
    async def revocations(request: Request) -> dict[str, Any]:
        return dict((await call(custodian.revoke, request)).to_json())

    @app.post("/v1/erasures", summary="Refuse a record for good")
    async def erasures(request: Request) -> dict[str, Any]:
        return dict((await call(custodian.erase, request)).to_json())

    # write-once registrations: 201 when stored now, 200 with the same receipt on a repeat
    for name, path, summary, body, register in (
        (
            "capsules", "/v1/capsules",
            "Register a record's capsule (write-once)",
            "CapsuleRegistration", custodian.register_capsule,
        ),
        (
            "capsule_batch", "/v1/capsules/batch",
            "Register the capsules of up to 256 records of one patient (write-once each)",
            "CapsuleRegistrationBatch", custodian.register_capsules,
        ),
    ):  # fmt: skip
        app.post(path, name=name, status_code=201, summary=summary, openapi_extra=_body_doc(body))(
            _write_once(call, register)
        )

    @app.post(
        "/v1/reencrypt",
        summary="Re-encrypt a capsule after the chain checks",
        openapi_extra=_body_doc("Reencryption"),
    )
    async def reencrypt(request: Request) -> JSONResponse:
        served = await call(custodian.reencrypt, request)
        body = {"cfrag": "0x" + served.cfrag.hex(), **served.receipt.to_json()}
        # W3C Server-Timing: where the time went (chain calls vs the custodian's own work)
        chain_ms = served.chain_seconds * 1000
        own_ms = (served.total_seconds - served.chain_seconds) * 1000
        cpu_ms = served.handler_cpu_seconds * 1000
        timing = f"chain;dur={chain_ms:.3f}, handler;dur={own_ms:.3f}, handler-cpu;dur={cpu_ms:.3f}"
        return JSONResponse(body, headers={"Server-Timing": timing})

    def _query_int(request: Request, name: str) -> int | None:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return None
        if not raw.isdigit():
            raise InvalidInput(f"{name} must be a non-negative integer")
        return int(raw)

    @app.get("/v1/decisions", summary="The append-only decision log")
    async def decisions(request: Request) -> list[dict[str, Any]]:
        pid = _query_int(request, "patientId")
        since = _query_int(request, "since") or 0
        rows = await run_in_threadpool(store.decisions, pid, since)
        return [d.to_json() for d in rows]

    @app.get("/v1/decisions/fhir", summary="Decisions as FHIR R4 AuditEvents (Bundle)")
    async def decisions_fhir(request: Request) -> dict[str, Any]:
        pid = _query_int(request, "patientId")
        since = _query_int(request, "since") or 0
        rows = await run_in_threadpool(store.decisions, pid, since)
        return decisions_bundle(rows, chain_id=custodian.chain_id, custodian=custodian.address)

    return app
