"""Three real custodian processes (k = 2) against Anvil, on SQLite and on PostgreSQL: reads,
every refusal reason, replay, restart, 20 concurrent readers, bad input, FHIR export, logs."""

from __future__ import annotations

import json
import secrets
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from custodian_world import (
    ALLERGIES,
    EMERGENCY,
    LABS,
    Reader,
    Record,
    World,
    make_world,
)
from fhir.resources.R4B.bundle import Bundle

from helpers.custodian_procs import CustodianProc, start_custodians
from helpers.postgres import PostgresServer
from medledger.custodian import protocol as p
from medledger.custodian.store import Store
from medledger.errors import CustodianRefused

FINALITY = 2
MAX_AGE = 300
CONDITIONS = 2  # a category no reader is granted


@pytest.fixture(scope="module")
def world(anvil_url: str) -> World:
    return make_world(anvil_url)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def custodians(
    request: pytest.FixtureRequest,
    world: World,
    anvil_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PostgresServer,
) -> Iterator[list[CustodianProc]]:
    base = tmp_path_factory.mktemp(f"custodians-{request.param}")
    procs = []
    for i in range(3):
        db = (
            f"sqlite:{base / f'c{i}' / 'store.db'}"
            if request.param == "sqlite"
            else postgres_server.create_database()
        )
        procs.append(
            CustodianProc(
                base / f"c{i}",
                anvil_url,
                world.medledger,
                "--finality",
                str(FINALITY),
                "--max-age",
                str(MAX_AGE),
                "--max-lag",
                "0",
                db=db,
            )
        )
    start_custodians(procs)
    yield procs
    for c in procs:
        c.stop()


def _reader_with_record(
    world: World, custodians: list[CustodianProc], category: int = 0
) -> tuple[Reader, Record]:
    reader = world.new_reader("Riverside Clinic")
    world.delegate(custodians, reader)
    record = world.add_record(category)
    world.register(custodians, record)
    return reader, record


def _refusal(c: CustodianProc, req: p.Reencryption, capsule: bytes, sig: bytes) -> str:
    with pytest.raises(CustodianRefused) as info:
        c.client.reencrypt(req, capsule, sig)
    assert info.value.custodian == c.url
    assert str(info.value)  # a sentence, not just a code
    return info.value.code


def _served(c: CustodianProc) -> int:
    store = Store.open(c.db)
    try:
        return sum(1 for d in store.decisions() if d.outcome == "served")
    finally:
        store.close()


def test_two_of_three_read_and_replay(world: World, custodians: list[CustodianProc]) -> None:
    for c in custodians:
        info = c.client.info()
        assert (info.address, info.encryption_key) == (c.keys.address, c.keys.encryption_key)
        assert (info.chain_id, info.medledger) == (world.chain_id, world.medledger)
        assert (info.finality, info.max_age) == (FINALITY, MAX_AGE)
    reader, record = _reader_with_record(world, custodians)
    tx = world.log_access(reader, record, mine=FINALITY - 1)
    req, sig = world.request(reader, record, tx)
    answers = [c.client.reencrypt(req, record.capsule, sig) for c in custodians]
    digest = req.digest(world.chain_id, world.medledger)
    for c, (_cfrag, receipt) in zip(custodians, answers, strict=True):
        receipt.verify(world.chain_id, world.medledger, c.keys.address, request_digest=digest)
        assert receipt.receipt.action == p.ACTION_SERVED
        assert receipt.receipt.subject == record.rid
    cfrags = [cfrag for cfrag, _ in answers]
    # any two of the three fragments open the record; one alone does not
    assert world.open(reader, record, cfrags[:2]) == record.plaintext
    assert world.open(reader, record, cfrags[1:]) == record.plaintext
    with pytest.raises(ValueError, match="Re-encryption error"):
        world.open(reader, record, cfrags[:1])
    # the very same request again: refused by each custodian, on its own
    for c in custodians:
        assert _refusal(c, req, record.capsule, sig) == "replayed"


