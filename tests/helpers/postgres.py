"""A real PostgreSQL 15 server for the tests (session-scoped), started from Debian's binaries.

``initdb`` and ``pg_ctl`` refuse to run as root, so as root the server runs as the ``postgres``
user on a data directory it owns (under /tmp, which that user can reach), listening on
127.0.0.1 on a free port with trust authentication. Nothing is skipped: without the binaries
the fixture fails, saying what to install.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from medledger.custodian.store import Store
from medledger.nodes import find_free_port

PG_BIN = Path(os.environ.get("MEDLEDGER_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _run_as_owner(args: list[str], *, as_postgres: bool, timeout: float = 60) -> str:
    command = " ".join(shlex.quote(a) for a in args)
    argv = ["su", "postgres", "-s", "/bin/bash", "-c", command] if as_postgres else args
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


class PostgresServer:
    """A throwaway PostgreSQL cluster; ``url(db)`` gives a psycopg connection URL."""

    def __init__(self) -> None:
        for tool in ("initdb", "pg_ctl", "createdb"):
            if not (PG_BIN / tool).exists():
                pytest.fail(
                    f"PostgreSQL 15 is required for the custodian store tests: {PG_BIN / tool} "
                    "is missing (apt-get install -y postgresql)",
                    pytrace=False,
                )
        self.as_postgres = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="medledger-pg-"))
        self.data = self.dir / "data"
        self.port = find_free_port()
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._databases = 0

    def _pg(self, tool: str, *args: str, timeout: float = 60) -> str:
        return _run_as_owner(
            [str(PG_BIN / tool), *args], as_postgres=self.as_postgres, timeout=timeout
        )

    def start(self) -> PostgresServer:
        self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
            "-c fsync=off -c max_connections=100"
        )
        self._pg(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "server.log"),
            "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def create_database(self) -> str:
        """A fresh database; returns its URL."""
        self._databases += 1
        name = f"custodian{self._databases}"
        self._pg("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(name="store", params=["sqlite", "postgresql"])
def custodian_store(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server: PostgresServer
) -> Iterator[Store]:
    """A fresh custodian store, once on SQLite (WAL) and once on the PostgreSQL server: the
    same tests run on both backends (import it into a test module as ``custodian_store``)."""
    url = (
        f"sqlite:{tmp_path / 'custodian.db'}"
        if request.param == "sqlite"
        else postgres_server.create_database()
    )
    s = Store.open(url)
    yield s
    s.close()
