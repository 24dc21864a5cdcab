"""`medledger consortium` end to end on Anvil: create, propose, offline signatures, refusals,
the scheduled change patients see, execution after the delay, immediate suspension."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.cli import create_key, invoke, isolate_home, ok

pytestmark = pytest.mark.anvil


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate_home(monkeypatch, tmp_path / "mlhome")


@pytest.fixture
def stack(home: Path, anvil_url: str) -> Path:
    ok(["node", "start", "--attach", anvil_url])
    for name in ("a", "b", "c", "er", "outsider"):
        create_key(name)
    return home


def _fails(args: list[str], text: str) -> None:
    run = invoke(args)
    assert run.exit_code != 0, run.stdout
    assert text in run.stderr, run.stderr


def test_consortium_commands(stack: Path, tmp_path: Path) -> None:
    made = ok(["consortium", "create", "--owners", "a,b,c", "--threshold", "2", "--as", "dev:0"])
    assert made["threshold"] == 2
    assert made["min_delay"] == 48 * 3600
    join, run = str(tmp_path / "join.json"), str(tmp_path / "run.json")
    proposed = ok(
        [
            "consortium",
            "propose",
            "register",
            "--as",
            "er",
            "--name",
            "City ER",
            "--responder",
            "--out",
            join,
        ]
    )
    assert "as an emergency responder" in proposed["summary"]
    _fails(["consortium", "sign", join, "--as", "outsider"], "is not an owner")
    ok(["consortium", "sign", join, "--as", "a"])
    _fails(["consortium", "execute", join, "--as", "dev:1"], "1 of the 2 owner signatures")
    # Air-gapped signer: no chain connection at all.
    ok(["consortium", "sign", join, "--as", "c", "--offline", "--rpc", "http://127.0.0.1:9"])
    ok(["consortium", "execute", join, "--as", "dev:1"])
    _fails(["consortium", "execute", join, "--as", "dev:1"], "was used")

    status = ok(["consortium", "status"])
    (change,) = status["scheduled"]
    assert change["function"] == "registerProvider"
    assert change["state"] == "pending"
    assert "will be registered as an emergency responder at" in change["summary"]

    ok(["consortium", "propose", "execute", join, "--out", run])
    ok(["consortium", "sign", run, "--as", "a"])
    ok(["consortium", "sign", run, "--as", "b"])
    _fails(["consortium", "execute", run, "--as", "dev:1"], "timelock delay runs until")
    pending = ok(["consortium", "status", run])["pending"]
    assert pending[0]["state"].startswith("OperationNotReady")
    ok(["time", "advance", "49h"])
    ok(["consortium", "execute", run, "--as", "dev:1"])
    assert ok(["consortium", "status"])["scheduled"] == []

    er = ok(["keys", "show", "er"])["address"]
    stop = str(tmp_path / "stop.json")
    ok(["consortium", "propose", "suspend", er, "--out", stop])
    ok(["consortium", "sign", stop, "--as", "b"])
    ok(["consortium", "sign", stop, "--as", "c"])
    done = ok(["consortium", "execute", stop, "--as", "dev:1"])
    assert done["summary"] == f"provider {er} will be suspended immediately"


def test_custodian_commands(stack: Path, tmp_path: Path) -> None:
    made = ok(["consortium", "create", "--owners", "a,b,c", "--threshold", "2", "--as", "dev:0"])
    assert made["custodian_registry_owner"] == made["timelock"]
    hie = ok(["keys", "show", "outsider"])["address"]
    url = "https://hie.example/custodian"
    add, run = str(tmp_path / "add.json"), str(tmp_path / "run.json")
    _fails(
        ["consortium", "propose", "register-custodian", hie, "--name", "", "--endpoint", url,
         "--out", add],
        "name is 1 .. 64 bytes",
    )  # fmt: skip
    proposed = ok(
        ["consortium", "propose", "register-custodian", hie, "--name", "Regional HIE",
         "--endpoint", url, "--out", add]
    )  # fmt: skip
    assert proposed["summary"].startswith(f"schedule: custodian {hie} (Regional HIE, {url})")
    ok(["consortium", "sign", add, "--as", "a"])
    _fails(["consortium", "execute", add, "--as", "dev:1"], "1 of the 2 owner signatures")
    ok(["consortium", "sign", add, "--as", "b"])
    ok(["consortium", "execute", add, "--as", "dev:1"])
    (change,) = ok(["consortium", "status"])["scheduled"]
    assert (change["contract"], change["function"]) == ("CustodianRegistry", "registerCustodian")
    ok(["time", "advance", "49h"])
    ok(["consortium", "propose", "execute", add, "--out", run])
    ok(["consortium", "sign", run, "--as", "b"])
    ok(["consortium", "sign", run, "--as", "c"])
    ok(["consortium", "execute", run, "--as", "dev:1"])
    _fails(
        ["consortium", "propose", "register-custodian", hie, "--name", "Again", "--endpoint", url,
         "--out", add],
        "already registered",
    )  # fmt: skip

    rm = str(tmp_path / "rm.json")
    out = ok(["consortium", "propose", "remove-custodian", hie, "--out", rm])
    assert out["summary"].startswith(f"schedule: custodian {hie} will be removed")
    handover = str(tmp_path / "t.json")
    out = ok(
        ["consortium", "propose", "transfer-ownership", hie, "--registry", "custodians",
         "--out", handover]
    )  # fmt: skip
    assert "custodian registry ownership will be offered to" in out["summary"]