def test_each_refusal_names_its_reason(world: World, custodians: list[CustodianProc]) -> None:
    c = custodians[0]
    reader, record = _reader_with_record(world, custodians)
    other, other_record = _reader_with_record(world, custodians)
    served_before = _served(c)

    def refused(req_sig: tuple[p.Reencryption, bytes], capsule: bytes | None = None) -> str:
        req, sig = req_sig
        return _refusal(c, req, record.capsule if capsule is None else capsule, sig)

    # not yet final: mined, but with fewer confirmations than this custodian's policy
    fresh = world.log_access(reader, record)
    assert refused(world.request(reader, record, fresh)) == "not_final"
    world.ml.chain.mine(FINALITY - 1)
    tx = fresh
    # a transaction that logged nothing, or does not exist
    assert refused(world.request(reader, record, secrets.token_bytes(32))) == "unknown_access"
    # another reader's access, presented by this reader
    other_tx = world.log_access(other, other_record, mine=FINALITY - 1)
    req = p.Reencryption(
        reader.address, world.pid, other_record.rid, other_tx,
        p.capsule_digest(other_record.capsule), p.new_nonce(), world.deadline(),
    )  # fmt: skip
    assert refused((req, world.sign(reader.party, req)), other_record.capsule) == "wrong_reader"
    # this reader's access to one record, used for another record
    req, sig = world.request(reader, other_record, tx)
    assert _refusal(c, req, other_record.capsule, sig) == "wrong_record"
    # ... or for another record's capsule under this record's id (capsules are registered)
    assert (
        refused(
            world.request(reader, record, tx, capsule=other_record.capsule), other_record.capsule
        )
        == "bad_capsule"
    )
    unregistered = world.add_record()
    unregistered_tx = world.log_access(reader, unregistered, mine=FINALITY - 1)
    req, sig = world.request(reader, unregistered, unregistered_tx)
    assert _refusal(c, req, unregistered.capsule, sig) == "unknown_capsule"
    # an access the contract denied (no consent for that category), logged and final
    secret = world.add_record(CONDITIONS)
    world.register(custodians, secret)
    denied_tx = world.log_access(reader, secret, mine=FINALITY - 1)
    req, sig = world.request(reader, secret, denied_tx)
    assert _refusal(c, req, secret.capsule, sig) == "access_denied"
    # signed by someone else than the reader it names; deadline passed
    req, _ = world.request(reader, record, tx)
    assert refused((req, world.sign(other.party, req))) == "bad_signature"
    late = p.Reencryption(
        reader.address, world.pid, record.rid, tx, p.capsule_digest(record.capsule),
        p.new_nonce(), world.ml.now() - 1,
    )  # fmt: skip
    assert refused((late, world.sign(reader.party, late))) == "expired_request"
    # a reader with a live grant and a logged access but no fragment at this custodian
    stranger = world.new_reader("No Delegation Clinic")
    stranger_tx = world.log_access(stranger, record, mine=FINALITY - 1)
    req, sig = world.request(stranger, record, stranger_tx)
    assert _refusal(c, req, record.capsule, sig) == "no_delegation"
    # the access is fine, but the grant behind it was revoked since
    revoked, revoked_record = _reader_with_record(world, custodians)
    revoked_tx = world.log_access(revoked, revoked_record, mine=FINALITY - 1)
    world.contract.revoke(revoked.address)
    req, sig = world.request(revoked, revoked_record, revoked_tx)
    assert _refusal(c, req, revoked_record.capsule, sig) == "grant_not_live"
    # too old: the chain moved on past max-age since the access was logged
    world.ml.increase_time(MAX_AGE + 5)
    assert refused(world.request(reader, record, tx)) == "stale_access"
    # nothing was served by any of these; each refusal is in the decision log with its reason
    assert _served(c) == served_before
    reasons = [d["reason"] for d in c.client.decisions(world.pid) if d["outcome"] == "refused"]
    for code in ("not_final", "wrong_record", "access_denied", "grant_not_live", "stale_access"):
        assert code in reasons


