"""Starting and stopping local dev nodes (Anvil, Hardhat 2): the one launcher, used by tests,
benchmarks and ``medledger node``.

Tools are found without looking at the source tree (an installed package has none): the
``MEDLEDGER_ANVIL`` / ``MEDLEDGER_HARDHAT`` environment variable if set, else ``anvil`` /
``hardhat`` on PATH (``make`` and ``tools/env.sh`` put ``node_modules/.bin`` there), else
:class:`~medledger.errors.ToolNotFound` saying how to install it.

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
from typing import IO

from medledger.errors import ChainError, ChainUnavailable, ToolNotFound

LOCAL_CHAIN_ID = 31337
LOCALHOST = "127.0.0.1"

_INSTALL_HINTS = {
    "anvil": "install Foundry's anvil (`make setup` puts it in node_modules/.bin; then "
    "`. tools/env.sh`), or set MEDLEDGER_ANVIL=/path/to/anvil",
    "hardhat": "install Hardhat 2 (`make setup` puts it in node_modules/.bin; then "
    "`. tools/env.sh`), or set MEDLEDGER_HARDHAT=/path/to/hardhat",
}


def find_free_port(host: str = LOCALHOST) -> int:
    """A TCP port free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = LOCALHOST) -> bool:
    """True when something accepts connections on ``host:port``.

    A connect probe, not a bind: a port still in TIME_WAIT after a node stopped is reusable by
    the next node (it binds with SO_REUSEADDR), so it must not count as taken.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def find_tool(name: str) -> Path:
    """The executable of ``name``: ``$MEDLEDGER_<NAME>``, else PATH; ToolNotFound otherwise."""
    env_var = f"MEDLEDGER_{name.upper()}"
    explicit = os.environ.get(env_var)
    if explicit:
        path = Path(explicit).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise ToolNotFound(f"{env_var}={explicit} is not an executable file", hint=_hint(name))
    found = shutil.which(name)
    if found:
        return Path(found)
    raise ToolNotFound(f"{name} is not installed (not on PATH)", hint=_hint(name))


def _hint(name: str) -> str:
    return _INSTALL_HINTS.get(name, f"put {name} on PATH or set MEDLEDGER_{name.upper()}")


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

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _launch(
    kind: str,
    argv: list[str],
    port: int,
    *,
    host: str,
    cwd: Path | None,
    timeout: float,
    state_path: Path | None = None,
    log_dir: Path | None = None,
    log_file: Path | None = None,
) -> NodeProcess:
    if port_in_use(port, host):
        # Otherwise the readiness probe would succeed against whatever already listens there.
        raise ChainUnavailable(f"cannot start {kind}: port {port} is already in use")
    if log_file is not None:
        log_path, remove_log, log = log_file, False, log_file.open("ab")
    else:
        log_folder = log_dir or Path(tempfile.gettempdir())
        log_path = log_folder / f"medledger-{kind}-{port}.log"
        remove_log, log = log_dir is None, log_path.open("wb")
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
    url = f"http://{host}:{port}"
    node = NodeProcess(kind, url, port, proc, log_path, state_path, log, remove_log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not node.running():
            tail = node.log_tail()
            node.stop()
            raise ChainUnavailable(
                f"{kind} exited with code {proc.returncode} during start-up:\n{tail}",
                hint=f"is port {port} already in use? (log: {log_path})",
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
    host: str = LOCALHOST,
    chain_id: int = LOCAL_CHAIN_ID,
    block_time: int | None = None,
    state_interval: int | None = None,
    silent: bool = True,
    timeout: float = 20.0,
    log_dir: Path | None = None,
    log_file: Path | None = None,
) -> NodeProcess:
    """Start Anvil on ``host`` (a free port unless given) and wait until it answers.

    ``state_path``: persist the chain in that file across restarts (``anvil --state``);
    ``state_interval``: also dump it every that many seconds (crash protection).
    ``block_time``: seconds between blocks instead of mining on every transaction.
    ``log_dir``: keep the node's output there (default: a temp file deleted on stop);
    ``log_file``: append the output to that file instead (kept); ``silent=False`` logs requests.
    """
    port = port or find_free_port(host)
    argv = [
        str(find_tool("anvil")),
        "--host", host,
        "--port", str(port),
        "--chain-id", str(chain_id),
    ]  # fmt: skip
    if silent:
        argv.append("--silent")
    state = Path(state_path).resolve() if state_path else None
    if state is not None:
        state.parent.mkdir(parents=True, exist_ok=True)
        argv += ["--state", str(state)]
        if state_interval:
            argv += ["--state-interval", str(state_interval)]
    if block_time:
        argv += ["--block-time", str(block_time)]
    return _launch(
        "anvil",
        argv,
        port,
        host=host,
        cwd=None,
        timeout=timeout,
        state_path=state,
        log_dir=log_dir,
        log_file=log_file,
    )


def start_hardhat(
    config: str | Path,
    port: int | None = None,
    *,
    host: str = LOCALHOST,
    timeout: float = 40.0,
    log_dir: Path | None = None,
) -> NodeProcess:
    """Start a Hardhat 2 node with ``config`` (a hardhat.config.js) on ``host``; works offline.

    Hardhat refuses to run unless its package is resolvable from the working directory, so it
    runs in the config's directory (a project with hardhat installed at or above it).
    ``log_dir``: keep the node's output there (default: deleted on stop).
    """
    cfg = Path(config).resolve()
    if not cfg.is_file():
        raise ChainError(f"hardhat config {cfg} not found")
    port = port or find_free_port(host)
    argv = [
        str(find_tool("hardhat")),
        "node",
        "--config", str(cfg),
        "--hostname", host,
        "--port", str(port),
    ]  # fmt: skip
    return _launch(
        "hardhat", argv, port, host=host, cwd=cfg.parent, timeout=timeout, log_dir=log_dir
    )
