"""Compiled contract artifacts shipped inside the package (no compiler or ApeWorx at run time).

``tools/export_artifacts.py`` writes ``src/medledger/artifacts/<Name>.json`` from ``ape compile``
output. Each file holds the ABI, the deployment and runtime bytecode, the compiler settings and the
sha256 of every Solidity source under ``contracts/`` at export time, so staleness is detectable by
hashing the sources, without compiling (:func:`stale_sources`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from medledger.errors import InvalidInput

#: The contracts the SDK deploys and talks to, in deployment order.
SUITE: tuple[str, ...] = ("MedLedger", "AnchorRegistry")

#: Shipped too, deployed on demand (``medledger.governance``); not in the manifest fingerprint.
GOVERNANCE: tuple[str, ...] = ("ConsortiumTimelock",)

#: Custodian mode (issue 16): deployed with the suite, optional in manifests written before it.
CUSTODIANS: tuple[str, ...] = ("CustodianRegistry",)

#: Every contract ``tools/export_artifacts.py`` writes.
EXPORTED: tuple[str, ...] = SUITE + GOVERNANCE + CUSTODIANS

#: Folder names under contracts/ that hold generated or vendored sources, not ours.
_IGNORED_DIRS = frozenset({".cache", "node_modules"})


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: what deployment and bindings need."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    source_hashes: dict[str, str]
    compiler: dict[str, Any]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Artifact:
        """Build from the exported JSON shape; raises InvalidInput on a malformed document."""
        try:
            return cls(
                name=str(data["contractName"]),
                abi=list(data["abi"]),
                bytecode=str(data["bytecode"]),
                deployed_bytecode=str(data.get("deployedBytecode", "0x")),
                source_hashes=dict(data.get("sourceHashes", {})),
                compiler=dict(data.get("compiler", {})),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInput(f"malformed contract artifact: missing {exc}") from exc

    @classmethod
    def from_file(cls, path: str | Path) -> Artifact:
        """Load an artifact JSON file from disk (e.g. a test contract)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read contract artifact {path}: {exc}") from exc
        return cls.from_dict(data)

    def abi_entries(self, kind: str) -> list[dict[str, Any]]:
        """The ABI entries of one ``type`` ("function", "event", "error", "constructor")."""
        return [e for e in self.abi if e.get("type") == kind]


def canonical_json(obj: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, no whitespace) used for hashing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _artifact_resource(name: str) -> Any:
    return resources.files("medledger").joinpath("artifacts", f"{name}.json")


def _read_artifact_json(name: str) -> dict[str, Any]:
    if not name.isidentifier():
        raise InvalidInput(f"invalid contract name {name!r}")
    res = _artifact_resource(name)
    try:
        text = res.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise InvalidInput(
            f"no compiled artifact for contract {name!r}",
            hint="run `make artifacts` (ape compile + tools/export_artifacts.py)",
        ) from exc
    data: dict[str, Any] = json.loads(text)
    return data


@lru_cache(maxsize=16)
def load_artifact(name: str) -> Artifact:
    """Load ``src/medledger/artifacts/<name>.json`` shipped with the package (cached)."""
    return Artifact.from_dict(_read_artifact_json(name))


def available_artifacts() -> list[str]:
    """Names of the artifacts shipped with the package, sorted."""
    folder = resources.files("medledger").joinpath("artifacts")
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


def hash_artifacts(documents: dict[str, dict[str, Any]]) -> str:
    """sha256 hex of ``{name: artifact document}`` as canonical JSON (keys sorted)."""
    return hashlib.sha256(canonical_json(documents)).hexdigest()


@lru_cache(maxsize=1)
def artifacts_hash() -> str:
    """Fingerprint of the shipped suite artifacts, recorded in deployment manifests.

    sha256 hex over the canonical JSON of ``{name: artifact}`` for every artifact of
    :data:`SUITE`. A manifest whose ``artifactsHash`` differs was deployed from other bytecode.
    """
    return hash_artifacts({name: _read_artifact_json(name) for name in SUITE})


# --- staleness against the Solidity sources --------------------------------------------------


def source_hashes(project_root: str | Path) -> dict[str, str]:
    """sha256 of every ``contracts/**/*.sol`` (keys: POSIX paths relative to the project root)."""
    root = Path(project_root)
    contracts = root / "contracts"
    hashes: dict[str, str] = {}
    if not contracts.is_dir():
        return hashes
    for path in sorted(contracts.rglob("*.sol")):
        rel = path.relative_to(root)
        if _IGNORED_DIRS.intersection(rel.parts):
            continue
        hashes[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def stale_sources(project_root: str | Path, artifacts_dir: str | Path | None = None) -> list[str]:
    """Why the exported artifacts no longer match ``contracts/`` (empty list = up to date).

    Compares the ``sourceHashes`` recorded in each suite artifact with the Solidity files now on
    disk: a changed, added or deleted ``.sol`` file, or a missing artifact, is reported. Needs no
    compiler, so the test suite can run it.
    """
    root = Path(project_root)
    folder = Path(artifacts_dir) if artifacts_dir else root / "src" / "medledger" / "artifacts"
    current = source_hashes(root)
    problems: list[str] = []
    for name in EXPORTED:
        path = folder / f"{name}.json"
        if not path.is_file():
            if current:
                problems.append(f"{path} is missing")
            continue
        recorded = Artifact.from_file(path).source_hashes
        for src in sorted(set(current) | set(recorded)):
            if src not in recorded:
                problems.append(f"{name}: {src} was added after the export")
            elif src not in current:
                problems.append(f"{name}: {src} was deleted after the export")
            elif recorded[src] != current[src]:
                problems.append(f"{name}: {src} changed after the export")
    return problems
