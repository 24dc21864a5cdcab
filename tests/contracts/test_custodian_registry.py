"""CustodianRegistry: consortium-approved custodians, their own keys, patients' policies (issue 16).

Gas bounds are exact upper bounds like tests/contracts/test_gas.py (run with ``-s`` to print).
"""

from __future__ import annotations

from typing import Any

import ape
import pytest

from conftest import ZERO32, ZERO_ADDRESS, b32, logs_of

#: two well-formed compressed point encodings (the contract checks only the shape)
UMBRAL_PK = b"\x02" + b32("patient umbral key") + b"\x03" + b32("kfrag verifying key")

GAS_BOUNDS = {
    "registerCustodian": 100_000,
    "setCustodianKey": 48_000,
    "setCustodianPolicy (3 custodians, k=2)": 252_500,
    "setCustodianPolicy (7 custodians, k=4)": 363_000,
    "removeCustodian": 30_500,
    "clearCustodianPolicy (3 custodians)": 62_000,
}
_measured: dict[str, int] = {}


def _bounded(name: str, receipt: Any) -> None:
    gas = int(receipt.gas_used)
    _measured[name] = gas
    assert gas <= GAS_BOUNDS[name], f"{name}: {gas} > {GAS_BOUNDS[name]}"


@pytest.fixture(scope="module", autouse=True)
def _report() -> Any:
    yield
    if _measured:
        print("\n| operation | gas used | bound |\n|---|---:|---:|")
        for name, gas in _measured.items():
            print(f"| {name} | {gas:,} | {GAS_BOUNDS[name]:,} |")


@pytest.fixture(scope="module")
def custodian_accounts(
    doctor: Any, lab: Any, responder: Any, patient2: Any, guardians: list[Any]
) -> list[Any]:
    """Seven funded accounts acting as custodians (their provider roles do not matter here)."""
    return sorted(
        [doctor, lab, responder, patient2, *guardians], key=lambda a: int(str(a.address), 16)
    )


@pytest.fixture(scope="module")
def registry(project: Any, owner: Any, world: Any) -> Any:
    return owner.deploy(project.CustodianRegistry, world.address, owner)


@pytest.fixture(scope="module", autouse=True)
def _registry_deployed(registry: Any, custodian_accounts: list[Any]) -> None:
    """Deploy before ape's per-test snapshot."""


def _onboard(registry: Any, owner: Any, custodians: list[Any]) -> None:
    for i, c in enumerate(custodians):
        registry.registerCustodian(
            c, f"Custodian {i}", f"http://127.0.0.1:{9100 + i}", sender=owner
        )
        registry.setCustodianKey(b32(f"hpke-{i}"), sender=c)


def _addresses(accounts: list[Any]) -> list[str]:
    return [str(a.address) for a in accounts]


def test_constructor_and_views(registry: Any, world: Any, owner: Any, stranger: Any) -> None:
    assert registry.medLedger() == world.address
    assert registry.owner() == owner.address
    assert registry.MAX_CUSTODIANS() == 16
    empty = registry.getCustodian(stranger)
    assert (empty.status, empty.registeredAt, empty.encryptionKey, empty.name) == (0, 0, ZERO32, "")
    assert registry.getCustodianPolicy(1).threshold == 0


def test_deploy_rejects_zero_medledger(project: Any, owner: Any) -> None:
    with ape.reverts(project.CustodianRegistry.CustodianRegistryInvalidAddress):
        owner.deploy(project.CustodianRegistry, ZERO_ADDRESS, owner)


def test_register_set_key_remove(
    registry: Any, owner: Any, custodian_accounts: list[Any], stranger: Any, chain: Any
) -> None:
    c = custodian_accounts[0]
    r = registry.registerCustodian(c, "St. Mary HIE", "https://cust.stmary.example", sender=owner)
    _bounded("registerCustodian", r)
    event = logs_of(r, registry, "CustodianRegistered")[0]
    assert (event.custodian, event.name, event.endpoint) == (
        c.address,
        "St. Mary HIE",
        "https://cust.stmary.example",
    )
    got = registry.getCustodian(c)
    assert (got.status, got.registeredAt, got.encryptionKey) == (1, r.timestamp, ZERO32)
    assert (got.name, got.endpoint) == ("St. Mary HIE", "https://cust.stmary.example")

    k = registry.setCustodianKey(b32("hpke"), sender=c)
    _bounded("setCustodianKey", k)
    assert logs_of(k, registry, "CustodianKeySet")[0].encryptionKey == b32("hpke")
    assert registry.getCustodian(c).encryptionKey == b32("hpke")

    rm = registry.removeCustodian(c, sender=owner)
    _bounded("removeCustodian", rm)
    assert logs_of(rm, registry, "CustodianRemoved")[0].custodian == c.address
    assert registry.getCustodian(c).status == 2
    # A removed custodian can no longer rotate its key, be removed again or be re-registered.
    with ape.reverts(registry.CustodianRegistryNotActive, custodian=c.address):
        registry.setCustodianKey(b32("hpke-2"), sender=c)
    with ape.reverts(registry.CustodianRegistryNotActive, custodian=c.address):
        registry.removeCustodian(c, sender=owner)
    with ape.reverts(registry.CustodianRegistryAlreadyRegistered, custodian=c.address):
        registry.registerCustodian(c, "again", "http://x", sender=owner)


