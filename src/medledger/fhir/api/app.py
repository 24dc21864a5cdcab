"""The FastAPI app of ``medledger fhir serve``: a FHIR R4 read API acting as one provider.

Handlers are ``async`` and do their chain work inline, so requests are served one at a time on
the event loop: the provider signs its access logs from one account, whose nonces must go out
in order, and the audit archive's SQLite connection stays on one thread. Throughput is bound by
the chain's transactions anyway (docs/fhir-api.md, "Performance").

Logging: the runner's access log is off (a request path names a patient or resource); this
module logs one line per request with the route *template*, the status and the time.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from medledger.client.facade import Medledger
from medledger.client.session import Session
from medledger.errors import CustodiansUnavailable, MedledgerError
from medledger.fhir.api.capability import DEFAULT_COUNT, MAX_COUNT, capability_statement
from medledger.fhir.api.chainview import CHAIN_TYPES, ChainView
from medledger.fhir.api.links import FhirLinks
from medledger.fhir.api.outcomes import (
    PURPOSE_HEADER,
    FhirError,
    operation_outcome,
    parse_purpose,
)
from medledger.fhir.api.reader import ChartReader, Page, Withheld
from medledger.fhir.categories import CLINICAL_TYPES
from medledger.services.requestlog import log_requests

FHIR_JSON = "application/fhir+json"
log = logging.getLogger("medledger.fhir.api")

_SEARCH_PARAMS = frozenset({"patient", "subject", "_count", "_offset", "_format"})


def fhir_response(body: dict[str, Any], status: int = 200) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(content=content, status_code=status, media_type=FHIR_JSON)


def create_app(ml: Medledger, session: Session, links: FhirLinks) -> FastAPI:
    """The API acting as ``session``'s provider, for the patients in ``links``."""
    app = FastAPI(title="medledger FHIR API", docs_url=None, redoc_url=None, openapi_url=None)
    reader = ChartReader(session, links)
    chain = ChainView(ml)
    app.state.reader = reader
    app.state.chain = chain
    started = datetime.now(UTC).isoformat(timespec="seconds")

    log_requests(
        app,
        lambda method, route, status, ms: log.info("%s %s %d %.0f ms", method, route, status, ms),
    )

    @app.exception_handler(FhirError)
    async def on_fhir_error(_request: Request, exc: FhirError) -> Response:
        return fhir_response(exc.resource(), exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "not-supported"}.get(exc.status_code, "processing")
        text = "no such endpoint" if exc.status_code == 404 else str(exc.detail)
        return fhir_response(operation_outcome("error", code, text), exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def on_bad_request(_request: Request, exc: RequestValidationError) -> Response:
        return fhir_response(operation_outcome("error", "invalid", "bad request"), 400)

    @app.exception_handler(CustodiansUnavailable)
    async def on_custodians_unavailable(_request: Request, exc: CustodiansUnavailable) -> Response:
        # a passing condition, not a server fault: the EHR may retry (the access stays logged)
        log.warning("request failed: CustodiansUnavailable (%d custodians)", len(exc.unavailable))
        text = (
            "too few of the patient's custodians answered to open a record in custodian mode "
            "(CustodiansUnavailable); the access was logged; retry later"
        )
        response = fhir_response(operation_outcome("error", "transient", text), 503)
        response.headers["Retry-After"] = "30"
        return response

    @app.exception_handler(MedledgerError)
    async def on_medledger_error(_request: Request, exc: MedledgerError) -> Response:
        # the class name only: messages may name patients or records
        log.warning("request failed: %s", type(exc).__name__)
        text = f"the server could not complete the read ({type(exc).__name__})"
        return fhir_response(operation_outcome("error", "exception", text), 500)

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    @app.get("/metadata")
    async def metadata(request: Request) -> Response:
        return fhir_response(capability_statement(started, base(request)))

    @app.get("/Patient/{fhir_id}/$everything")
    async def everything(request: Request, fhir_id: str) -> Response:
        purpose = parse_purpose(request.headers.get(PURPOSE_HEADER))
        link = reader.link(fhir_id)
        page = reader.everything(link, purpose)
        url = f"{base(request)}/Patient/{fhir_id}/$everything"
        return fhir_response(_searchset(base(request), url, page, None))

    @app.get("/Patient/{fhir_id}")
    async def read_patient(request: Request, fhir_id: str) -> Response:
        purpose = parse_purpose(request.headers.get(PURPOSE_HEADER))
        return fhir_response(reader.patient(reader.link(fhir_id), purpose))

    @app.get("/Patient")
    async def search_patient(request: Request) -> Response:
        purpose = parse_purpose(request.headers.get(PURPOSE_HEADER))
        params = request.query_params
        extra = set(params) - {"_id", "_format"}
        if extra or "_id" not in params:
            raise FhirError(400, "not-supported", "a Patient search takes exactly _id=<id>")
        link = reader.link(params["_id"])
        page = Page([reader.patient(link, purpose)], 1, False, Withheld())
        url = f"{base(request)}/Patient?{urlencode({'_id': link.fhir_id})}"
        return fhir_response(_searchset(base(request), url, page, None))

    @app.get("/{kind}/{resource_id}")
    async def read(request: Request, kind: str, resource_id: str) -> Response:
        purpose = parse_purpose(request.headers.get(PURPOSE_HEADER))
        if kind not in CLINICAL_TYPES:
            raise FhirError(404, "not-supported", f"read of {kind} is not supported")
        return fhir_response(reader.read(kind, resource_id, purpose))

    @app.get("/{kind}")
    async def search(request: Request, kind: str) -> Response:
        purpose = parse_purpose(request.headers.get(PURPOSE_HEADER))
        params = request.query_params
        if kind not in CLINICAL_TYPES and kind not in CHAIN_TYPES:
            raise FhirError(404, "not-supported", f"search of {kind} is not supported")
        unknown = set(params) - _SEARCH_PARAMS
        if unknown:
            raise FhirError(
                400,
                "not-supported",
                f"unsupported search parameter(s): {', '.join(sorted(unknown))} "
                "(supported: patient, _count)",
            )
        ref = params.get("patient") or params.get("subject")
        if not ref:
            raise FhirError(400, "required", f"a {kind} search needs patient=<id>")
        count = _int_param(params.get("_count"), DEFAULT_COUNT, 1, MAX_COUNT, "_count")
        offset = _int_param(params.get("_offset"), 0, 0, 10**9, "_offset")
        link = reader.link(ref)
        if kind in CHAIN_TYPES:
            found = chain.resources(link.patient_id, kind)
            window = found[offset : offset + count]
            page = Page(window, len(found), offset + count < len(found), Withheld())
        else:
            page = reader.search(kind, link, purpose, offset, count)
        query = {"patient": link.fhir_id, "_count": str(count)}
        return fhir_response(
            _searchset(base(request), f"{base(request)}/{kind}", page, (query, offset, count))
        )

    return app


def _int_param(raw: str | None, default: int, low: int, high: int, name: str) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise FhirError(400, "value", f"{name} must be an integer") from None
    if not low <= value <= high:
        raise FhirError(400, "value", f"{name} must be in {low}..{high}")
    return value


def _searchset(
    base_url: str,
    url: str,
    page: Page,
    paging: tuple[dict[str, str], int, int] | None,
) -> dict[str, Any]:
    """A ``searchset`` Bundle of ``page``; ``paging`` = (query, offset, count) adds the
    self/next/previous links (offsets, opaque to clients)."""
    links: list[dict[str, str]] = []
    if paging is None:
        links.append({"relation": "self", "url": url})
    else:
        query, offset, count = paging

        def at(off: int) -> str:
            return f"{url}?{urlencode({**query, '_offset': str(off)})}"

        links.append({"relation": "self", "url": at(offset)})
        if page.more:
            links.append({"relation": "next", "url": at(offset + count)})
        if offset > 0:
            links.append({"relation": "previous", "url": at(max(0, offset - count))})
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{base_url}/{r['resourceType']}/{r['id']}"
            if isinstance(r.get("id"), str)
            else f"urn:uuid:{uuid.uuid4()}",
            "resource": r,
            "search": {"mode": "match"},
        }
        for r in page.resources
    ]
    if page.withheld:
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": _withheld_outcome(page.withheld),
                "search": {"mode": "outcome"},
            }
        )
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "searchset",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if page.total is not None:
        bundle["total"] = page.total
    bundle["link"] = links
    if entries:
        bundle["entry"] = entries
    return bundle


def _withheld_outcome(withheld: Withheld) -> dict[str, Any]:
    from medledger.audit.accounting import outcome_text

    parts = [
        f"{', '.join(sorted(c.name.lower() for c in cats))}: {outcome_text(code)}"
        for code, cats in sorted(withheld.by_outcome.items())
    ]
    return operation_outcome(
        "warning",
        "suppressed",
        "records of these categories were not returned: " + "; ".join(parts),
    )
