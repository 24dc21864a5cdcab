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


#: v2: every consent and record operation is a hash-chain entry too (with its actor)
EXPECTED_OPERATIONS = sorted(
    [
        (Outcome.PATIENT_REGISTERED, "patient"),
        (Outcome.CONSENT_GRANTED, "clinic"),  # read + write, a year
        (Outcome.RECORD_ADDED, "clinic"),  # the allergy
        (Outcome.RECORD_ADDED, "clinic"),  # the first lab
        (Outcome.CONSENT_GRANTED, "specialist"),  # 30 days of labs ...
        (Outcome.CONSENT_REPLACED, "clinic"),  # ... and the clinic's refreshed bundle
        (Outcome.CONSENT_REVOKED, "specialist"),
        (Outcome.RECORD_ADDED, "clinic"),  # the lab after the revocation
    ]
)


def _check(ml: Medledger) -> None:
    result = run_reference_scenario(ml)
    assert result.ok
    trail = result.audit
    assert trail.verified, trail.verification.problem
    parties = {address: role for role, address in result.parties.items()}
    accesses = [
        e for e in trail.entries if e.outcome.is_access or e.outcome.name.startswith("BREAK")
    ]
    assert [(e.outcome, e.purpose) for e in accesses] == EXPECTED_TRAIL
    assert [parties[e.accessor] for e in accesses] == [
        "specialist",
        "er",
        "er",
        "er",
        "specialist",
    ]
    operations = [e for e in trail.entries if e not in accesses]
    assert sorted((e.outcome, parties[e.accessor]) for e in operations) == EXPECTED_OPERATIONS
    assert trail.entries[0].outcome == Outcome.PATIENT_REGISTERED
    assert [e.seq for e in trail.entries] == list(range(len(trail.entries)))
    assert accesses[0].accessor_name == "Dr. Ada Okafor, Endocrinology"
    # the on-chain head matches what the archive recomputed
    assert trail.verification.head_onchain == trail.verification.head_recomputed
    assert trail.verification.count_onchain == len(EXPECTED_TRAIL) + len(EXPECTED_OPERATIONS)


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
