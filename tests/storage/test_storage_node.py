"""IPFS node backend: unreachable/slow nodes, a tampering node, address parsing, no warnings."""

from __future__ import annotations

import http.client
import io
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from helpers.storage import payload
from medledger.errors import (
    BlockNotFound,
    IntegrityError,
    InvalidInput,
    StoreTimeout,
    StoreUnavailable,
)
from medledger.storage import CHUNK_SIZE, cid_of_bytes
from medledger.storage.ipfs_node import IpfsNodeStore, api_multiaddr

SOME_CID = cid_of_bytes(b"node tests")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_node_raises_store_unavailable() -> None:
    store = IpfsNodeStore(f"http://127.0.0.1:{_closed_port()}", timeout=5)
    with pytest.raises(StoreUnavailable) as caught:
        store.get(SOME_CID)
    assert str(SOME_CID) in str(caught.value)
    assert not isinstance(caught.value, StoreTimeout)
    for call in (lambda: store.put(b"x"), lambda: store.has(SOME_CID), store.pins, store.gc):
        with pytest.raises(StoreUnavailable):
            call()


def test_a_node_that_never_answers_raises_store_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (kernel backlog), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        store = IpfsNodeStore(f"http://127.0.0.1:{port}", timeout=0.5, rpc_timeout=0.2)
        with pytest.raises(StoreTimeout) as caught:
            store.get(SOME_CID)
        assert str(SOME_CID) in str(caught.value)
        with pytest.raises(StoreTimeout):
            store.has(SOME_CID)


@pytest.mark.parametrize(
    ("api", "multiaddr", "url"),
    [
        ("/ip4/127.0.0.1/tcp/5001/http", "/ip4/127.0.0.1/tcp/5001/http", "http://127.0.0.1:5001"),
        ("/ip4/10.0.0.2/tcp/5001", "/ip4/10.0.0.2/tcp/5001/http", "http://10.0.0.2:5001"),
        ("http://127.0.0.1:5001", "/ip4/127.0.0.1/tcp/5001/http", "http://127.0.0.1:5001"),
        ("http://127.0.0.1:5001/api/v0", "/ip4/127.0.0.1/tcp/5001/http", "http://127.0.0.1:5001"),
        ("https://ipfs.example.org", "/dns/ipfs.example.org/tcp/443/https", "https://ipfs.example.org:443"),
        ("http://[::1]:5001", "/ip6/::1/tcp/5001/http", "http://[::1]:5001"),
    ],
)  # fmt: skip
def test_api_addresses(api: str, multiaddr: str, url: str) -> None:
    assert api_multiaddr(api) == (multiaddr, url)


@pytest.mark.parametrize(
    "api", ["ftp://host:21", "/ip4/127.0.0.1/udp/5001", "/unix/tmp/sock", "http://h:5001/x", ""]
)
def test_bad_api_addresses(api: str) -> None:
    with pytest.raises(InvalidInput):
        IpfsNodeStore(api)


# --- a tampering node: a proxy in front of the real daemon -----------------------------------


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0], 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(parts)
            parts.append(handler.rfile.read(size))
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("Content-Length", 0)))


def _flip(body: bytes) -> bytes:
    raw = bytearray(body)
    raw[len(raw) // 2] ^= 0x01
    return bytes(raw)


class TamperingProxy:
    """Forwards RPC calls to the daemon; rewrites the answers of the commands in ``tamper``."""

    def __init__(self, upstream: str) -> None:
        self.tamper: dict[str, Callable[[bytes], bytes]] = {}
        target = urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = _read_body(self)
                command = urlsplit(self.path).path.removeprefix("/api/v0/")
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                headers = {"Content-Type": self.headers.get("Content-Type", "")}
                conn.request("POST", self.path, body=body, headers=headers)
                answer = conn.getresponse()
                content = answer.read()
                if answer.status == 200 and command in proxy.tamper:
                    content = proxy.tamper[command](content)
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.getheader("Content-Type", ""))
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
                conn.close()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(ipfs_daemon: object) -> Iterator[TamperingProxy]:
    p = TamperingProxy(ipfs_daemon.url)  # type: ignore[attr-defined]
    yield p
    p.close()


