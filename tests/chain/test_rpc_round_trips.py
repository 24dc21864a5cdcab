"""The JSON-RPC requests the SDK sends on Anvil, counted at a recording proxy in front of the node.

Round trips are what a read or a transaction waits for (each costs ~1-3 ms plus Python on a small
machine), so the exact sequences are pinned: a change that adds a request fails here and has to
update the list on purpose. Each operation runs once first (per-sender first-call reads such as
the priority fee) and the second run is recorded. Counts, not timings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.chain import ETHER
from helpers.rpc_proxy import RpcRecorder, rpc_proxy
from medledger import Medledger, Party, Session

pytestmark = pytest.mark.anvil

#: a transaction: its simulation (estimate) with the latest block's fee inputs, the signed
#: transaction, its receipt (Anvil automines it on submission)
TRANSACTION = [
    "batch(eth_estimateGas,eth_getBlockByNumber)",
    "eth_sendRawTransaction",
    "eth_getTransactionReceipt",
]
#: a logged read: the record's chain entry, the recordAccess transaction, then the patient's
#: keyring reference and the grant's key bundle (ConsentGranted logs up to the access's block)
LOGGED_READ = ["eth_call", *TRANSACTION, "eth_call", "eth_getLogs"]


@dataclass
class World:
    ml: Medledger
    recorder: RpcRecorder
    patient: Session
    clinic: Session
    pid: int


@pytest.fixture(scope="module")
def world(anvil_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    store = Path(tmp_path_factory.mktemp("rpc-store"))
    with rpc_proxy(anvil_url) as (url, recorder):
        ml = Medledger.open(rpc=url, store=str(store), deploy=True)
        try:
            parties = [Party.generate() for _ in range(2)]
            for p in parties:  # fresh accounts: no other test's transactions move their nonces
                ml.chain.fund(p.address, 100 * ETHER)
            patient, clinic = (ml.session(p) for p in parties)
            ml.session(ml.dev_party(0)).providers.register(clinic.party, name="Clinic")
            pid = patient.identity.register().patient_id
            patient.consent.grant(
                clinic.address, ["labs"], ["treatment"], ["read", "write"], duration=86_400
            )
            yield World(ml, recorder, patient, clinic, pid)
        finally:
            ml.close()


def test_a_transaction_is_three_round_trips(world: World) -> None:
    rid = world.clinic.records.add(world.pid, os.urandom(64), "labs").record_id
    contract = world.clinic.contract
    contract.record_access(world.pid, rid, 1)  # warm-up
    with world.recorder.recording() as calls:
        result = contract.record_access(world.pid, rid, 1)
    assert result.status == 1
    assert calls == TRANSACTION


def test_a_logged_read_is_six_round_trips(world: World) -> None:
    clinic = world.clinic
    first = clinic.records.add(world.pid, b"first record", "labs").record_id
    second = clinic.records.add(world.pid, b"second record", "labs").record_id
    assert clinic.access.read(first, "treatment", patient_id=world.pid) == b"first record"
    with world.recorder.recording() as calls:
        plaintext = clinic.access.read(second, "treatment", patient_id=world.pid)
    assert plaintext == b"second record"
    assert calls == LOGGED_READ


def test_only_the_chain_id_is_cached(world: World) -> None:
    """eth_chainId is asked once per thread; what can change (blocks) is asked every time."""
    chain = world.ml.chain
    with world.recorder.recording() as calls:
        ids = [int(chain.w3.eth.chain_id) for _ in range(3)]
        before = chain.block_number()
        chain.mine()
        after = chain.block_number()
    assert ids == [chain.chain_id] * 3
    assert after == before + 1
    assert calls == ["eth_blockNumber", "evm_mine", "eth_blockNumber"]
