"""The patient portal's web app: ``create_app(ml, PortalConfig(...))``.

Every page acts through the SDK facade (a :class:`~medledger.client.Session` of the unlocked
patient); SDK calls are serialised by one lock, since a deployment object (and the embedded chain)
is not made for concurrent use. State-changing requests are POSTs carrying the session's CSRF
token; every response carries a strict Content-Security-Policy. Nothing about records, accesses
or the request path is logged (the access log is off, see :mod:`medledger.services.runner`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from medledger.errors import ChainUnavailable, MedledgerError, StoreUnavailable
from medledger.portal import pages
from medledger.portal.auth import COOKIE, PRE_COOKIE, Sessions, Unlocked, new_token, same_token

if TYPE_CHECKING:
    from medledger.client import Medledger

T = TypeVar("T")
log = logging.getLogger("medledger.portal")
STATIC = Path(__file__).parent / "static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
IDLE_MESSAGE = (
    "Your session locked itself after {m} without activity, and the portal forgot your key. "
    "Nothing was changed. Unlock again to continue."
)
CSRF_MESSAGE = (
    "This request was refused: it did not carry this page's security token (CSRF protection), "
    "so it may not come from you. Nothing was changed."
)


@dataclass
class PortalConfig:
    """Where the patient's key is and how the portal behaves."""

    keystore: Path
    account: str
    #: seconds without a page request before the session locks
    idle_timeout: float = 15 * 60
    #: where the portal remembers the last visit (break-glass alerts); None: memory only
    state_dir: Path | None = None
    #: shown in "the chain node at ... does not answer"
    chain_label: str = "the chain node"


class Unavailable(MedledgerError):
    """The chain node or the record store does not answer."""


def network_error(exc: BaseException) -> bool:
    """A refused/timed-out connection to the chain or the store, typed or not."""
    if isinstance(exc, ChainUnavailable | StoreUnavailable | Unavailable):
        return True
    if isinstance(exc, MedledgerError):
        return False
    try:
        import requests

        if isinstance(exc, requests.exceptions.RequestException):
            return True
    except ImportError:  # pragma: no cover - requests comes with web3
        pass
    return isinstance(exc, ConnectionError | TimeoutError)


