"""The embedded chain's gas estimator (chain/estimate.py): one measured execution (two with
nested calls), not a bisection, and still a limit the transaction succeeds with, close to the
exact minimum; reverts still typed. (Relayed transactions, whose signature check calls the
ecrecover precompile, take the checked path: tests/client/test_relay.py sends them.)"""

from __future__ import annotations

import os
from typing import Any

import pytest
from eth.estimators.gas import binary_gas_search_exact

from helpers.client import make_world
from medledger.chain.estimate import measured_gas_search
from medledger.errors import StaleKeyring


def test_estimate_succeeds_and_is_close_to_the_exact_minimum() -> None:
    world = make_world()
    try:
        chain, contract = world.ml.chain, world.clinic.contract
        keyring = contract.get_patient(world.pid).keyring
        rows = [(os.urandom(32), 0, 0x55) for _ in range(40)]  # 40 allergy records
        _, data = contract._encode(
            "addRecordBatch",
            world.pid,
            keyring,
            [r for r, _, _ in rows],
            bytes(40),
            bytes([0x55] * 40),
        )
        params: dict[str, Any] = {"from": world.clinic.address, "to": contract.address,
                                  "data": data}  # fmt: skip
        ours = int(chain.w3.eth.estimate_gas(params))  # type: ignore[arg-type]
        pyevm_chain: Any = chain._tester.backend.chain  # type: ignore[union-attr]
        assert pyevm_chain.gas_estimator is measured_gas_search
        pyevm_chain.gas_estimator = binary_gas_search_exact
        try:
            exact = int(chain.w3.eth.estimate_gas(params))  # type: ignore[arg-type]
        finally:
            pyevm_chain.gas_estimator = measured_gas_search
        assert exact <= ours <= exact + 10_000  # no nested call: measured + headroom
        # sent with exactly that limit, it succeeds
        tx = contract.sender.send_raw(contract.address, data, gas=ours)  # type: ignore[union-attr]
        assert tx.status == 1
        assert len(tx.events_named("RecordAdded")) == 40
    finally:
        world.ml.close()


def test_a_reverting_transaction_still_raises_the_contracts_error() -> None:
    world = make_world()
    try:
        with pytest.raises(StaleKeyring):  # a keyring the chain does not reference: reverts
            world.clinic.contract.add_record_batch(
                world.pid, os.urandom(32), [(os.urandom(32), 0, 0x55)]
            )
    finally:
        world.ml.close()
