"""One request line per request, for every service: method, route template, status, time.

The route template (``/Patient/{id}``), never the path: a path can carry a patient identifier,
and a query string can carry anything. Each service chooses how the line is written.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

#: ``emit(method, route_template, status, milliseconds)``
RequestLine = Callable[[str, str, int, float], None]


def log_requests(app: FastAPI, emit: RequestLine) -> None:
    """Call ``emit`` once for every request ``app`` answers."""

    @app.middleware("http")
    async def request_line(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "<no route>")
        emit(request.method, route, response.status_code, (time.perf_counter() - start) * 1000)
        return response
