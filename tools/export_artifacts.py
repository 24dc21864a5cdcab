#!/usr/bin/env python3
"""Export the compiled suite from ape's ``.build/`` into ``src/medledger/artifacts/``.

    python tools/export_artifacts.py            # write src/medledger/artifacts/<Name>.json
    python tools/export_artifacts.py --check    # exit 1 if those files are stale

The SDK must run without ApeWorx or a compiler, so it ships these JSON files: ABI, deployment and
runtime bytecode, compiler version and settings, and the sha256 of every ``contracts/**/*.sol``
at export time. ``--check`` fails when the exported files differ from what an export would write
now (``ape compile`` output changed) or when a Solidity source changed since the export.

Reads ape 0.8's ``.build/__local__.json`` package manifest (``contractTypes`` + ``compilers``),
or a per-contract ``.build/<Name>.json`` ContractType where an ape version writes those.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from medledger.chain.artifacts import EXPORTED, source_hashes, stale_sources  # noqa: E402

OUT_DIR = ROOT / "src" / "medledger" / "artifacts"


class ExportError(Exception):
    """The build output is missing or unusable."""


def _bytecode(value: Any) -> str:
    # ape stores {"bytecode": "0x..."}; other tools store the hex string directly.
    code = value.get("bytecode") if isinstance(value, dict) else value
    if not isinstance(code, str) or not code:
        raise ExportError("contract type has no bytecode (abstract contract or interface?)")
    return code if code.startswith("0x") else "0x" + code


def _compiler_for(name: str, manifest: dict[str, Any]) -> dict[str, Any]:
    for compiler in manifest.get("compilers") or []:
        if name in (compiler.get("contractTypes") or []):
            settings = {
                k: v
                for k, v in (compiler.get("settings") or {}).items()
                # outputSelection lists cache paths and is not a property of the bytecode
                if k != "outputSelection"
            }
            version = str(compiler.get("version", "")).split("+")[0]
            return {
                "name": compiler.get("name", "solidity"),
                "version": version,
                "settings": settings,
            }
    raise ExportError(f"no compiler entry for {name} in .build/__local__.json")


def _contract_type(build_dir: Path, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    manifest_path = build_dir / "__local__.json"
    manifest: dict[str, Any] = {}
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    single = build_dir / f"{name}.json"
    if single.is_file():
        return json.loads(single.read_text(encoding="utf-8")), manifest
    types = manifest.get("contractTypes") or {}
    if name not in types:
        raise ExportError(f"{name} is not in {build_dir} (run `ape compile` first)")
    return types[name], manifest


def _check_build_matches_sources(build_dir: Path, hashes: dict[str, str]) -> None:
    """Refuse to pair old bytecode with new source hashes: .build must be compiled from disk."""
    manifest_path = build_dir / "__local__.json"
    if not manifest_path.is_file():
        return  # per-contract layout without sources: nothing to compare
    sources = json.loads(manifest_path.read_text(encoding="utf-8")).get("sources") or {}
    for path, digest in hashes.items():
        content = (sources.get(path) or {}).get("content")
        if content is None or hashlib.sha256(content.encode()).hexdigest() != digest:
            raise ExportError(f".build/ is older than {path}: run `ape compile` first")


def build_documents(root: Path = ROOT) -> dict[str, dict[str, Any]]:
    """What an export would write now: ``{name: artifact document}`` for the suite."""
    build_dir = root / ".build"
    hashes = source_hashes(root)
    _check_build_matches_sources(build_dir, hashes)
    docs: dict[str, dict[str, Any]] = {}
    for name in EXPORTED:
        ctype, manifest = _contract_type(build_dir, name)
        docs[name] = {
            "contractName": name,
            "abi": ctype["abi"],
            "bytecode": _bytecode(ctype.get("deploymentBytecode")),
            "deployedBytecode": _bytecode(ctype.get("runtimeBytecode")),
            "sourceHashes": hashes,
            "compiler": _compiler_for(name, manifest),
        }
    return docs


def render(doc: dict[str, Any]) -> str:
    """The exact file text (stable: sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def export(root: Path = ROOT, out_dir: Path = OUT_DIR) -> list[Path]:
    """Write every suite artifact; all documents are built before any file is touched."""
    docs = build_documents(root)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in docs.items():
        path = out_dir / f"{name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(render(doc), encoding="utf-8")
        tmp.replace(path)  # atomic: a reader never sees half a file
        written.append(path)
    return written


def check(root: Path = ROOT, out_dir: Path = OUT_DIR) -> list[str]:
    """Reasons the exported artifacts are stale; empty when they are current."""
    problems = stale_sources(root, out_dir)
    if not (root / ".build").is_dir():
        problems.append(".build/ is missing: run `ape compile` to compare the bytecode too")
        return problems
    try:
        docs = build_documents(root)
    except ExportError as exc:
        return [*problems, str(exc)]
    for name, doc in docs.items():
        path = out_dir / f"{name}.json"
        if not path.is_file():
            continue  # already reported by stale_sources
        if json.loads(path.read_text(encoding="utf-8")) != doc:
            problems.append(
                f"{path.relative_to(root)} differs from the current `ape compile` output"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the artifacts are stale")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        if problems:
            print("medledger artifacts are stale:", file=sys.stderr)
            for p in problems:
                print(f"  - {p}", file=sys.stderr)
            print(
                "fix: make artifacts (ape compile && python tools/export_artifacts.py)",
                file=sys.stderr,
            )
            return 1
        print("medledger artifacts are up to date")
        return 0
    try:
        written = export()
    except ExportError as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