def test_only_the_consortium_registers_and_removes(
    registry: Any, owner: Any, custodian_accounts: list[Any], stranger: Any
) -> None:
    c = custodian_accounts[0]
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=stranger.address):
        registry.registerCustodian(c, "rogue", "http://rogue", sender=stranger)
    # A custodian cannot register itself either.
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=c.address):
        registry.registerCustodian(c, "self", "http://self", sender=c)
    registry.registerCustodian(c, "ok", "http://ok", sender=owner)
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=stranger.address):
        registry.removeCustodian(c, sender=stranger)
    with ape.reverts(registry.CustodianRegistryRenounceDisabled):
        registry.renounceOwnership(sender=owner)


def test_registration_input_checks(
    registry: Any, owner: Any, custodian_accounts: list[Any], stranger: Any
) -> None:
    c = custodian_accounts[0]
    with ape.reverts(registry.CustodianRegistryInvalidAddress, custodian=ZERO_ADDRESS):
        registry.registerCustodian(ZERO_ADDRESS, "n", "http://e", sender=owner)
    for name, endpoint in [("", "http://e"), ("n" * 65, "http://e"), ("n", ""), ("n", "e" * 257)]:
        with ape.reverts(registry.CustodianRegistryInvalidText):
            registry.registerCustodian(c, name, endpoint, sender=owner)
    registry.registerCustodian(c, "n" * 64, "e" * 256, sender=owner)
    with ape.reverts(registry.CustodianRegistryInvalidKey):
        registry.setCustodianKey(ZERO32, sender=c)
    # Only the custodian itself sets its key: anyone else is "not an active custodian".
    with ape.reverts(registry.CustodianRegistryNotActive, custodian=stranger.address):
        registry.setCustodianKey(b32("k"), sender=stranger)


def test_policy_by_controller(
    registry: Any, owner: Any, world: Any, patient: Any, custodian_accounts: list[Any]
) -> None:
    three = custodian_accounts[:3]
    _onboard(registry, owner, three)
    r = registry.setCustodianPolicy(1, _addresses(three), 2, 0x0007, UMBRAL_PK, sender=patient)
    _bounded("setCustodianPolicy (3 custodians, k=2)", r)
    event = logs_of(r, registry, "CustodianPolicySet")[0]
    assert (event.patientId, list(event.custodians), event.threshold, event.categories) == (
        1,
        _addresses(three),
        2,
        0x0007,
    )
    assert bytes(event.umbralKeys) == UMBRAL_PK
    policy = registry.getCustodianPolicy(1)
    assert (policy.threshold, policy.categories, policy.updatedAt) == (2, 7, r.timestamp)
    assert list(policy.custodians) == _addresses(three)
    assert bytes(policy.umbralKeys) == UMBRAL_PK
    assert registry.getCustodianPolicy(2).threshold == 0  # another patient is untouched

    cleared = registry.clearCustodianPolicy(1, sender=patient)
    _bounded("clearCustodianPolicy (3 custodians)", cleared)
    ev = logs_of(cleared, registry, "CustodianPolicySet")[0]
    assert (list(ev.custodians), ev.threshold, ev.categories) == ([], 0, 0)
    assert registry.getCustodianPolicy(1).threshold == 0
    assert list(registry.getCustodianPolicy(1).custodians) == []


def test_seven_custodian_policy_gas(
    registry: Any, owner: Any, patient: Any, custodian_accounts: list[Any]
) -> None:
    _onboard(registry, owner, custodian_accounts)
    every = _addresses(custodian_accounts)
    r = registry.setCustodianPolicy(1, every, 4, 0x03FF, UMBRAL_PK, sender=patient)
    _bounded("setCustodianPolicy (7 custodians, k=4)", r)
    assert len(registry.getCustodianPolicy(1).custodians) == 7


