"""``medledger import fhir`` in-process: the JSON summary, --strict, and the mapping is required."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cli import invoke, isolate_home
from helpers.fhir_import import World, subset


def _args(world: World, url: str, tmp: Path, src: Path, *extra: str) -> list[str]:
    return [
        "import", "fhir", str(src), "--rpc", url, "--store", str(world.store_dir),
        "--manifest", str(tmp / "manifest.json"), "--as", "dev:7",
        "--journal", str(tmp / "journal"), "--json", *extra,
    ]  # fmt: skip


def test_cli_strict_and_summary(
    world: World,
    anvil_url: str,
    synthea: Path,
    smallest: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate_home(monkeypatch, tmp_path / "home")
    world.ml.manifest.save(tmp_path / "manifest.json")
    src = subset(synthea, smallest[:1], tmp_path / "export")
    with open(src / "Condition.000.ndjson", "a", encoding="utf-8") as fh:
        fh.write("{broken\n")
    lines = len((src / "Condition.000.ndjson").read_text().splitlines())

    run = invoke(_args(world, anvil_url, tmp_path, src))
    assert run.exit_code == 2  # no mapping, no --register
    assert "--patients" in run.stderr

    run = invoke(_args(world, anvil_url, tmp_path, src, "--register", "--strict"))
    assert run.exit_code == 2
    assert f"Condition.000.ndjson:{lines}" in run.stderr
    assert "nothing was imported" in run.stderr

    run = invoke(_args(world, anvil_url, tmp_path, src, "--register", "--insecure-light-kdf"))
    assert run.exit_code == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["problems"]["malformed"] == 1
    assert summary["problem_list"][0]["line"] == lines
    assert summary["records_added"] == summary["records_planned"] > 0
    assert summary["patients_registered"] == 1
    assert summary["gas_per_resource"] > 0
    assert len(list((tmp_path / "home" / "keys").glob("fhir-*.json"))) == 1
