"""Where the CLI keeps its files, and connection profiles.

Layout of ``$MEDLEDGER_HOME`` (default ``~/.medledger``)::

    profiles/<name>.json   connection profile: rpc, store, manifest (written by `node start`)
    keys/<name>.json       encrypted keystores (signing key + encryption identity key)
    node/                  the managed Anvil: state.json, anvil.log, anvil.pid, node.json
    node/deployment.json   the deployment manifest of the managed node
    store/                 the embedded record store

Profiles are small JSON files so that other tools can read them; writes go through a temporary
file and an atomic rename so that an interrupted write never leaves half a profile.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medledger.errors import InvalidInput
from medledger.fsutil import atomic_write

DEFAULT_PROFILE = "local"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def home() -> Path:
    """``$MEDLEDGER_HOME`` or ``~/.medledger`` (not created here)."""
    env = os.environ.get("MEDLEDGER_HOME")
    path = Path(env).expanduser() if env else Path.home() / ".medledger"
    if path.exists() and not path.is_dir():
        raise InvalidInput(
            f"MEDLEDGER_HOME {path} is not a directory",
            hint="point MEDLEDGER_HOME at a directory (it is created if missing)",
        )
    return path


def check_name(kind: str, name: str) -> str:
    """Validate a profile or key name (it becomes a file name, so no paths or odd characters)."""
    if not _NAME.match(name):
        raise InvalidInput(
            f"invalid {kind} name {name!r}",
            hint="use letters, digits, '.', '_' or '-' (at most 64, starting with a letter/digit)",
        )
    return name


def write_json_atomic(path: Path, data: Any, *, mode: int = 0o644) -> None:
    """Write JSON to ``path`` via a temporary file + rename (never a half-written file)."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    atomic_write(path, text, mode=mode, make_parents=True)


@dataclass
class Profile:
    """A named connection: which chain, which store, which deployment manifest."""

    name: str
    rpc: str | None = None
    store: str | None = None
    manifest: str | None = None
    #: True when `medledger node start` manages the node behind ``rpc``.
    managed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def path_for(name: str) -> Path:
        return home() / "profiles" / f"{check_name('profile', name)}.json"

    @classmethod
    def load(cls, name: str) -> Profile | None:
        """The profile ``name``, or None when it does not exist."""
        path = cls.path_for(name)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise InvalidInput(
                f"profile {name!r} is unreadable: {exc}", hint=f"fix or delete {path}"
            ) from None
        if not isinstance(raw, dict):
            raise InvalidInput(f"profile {name!r} is not a JSON object", hint=f"fix {path}")
        known = {k: raw.get(k) for k in ("rpc", "store", "manifest")}
        extra = {k: v for k, v in raw.items() if k not in {*known, "name", "managed"}}
        return cls(name=name, managed=bool(raw.get("managed")), extra=extra, **known)

    def save(self) -> Path:
        path = self.path_for(self.name)
        data = asdict(self)
        data.update(data.pop("extra"))
        write_json_atomic(path, data)
        return path
