"""The reference scenario end to end, on each real backend combination.

Embedded chain + embedded store (the default), Anvil + the real js-ipfs daemon, and the main flow
on Hardhat 2. The scenario itself (src/medledger/scenario.py) raises on any unmet expectation;
here we additionally pin down the audit trail the patient sees.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from medledger.client import Medledger
from medledger.codes import Outcome, Purpose
from medledger.scenario import run_reference_scenario

EXPECTED_TRAIL = [
    # specialist reads the lab
    (Outcome.ALLOWED_CONSENT, Purpose.TREATMENT),
    # ER opens break-glass (chained into the log too), then reads the allergies
    (Outcome.BREAK_GLASS_OPENED, Purpose.EMERGENCY),
    (Outcome.ALLOWED_EMERGENCY, Purpose.EMERGENCY),
    # 25 h later: break-glass has expired by itself
    (Outcome.DENIED_NO_CONSENT, Purpose.EMERGENCY),
    # after revocation the specialist's read of the new lab
    (Outcome.DENIED_NO_CONSENT, Purpose.TREATMENT),
]


def _check(ml: Medledger) -> None:
    result = run_reference_scenario(ml)
    assert result.ok
    trail = result.audit
    assert trail.verified, trail.verification.problem
    assert [(e.outcome, e.purpose) for e in trail.entries] == EXPECTED_TRAIL
    assert [e.seq for e in trail.entries] == list(range(len(EXPECTED_TRAIL)))
    parties = result.parties
    assert [e.accessor for e in trail.entries] == [
        parties["specialist"],
        parties["er"],
        parties["er"],
        parties["er"],
        parties["specialist"],
    ]
    assert trail.entries[0].accessor_name == "Dr. Ada Okafor, Endocrinology"
    # the on-chain head matches what the archive recomputed
    assert trail.verification.head_onchain == trail.verification.head_recomputed
    assert trail.verification.count_onchain == len(EXPECTED_TRAIL)


def test_reference_scenario_embedded(tmp_path: Path) -> None:
    with Medledger.embedded(store_dir=tmp_path / "store") as ml:
        _check(ml)


@pytest.mark.anvil
@pytest.mark.ipfs
def test_reference_scenario_anvil_and_ipfs_daemon(anvil_url: str, ipfs_api: str) -> None:
    ml = Medledger.open(rpc=anvil_url, store=ipfs_api, deploy=True)
    assert ml.chain.kind == "anvil"
    assert ml.store.location.startswith("ipfs:")
    _check(ml)


@pytest.mark.hardhat
def test_reference_scenario_hardhat(hardhat_url: str, tmp_path: Path) -> None:
    ml = Medledger.open(rpc=hardhat_url, store=tmp_path / "store", deploy=True)
    assert ml.chain.kind == "hardhat"
    _check(ml)
