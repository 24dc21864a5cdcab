"""A custodian's JSON-RPC round trips per re-encryption request, counted at a recording proxy
between a real custodian process and Anvil.

A record the custodian knows (its capsule was registered there, or it served it before) costs one
batch: the latest block, the access receipt, the record and the reader's grant. After a restart
the custodian has forgotten the record's category and asks for the grant separately once. The
grant is read fresh either way: a grant revoked after the access is refused.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from custodian_world import Reader, Record, World, make_world

from helpers.custodian_procs import CustodianProc, start_custodians
from helpers.rpc_proxy import RpcRecorder, rpc_proxy
from medledger.errors import CustodianRefused

pytestmark = pytest.mark.anvil

SNAPSHOT = "batch(eth_getBlockByNumber,eth_getTransactionReceipt,eth_call)"
SNAPSHOT_WITH_GRANT = "batch(eth_getBlockByNumber,eth_getTransactionReceipt,eth_call,eth_call)"


@pytest.fixture(scope="module")
def world(anvil_url: str) -> World:
    return make_world(anvil_url)


@pytest.fixture(scope="module")
def custodian(
    world: World, anvil_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CustodianProc, RpcRecorder]]:
    with rpc_proxy(anvil_url) as (url, recorder):
        c = CustodianProc(
            tmp_path_factory.mktemp("custodian"), url, world.medledger,
            "--finality", "1", "--max-age", "300", "--max-lag", "0",
        )  # fmt: skip
        start_custodians([c])
        try:
            yield c, recorder
        finally:
            c.stop()


def _delegated_record(world: World, c: CustodianProc) -> tuple[Reader, Record]:
    reader = world.new_reader("Riverside Clinic")
    world.delegate([c], reader, threshold=1)
    record = world.add_record()
    world.register([c], record)  # the custodian reads the record's category here
    return reader, record


def _reencrypt(
    world: World, c: CustodianProc, recorder: RpcRecorder, reader: Reader, record: Record
) -> tuple[bytes, list[str]]:
    """Plaintext opened with the custodian's fragment, and the custodian's requests to its node
    while it handled the re-encryption."""
    tx = world.log_access(reader, record)
    req, sig = world.request(reader, record, tx)
    with recorder.recording() as calls:
        cfrag, _ = c.client.reencrypt(req, record.capsule, sig)
    return world.open(reader, record, [cfrag]), calls


def test_a_known_record_is_one_round_trip_and_the_grant_is_read_fresh(
    world: World, custodian: tuple[CustodianProc, RpcRecorder]
) -> None:
    c, recorder = custodian
    reader, record = _delegated_record(world, c)
    plaintext, calls = _reencrypt(world, c, recorder, reader, record)
    assert plaintext == record.plaintext
    assert calls == [SNAPSHOT_WITH_GRANT]
    # an allowed, logged access whose grant is revoked before the custodian is asked
    tx = world.log_access(reader, record)
    world.contract.revoke(reader.address)
    req, sig = world.request(reader, record, tx)
    with recorder.recording() as calls, pytest.raises(CustodianRefused) as refused:
        c.client.reencrypt(req, record.capsule, sig)
    assert refused.value.code == "grant_not_live"
    assert calls == [SNAPSHOT_WITH_GRANT]


def test_after_a_restart_the_grant_is_asked_separately_once(
    world: World, custodian: tuple[CustodianProc, RpcRecorder]
) -> None:
    c, recorder = custodian
    reader, record = _delegated_record(world, c)
    c.stop()
    c.start().wait_ready()  # same database; the categories it knew were in memory
    plaintext, calls = _reencrypt(world, c, recorder, reader, record)
    assert plaintext == record.plaintext
    assert calls == [SNAPSHOT, "eth_call"]
    plaintext, calls = _reencrypt(world, c, recorder, reader, record)
    assert plaintext == record.plaintext
    assert calls == [SNAPSHOT_WITH_GRANT]