def test_erasure_is_refused_for_good(world: World, custodians: list[CustodianProc]) -> None:
    reader, record = _reader_with_record(world, custodians)
    er = p.Erasure(world.pid, record.rid, p.new_nonce(), world.deadline())
    receipts = [c.client.erase(er, world.sign(world.patient, er)) for c in custodians]
    for c, r in zip(custodians, receipts, strict=True):
        r.verify(world.chain_id, world.medledger, c.keys.address)
        assert (r.receipt.action, r.receipt.subject, r.receipt.deleted) == (
            p.ACTION_ERASED, record.rid, 1,
        )  # fmt: skip
    # the chain still says the record is live and the access is allowed: custodians refuse
    tx = world.log_access(reader, record, mine=FINALITY - 1)
    for c in custodians:
        req, sig = world.request(reader, record, tx)
        assert _refusal(c, req, record.capsule, sig) == "erased"
    # the capsule cannot be registered again either
    reg = p.CapsuleRegistration(
        world.pid, record.rid, p.capsule_digest(record.capsule), p.new_nonce(), world.deadline()
    )
    with pytest.raises(CustodianRefused) as info:
        custodians[0].client.register_capsule(reg, world.sign(world.patient, reg))
    assert info.value.code == "erased"
    # an erasure on-chain alone is enough too: the access was allowed, then the patient erased
    chain_erased = world.add_record()
    world.register(custodians, chain_erased)
    chain_tx = world.log_access(reader, chain_erased)
    world.contract.erase_record(chain_erased.rid)  # also the block that makes the access final
    req, sig = world.request(reader, chain_erased, chain_tx)
    assert _refusal(custodians[1], req, chain_erased.capsule, sig) == "erased"
    # only the controller may erase: a reader's signature is refused and stores nothing
    bad = p.Erasure(world.pid, secrets.token_bytes(32), p.new_nonce(), world.deadline())
    with pytest.raises(CustodianRefused) as info:
        custodians[2].client.erase(bad, world.sign(reader.party, bad))
    assert info.value.code == "bad_signature"


def test_break_glass_is_served_only_inside_the_window(
    world: World, custodians: list[CustodianProc]
) -> None:
    responder = world.new_responder("City ER")
    world.delegate(custodians, responder, kind=p.KIND_EMERGENCY)
    record = world.add_record(ALLERGIES)
    world.register(custodians, record)
    world.contract.set_emergency_access(0x0007, 86_400, False, secrets.token_bytes(32))
    responder.contract.open_break_glass(world.pid, 0, 3600, secrets.token_bytes(32))
    tx = world.log_access(responder, record, mine=FINALITY - 1, purpose=EMERGENCY)
    req, sig = world.request(responder, record, tx)
    cfrags = [c.client.reencrypt(req, record.capsule, sig)[0] for c in custodians[:2]]
    assert world.open(responder, record, cfrags) == record.plaintext
    # the patient closes the window: the same logged access no longer opens anything
    world.contract.close_break_glass(world.pid, responder.address)
    for c in custodians:
        req, sig = world.request(responder, record, tx)
        assert _refusal(c, req, record.capsule, sig) == "window_closed"


def test_restart_loses_nothing(world: World, custodians: list[CustodianProc]) -> None:
    reader, record = _reader_with_record(world, custodians)
    tx = world.log_access(reader, record, mine=FINALITY - 1)
    req, sig = world.request(reader, record, tx)
    c = custodians[0]
    c.client.reencrypt(req, record.capsule, sig)
    # a crash (SIGKILL, no shutdown) and a restart on the same port and database
    c.stop(signal.SIGKILL)
    c.start().wait_ready()
    assert _refusal(c, req, record.capsule, sig) == "replayed"
    req2, sig2 = world.request(reader, record, tx)
    cfrag, _ = c.client.reencrypt(req2, record.capsule, sig2)
    cfrag1, _ = custodians[1].client.reencrypt(req2, record.capsule, sig2)
    assert world.open(reader, record, [cfrag, cfrag1]) == record.plaintext


