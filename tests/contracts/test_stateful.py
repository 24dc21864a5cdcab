"""Property-based test: random sequences of register / grant / revoke / time travel / access /
rotation / suspension / erasure, checked against a plain-Python model of the consent rules and of
the access-log hash chain. Any divergence (outcome, chain head, stored consent, revert) fails.

One deployment per module; every hypothesis example starts from the same chain snapshot.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import ape
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conftest import DAY, ZERO32, b32, chain_head, logs_of

CATEGORIES = (0, 3, 9)  # allergies, labs, genomics: one record of each per patient
EXAMPLES = int(os.environ.get("MEDLEDGER_STATEFUL_EXAMPLES", "200"))
STEPS = 5


@dataclass
class Grant:
    categories: int
    actions: int
    purposes: int
    valid_from: int
    valid_until: int


@dataclass
class Model:
    """The rules of docs/architecture.md, in plain Python."""

    controllers: dict[int, str] = field(default_factory=dict)  # patientId -> controller
    consents: dict[tuple[int, str], Grant] = field(default_factory=dict)
    suspended: set[str] = field(default_factory=set)
    records: dict[bytes, tuple[int, int]] = field(default_factory=dict)  # id -> (patient, category)
    erased: set[bytes] = field(default_factory=set)
    heads: dict[int, tuple[bytes, int]] = field(default_factory=dict)

    def outcome(self, pid: int, accessor: str, rid: bytes, purpose: int, now: int) -> int:
        if rid in self.erased:
            return 23
        if self.controllers.get(pid) == accessor:
            return 1
        g = self.consents.get((pid, accessor))
        _, category = self.records[rid]
        if g is None:
            return 16
        if accessor in self.suspended:
            return 22
        if now < g.valid_from:
            return 18
        if now >= g.valid_until:
            return 17
        if not (g.categories >> category) & 1:
            return 19
        if not g.actions & 1:
            return 21
        if not (g.purposes >> purpose) & 1:
            return 20
        return 0


def record_id(pid: int, category: int) -> bytes:
    return b32(f"record-{pid}-{category}")


@pytest.fixture(scope="module")
def base(project: Any, accounts: Any, owner: Any, fresh_key: Any) -> dict[str, Any]:
    """Deployment with providers doctor and lab and patient 1 with three records."""
    ledger = owner.deploy(project.MedLedger, owner)
    doctor, lab, patient = accounts[3], accounts[4], accounts[1]
    ledger.registerProvider(doctor, b32("d"), ZERO32, False, "doctor", sender=owner)
    ledger.registerProvider(lab, b32("l"), ZERO32, False, "lab", sender=owner)
    ledger.registerPatient(b32("p"), ZERO32, ZERO32, sender=patient)
    for c in CATEGORIES:
        ledger.addRecord(1, record_id(1, c), c, 0x55, keyring_of(1), sender=patient)
    extra = accounts.generate_test_account()
    owner.transfer(extra, 10**18)
    return {
        "ledger": ledger,
        "providers": [doctor, lab],
        "keys": [patient, accounts[2], fresh_key, extra],  # candidate controllers
        "stranger": accounts[9],
    }


def test_random_sequences_match_the_model(base: dict[str, Any], chain: Any, owner: Any) -> None:
    ledger = base["ledger"]
    providers = base["providers"]
    keys = base["keys"]
    stranger = base["stranger"]
    snap = {"id": chain.snapshot()}

    class LedgerMachine(RuleBasedStateMachine):
        @initialize()
        def reset(self) -> None:
            chain.restore(snap["id"])
            snap["id"] = chain.snapshot()
            self.m = Model()
            self.m.controllers[1] = keys[0].address
            for c in CATEGORIES:
                self.m.records[record_id(1, c)] = (1, c)
            self.m.heads[1] = (b"", 0)
            latest = chain.provider.get_block("latest").timestamp
            self.now = max(int(latest), int(chain.pending_timestamp)) + 10

        # -- helpers --------------------------------------------------------------------------
        def tick(self) -> int:
            """Pin the next block's timestamp so the model knows it exactly."""
            self.now += 1
            chain.pending_timestamp = self.now
            return self.now

        def key(self, address: str) -> Any:
            return next(k for k in keys if k.address == address)

        def free_keys(self) -> list[Any]:
            used = set(self.m.controllers.values())
            return [k for k in keys if k.address not in used]

        # -- rules ----------------------------------------------------------------------------
        @precondition(lambda self: len(self.m.controllers) < 3 and self.free_keys())
        @rule(data=st.data())
        def register(self, data: Any) -> None:
            k = data.draw(st.sampled_from(self.free_keys()))
            self.tick()
            ledger.registerPatient(b32("k"), ZERO32, ZERO32, sender=k)
            pid = len(self.m.controllers) + 1
            assert ledger.patientOf(k) == pid
            self.m.controllers[pid] = k.address
            self.m.heads[pid] = (b"", 0)
            c = data.draw(st.sampled_from(CATEGORIES))
            self.tick()
            ledger.addRecord(pid, record_id(pid, c), c, 0x55, sender=k)
            self.m.records[record_id(pid, c)] = (pid, c)

        @rule(
            data=st.data(),
            categories=st.sets(st.sampled_from(CATEGORIES), min_size=1),
            actions=st.integers(1, 3),
            purposes=st.integers(1, 255),
            delay=st.sampled_from([0, 0, 1, 3600]),
            duration=st.sampled_from([1, 2, 3600, DAY]),
        )
        def grant(
            self,
            data: Any,
            categories: set[int],
            actions: int,
            purposes: int,
            delay: int,
            duration: int,
        ) -> None:
            pid = data.draw(st.sampled_from(sorted(self.m.controllers)))
            provider = data.draw(st.sampled_from(providers))
            now = self.tick()
            valid_from = 0 if delay == 0 else now + delay
            valid_until = (valid_from or now) + duration
            cats = sum(1 << c for c in categories)
            sender = self.key(self.m.controllers[pid])
            if provider.address in self.m.suspended:
                with ape.reverts(ledger.ConsentGranteeSuspended):
                    ledger.grant(
                        provider,
                        cats,
                        actions,
                        purposes,
                        valid_from,
                        valid_until,
                        ZERO32,
                        sender=sender,
                    )
                return
            ledger.grant(
                provider, cats, actions, purposes, valid_from, valid_until, ZERO32, sender=sender
            )
            g = Grant(cats, actions, purposes, valid_from or now, valid_until)
            self.m.consents[(pid, provider.address)] = g
            assert tuple(ledger.getConsent(pid, provider)) == (
                cats,
                actions,
                purposes,
                g.valid_from,
                valid_until,
            )

        @rule(data=st.data())
        def revoke(self, data: Any) -> None:
            pid = data.draw(st.sampled_from(sorted(self.m.controllers)))
            provider = data.draw(st.sampled_from(providers))
            self.tick()
            sender = self.key(self.m.controllers[pid])
            if (pid, provider.address) in self.m.consents:
                ledger.revoke(provider, sender=sender)
                del self.m.consents[(pid, provider.address)]
            else:
                with ape.reverts(ledger.ConsentNotFound):
                    ledger.revoke(provider, sender=sender)
            assert ledger.getConsent(pid, provider).validUntil == 0

        @rule(seconds=st.sampled_from([1, 2, 59, 3599, 3600, DAY]))
        def travel(self, seconds: int) -> None:
            self.now += seconds - 1  # the next tick adds the last second

        @rule(
            data=st.data(),
            requests=st.lists(
                st.tuples(st.integers(0, 63), st.integers(0, 7)), min_size=1, max_size=4
            ),
        )
        def access(self, data: Any, requests: list[tuple[int, int]]) -> None:
            """One accessor reads 1-4 records (a recordAccessBatch, so one transaction)."""
            who = data.draw(st.sampled_from([*providers, stranger, *keys]))
            rids = sorted(self.m.records)
            batch = [
                (self.m.records[rids[i % len(rids)]][0], rids[i % len(rids)], p)
                for i, p in requests
            ]
            now = self.tick()
            receipt = ledger.recordAccessBatch(batch, sender=who)
            assert receipt.timestamp == now
            entries = logs_of(receipt, ledger, "AccessRecorded")
            assert len(entries) == len(batch)
            for (pid, rid, purpose), e in zip(batch, entries, strict=True):
                expected = self.m.outcome(pid, who.address, rid, purpose, now)
                assert e.outcome == expected, (pid, who.address, purpose, self.m)
                head, count = self.m.heads[pid]
                head = chain_head(head, pid, count, who.address, rid, purpose, expected, now)
                self.m.heads[pid] = (head, count + 1)
                assert (e.patientId, e.seq, e.head) == (pid, count, head)

        @precondition(lambda self: bool(self.free_keys()))
        @rule(data=st.data())
        def rotate(self, data: Any) -> None:
            pid = data.draw(st.sampled_from(sorted(self.m.controllers)))
            new = data.draw(st.sampled_from(self.free_keys()))
            old = self.key(self.m.controllers[pid])
            self.tick()
            ledger.rotateController(new, sender=old)
            self.m.controllers[pid] = new.address
            self.tick()
            with ape.reverts(ledger.MedLedgerNotController):
                ledger.grant(providers[0], 1, 1, 1, 0, self.now + DAY, ZERO32, sender=old)

        @rule(data=st.data())
        def toggle_suspension(self, data: Any) -> None:
            provider = data.draw(st.sampled_from(providers))
            self.tick()
            if provider.address in self.m.suspended:
                ledger.reinstateProvider(provider, sender=owner)
                self.m.suspended.discard(provider.address)
            else:
                ledger.suspendProvider(provider, sender=owner)
                self.m.suspended.add(provider.address)

        @rule(data=st.data())
        def erase(self, data: Any) -> None:
            rid = data.draw(st.sampled_from(sorted(self.m.records)))
            pid, _ = self.m.records[rid]
            self.tick()
            sender = self.key(self.m.controllers[pid])
            if rid in self.m.erased:
                with ape.reverts(ledger.RecordAlreadyErased):
                    ledger.eraseRecord(rid, sender=sender)
            else:
                ledger.eraseRecord(rid, sender=sender)
                self.m.erased.add(rid)

        def teardown(self) -> None:
            if not hasattr(self, "m"):
                return
            for pid, (head, count) in self.m.heads.items():
                on_chain = ledger.logHead(pid)
                assert on_chain.count == count
                if count:
                    assert on_chain.head == head

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
