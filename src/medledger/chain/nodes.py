"""Starting and stopping local dev nodes (Anvil, Hardhat 2) for tests and ``medledger node``.

Each node runs in its own process group on a loopback port; :meth:`NodeProcess.stop` terminates
the whole group (Hardhat is a Node.js process tree) and waits, so nothing is left behind. Output
goes to a log file, not a pipe: a chatty node can never block on a full pipe buffer.

Anvil 1.7.1 persists state with ``--state PATH`` (load at start if the file exists, dump on
exit); ``state_path`` uses it, so a stopped and restarted node keeps deployments and balances.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from medledger.errors import ChainError, ChainUnavailable

LOCAL_CHAIN_ID = 31337
_PROJECT_ROOT = Path(__file__).resolve().parents[3]


def find_free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def project_root() -> Path:
    """The source checkout this package runs from (where node_modules/ lives in development)."""
    return _PROJECT_ROOT


def find_tool(name: str) -> Path:
    """``node_modules/.bin/<name>`` of the checkout, else ``<name>`` on PATH."""
    local = _PROJECT_ROOT / "node_modules" / ".bin" / name
    if local.exists():
        return local
    found = shutil.which(name)
    if found:
        return Path(found)
    raise ChainError(
        f"{name} is not installed",
        hint="run `make setup` (npm ci installs anvil and hardhat into node_modules/)",
    )


def rpc_ready(url: str, timeout: float = 1.0) -> bool:
    """True when ``url`` answers ``eth_chainId``."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    req = urllib.request.Request(  # noqa: S310 - http(s) URL of a node we started
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - our own URL
            return "result" in json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class NodeProcess:
    """A running local node. Use as a context manager or call :meth:`stop`."""

    kind: str
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    state_path: Path | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)
    #: Delete the log on stop (it lives in the system temp dir, nobody asked to keep it).
    _remove_log: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        """Process id of the node (its process group id too)."""
        return int(self.process.pid)

    def running(self) -> bool:
        """True while the node process is alive."""
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the node printed (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the node and its children: SIGTERM (lets Anvil dump --state), then SIGKILL."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
        # Children that outlived the leader (Node.js workers) share its process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._remove_log:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _launch(
    kind: str,
    argv: list[str],
    port: int,
    *,
    cwd: Path | None,
    timeout: float,
    state_path: Path | None = None,
    log_dir: Path | None = None,
) -> NodeProcess:
    if not port_is_free(port):
        # Otherwise the readiness probe would succeed against whatever already listens there.
        raise ChainUnavailable(f"cannot start {kind}: port {port} is already in use")
    log_folder = log_dir or Path(tempfile.gettempdir())
    log_path = log_folder / f"medledger-{kind}-{port}.log"
    log = log_path.open("wb")
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop() reaches every child
        )
    except OSError as exc:
        log.close()
        raise ChainError(f"cannot start {kind}: {exc}") from exc
    node = NodeProcess(
        kind, f"http://127.0.0.1:{port}", port, proc, log_path, state_path, log, log_dir is None
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not node.running():
            tail = node.log_tail()
            node.stop()
            raise ChainUnavailable(
                f"{kind} exited with code {proc.returncode} during start-up:\n{tail}",
                hint=f"is port {port} already in use?",
            )
        if rpc_ready(node.url, timeout=0.5):
            return node
        time.sleep(0.05)
    tail = node.log_tail()
    node.stop()
    raise ChainUnavailable(f"{kind} did not answer on {node.url} within {timeout:.0f} s:\n{tail}")


def start_anvil(
    port: int | None = None,
    state_path: str | Path | None = None,
    *,
    chain_id: int = LOCAL_CHAIN_ID,
    block_time: int | None = None,
    timeout: float = 20.0,
    log_dir: Path | None = None,
) -> NodeProcess:
    """Start Anvil on 127.0.0.1 (free port unless given) and wait until it answers.

    ``state_path``: persist the chain in that file across restarts (``anvil --state``).
    ``block_time``: seconds between blocks instead of mining on every transaction.
    ``log_dir``: keep the node's output there (default: a temp file deleted on stop).
    """
    port = port or find_free_port()
    argv = [
        str(find_tool("anvil")),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--chain-id", str(chain_id),
        "--silent",
    ]  # fmt: skip
    state = Path(state_path).resolve() if state_path else None
    if state is not None:
        state.parent.mkdir(parents=True, exist_ok=True)
        argv += ["--state", str(state)]
    if block_time:
        argv += ["--block-time", str(block_time)]
    return _launch(
        "anvil", argv, port, cwd=None, timeout=timeout, state_path=state, log_dir=log_dir
    )


def hardhat_config() -> Path:
    """The minimal node configuration shipped in tools/hardhat/ (chainId 31337, cancun)."""
    return _PROJECT_ROOT / "tools" / "hardhat" / "hardhat.config.js"


def start_hardhat(
    port: int | None = None,
    *,
    config: str | Path | None = None,
    timeout: float = 40.0,
    log_dir: Path | None = None,
) -> NodeProcess:
    """Start a Hardhat 2 node on 127.0.0.1 (free port unless given); works offline.

    Hardhat refuses to run unless it is resolvable from the working directory, so it runs in
    the checkout root. ``log_dir``: keep the node's output there (default: deleted on stop).
    """
    port = port or find_free_port()
    cfg = Path(config) if config else hardhat_config()
    if not cfg.is_file():
        raise ChainError(f"hardhat config {cfg} not found")
    argv = [
        str(find_tool("hardhat")),
        "node",
        "--config", str(cfg),
        "--hostname", "127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip
    return _launch("hardhat", argv, port, cwd=_PROJECT_ROOT, timeout=timeout, log_dir=log_dir)