@pytest.mark.ipfs
def test_the_proxy_is_transparent_until_told_to_tamper(proxy: TamperingProxy) -> None:
    store = IpfsNodeStore(proxy.url, rpc_timeout=5)
    data = payload("proxy-clean", CHUNK_SIZE + 1)
    cid = store.put(data)
    assert store.get(cid) == data  # so a later IntegrityError is the tampering, not the proxy


@pytest.mark.ipfs
@pytest.mark.parametrize("version", [0, 1])
def test_tampered_cat_raises_integrity_error(proxy: TamperingProxy, version: int) -> None:
    store = IpfsNodeStore(proxy.url, rpc_timeout=5)
    data = payload(f"proxy-cat-{version}", 2 * CHUNK_SIZE + 3)
    cid = store.put(data, version=version)
    proxy.tamper["cat"] = _flip
    with pytest.raises(IntegrityError) as caught:
        store.get(cid)
    assert str(cid) in str(caught.value)
    with pytest.raises(IntegrityError):
        b"".join(store.get_stream(cid))
    proxy.tamper["cat"] = lambda body: body + b"extra"  # longer content: also caught
    with pytest.raises(IntegrityError):
        store.get(cid)


@pytest.mark.ipfs
def test_tampered_blocks_and_exports_raise_integrity_error(proxy: TamperingProxy) -> None:
    store = IpfsNodeStore(proxy.url, rpc_timeout=5)
    cid = store.put(payload("proxy-blocks", 2 * CHUNK_SIZE))
    proxy.tamper["block/get"] = _flip
    with pytest.raises(IntegrityError):
        store.stat(cid)
    proxy.tamper["dag/export"] = lambda body: body[:-1] + bytes([body[-1] ^ 1])
    with pytest.raises(IntegrityError):
        store.export_car(cid, io.BytesIO())


@pytest.mark.ipfs
def test_a_node_answering_another_cid_on_add_is_refused(proxy: TamperingProxy) -> None:
    store = IpfsNodeStore(proxy.url, rpc_timeout=5)
    other = cid_of_bytes(b"what the node claims it stored")

    def lie(body: bytes) -> bytes:
        answer = json.loads(body.splitlines()[-1])
        answer["Hash"] = str(other)
        return json.dumps(answer).encode() + b"\n"

    proxy.tamper["add"] = lie
    with pytest.raises(IntegrityError) as caught:
        store.put(payload("proxy-add", 1000))
    assert str(other) in str(caught.value)


@pytest.mark.ipfs
def test_missing_content_on_the_daemon_is_block_not_found(ipfs_api: str) -> None:
    store = IpfsNodeStore(ipfs_api, rpc_timeout=0.5, has_timeout=0.5)
    missing = cid_of_bytes(b"node tests: never stored")
    with pytest.raises(BlockNotFound) as caught:
        store.get(missing)
    assert str(missing) in str(caught.value)
    assert store.has(missing) is False
    assert store.unpin(missing) is False


@pytest.mark.ipfs
def test_no_urllib3_future_warning_reaches_the_user(ipfs_api: str) -> None:
    # A fresh interpreter with FutureWarning turned into an error: the module's own targeted
    # filter must keep ipfshttpclient's urllib3 `strict` warning away from users.
    code = (
        "from medledger.storage.ipfs_node import IpfsNodeStore\n"
        f"s = IpfsNodeStore({ipfs_api!r})\n"
        "print(s.put(b'warning check'))\n"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    result = subprocess.run(
        [sys.executable, "-W", "error::FutureWarning", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(cid_of_bytes(b"warning check"))
