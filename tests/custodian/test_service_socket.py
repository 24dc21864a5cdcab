"""The services' listening socket: accepted connections have Nagle off.

Every medledger HTTP service (custodian, FHIR API, portal) listens on ``services.runner.bind``.
With Nagle on, uvicorn's response (headers, then body: two writes) waited for the client's
delayed ACK, about 40 ms on every request (benchmarks/RESULTS.md, custodian round trips).
"""

from __future__ import annotations

import socket

import httpx
from fastapi import FastAPI

from medledger.services.runner import BackgroundServer


def test_accepted_connections_have_tcp_nodelay() -> None:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    with BackgroundServer(app) as srv, httpx.Client(base_url=srv.url) as client:
        assert client.get("/ping").json() == {"ok": True}  # the connection stays open (keep-alive)
        connections = srv._server.server_state.connections
        assert len(connections) == 1
        (protocol,) = connections
        accepted = protocol.transport.get_extra_info("socket")
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
