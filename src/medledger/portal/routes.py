"""The portal's routes: pages (GET), changes (POST with the CSRF token), downloads, live API."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from medledger.errors import InvalidInput, KeystoreError, MedledgerError, NotRegistered
from medledger.portal import data, pages
from medledger.portal.app import (
    IDLE_MESSAGE,
    Portal,
    Unavailable,
    any_of,
    attachment,
    check_pre_token,
    current,
    describe,
    form_with_csrf,
    html,
    one_of,
    redirect,
    unlock_page,
)
from medledger.portal.auth import COOKIE
from medledger.portal.summaries import date_time, parse_duration, resources_of, summarize

if TYPE_CHECKING:
    from medledger.client import AuditEntry, Session
    from medledger.portal.auth import Unlocked

RECORD_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")


def register(app: FastAPI, portal: Portal) -> None:
    ml = portal.ml

    def chrome(item: Unlocked, alerts: list[str] | None = None) -> pages.Chrome:
        flash = list(item.flash)
        item.flash.clear()
        s = item.session
        return pages.Chrome(item.patient_id, s.address, item.csrf, flash, alerts or [])

    def new_openings(
        s: Session, entries: tuple[AuditEntry, ...], *, link: bool = True
    ) -> list[str]:
        seen = portal.seen(s.address)
        new = [o for o in data.openings(s, entries) if o.seq > seen]
        return [data.alert_text(new, link=link)] if new else []

    async def page(
        request: Request, build: Callable[[Unlocked], str], *, title: str, name: str
    ) -> Response:
        item = current(portal, request)
        if isinstance(item, Response):
            return item
        try:
            return html(await portal.call(lambda: build(item)))
        except Unavailable as exc:
            text = portal.unavailable_text(exc)
            body = f'<div class="flash error" role="alert" id="unavailable">{pages.e(text)}</div>'
            return html(pages.document(title, body, page=name, chrome=chrome(item)), 503)
        except MedledgerError as exc:
            body = f'<div class="flash error" role="alert">{pages.e(describe(exc))}</div>'
            return html(pages.document(title, body, page=name, chrome=chrome(item)), 400)

    async def change(
        request: Request,
        work: Callable[[Unlocked, Any], str],
        back: str | Callable[[Any], str],
    ) -> Response:
        """A POST: session, CSRF token, then the SDK call; its outcome is flashed on ``back``."""
        item = current(portal, request)
        if isinstance(item, Response):
            return item
        form = await form_with_csrf(request, item)
        if isinstance(form, Response):
            return form
        target = back(form) if callable(back) else back
        try:
            item.flash.append(("ok", await portal.call(lambda: work(item, form))))
        except Unavailable as exc:
            item.flash.append(("error", portal.unavailable_text(exc)))
        except MedledgerError as exc:
            item.flash.append(("error", describe(exc)))
        return redirect(target)

    # --- unlock / lock -------------------------------------------------------------------------

    @app.get("/unlock")
    async def unlock_get(request: Request, m: str = "") -> Response:
        message = IDLE_MESSAGE.format(m=portal.idle_minutes()) if m == "idle" else None
        if m == "locked":
            message = "Locked. The portal forgot your key."
        return unlock_page(portal, message)

    @app.post("/unlock")
    async def unlock_post(request: Request) -> Response:
        form = await request.form()
        if not check_pre_token(request, form):
            return unlock_page(portal, "The unlock form expired or was forged; try again.", 403)
        password = one_of(form, "password")
        if not password:
            return unlock_page(portal, "Type the keystore password.", 400)

        def work() -> tuple[Any, int]:
            from medledger.client import Party

            party = Party.from_keystore(portal.config.keystore, password)
            s = ml.session(party)
            return s, s.patient_id()

        try:
            s, pid = await portal.call(work)
        except KeystoreError:
            return unlock_page(
                portal,
                "Wrong password for this key (or the key file is damaged). Nothing was unlocked.",
                401,
            )
        except NotRegistered:
            return unlock_page(
                portal,
                f"The key {portal.config.account} does not control a registered patient record.",
                400,
            )
        except Unavailable as exc:
            return unlock_page(portal, portal.unavailable_text(exc), 503)
        sid, _ = portal.sessions.create(s, pid)
        response = redirect("/timeline")
        response.set_cookie(COOKIE, sid, httponly=True, samesite="strict", path="/")
        response.delete_cookie("medledger_portal_pre", path="/unlock")
        return response

    @app.post("/lock")
    async def lock(request: Request) -> Response:
        item = current(portal, request)
        if not isinstance(item, Response):
            refused = await form_with_csrf(request, item)
            if isinstance(refused, Response):
                return refused
            portal.sessions.drop(request.cookies.get(COOKIE))
        response = redirect("/unlock?m=locked")
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/")
    async def root() -> Response:
        return redirect("/timeline")

    # --- timeline and records ------------------------------------------------------------------

    @app.get("/timeline")
    async def timeline(request: Request, category: str = "") -> Response:
        def build(item: Unlocked) -> str:
            s = item.session
            rows = data.records(ml, s)
            alerts = new_openings(s, s.audit.trail().entries)
            return pages.timeline(chrome(item, alerts), rows, category.lower() or None)

        return await page(request, build, title="Timeline", name="timeline")

    def record_row(item: Unlocked, rid: str) -> pages.RecordRow:
        if not RECORD_ID.match(rid):
            raise InvalidInput("not a record id")
        for row in data.records(ml, item.session):
            if row.record_id.lower() == rid.lower():
                return row
        raise InvalidInput("no such record in your timeline")

    @app.get("/records/{rid}")
    async def record(request: Request, rid: str) -> Response:
        def build(item: Unlocked) -> str:
            row = record_row(item, rid)
            plain = item.session.access.open_own(row.record_id)
            found = resources_of(plain)
            summaries = None if found is None else [summarize(r) for r in found]
            return pages.record(chrome(item), row, summaries, len(plain))

        return await page(request, build, title="Record", name="timeline")

    @app.get("/records/{rid}/download")
    async def record_download(request: Request, rid: str) -> Response:
        item = current(portal, request)
        if isinstance(item, Response):
            return item
        try:
            plain = await portal.call(
                lambda: item.session.access.open_own(record_row(item, rid).record_id)
            )
        except MedledgerError as exc:
            return html(pages.message_page("Download failed", describe(exc), back="/timeline"), 400)
        fhir = resources_of(plain) is not None
        name = f"record-{rid[2:14]}.{'json' if fhir else 'bin'}"
        return attachment(plain, name, "application/json" if fhir else "application/octet-stream")

    # --- grants ------------------------------------------------------------------------------

    @app.get("/grants")
    async def grants(request: Request) -> Response:
        def build(item: Unlocked) -> str:
            s = item.session
            return pages.grants(chrome(item), data.grants(ml, s), data.providers(ml))

        return await page(request, build, title="Who can see what", name="grants")

    def grant(item: Unlocked, form: Any) -> str:
        cats = any_of(form, "categories")
        if not cats:
            raise InvalidInput("choose at least one category; nothing was granted")
        actions = any_of(form, "actions") or ["read"]
        seconds = parse_duration(one_of(form, "amount"), one_of(form, "unit"))
        purpose = one_of(form, "purpose") or "treatment"
        info = item.session.consent.grant(
            one_of(form, "grantee"), cats, [purpose], actions, duration=seconds
        )
        who = ml.provider_name(info.grantee) or info.grantee
        return (
            f"Granted {who} {', '.join(actions)} access to {', '.join(cats)} for "
            f"{purpose.replace('_', ' ')} until {date_time(info.valid_until)}."
        )

    @app.post("/grants")
    async def grants_post(request: Request) -> Response:
        return await change(request, grant, "/grants")

    @app.get("/grants/revoke")
    async def revoke_get(request: Request, grantee: str = "") -> Response:
        def build(item: Unlocked) -> str:
            for g in data.grants(ml, item.session):
                if g.grantee.lower() == grantee.lower():
                    return pages.revoke_confirm(chrome(item), g)
            raise InvalidInput("this provider holds no active grant from you")

        return await page(request, build, title="Revoke access", name="grants")

    def revoke(item: Unlocked, form: Any) -> str:
        grantee = one_of(form, "grantee")
        info = item.session.consent.revoke(grantee)
        who = ml.provider_name(info.grantee) or info.grantee
        return (
            f"Revoked {who}: its reads are refused from now on and its categories moved to new "
            "keys. What it already read stays with it; its past accesses stay in your log."
        )

    @app.post("/grants/revoke")
    async def revoke_post(request: Request) -> Response:
        return await change(request, revoke, "/grants")

    # --- access log --------------------------------------------------------------------------

    @app.get("/log")
    async def access_log(request: Request, outcome: str = "all", who: str = "") -> Response:
        outcome = outcome if outcome in ("all", "access", "allowed", "denied") else "all"

        def build(item: Unlocked) -> str:
            s = item.session
            trail = s.audit.trail()
            rows = data.log_rows(ml, s, trail.entries)
            shown = [r for r in reversed(rows) if data.keep(r, outcome, who)]
            v = trail.verification
            return pages.access_log(
                chrome(item, new_openings(s, trail.entries)),
                shown,
                chart=data.chart(rows, trail.entries),
                verified=trail.verified,
                verification=_verification_text(v, len(trail.entries)),
                outcome=outcome,
                who=who,
                whos=[r.who for r in rows],
                newest=max((r.seq for r in rows), default=0),
            )

        return await page(request, build, title="Access log", name="log")

    @app.get("/api/log")
    async def api_log(request: Request, after: int = 0) -> Response:
        item = current(portal, request, touch=False)
        if isinstance(item, Response):
            return item

        def work() -> dict[str, Any]:
            s = item.session
            trail = s.audit.trail()
            rows = data.log_rows(ml, s, trail.entries)
            fresh = [r for r in rows if r.seq > after]
            return {
                "newest": max((r.seq for r in rows), default=0),
                "verified": trail.verified,
                "rows": [pages.log_row(r) for r in reversed(fresh)],
                "meta": [
                    {"seq": r.seq, "who": r.who, "allowed": r.allowed, "access": r.access}
                    for r in reversed(fresh)
                ],
                "chart": data.chart(rows, trail.entries) if fresh else None,
            }

        try:
            return JSONResponse(await portal.call(work))
        except Unavailable as exc:
            return JSONResponse(
                {"error": "unavailable", "message": portal.unavailable_text(exc)}, 503
            )

    @app.get("/download/{name}")
    async def download(request: Request, name: str) -> Response:
        item = current(portal, request)
        if isinstance(item, Response):
            return item
        if name not in ("accounting.html", "accounting.csv", "fhir.json"):
            return html(pages.message_page("Not found", "No such download.", back="/log"), 404)
        try:
            body = await portal.call(lambda: _report(portal, item.patient_id, name))
        except Unavailable as exc:
            return html(pages.message_page("Download failed", portal.unavailable_text(exc)), 503)
        except MedledgerError as exc:
            return html(pages.message_page("Download failed", describe(exc), back="/log"), 400)
        kind = {"html": "text/html", "csv": "text/csv", "json": "application/fhir+json"}
        return attachment(body, f"patient-{item.patient_id}-{name}", kind[name.rsplit(".")[-1]])

    # --- emergency ---------------------------------------------------------------------------

    @app.get("/emergency")
    async def emergency(request: Request) -> Response:
        def build(item: Unlocked) -> str:
            s = item.session
            now = ml.now()
            trail = s.audit.trail()
            alerts = new_openings(s, trail.entries, link=False)
            opened = data.openings(s, trail.entries)
            if opened:
                portal.mark_seen(s.address, max(o.seq for o in opened))
            st = s.emergency.settings()
            windows = [
                pages.WindowRow(
                    w.responder,
                    w.responder_name or w.responder,
                    pages.words(w.reason.name),
                    w.opened_at,
                    w.expires_at,
                    w.expires_at - now,
                )
                for w in s.emergency.open_windows()
            ]
            return pages.emergency(
                chrome(item, alerts),
                categories=[pages.words(c.name) for c in st.categories],
                max_duration=st.max_duration,
                opt_out=st.opt_out,
                responders=[(a, ml.provider_name(a) or a) for a in st.responders],
                windows=windows,
            )

        return await page(request, build, title="Emergency access", name="emergency")

    def close(item: Unlocked, form: Any) -> str:
        responder = one_of(form, "responder")
        item.session.emergency.close_break_glass(item.patient_id, responder)
        who = ml.provider_name(responder) or responder
        return f"Closed the break-glass window of {who}: its emergency reads are refused from now."

    @app.post("/emergency/close")
    async def emergency_close(request: Request) -> Response:
        return await change(request, close, "/emergency")

    # --- safety ------------------------------------------------------------------------------

    @app.get("/safety")
    async def safety(request: Request) -> Response:
        def build(item: Unlocked) -> str:
            s = item.session
            st = s.recovery.status()
            r = ml.pending_recovery(item.patient_id)
            now = ml.now()
            pending = None
            if r.started_at and (r.expires_at == 0 or r.expires_at > now):
                who = r.candidate if int(r.candidate, 16) else "a new key"
                when = (
                    f"; it can complete at {date_time(r.executable_at)} unless you cancel"
                    if r.executable_at
                    else "; guardians are still approving"
                )
                pending = (
                    f"A recovery of your record is pending: control would move to {who}{when}. "
                    "If this is not you, cancel it now."
                )
            return pages.safety(
                chrome(item),
                guardians=[(g, ml.provider_name(g) or g) for g in st.guardians],
                threshold=st.threshold,
                delay=st.delay,
                backed_up=any(st.shares_digest),
                paper=st.paper_guardians,
                pending=pending,
            )

        return await page(request, build, title="Safety", name="safety")

    def cancel(item: Unlocked, form: Any) -> str:
        item.session.recovery.cancel()
        return "The pending recovery was cancelled; control stays with this key."

    @app.post("/safety/cancel-recovery")
    async def cancel_recovery(request: Request) -> Response:
        return await change(request, cancel, "/safety")


def _verification_text(v: Any, n: int) -> str:
    if getattr(v, "ok", False):
        return f"all {n} entries match the on-chain head"
    return str(getattr(v, "problem", None) or "the archive differs from the chain")


def _report(portal: Portal, patient_id: int, name: str) -> str:
    """An accounting (HTML/CSV) or FHIR export, from an in-memory archive synced and verified
    against the chain (reports are never built from an archive that disagrees with it)."""
    import json

    from medledger.audit import accounting, report_html
    from medledger.audit.archive import Archive
    from medledger.audit.fhir import export_fhir_bundle
    from medledger.errors import IntegrityError

    ml = portal.ml
    archive = Archive.open(":memory:")
    try:
        ml.sync_archive(archive)
        checked = ml.verify_archive(archive, patient_id)
        if not checked.ok:
            raise IntegrityError(f"the access log does not verify: {checked.problem}")
        if name == "fhir.json":
            bundle = export_fhir_bundle(
                archive,
                patient_id,
                ml.chain.chain_id,
                ml.manifest.contracts["MedLedger"].address,
                as_of=ml.now(),
            )
            return json.dumps(bundle, indent=2) + "\n"
        report = accounting.accounting_of_disclosures(
            archive,
            patient_id,
            include_patient_accesses=True,
            now=datetime.fromtimestamp(ml.now(), UTC),
        )
        if name == "accounting.csv":
            return accounting.to_csv(report)
        return report_html.to_html(report, checked)
    finally:
        archive.close()
