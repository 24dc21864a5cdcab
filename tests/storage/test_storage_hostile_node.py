"""Issue 14 point 6: a malicious node cannot hold a read forever or stream an endless body.

A stand-in "node" answers every RPC call with 200 and a body that never ends: fast (endless
bytes) or slow (one byte every 50 ms, so the HTTP ``timeout``, which bounds silences only, never
fires); it gives up after 60 s. Old code (verified at aa8567b): ``get`` and ``stat`` read the
endless body into memory for the whole 60 s (11-17 GiB resident) and the trickle for 60 s too.
Now one block is refused once it passes 2 MiB (or the caller's ``max_size``), and every read has
a total ``read_deadline``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from medledger.errors import ContentTooLarge, IntegrityError, StoreTimeout
from medledger.storage import cid_of_bytes
from medledger.storage.ipfs_node import IpfsNodeStore


class _Hostile:
    def __init__(self, delay: float) -> None:
        delay_s = delay

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                piece = b"\x55" * (1 if delay_s else 65536)
                frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
                deadline = time.monotonic() + 60
                try:
                    while time.monotonic() < deadline:
                        self.wfile.write(frame)
                        self.wfile.flush()
                        if delay_s:
                            time.sleep(delay_s)
                except OSError:
                    return  # the client hung up: what we want

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endless() -> Iterator[_Hostile]:
    node = _Hostile(0.0)
    yield node
    node.close()


@pytest.fixture
def trickling() -> Iterator[_Hostile]:
    node = _Hostile(0.05)
    yield node
    node.close()


WANTED = cid_of_bytes(b"anything: the node answers every request the same way")


def test_an_endless_body_is_cut_off(endless: _Hostile) -> None:
    store = IpfsNodeStore(endless.url, timeout=10)
    with pytest.raises(IntegrityError, match="larger than"):
        store.get(WANTED)
    with pytest.raises(ContentTooLarge):
        store.get(WANTED, max_size=100_000)


def test_a_trickling_node_hits_the_read_deadline(trickling: _Hostile) -> None:
    store = IpfsNodeStore(trickling.url, timeout=10, read_deadline=1.0)
    with pytest.raises(StoreTimeout, match="read deadline"):
        store.get(WANTED)
