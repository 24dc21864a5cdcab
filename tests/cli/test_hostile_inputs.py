"""Issue 13 "done when": a table of bad and hostile inputs run against the real CLI.

Each row runs one command (in-process, a fresh module MEDLEDGER_HOME, a real Anvil) and must end
with exactly one line on stderr, ``error: ...`` (no traceback, no "this is a bug"), the exit code
the row names (see ``medledger.cli.exitcodes``), and nothing half-done: unless a row says
otherwise the chain did not mine a single block (no transaction, not even a logged read), and
output paths the command refused do not exist afterwards.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import PASSWORD, create_key, invoke, ok
from medledger.cli.nodeproc import rpc_call

pytestmark = pytest.mark.anvil

INVALID, ERROR, DENIED, UNREACHABLE = 2, 1, 3, 4


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    code: int
    says: str = ""  # a fragment the error line must contain (case-insensitive)
    env: tuple[tuple[str, str], ...] = ()
    absent: str = ""  # a path (relative to the scratch dir) that must not exist afterwards
    stdin: str | None = None


def case(name: str, *args: str, code: int = INVALID, says: str = "", **kw: Any) -> Case:
    return Case(name, args, code, says, **kw)


# Placeholders filled from the stack: {rid} a live record, {erased} none, {dir} scratch dir,
# {anvil} the node URL, {spec} the spec provider's address, {alice} alice's address.
CASES = [
    # --- usage ------------------------------------------------------------------------------
    case("unknown command", "frobnicate", says="no such command"),
    case("missing argument", "grant", says="missing argument"),
    case("unknown option", "record", "list", "--frob", says="no such option"),
    case("option missing value", "record", "add", "--patient", says="requires an argument"),
    case("patient not a number", "record", "list", "--patient", "one", says="not a valid"),
    # --- patient ids ------------------------------------------------------------------------
    case("patient id zero", "record", "list", "--as", "alice", "--patient", "0", says="patient"),
    case("patient id negative", "record", "list", "--as", "alice", "--patient", "-3"),
    case("patient id > uint64", "record", "list", "--as", "alice", "--patient", str(2**64)),
    case("patient id huge", "record", "list", "--as", "alice", "--patient", "9" * 40),
    case("unknown patient list", "record", "list", "--as", "alice", "--patient", "999",
         code=ERROR, says="patient"),
    case("unknown patient export", "export", "fhir", "--patient", "999", "--as", "alice",
         "--out", "{dir}/fhir999.json", code=ERROR, says="patient", absent="fhir999.json"),
    # --- record add -------------------------------------------------------------------------
    case("add missing file", "record", "add", "--as", "clinic", "--patient", "1", "-c", "labs",
         "{dir}/nope.bin", says="no such file"),
    case("add directory", "record", "add", "--as", "clinic", "--patient", "1", "-c", "labs",
         "{dir}"),
    case("add unknown category", "record", "add", "--as", "clinic", "--patient", "1", "-c",
         "gossip", "{dir}/small.txt", says="category"),
    case("add patient huge", "record", "add", "--as", "clinic", "--patient", str(2**70), "-c",
         "labs", "{dir}/small.txt"),
    case("add as unknown key", "record", "add", "--as", "nobody", "--patient", "1", "-c", "labs",
         "{dir}/small.txt", code=ERROR, says="no key named"),
    case("add as path-like key", "record", "add", "--as", "../keys/x", "--patient", "1", "-c",
         "labs", "{dir}/small.txt", says="invalid key name"),
    # --- record get -------------------------------------------------------------------------
    case("get malformed id", "record", "get", "0x1234", "--as", "alice", says="record id"),
    case("get non-hex id", "record", "get", "z" * 64, "--as", "alice", says="record id"),
    case("get unknown purpose", "record", "get", "{rid}", "--as", "alice", "-p", "curiosity",
         says="purpose"),
    case("get out missing dir", "record", "get", "{rid}", "--as", "alice", "--out",
         "{dir}/missing/x.json", says="directory", absent="missing"),
    case("get out /dev/null", "record", "get", "{rid}", "--as", "alice", "--out", "/dev/null",
         says="not a regular file"),
    case("get out symlink", "record", "get", "{rid}", "--as", "alice", "--out", "{dir}/link",
         says="not a regular file"),
    case("get out fifo", "record", "get", "{rid}", "--as", "alice", "--out", "{dir}/fifo",
         says="not a regular file"),
    case("get out directory", "record", "get", "{rid}", "--as", "alice", "--out", "{dir}"),
    # --- grant ------------------------------------------------------------------------------
    case("grant both windows", "grant", "spec", "--as", "alice", "-c", "labs", "-p",
         "treatment", "--for", "1d", "--until", "2030-01-01", says="exactly one"),
    case("grant no window", "grant", "spec", "--as", "alice", "-c", "labs", "-p", "treatment",
         says="exactly one"),
    case("grant zero duration", "grant", "spec", "--as", "alice", "-c", "labs", "-p",
         "treatment", "--for", "0d", says="positive"),
    case("grant garbage duration", "grant", "spec", "--as", "alice", "-c", "labs", "-p",
         "treatment", "--for", "soon", says="duration"),
    case("grant 1e8 years", "grant", "spec", "--as", "alice", "-c", "labs", "-p", "treatment",
         "--for", "100000000y", says="too far"),
    case("grant 10000 years", "grant", "spec", "--as", "alice", "-c", "labs", "-p", "treatment",
         "--for", "10000y", says="too far"),
    case("grant until year 99999", "grant", "spec", "--as", "alice", "-c", "labs", "-p",
         "treatment", "--until", "99999-01-01", says="time"),
    case("grant until huge unix", "grant", "spec", "--as", "alice", "-c", "labs", "-p",
         "treatment", "--until", "9" * 18, says="too far"),
    case("grant until past", "grant", "spec", "--as", "alice", "-c", "labs", "-p", "treatment",
         "--until", "2001-01-01", says="past"),
    case("grant until garbage", "grant", "spec", "--as", "alice", "-c", "labs", "-p",
         "treatment", "--until", "next tuesday", says="time"),
    case("grant unknown category", "grant", "spec", "--as", "alice", "-c", "gossip", "-p",
         "treatment", "--for", "1d", says="category"),
    case("grant unknown purpose", "grant", "spec", "--as", "alice", "-c", "labs", "-p",
         "marketing", "--for", "1d", says="purpose"),
    case("grant unknown action", "grant", "spec", "--as", "alice", "-c", "labs", "-p",
         "treatment", "-a", "delete", "--for", "1d", says="action"),
    case("grant bad checksum", "grant", "{spec_badsum}", "--as", "alice", "-c", "labs", "-p",
         "treatment", "--for", "1d", says="checksum"),
    case("grant short address", "grant", "0x1234", "--as", "alice", "-c", "labs", "-p",
         "treatment", "--for", "1d", says="address"),
    case("grant unknown name", "grant", "mallory", "--as", "alice", "-c", "labs", "-p",
         "treatment", "--for", "1d", says="key name"),
    case("grant unregistered", "grant", "0x" + "11" * 20, "--as", "alice", "-c", "labs", "-p",
         "treatment", "--for", "1d", code=ERROR, says="not a registered provider"),
    case("grant wrong password", "grant", "spec", "--as", "alice", "-c", "labs", "-p",
         "treatment", "--for", "1d", code=ERROR, says="password",
         env=(("MEDLEDGER_PASSWORD", "wrong"),)),
    case("grant by non-patient", "grant", "spec", "--as", "clinic", "-c", "labs", "-p",
         "treatment", "--for", "1d", code=ERROR, says="does not control a patient"),
    case("re-grant without --replace", "grant", "clinic", "--as", "alice", "-c", "labs", "-p",
         "public_health", "--for", "1d", says="--replace"),
    # --- revoke / relay ---------------------------------------------------------------------
    case("revoke bad address", "revoke", "0xZZ", "--as", "alice", says="address"),
    case("relay missing file", "relay", "{dir}/nope.json", "--as", "alice"),
    case("relay not json", "relay", "{dir}/small.txt", "--as", "alice", says="not json"),
    case("relay json list", "relay", "{dir}/list.json", "--as", "alice", says="json object"),
    case("relay empty object", "relay", "{dir}/empty.json", "--as", "alice", says="signed"),
    # --- erase ------------------------------------------------------------------------------
    case("erase --json without --yes", "erase", "{rid}", "--as", "alice", "--json",
         says="--yes"),
    case("erase piped without --yes", "erase", "{rid}", "--as", "alice", says="--yes"),
    case("erase malformed id", "erase", "0xabc", "--as", "alice", "--yes", says="record id"),
    # --- dev chain helpers -----------------------------------------------------------------
    case("fund bad checksum", "fund", "{spec_badsum}", says="checksum"),
    case("fund negative", "fund", "spec", "--amount", "-1", says="amount"),
    case("fund fraction of wei", "fund", "spec", "--amount", "1.5wei", says="wei"),
    case("fund unknown unit", "fund", "spec", "--amount", "10btc", says="amount"),
    case("time advance 1e6 years", "time", "advance", "1000000y", says="too far"),
    case("time advance past 9999", "time", "advance", "8000y", says="too far"),
    case("time advance zero", "time", "advance", "0s", says="positive"),
    case("time advance no unit", "time", "advance", "100", says="unit"),
    case("break-glass huge window", "break-glass", "1", "--as", "spec", "--reason", "other",
         "--for", "100y"),
    case("emergency max too long", "emergency", "--as", "alice", "--max", "100y"),
    # --- connection -------------------------------------------------------------------------
    case("rpc closed port", "record", "list", "--as", "alice", "--rpc", "http://127.0.0.1:9",
         code=UNREACHABLE, says="127.0.0.1:9"),
    case("rpc malformed ipv6", "record", "list", "--as", "alice", "--rpc", "http://[::1",
         says="url"),
    case("rpc not http", "record", "list", "--as", "alice", "--rpc", "ftp://example.org",
         says="url"),
    case("store not ipfs", "record", "add", "--as", "clinic", "--patient", "1", "-c", "labs",
         "{dir}/small.txt", "--store", "{anvil}", code=UNREACHABLE, says="{anvil}"),
    case("store is a file", "record", "get", "{rid}", "--as", "alice", "--store",
         "{dir}/small.txt", says="directory"),
    case("profile path-like", "record", "list", "--as", "alice", "--profile", "../x",
         says="profile name"),
    case("profile unknown", "record", "list", "--as", "alice", "--profile", "nosuch",
         says="no profile"),
    case("home is a file", "record", "list", "--as", "alice", says="MEDLEDGER_HOME",
         env=(("MEDLEDGER_HOME", "{dir}/small.txt"),)),
    case("node start bad host", "node", "start", "--host", "bad host!", "--port", "0",
         "--profile", "other", says="host"),
    case("node start bad port", "node", "start", "--port", "99999", "--profile", "other"),
    case("attach not http", "node", "start", "--attach", "localhost:8545", "--profile", "other",
         says="url"),
    # --- registration -----------------------------------------------------------------------
    case("patient as dev account", "register", "patient", "--as", "dev:1", says="dev"),
    case("patient twice", "register", "patient", "--as", "alice", code=INVALID,
         says="already"),
    case("provider name too long", "register", "provider", "spec", "--name", "x" * 65, "--as",
         "dev:0", says="64 bytes"),
    case("provider name empty", "register", "provider", "spec", "--name", "", "--as", "dev:0",
         says="name"),
    case("provider by non-owner", "register", "provider", "spec", "--name", "X", "--as",
         "alice", code=DENIED),
    # --- keys, cid, audit outputs -----------------------------------------------------------
    case("key name with slash", "keys", "create", "a/b", "--insecure-light-kdf",
         says="invalid key name"),
    case("key exists", "keys", "create", "alice", "--insecure-light-kdf", says="exists"),
    case("import zero key", "keys", "import", "zero", "--private-key-file", "{dir}/zero.key",
         says="private key"),
    case("import garbage key", "keys", "import", "garb", "--private-key-file",
         "{dir}/small.txt", says="private key"),
    case("cid missing file", "cid", "{dir}/nope.bin"),
    case("audit csv /dev/null", "audit", "--as", "alice", "--csv", "/dev/null",
         says="not a regular file"),
    case("audit html missing dir", "audit", "--as", "alice", "--html", "{dir}/missing/a.html",
         says="directory", absent="missing"),
    case("export out /dev/null", "export", "fhir", "--patient", "1", "--as", "alice", "--out",
         "/dev/null", says="not a regular file"),
]  # fmt: skip


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def stack(
    module_env: Path, anvil_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    ok(["node", "start", "--attach", anvil_url])
    actors: dict[str, Any] = {}
    for name, provider in (("alice", None), ("clinic", "Clinic"), ("spec", "Spec")):
        actors[name] = create_key(name)
        ok(["fund", name])
        if provider:
            ok(["register", "provider", name, "--name", provider, "--as", "dev:0"])
    ok(["register", "patient", "--as", "alice"])
    ok(["grant", "clinic", "--as", "alice", "-c", "labs", "-p", "treatment", "-a", "read,write",
        "--for", "30d"])  # fmt: skip
    scratch = tmp_path_factory.mktemp("scratch")
    (scratch / "small.txt").write_text("hello\n")
    (scratch / "list.json").write_text("[]")
    (scratch / "empty.json").write_text("{}")
    (scratch / "zero.key").write_text("0x" + "00" * 32)
    (scratch / "target").write_text("")
    os.symlink(scratch / "target", scratch / "link")
    os.mkfifo(scratch / "fifo")
    rid = ok(["record", "add", "--as", "clinic", "--patient", "1", "-c", "labs",
              str(scratch / "small.txt")])["record_id"]  # fmt: skip
    spec = actors["spec"]["address"]
    first_letter = next(i for i, ch in enumerate(spec) if i > 1 and ch.isalpha())
    flipped = spec[:first_letter] + spec[first_letter].swapcase() + spec[first_letter + 1 :]
    assert flipped != spec
    assert flipped.lower() == spec.lower()
    return {"rid": rid, "dir": str(scratch), "anvil": anvil_url, "spec": spec,
           "spec_badsum": flipped, "alice": actors["alice"]["address"]}  # fmt: skip


def _fill(text: str, values: dict[str, Any]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text


@pytest.mark.parametrize("row", CASES, ids=[c.name for c in CASES])
def test_hostile_input(stack: dict[str, Any], row: Case) -> None:
    args = [_fill(a, stack) for a in row.args]
    env = {k: _fill(v, stack) for k, v in row.env}
    block_before = int(rpc_call(stack["anvil"], "eth_blockNumber"), 16)
    run = invoke(args, env=env or None, input=row.stdin)
    block_after = int(rpc_call(stack["anvil"], "eth_blockNumber"), 16)
    err = run.stderr.strip()
    assert run.exit_code == row.code, f"{args}: exit {run.exit_code}: {err}"
    assert err.startswith("error: "), err
    assert "\n" not in err, err
    for word in ("bug", "Traceback", "unexpected"):
        assert word not in err, err
    assert _fill(row.says, stack).lower() in err.lower(), err
    assert block_after == block_before, f"{args} mined {block_after - block_before} block(s)"
    if row.absent:
        assert not (Path(stack["dir"]) / row.absent).exists()
    assert Path("/dev/null").is_char_device()
    assert PASSWORD not in run.stdout + run.stderr


# --- 13.8: chain data is data, never markup ---------------------------------------------------

HOSTILE_NAME = "=1+2[red]x[/red][link=http://evil]y[/link]<b>\x1b[31mz"  # 52 bytes (max 64)


def test_provider_names_are_never_markup(stack: dict[str, Any], tmp_path: Path) -> None:
    """A provider name with rich markup, an escape sequence, HTML and a spreadsheet formula:
    registration, the audit table, the CSV and the HTML all show it as inert text."""
    create_key("odd1")
    create_key("odd2")
    ok(["fund", "odd1"])
    ok(["fund", "odd2"])
    run = invoke(["register", "provider", "odd1", "--name", "[/]", "--as", "dev:0"])
    assert run.exit_code == 0, run.stderr  # crashed after the tx before: MarkupError
    assert "[/]" in run.stdout
    run = invoke(["register", "provider", "odd2", "--name", HOSTILE_NAME, "--as", "dev:0"])
    assert run.exit_code == 0, run.stderr
    for grantee in ("odd1", "odd2"):
        ok(["grant", grantee, "--as", "alice", "-c", "labs", "-p", "treatment", "--for", "1d"])
        ok(["record", "get", stack["rid"], "--as", grantee, "--out", str(tmp_path / grantee)])
    csv_path, html_path = tmp_path / "a.csv", tmp_path / "a.html"
    run = invoke(["audit", "--as", "alice", "--csv", str(csv_path), "--html", str(html_path)])
    assert run.exit_code == 0, run.stderr
    assert "[/]" in run.stdout
    assert "[red]x[/red][link=http://evil]y[/link]" in run.stdout
    assert "\x1b" not in run.stdout  # the escape sequence is shown as text: \x1b
    assert "\\x1b[31mz" in run.stdout
    assert f"wrote the accounting of disclosures (CSV) to {csv_path}" in run.stderr
    csv_text = csv_path.read_text()
    assert "'=1+2" in csv_text
    assert ",=1+2" not in csv_text
    html = html_path.read_text()
    assert "&lt;b&gt;\x1b" in html or "&lt;b&gt;" in html
    assert "<b>\x1b" not in html
    assert 'href="http://evil' not in html


def test_time_help_summary_is_whole() -> None:
    """13.16: `time --help` lists `advance` with a whole sentence, not one cut at "(e.g."."""
    run = invoke(["time", "--help"])
    assert run.exit_code == 0
    line = next(x for x in run.stdout.splitlines() if x.strip().startswith("advance"))
    assert line.rstrip().endswith("mine a block."), line


def test_single_case_address_is_accepted_with_a_warning_for_irreversible_actions(
    stack: dict[str, Any],
) -> None:
    """13.7: an all-lowercase address has no checksum to verify: `fund` (irreversible) goes
    ahead but says so; the checksummed form is accepted silently."""
    lower = stack["spec"].lower()
    run = invoke(["fund", lower, "--amount", "1wei"])
    assert run.exit_code == 0, run.stderr
    assert "warning" in run.stderr
    assert "no checksum" in run.stderr
    assert stack["spec"] in run.stderr  # shows the checksummed form to compare
    run = invoke(["fund", stack["spec"], "--amount", "1wei"])
    assert run.exit_code == 0, run.stderr
    assert "warning" not in run.stderr