def test_twenty_concurrent_readers_each_served_once(
    world: World, custodians: list[CustodianProc]
) -> None:
    record = world.add_record(LABS)
    world.register(custodians, record)
    readers = [world.new_reader(f"Clinic {i}") for i in range(20)]
    for r in readers:
        world.delegate(custodians, r)
    txs = [world.log_access(r, record) for r in readers]
    world.ml.chain.mine(FINALITY - 1)
    requests = [world.request(r, record, tx) for r, tx in zip(readers, txs, strict=True)]
    before = [_served(c) for c in custodians]

    def ask(job: tuple[int, int]) -> tuple[int, int, Any]:
        i, ci = job
        req, sig = requests[i]
        try:
            return i, ci, custodians[ci].client.reencrypt(req, record.capsule, sig)[0]
        except CustodianRefused as exc:
            return i, ci, exc.code

    # every request sent twice to every custodian, all at once
    jobs = [(i, ci) for i in range(20) for ci in range(3)] * 2
    with ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(ask, jobs))
    for i in range(20):
        for ci in range(3):
            got = [r for j, cj, r in results if (j, cj) == (i, ci)]
            assert sorted(map(type, got), key=str) == sorted([bytes, str], key=str), got
            assert "replayed" in got
    for i, r in enumerate(readers):
        cfrags = [x for j, _c, x in results if j == i and isinstance(x, bytes)]
        assert world.open(r, record, cfrags[:2]) == record.plaintext
    assert [_served(c) - b for c, b in zip(custodians, before, strict=True)] == [20, 20, 20]


def test_bad_input_is_4xx_and_stores_nothing(world: World, custodians: list[CustodianProc]) -> None:
    c = custodians[1]
    store = Store.open(c.db)
    before = store.counts()
    reader = world.new_reader("Bad Input Clinic")
    record = world.add_record()
    req, _ = world.request(reader, record, secrets.token_bytes(32))
    good = {"request": req.to_json(), "capsule": p.to_hex(record.capsule)}
    cases: list[tuple[str, Any, int, str]] = [
        ("/v1/reencrypt", b"{not json", 400, "bad_request"),
        ("/v1/reencrypt", b"[]", 400, "bad_request"),
        ("/v1/reencrypt", json.dumps({**good}).encode(), 400, "bad_request"),
        ("/v1/reencrypt", json.dumps({**good, "signature": "0x" + "00" * 65}).encode(), 403,
         "bad_signature"),
        ("/v1/reencrypt", json.dumps({**good, "signature": "0xzz"}).encode(), 400, "bad_request"),
        ("/v1/reencrypt", b'{"pad": "' + b"x" * (70 * 1024) + b'"}', 413, "too_large"),
        ("/v1/delegations", json.dumps({"delegation": {}}).encode(), 400, "bad_request"),
        ("/v1/erasures", b"\xff\xfe", 400, "bad_request"),
        ("/v1/revocations", b"[" * 60_000, 400, "bad_request"),
    ]  # fmt: skip
    with httpx.Client(base_url=c.url, timeout=10) as http:
        for path, body, status, code in cases:
            response = http.post(path, content=body, headers={"content-type": "application/json"})
            assert response.status_code == status, (path, body[:40], response.text)
            payload = response.json()
            assert payload["error"] == code
            assert len(payload["message"]) > 10
        # the API is described by an OpenAPI document
        paths = http.get("/openapi.json").json()["paths"]
        for path in ("/v1/reencrypt", "/v1/delegations", "/v1/capsules", "/ready"):
            assert path in paths
        # a body streamed without a length is cut at the cap too
        chunks = (b"x" * 8192 for _ in range(10))
        response = http.post("/v1/reencrypt", content=chunks)
        assert response.status_code == 413
    assert store.counts() == before
    store.close()


