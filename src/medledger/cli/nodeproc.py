"""The managed local node: a detached Anvil whose state lives on disk under $MEDLEDGER_HOME/node.

Anvil runs with ``--state node/state.json`` (load at start, dump on exit) and a periodic dump as
crash protection; ``stop`` sends SIGTERM so Anvil writes the final state, then waits for it.
Blocks, receipts and logs are part of the dump, so consents, records and the access log (events)
all survive a restart. The process is started in its own session so it outlives the CLI.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medledger.cli.profiles import home, write_json_atomic
from medledger.errors import ChainUnavailable, InvalidInput, MedledgerError
from medledger.nodes import find_free_port, port_in_use, start_anvil

#: Seconds between Anvil's own periodic state dumps (its smallest interval). Every CLI command
#: that mined blocks also saves the state before it exits (:func:`save_state`), so a confirmed
#: transaction does not depend on the interval.
STATE_INTERVAL = 1
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


@dataclass
class NodePaths:
    """Files of the managed node."""

    root: Path

    @classmethod
    def default(cls) -> NodePaths:
        return cls(home() / "node")

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def log(self) -> Path:
        return self.root / "anvil.log"

    @property
    def pid(self) -> Path:
        return self.root / "anvil.pid"

    @property
    def info(self) -> Path:
        return self.root / "node.json"

    @property
    def manifest(self) -> Path:
        return self.root / "deployment.json"


@dataclass
class NodeStatus:
    """What `node status` reports."""

    running: bool
    pid: int | None
    rpc: str | None
    chain_id: int | None
    block: int | None
    state_file: str
    log_file: str


def rpc_call(url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    """One JSON-RPC call with the standard library (no web3 import for a status check)."""
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"not an HTTP JSON-RPC URL: {url!r}", hint="e.g. http://127.0.0.1:8545")
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    req = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            reply = json.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ChainUnavailable(
            f"the chain node at {url} did not answer {method}: {reason}",
            hint="start it (`medledger node start`), check --rpc, or raise MEDLEDGER_TIMEOUT",
        ) from None
    if "error" in reply:
        raise ChainUnavailable(f"{url} answered {method} with an error: {reply['error']}")
    return reply.get("result")


def save_state(paths: NodePaths, rpc: str) -> int:
    """Write the managed Anvil's whole state to ``paths.state`` now; returns the bytes written.

    ``anvil_dumpState`` returns the gzipped JSON that Anvil itself writes at exit (the same
    document, so ``--state`` loads it); it is written atomically, 0600, so a kill at any moment
    leaves the previous complete state or this one.
    """
    import gzip

    from medledger.fsutil import atomic_write

    raw = rpc_call(rpc, "anvil_dumpState", timeout=60.0)
    if not isinstance(raw, str) or not raw.startswith("0x"):
        raise ChainUnavailable(f"{rpc} returned no state dump")
    blob = bytes.fromhex(raw[2:])
    data = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
    atomic_write(paths.state, data, mode=0o600)
    return len(data)


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)  # reap it if we are its parent
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_our_anvil(pid: int, paths: NodePaths) -> bool:
    """Guard against a recycled pid: the process must be anvil using our state file."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _alive(pid)
    states = {str(paths.state).encode(), str(paths.state.resolve()).encode()}
    return any(b"anvil" in part for part in cmdline[:1]) and not states.isdisjoint(cmdline)


def read_pid(paths: NodePaths) -> int | None:
    try:
        pid = int(paths.pid.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) and _is_our_anvil(pid, paths) else None


def _saved_info(paths: NodePaths) -> dict[str, Any]:
    try:
        data = json.loads(paths.info.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def start(paths: NodePaths, host: str = "127.0.0.1", port: int | None = None) -> tuple[str, bool]:
    """Start the managed Anvil (or find it running). Returns (rpc URL, started_now).

    ``port`` None reuses the previous port (else 8545); 0 picks a free one.
    """
    pid = read_pid(paths)
    info = _saved_info(paths)
    if pid is not None and info.get("rpc"):
        return str(info["rpc"]), False
    if port is None:
        port = int(info.get("port", 8545))
    if port == 0:
        port = find_free_port(host)
    if not 0 < port < 65536:
        raise InvalidInput(f"invalid port {port}")
    if port_in_use(port, host):
        raise MedledgerError(
            f"port {port} on {host} is already in use by another program",
            hint="choose another with `medledger node start --port N` (0 = any free port), or "
            "attach to that node with `medledger node start --attach URL`",
        )
    paths.root.mkdir(parents=True, exist_ok=True)
    # Started in its own session by the launcher, so it outlives the CLI and its terminal.
    node = start_anvil(
        port,
        paths.state,
        host=host,
        state_interval=STATE_INTERVAL,
        timeout=READY_TIMEOUT,
        log_file=paths.log,
        silent=False,  # keep Anvil's own log of requests in anvil.log
    )
    paths.pid.write_text(f"{node.pid}\n")
    write_json_atomic(
        paths.info,
        {
            "pid": node.pid,
            "host": host,
            "port": port,
            "rpc": node.url,
            "started_at": int(time.time()),
        },
    )
    return node.url, True


def stop(paths: NodePaths) -> bool:
    """SIGTERM the managed Anvil and wait for its final state dump. False if it was not running."""
    pid = read_pid(paths)
    if pid is None:
        paths.pid.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        # Anvil ignored SIGTERM: the last periodic dump (at most STATE_INTERVAL s old) remains.
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)
    paths.pid.unlink(missing_ok=True)
    return True


def status(paths: NodePaths) -> NodeStatus:
    pid = read_pid(paths)
    rpc = _saved_info(paths).get("rpc")
    chain_id = block = None
    if pid is not None and rpc:
        try:
            chain_id = int(rpc_call(rpc, "eth_chainId"), 16)
            block = int(rpc_call(rpc, "eth_blockNumber"), 16)
        except ChainUnavailable:
            pass
    return NodeStatus(
        running=pid is not None and chain_id is not None,
        pid=pid,
        rpc=rpc,
        chain_id=chain_id,
        block=block,
        state_file=str(paths.state),
        log_file=str(paths.log),
    )