def describe(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    hint = getattr(exc, "hint", None)
    return f"{text} ({hint})" if hint else text


class Portal:
    """The app's state: the deployment, the config, the unlocked sessions, the SDK lock."""

    def __init__(self, ml: Medledger, config: PortalConfig) -> None:
        self.ml = ml
        self.config = config
        self.sessions = Sessions(config.idle_timeout)
        self.sdk = threading.RLock()
        self._seen: dict[str, int] = {}

    # --- helpers -----------------------------------------------------------------------------

    async def call(self, fn: Callable[[], T]) -> T:
        """Run SDK work on a worker thread, one at a time; unreachable nodes as Unavailable."""

        def locked() -> T:
            with self.sdk:
                try:
                    return fn()
                except Exception as exc:
                    if network_error(exc) and not isinstance(exc, Unavailable):
                        raise Unavailable(
                            f"{self.config.chain_label} does not answer",
                            hint="check that it runs; nothing was changed by this request",
                        ) from exc
                    raise

        return await run_in_threadpool(locked)

    def unavailable_text(self, exc: BaseException) -> str:
        detail = describe(exc)
        if "landed before the failure" in detail:
            return f"The change did not complete: {detail}"
        return (
            f"{self.config.chain_label.capitalize()} does not answer, so nothing can be shown or "
            "changed right now. Nothing was changed. Reload this page once it is back."
        )

    def idle_minutes(self) -> str:
        secs = int(self.config.idle_timeout)
        return f"{secs // 60} minutes" if secs >= 120 else f"{secs} seconds"

    def seen(self, address: str) -> int:
        if address not in self._seen:
            self._seen[address] = 0
            path = self._state_path(address)
            if path is not None and path.exists():
                try:
                    self._seen[address] = int(json.loads(path.read_text())["break_glass_seen"])
                except (OSError, ValueError, KeyError, TypeError):
                    self._seen[address] = 0
        return self._seen[address]

    def mark_seen(self, address: str, seq: int) -> None:
        if seq <= self.seen(address):
            return
        self._seen[address] = seq
        path = self._state_path(address)
        if path is not None:
            from medledger.fsutil import atomic_write

            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write(path, json.dumps({"break_glass_seen": seq}).encode(), mode=0o600)

    def _state_path(self, address: str) -> Path | None:
        d = self.config.state_dir
        return None if d is None else d / f"{address.lower()}.json"


def _secure(response: Response) -> Response:
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    return response


def create_app(ml: Medledger, config: PortalConfig) -> FastAPI:
    """The portal for the patient whose key is ``config.keystore``, on deployment ``ml``."""
    from medledger.portal import routes

    portal = Portal(ml, config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async def sweeper() -> None:
            # an abandoned tab never comes back to trigger the idle check: sweep regularly
            while True:
                await asyncio.sleep(max(0.5, min(30.0, config.idle_timeout / 4)))
                portal.sessions.sweep()

        task = asyncio.create_task(sweeper())
        try:
            yield
        finally:
            task.cancel()
            portal.sessions.clear()  # the portal stops: forget every unlocked key

    app = FastAPI(
        title="medledger portal",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.portal = portal

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        try:
            response = await call_next(request)
        except Exception as exc:  # never a traceback with request details in the log
            log.error("portal: unexpected %s", type(exc).__name__)
            response = HTMLResponse(
                pages.message_page(
                    "Something went wrong",
                    "An unexpected error occurred; nothing more is known here. Reload the page.",
                ),
                status_code=500,
            )
        return _secure(response)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    routes.register(app, portal)
    return app


# --- shared request plumbing (used by routes) ---------------------------------------------------


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def current(portal: Portal, request: Request, *, touch: bool = True) -> Unlocked | Response:
    """The unlocked session of this request, or the response to send instead."""
    item, idle = portal.sessions.lookup(request.cookies.get(COOKIE), touch=touch)
    if item is not None:
        return item
    target = "/unlock?m=idle" if idle else "/unlock"
    if request.url.path.startswith("/api/"):
        message = IDLE_MESSAGE.format(m=portal.idle_minutes()) if idle else "The portal is locked."
        return JSONResponse({"error": "locked", "message": message}, status_code=401)
    return redirect(target)


async def form_with_csrf(request: Request, item: Unlocked) -> FormData | Response:
    """The posted form when it carries the session's CSRF token, else the refusal to send."""
    form = await request.form()
    token = form.get("csrf") or request.headers.get("x-csrf-token")
    if not item.check_csrf(token if isinstance(token, str) else None):
        return HTMLResponse(pages.message_page("Request refused", CSRF_MESSAGE), status_code=403)
    return form


def unlock_page(portal: Portal, message: str | None = None, status: int = 200) -> Response:
    token = new_token()
    response = HTMLResponse(pages.unlock(portal.config.account, token, message), status_code=status)
    response.set_cookie(PRE_COOKIE, token, httponly=True, samesite="strict", path="/unlock")
    return response


def check_pre_token(request: Request, form: FormData) -> bool:
    token = form.get("csrf")
    return same_token(request.cookies.get(PRE_COOKIE), token if isinstance(token, str) else None)


def html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status)


def attachment(data: bytes | str, filename: str, media_type: str) -> Response:
    body = data.encode() if isinstance(data, str) else data
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def any_of(form: FormData, key: str) -> list[str]:
    return [v for v in form.getlist(key) if isinstance(v, str)]


def one_of(form: FormData, key: str) -> str:
    v = form.get(key)
    return v if isinstance(v, str) else ""
