"""A JSON-RPC recording proxy: forwards every HTTP request to a node unchanged and records the
methods it carried, so tests and benchmarks can list the exact round trips a client makes.

A batch request is one round trip: it is recorded as one entry, ``"batch(m1,m2,...)"``.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class RpcRecorder:
    """The methods seen, in arrival order (one entry per HTTP round trip)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[str] = []

    def add(self, entry: str) -> None:
        with self._lock:
            self._calls.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    @property
    def calls(self) -> list[str]:
        with self._lock:
            return list(self._calls)

    def counts(self) -> Counter[str]:
        return Counter(self.calls)

    @contextmanager
    def recording(self) -> Iterator[list[str]]:
        """Clear, run the block, then fill the yielded list with what the block sent."""
        self.clear()
        out: list[str] = []
        try:
            yield out
        finally:
            out.extend(self.calls)


def _describe(body: bytes) -> str:
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return "<unparsable>"
    if isinstance(payload, list):
        return "batch(" + ",".join(str(p.get("method")) for p in payload) + ")"
    return str(payload.get("method"))


@contextmanager
def rpc_proxy(node_url: str) -> Iterator[tuple[str, RpcRecorder]]:
    """A proxy on a free loopback port in front of ``node_url``: yields (its URL, recorder)."""
    target = urlsplit(node_url)
    recorder = RpcRecorder()
    local = threading.local()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like web3's requests session

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            recorder.add(_describe(body))
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection(
                    target.hostname, target.port, timeout=60
                )
            try:
                conn.request("POST", target.path or "/", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
            except (OSError, http.client.HTTPException):
                conn.close()  # a dropped keep-alive connection: reconnect once
                conn = local.conn = http.client.HTTPConnection(
                    target.hostname, target.port, timeout=60
                )
                conn.request("POST", target.path or "/", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
            data = response.read()
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()
