"""The CLI without a chain: help, start-up cost, errors and exit codes, parsers, keys, cid."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from helpers.cli import PASSWORD, SRC, create_key, invoke, run_subprocess
from medledger.cli import exitcodes
from medledger.cli.parsing import format_duration, parse_amount, parse_duration
from medledger.cli.profiles import Profile
from medledger.errors import (
    AccessDenied,
    ChainUnavailable,
    ConsentExpired,
    ContractError,
    InvalidInput,
    KeystoreError,
    NotAuthorized,
    StoreTimeout,
)

# --- help and start-up ------------------------------------------------------------------------


def test_help_lists_every_command_and_the_exit_codes(home: Path) -> None:
    run = invoke(["--help"])
    assert run.exit_code == 0
    for command in (
        "demo",
        "node",
        "keys",
        "register",
        "record",
        "grant",
        "revoke",
        "relay",
        "break-glass",
        "audit",
        "export",
        "erase",
        "recovery",
        "cid",
        "fund",
        "time",
    ):
        assert f"\n  {command} " in run.stdout, command
    assert "Exit codes:" in run.stdout
    assert "3  denied" in run.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["demo"],
        ["node", "start"],
        ["keys", "create"],
        ["register", "provider"],
        ["record", "add"],
        ["grant"],
        ["relay"],
        ["break-glass"],
        ["audit"],
        ["export", "fhir"],
        ["erase"],
        ["recovery", "set-guardians"],
        ["cid"],
        ["fund"],
        ["time", "advance"],
        ["deploy"],
    ],
)
def test_every_subcommand_has_help(home: Path, command: list[str]) -> None:
    run = invoke([*command, "--help"])
    assert run.exit_code == 0, run.stderr
    assert run.stdout.startswith("Usage: ")


def test_help_does_not_import_the_chain_stack() -> None:
    """`medledger --help` must stay fast: no web3, py-evm or cryptography at import."""
    code = (
        "import sys\n"
        "from medledger.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'web3', 'eth_tester', 'eth', 'eth_account', 'cryptography', 'rich'})\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert "HEAVY []" in proc.stderr


def test_version(home: Path) -> None:
    run = invoke(["--version"])
    assert run.exit_code == 0
    assert "medledger" in run.stdout


# --- errors and exit codes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (InvalidInput("x"), 2),
        (AccessDenied("x", outcome=16), 3),
        (ConsentExpired("x", outcome=17), 3),
        (NotAuthorized("x"), 3),
        (ChainUnavailable("x"), 4),
        (StoreTimeout("x"), 4),
        (KeystoreError("x"), 1),
        (ContractError("NotController"), 1),
        (RuntimeError("x"), 1),
    ],
)
def test_exit_code_mapping(exc: Exception, code: int) -> None:
    assert exitcodes.exit_code_for(exc) == code


def test_no_chain_configured_is_one_line_exit_4_with_hint(home: Path) -> None:
    run = invoke(["audit", "--as", "alice"])
    assert run.exit_code == exitcodes.UNREACHABLE
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: no chain configured")
    assert "medledger node start" in lines[0]
    assert "Traceback" not in run.stderr


def test_json_errors_are_machine_readable(home: Path) -> None:
    run = invoke(["--json", "record", "list", "--as", "alice"])
    assert run.exit_code == 4
    err = run.json()["error"]
    assert err["kind"] == "unreachable"
    assert err["exit_code"] == 4
    assert err["type"] == "ChainUnavailable"


def test_unreachable_rpc_exits_4(home: Path) -> None:
    create_key("alice")
    run = invoke(["audit", "--as", "alice", "--rpc", "http://127.0.0.1:9"])
    assert run.exit_code == 4, (run.stdout, run.stderr)
    assert run.stderr.startswith("error: ")


def test_unknown_named_profile_is_invalid_input(home: Path) -> None:
    run = invoke(["--profile", "nope", "time", "now"])
    assert run.exit_code == 2
    assert "no profile named 'nope'" in run.stderr


def test_usage_errors_exit_2(home: Path) -> None:
    assert invoke(["no-such-command"]).exit_code == 2
    assert invoke(["grant"]).exit_code == 2
    assert invoke(["cid", "--cid-version", "2", __file__]).exit_code == 2


def test_bad_duration_is_rejected_before_anything_is_sent(home: Path) -> None:
    run = invoke(["time", "advance", "soon", "--rpc", "http://127.0.0.1:9"])
    assert run.exit_code == 2
    assert "cannot read duration 'soon'" in run.stderr
    assert "24h" in run.stderr  # the hint shows the syntax


def test_debug_shows_the_traceback(home: Path) -> None:
    run = run_subprocess(["time", "now"], {"MEDLEDGER_HOME": str(home), "MEDLEDGER_DEBUG": "1"})
    assert run.exit_code != 0
    assert "Traceback" in run.stderr
    quiet = run_subprocess(["time", "now"], {"MEDLEDGER_HOME": str(home)})
    assert quiet.exit_code == 4
    assert "Traceback" not in quiet.stderr


# --- parsers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("45m", 2700),
        ("24h", 86400),
        ("30d", 30 * 86400),
        ("2w", 14 * 86400),
        ("1y", 365 * 86400),
        ("1d12h", 129600),
        ("1D 12H", 129600),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "24", "h", "24x", "-1h", "0h", "1h2", "2h 3", "1.5h"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    assert format_duration(90000) == "1d 1h"
    assert parse_duration(format_duration(129661).replace(" ", "")).total_seconds() == 129661


@pytest.mark.parametrize(
    ("text", "wei"),
    [
        ("10", 10 * 10**18),
        ("0.5eth", 5 * 10**17),
        ("20gwei", 20 * 10**9),
        ("1000wei", 1000),
    ],
)
def test_parse_amount(text: str, wei: int) -> None:
    assert parse_amount(text) == wei


@pytest.mark.parametrize("text", ["", "ten", "1.5wei", "5 btc", "-1"])
def test_parse_amount_rejects(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_amount(text)


# --- profiles ---------------------------------------------------------------------------------


def test_profile_round_trip_and_flag_precedence(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medledger.cli.state import CliState

    Profile(name="local", rpc="http://a:1", store="/s", manifest="/m.json").save()
    assert Profile.load("local") == Profile(
        name="local", rpc="http://a:1", store="/s", manifest="/m.json"
    )
    assert CliState().connection().rpc == "http://a:1"
    monkeypatch.setenv("MEDLEDGER_RPC", "http://env:2")
    assert CliState().connection().rpc == "http://env:2"
    assert CliState(rpc="http://flag:3").connection().rpc == "http://flag:3"
    assert CliState(rpc="http://flag:3").connection().store == "/s"


def test_corrupt_profile_is_reported(home: Path) -> None:
    path = Profile.path_for("local")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    run = invoke(["time", "now"])
    assert run.exit_code == 2
    assert "profile 'local' is unreadable" in run.stderr


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "x" * 65])
def test_bad_names_are_rejected(home: Path, name: str) -> None:
    run = invoke(["keys", "create", name, "--insecure-light-kdf"])
    assert run.exit_code == 2
    assert not (home / "keys").exists() or not list((home / "keys").iterdir())


# --- keys -------------------------------------------------------------------------------------


def test_keys_create_list_show(home: Path) -> None:
    alice = create_key("alice")
    assert alice["address"].startswith("0x")
    assert len(alice["address"]) == 42
    path = Path(alice["file"])
    assert path.stat().st_mode & 0o777 == 0o600
    doc = json.loads(path.read_text())
    assert doc["address"].lower().removeprefix("0x") == alice["address"].lower()[2:]
    assert PASSWORD not in path.read_text()

    listed = invoke(["keys", "list", "--json"]).json()
    assert [k["name"] for k in listed] == ["alice"]
    shown = invoke(["keys", "show", "alice", "--json"]).json()
    assert shown["address"] == alice["address"]
    assert shown["encryption_key"] == alice["encryption_key"]
    table = invoke(["keys", "list"]).stdout
    assert "alice" in table
    assert alice["address"] in table


def test_keys_create_pq(home: Path) -> None:
    assert create_key("bob")["suite"] == "x25519"
    run = invoke(["keys", "create", "carol", "--pq", "--insecure-light-kdf", "--json"])
    assert run.exit_code == 0
    assert run.json()["suite"] == "mlkem768-x25519"


def test_keys_are_never_overwritten(home: Path) -> None:
    first = create_key("alice")
    run = invoke(["keys", "create", "alice", "--insecure-light-kdf"])
    assert run.exit_code == 2
    assert "already exists" in run.stderr
    assert invoke(["keys", "show", "alice", "--json"]).json()["address"] == first["address"]


def test_keys_password_prompt_without_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDLEDGER_PASSWORD")
    run = invoke(
        ["keys", "create", "dave", "--insecure-light-kdf", "--json"], input="pw-one\npw-one\n"
    )
    assert run.exit_code == 0, run.stderr
    mismatch = invoke(["keys", "create", "erin", "--insecure-light-kdf"], input="a\nb\n")
    assert mismatch.exit_code != 0
    assert not (home / "keys" / "erin.json").exists()


def test_keys_import_private_key_file(home: Path, tmp_path: Path) -> None:
    secret = "0x" + "11" * 32
    key_file = tmp_path / "k.hex"
    key_file.write_text(secret + "\n")
    run = invoke(
        [
            "keys",
            "import",
            "imp",
            "--private-key-file",
            str(key_file),
            "--insecure-light-kdf",
            "--json",
        ]
    )
    assert run.exit_code == 0, run.stderr
    from eth_account import Account

    assert run.json()["address"] == Account.from_key(secret).address
    bad = tmp_path / "bad.hex"
    bad.write_text("0x1234")
    run = invoke(["keys", "import", "imp2", "--private-key-file", str(bad), "--insecure-light-kdf"])
    assert run.exit_code == 2


def test_keys_import_v3_keystore(home: Path, tmp_path: Path) -> None:
    from eth_account import Account

    acct = Account.create()
    v3 = tmp_path / "geth.json"
    v3.write_text(json.dumps(Account.encrypt(acct.key, PASSWORD, kdf="scrypt", iterations=2**10)))
    run = invoke(
        ["keys", "import", "geth", "--keystore", str(v3), "--insecure-light-kdf", "--json"]
    )
    assert run.exit_code == 0, run.stderr
    assert run.json()["address"] == acct.address


def test_wrong_password_is_a_keystore_error(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from medledger.cli.state import CliState

    create_key("alice")
    monkeypatch.setenv("MEDLEDGER_PASSWORD", "wrong")
    with pytest.raises(KeystoreError, match="wrong password"):
        CliState(account="alice").party()


# --- cid --------------------------------------------------------------------------------------

VECTORS = {  # docs: /work/shared/IPFS.md, identical in Kubo and js-ipfs
    "1k": (
        1024,
        "QmbcxkK5cyd6f2FxCVgibHVq9kK5upbLDJFDUibZZeFt5M",
        "bafkreigrzdg472msovmvqksmazdhwyrmhmclwjzxnx7hrb24uyq4whpxhe",
    ),
    "300k": (
        307200,
        "QmQxMyZJjNUbCwAiduH9ZwPm4k9yXPZWfVDRnEanzPneKA",
        "bafybeihieba2mkads4ovfxehrvjwmunde4fouajidpjmesyroen64ntih4",
    ),
}


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_cid_matches_kubo(home: Path, tmp_path: Path, name: str) -> None:
    size, v0, v1 = VECTORS[name]
    path = tmp_path / name
    path.write_bytes(random.Random("probe-ipfs-" + name).randbytes(size))
    assert invoke(["cid", str(path)]).stdout == v1 + "\n"
    assert invoke(["cid", "--cid-version", "1", str(path)]).stdout == v1 + "\n"
    assert invoke(["cid", "--cid-version", "0", str(path)]).stdout == v0 + "\n"
    data = invoke(["cid", "--json", "--cid-version", "0", str(path)]).json()
    assert data["cid"] == v0


def test_cid_of_missing_file_exits_2(home: Path, tmp_path: Path) -> None:
    run = invoke(["cid", str(tmp_path / "missing")])
    assert run.exit_code == 2