def test_policy_only_by_current_controller(
    registry: Any,
    owner: Any,
    world: Any,
    patient: Any,
    patient2: Any,
    stranger: Any,
    fresh_key: Any,
    custodian_accounts: list[Any],
) -> None:
    three = _addresses(custodian_accounts[:3])
    _onboard(registry, owner, custodian_accounts[:3])
    # Another patient's controller, a stranger, the consortium and id 0: all refused.
    for caller, pid in [(patient2, 1), (stranger, 1), (owner, 1), (patient, 0), (patient, 3)]:
        with ape.reverts(
            registry.CustodianRegistryNotController, patientId=pid, caller=caller.address
        ):
            registry.setCustodianPolicy(pid, three, 2, 1, UMBRAL_PK, sender=caller)
        with ape.reverts(
            registry.CustodianRegistryNotController, patientId=pid, caller=caller.address
        ):
            registry.clearCustodianPolicy(pid, sender=caller)
    # After a controller change the old key loses the right and the new one gains it.
    world.proposeController(fresh_key, sender=patient)
    world.acceptController(1, sender=fresh_key)
    with ape.reverts(registry.CustodianRegistryNotController, patientId=1, caller=patient.address):
        registry.setCustodianPolicy(1, three, 2, 1, UMBRAL_PK, sender=patient)
    registry.setCustodianPolicy(1, three, 2, 1, UMBRAL_PK, sender=fresh_key)
    assert registry.getCustodianPolicy(1).threshold == 2


def test_policy_input_checks(
    registry: Any, owner: Any, patient: Any, custodian_accounts: list[Any], stranger: Any
) -> None:
    four = custodian_accounts[:4]
    _onboard(registry, owner, four[:3])
    ok = _addresses(four[:3])
    with ape.reverts(registry.CustodianRegistryInvalidList, length=0):
        registry.setCustodianPolicy(1, [], 1, 1, UMBRAL_PK, sender=patient)
    with ape.reverts(registry.CustodianRegistryInvalidList, length=17):
        registry.setCustodianPolicy(1, ok * 5 + ok[:2], 1, 1, UMBRAL_PK, sender=patient)
    # duplicates and unsorted lists are both "not strictly ascending"
    with ape.reverts(registry.CustodianRegistryInvalidList, length=3):
        registry.setCustodianPolicy(1, [ok[0], ok[0], ok[1]], 2, 1, UMBRAL_PK, sender=patient)
    with ape.reverts(registry.CustodianRegistryInvalidList, length=3):
        registry.setCustodianPolicy(1, [ok[1], ok[0], ok[2]], 2, 1, UMBRAL_PK, sender=patient)
    for k in (0, 4):
        with ape.reverts(registry.CustodianRegistryInvalidThreshold, threshold=k, custodians=3):
            registry.setCustodianPolicy(1, ok, k, 1, UMBRAL_PK, sender=patient)
    for cats in (0, 0x0400, 0x8001):
        with ape.reverts(registry.CustodianRegistryInvalidCategories, categories=cats):
            registry.setCustodianPolicy(1, ok, 2, cats, UMBRAL_PK, sender=patient)
    bad_prefix = UMBRAL_PK[:33] + b"\x04" + UMBRAL_PK[34:]
    for bad in (b"", UMBRAL_PK[:33], b"\x04" + UMBRAL_PK[1:], bad_prefix, UMBRAL_PK + b"\x00"):
        with ape.reverts(registry.CustodianRegistryInvalidUmbralKeys):
            registry.setCustodianPolicy(1, ok, 2, 1, bad, sender=patient)
    # an unregistered address, a registered custodian without a key, a removed one
    unregistered = sorted([*ok, str(stranger.address)], key=lambda a: int(a, 16))
    with ape.reverts(registry.CustodianRegistryNotActive, custodian=stranger.address):
        registry.setCustodianPolicy(1, unregistered, 2, 1, UMBRAL_PK, sender=patient)
    registry.registerCustodian(four[3], "no key yet", "http://k", sender=owner)
    with_keyless = _addresses(sorted(four, key=lambda a: int(str(a.address), 16)))
    with ape.reverts(registry.CustodianRegistryKeyNotSet, custodian=four[3].address):
        registry.setCustodianPolicy(1, with_keyless, 2, 1, UMBRAL_PK, sender=patient)
    registry.removeCustodian(four[0], sender=owner)
    with ape.reverts(registry.CustodianRegistryNotActive, custodian=four[0].address):
        registry.setCustodianPolicy(1, ok, 2, 1, UMBRAL_PK, sender=patient)