def test_decisions_export_as_fhir_audit_events(
    world: World, custodians: list[CustodianProc]
) -> None:
    with httpx.Client(base_url=custodians[0].url, timeout=10) as http:
        payload = http.get("/v1/decisions/fhir", params={"patientId": world.pid}).json()
    bundle = Bundle.model_validate(payload)
    assert bundle.type == "searchset"
    events: list[Any] = [e.resource for e in bundle.entry or []]
    assert events
    assert {e.get_resource_type() for e in events} == {"AuditEvent"}
    outcomes = {(e.action, e.outcome) for e in events}
    assert ("R", "0") in outcomes  # a served re-encryption
    assert ("R", "4") in outcomes  # a refused one
    assert ("C", "0") in outcomes  # a stored delegation
    assert ("D", "0") in outcomes  # an erasure
    refused = [e for e in events if e.outcome == "4"]
    assert any("replayed" in (e.outcomeDesc or "") for e in refused)


def test_logs_never_hold_fragments_capsules_or_keys(
    world: World, custodians: list[CustodianProc]
) -> None:
    reader = world.new_reader("Log Audit Clinic")
    sent = world.delegate(custodians, reader)
    record = world.add_record()
    world.register(custodians, record)
    tx = world.log_access(reader, record, mine=FINALITY - 1)
    req, sig = world.request(reader, record, tx)
    cfrags = [c.client.reencrypt(req, record.capsule, sig)[0] for c in custodians]
    secrets_hex = [s.hex() for s in [*sent, record.capsule, *cfrags]]
    for c in custodians:
        secrets_hex += [bytes(c.keys.account.key).hex(), c.keys.encryption.private_bytes().hex()]
    for c in custodians:
        text = c.log.read_text()
        lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        assert any(line.get("event") == "served" for line in lines)
        lowered = text.lower()
        for h in secrets_hex:
            # any 16-byte window of a secret would be a leak
            for i in range(0, len(h) - 32, 32):
                assert h[i : i + 32] not in lowered, f"secret bytes in {c.log}"


def test_rate_limit_and_chain_behind(world: World, anvil_url: str, tmp_path: Path) -> None:
    c = CustodianProc(
        tmp_path / "limited", anvil_url, world.medledger,
        "--max-lag", "3", "--rate", "0.2", "--burst", "2", db=f"sqlite:{tmp_path / 'l.db'}",
    )  # fmt: skip
    start_custodians([c])
    try:
        reader, second = world.new_reader("Busy Clinic"), world.new_reader("Other Clinic")
        record = world.add_record()  # a fresh block: the node is not behind
        codes = []
        for _ in range(3):
            req, sig = world.request(reader, record, secrets.token_bytes(32))
            with pytest.raises(CustodianRefused) as info:
                c.client.reencrypt(req, record.capsule, sig)
            codes.append(info.value.code)
        assert codes == ["unknown_access", "unknown_access", "rate_limited"]
        world.ml.chain.mine(1)
        assert c.client.ready()["status"] == "ready"
        # no block for longer than max-lag: the custodian refuses to decide on stale state
        import time

        time.sleep(4)
        with httpx.Client(base_url=c.url, timeout=10) as http:
            response = http.get("/ready")
            assert response.status_code == 503
            assert response.json()["reason"] == "chain_behind"
        # (another reader: this one's bucket is empty, and the rate is checked first)
        req, sig = world.request(second, record, secrets.token_bytes(32))
        from medledger.errors import CustodianUnreachable

        with pytest.raises(CustodianUnreachable) as behind:
            c.client.reencrypt(req, record.capsule, sig)
        assert behind.value.code == "chain_behind"
        assert c.client.health()
    finally:
        c.stop()
