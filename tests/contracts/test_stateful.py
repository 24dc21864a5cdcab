"""Property-based test: random sequences of register / grant / grantBatch / revoke / time travel /
access / two-step controller change / suspension / erasure, checked against a plain-Python model
of the consent rules and of the v2 hash chain (every operation is an entry). Any divergence
(outcome, chain head, stored consent, revert) fails.

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

from conftest import (
    DAY,
    GRANT_TYPES,
    ZERO32,
    GrantArgs,
    b32,
    chain_head,
    chain_id_of,
    domain,
    logs_of,
    nonce_key,
    register_provider,
    sign,
)

CATEGORIES = (0, 3, 9)  # allergies, labs, genomics: one record of each per patient
# 300 sequences on the in-process chain (issue 12); Anvil round trips make each ~3x slower on
# 2 cores, so the foundry run does 100 (override either with MEDLEDGER_STATEFUL_EXAMPLES).
EXAMPLES_OVERRIDE = os.environ.get("MEDLEDGER_STATEFUL_EXAMPLES")
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
    responder: str = ""
    windows: dict[int, int] = field(default_factory=dict)  # patientId -> responder window end
    opt_out: set[int] = field(default_factory=set)
    epochs: dict[int, int] = field(default_factory=dict)  # patientId -> signature epoch
    writes: int = 0

    def write_outcome(self, pid: int, author: str, category: int, now: int) -> int:
        """addRecord by a provider: consent rules with the write action, no purpose."""
        g = self.consents.get((pid, author))
        if g is None:
            return 16
        if author in self.suspended:
            return 22
        if now < g.valid_from:
            return 18
        if now >= g.valid_until:
            return 17
        if not (g.categories >> category) & 1:
            return 19
        if not g.actions & 2:
            return 21
        return 0

    def outcome(self, pid: int, accessor: str, rid: bytes, purpose: int, now: int) -> int:
        if rid in self.erased:
            return 23
        if self.controllers.get(pid) == accessor:
            return 1
        g = self.consents.get((pid, accessor))
        _, category = self.records[rid]
        out = self._consent(g, accessor, category, purpose, now)
        if (
            out >= 16
            and purpose in (0, 1)
            and accessor == self.responder
            and now < self.windows.get(pid, 0)
            and category in (0, 1, 2)
            and pid not in self.opt_out
        ):
            return 2
        return out

    def _consent(
        self, g: Grant | None, accessor: str, category: int, purpose: int, now: int
    ) -> int:
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
    register_provider(ledger, owner, doctor, "d", False, "doctor")
    register_provider(ledger, owner, lab, "l", False, "lab")
    register_provider(ledger, owner, accounts[5], "ems", True, "ems")
    ledger.registerPatient(b32("p"), ZERO32, ZERO32, sender=patient)
    for c in CATEGORIES:
        ledger.addRecord(1, record_id(1, c), c, 0x55, ZERO32, sender=patient)
    extra = accounts.generate_test_account()
    owner.transfer(extra, 10**18)
    return {
        "ledger": ledger,
        "providers": [doctor, lab],
        "keys": [patient, accounts[2], fresh_key, extra],  # candidate controllers
        "stranger": accounts[9],
        "responder": accounts[5],
        "guardians": [accounts[6], accounts[7]],
    }


def test_random_sequences_match_the_model(base: dict[str, Any], chain: Any, owner: Any) -> None:
    ledger = base["ledger"]
    providers = base["providers"]
    keys = base["keys"]
    stranger = base["stranger"]
    responder = base["responder"]
    guardians = base["guardians"]
    snap = {"id": chain.snapshot()}

    class LedgerMachine(RuleBasedStateMachine):
        @initialize()
        def reset(self) -> None:
            chain.restore(snap["id"])
            snap["id"] = chain.snapshot()
            self.m = Model()
            self.m.responder = responder.address
            self.m.controllers[1] = keys[0].address
            for c in CATEGORIES:
                self.m.records[record_id(1, c)] = (1, c)
            head, count = ledger.logHead(1)  # the fixture's entries (registration, 3 records)
            self.m.heads[1] = (bytes(head), int(count))
            latest = chain.provider.get_block("latest").timestamp
            self.now = max(int(latest), int(chain.pending_timestamp)) + 10

        # -- helpers --------------------------------------------------------------------------
        def tick(self) -> int:
            """Pin the next block's timestamp so the model knows it exactly."""
            self.now += 1
            chain.pending_timestamp = self.now
            return self.now

        def step(
            self,
            pid: int,
            actor: str,
            subject: bytes,
            purpose: int,
            outcome: int,
            check: bool = True,
        ) -> None:
            """Advance the model chain of ``pid`` by one entry at the pinned time."""
            head, count = self.m.heads[pid]
            head = chain_head(head, pid, count, actor, subject, purpose, outcome, self.now)
            self.m.heads[pid] = (head, count + 1)
            if check:  # off for all but the last entry of a multi-entry transaction
                assert tuple(ledger.logHead(pid)) == (head, count + 1)

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
            self.step(pid, k.address, ZERO32, 0, 11)
            c = data.draw(st.sampled_from(CATEGORIES))
            self.tick()
            ledger.addRecord(pid, record_id(pid, c), c, 0x55, ZERO32, sender=k)
            self.m.records[record_id(pid, c)] = (pid, c)
            self.step(pid, k.address, record_id(pid, c), 0, 8)

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
            replaced = (pid, provider.address) in self.m.consents
            self.m.consents[(pid, provider.address)] = g
            word = cats | actions << 16 | purposes << 24 | g.valid_from << 40 | valid_until << 80
            self.step(pid, provider.address, word.to_bytes(32, "big"), 0, 6 if replaced else 5)
            assert tuple(ledger.getConsent(pid, provider)) == (
                cats,
                actions,
                purposes,
                g.valid_from,
                valid_until,
            )

        @rule(data=st.data(), duration=st.integers(1, 3))
        def grant_batch(self, data: Any, duration: int) -> None:
            pid = data.draw(st.sampled_from(sorted(self.m.controllers)))
            chosen = data.draw(st.lists(st.sampled_from(providers), min_size=1, max_size=3))
            now = self.tick()
            batch = [(p.address, 1 << 3, 1, 1, 0, now + duration * 3600, ZERO32) for p in chosen]
            sender = self.key(self.m.controllers[pid])
            # The contract checks element by element: order first, then the grantee's status.
            expected_error = None
            for i, p in enumerate(chosen):
                if i and int(p.address, 16) <= int(chosen[i - 1].address, 16):
                    expected_error = ledger.ConsentBatchNotAscending
                    break
                if p.address in self.m.suspended:
                    expected_error = ledger.ConsentGranteeSuspended
                    break
            if expected_error is not None:
                with ape.reverts(expected_error):
                    ledger.grantBatch(batch, sender=sender)
                return
            ledger.grantBatch(batch, sender=sender)
            for i, t in enumerate(batch):
                replaced = (pid, t[0]) in self.m.consents
                self.m.consents[(pid, t[0])] = Grant(t[1], t[2], t[3], now, t[5])
                word = t[1] | t[2] << 16 | t[3] << 24 | now << 40 | t[5] << 80
                code = 6 if replaced else 5
                self.step(pid, t[0], word.to_bytes(32, "big"), 0, code, i == len(batch) - 1)

        @rule(data=st.data())
        def open_break_glass(self, data: Any) -> None:
            pid = data.draw(st.sampled_from(sorted(self.m.controllers)))
            now = self.tick()
            end = self.m.windows.get(pid)
            if pid in self.m.opt_out:
                with ape.reverts(ledger.BreakGlassOptedOut):
                    ledger.openBreakGlass(pid, 0, 0, ZERO32, sender=responder)
            elif end is not None and now < end + DAY:
                with ape.reverts(ledger.BreakGlassCooldown):
                    ledger.openBreakGlass(pid, 0, 0, ZERO32, sender=responder)
            else:
                ledger.openBreakGlass(pid, 0, 0, ZERO32, sender=responder)
                self.m.windows[pid] = now + DAY
                self.step(pid, responder.address, ZERO32, 1, 3)

        @rule(data=st.data())
        def close_break_glass(self, data: Any) -> None:
            pid = data.draw(st.sampled_from(sorted(self.m.controllers)))
            now = self.tick()
            controller = self.key(self.m.controllers[pid])
            if now < self.m.windows.get(pid, 0):
                ledger.closeBreakGlass(pid, responder, sender=controller)
                self.m.windows[pid] = now
                pad = bytes(12) + bytes.fromhex(controller.address[2:])
                self.step(pid, responder.address, pad, 1, 4)
            else:
                with ape.reverts(ledger.BreakGlassNotOpen):
                    ledger.closeBreakGlass(pid, responder, sender=controller)

        @rule(data=st.data())
        def toggle_opt_out(self, data: Any) -> None:
            pid = data.draw(st.sampled_from(sorted(self.m.controllers)))
            self.tick()
            opt = pid not in self.m.opt_out
            controller = self.key(self.m.controllers[pid])
            ledger.setEmergencyAccess(0x7, DAY, opt, DAY, ZERO32, sender=controller)
            if opt:
                self.m.opt_out.add(pid)
            else:
                self.m.opt_out.discard(pid)

        @rule(data=st.data())
        def revoke(self, data: Any) -> None:
            pid = data.draw(st.sampled_from(sorted(self.m.controllers)))
            provider = data.draw(st.sampled_from(providers))
            self.tick()
            sender = self.key(self.m.controllers[pid])
            if (pid, provider.address) in self.m.consents:
                ledger.revoke(provider, sender=sender)
                del self.m.consents[(pid, provider.address)]
                self.step(pid, provider.address, ZERO32, 0, 7)
                self.m.epochs[pid] = self.m.epochs.get(pid, 0) + 1
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
            who = data.draw(st.sampled_from([*providers, responder, stranger, *keys]))
            rids = sorted(self.m.records)
            batch = [
                (self.m.records[rids[i % len(rids)]][0], rids[i % len(rids)], p)
                for i, p in requests
            ]
            now = self.tick()
            is_provider = who in providers or who == responder
            if not is_provider and any(
                self.m.controllers.get(pid) != who.address for pid, _, _ in batch
            ):
                with ape.reverts(ledger.AccessLogNoStanding):  # issue 12 point 1
                    ledger.recordAccessBatch(batch, sender=who)
                return
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
            ledger.proposeController(new, sender=old)
            assert ledger.patientOf(new) == 0  # nothing happens before acceptance
            self.tick()
            ledger.acceptController(pid, sender=new)
            self.m.controllers[pid] = new.address
            self.step(pid, new.address, bytes(12) + bytes.fromhex(old.address[2:]), 0, 10)
            self.m.epochs[pid] = self.m.epochs.get(pid, 0) + 1
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

        @rule(data=st.data(), mode=st.sampled_from(["relay", "stale", "cancelled", "replay"]))
        def relay_grant(self, data: Any, mode: str) -> None:
            """A grant signed by the controller and submitted by a stranger."""
            pid = data.draw(st.sampled_from(sorted(self.m.controllers)))
            provider = data.draw(st.sampled_from(providers))
            now = self.tick()
            controller = self.key(self.m.controllers[pid])
            epoch = self.m.epochs.get(pid, 0)
            assert ledger.signatureEpoch(pid) == epoch
            g = GrantArgs(provider.address, 1 << 3, 1, 1, 0, now + DAY)
            nonce = int(ledger.nonces(controller, nonce_key(provider)))
            signed_epoch = epoch + 1 if mode == "stale" else epoch
            deadline = now + 3600
            msg = dict(g.message(1, nonce, deadline, signed_epoch), patientId=pid)
            sig = sign(controller, domain(ledger, chain_id_of(ledger)), GRANT_TYPES, msg)
            args = (pid, g.as_tuple(), signed_epoch, nonce, deadline, sig)
            if mode == "stale":
                with ape.reverts(ledger.MedLedgerStaleEpoch):
                    ledger.grantBySig(*args, sender=stranger)
                return
            if mode == "cancelled":
                ledger.cancelNonce(nonce, sender=controller)
                self.tick()
                with ape.reverts(ledger.InvalidAccountNonce):
                    ledger.grantBySig(*args, sender=stranger)
                return
            if provider.address in self.m.suspended:
                with ape.reverts(ledger.ConsentGranteeSuspended):
                    ledger.grantBySig(*args, sender=stranger)
                return
            ledger.grantBySig(*args, sender=stranger)
            replaced = (pid, provider.address) in self.m.consents
            self.m.consents[(pid, provider.address)] = Grant(1 << 3, 1, 1, now, now + DAY)
            word = (1 << 3) | 1 << 16 | 1 << 24 | now << 40 | (now + DAY) << 80
            self.step(pid, provider.address, word.to_bytes(32, "big"), 0, 6 if replaced else 5)
            if mode == "replay":
                self.tick()
                with ape.reverts(ledger.InvalidAccountNonce):
                    ledger.grantBySig(*args, sender=stranger)

        @rule(data=st.data())
        def provider_write(self, data: Any) -> None:
            """A provider adds a record: stored if write consent allows, else a logged denial."""
            pid = data.draw(st.sampled_from(sorted(self.m.controllers)))
            provider = data.draw(st.sampled_from(providers))
            c = data.draw(st.sampled_from(CATEGORIES))
            self.m.writes += 1
            rid = b32(f"write-{self.m.writes}")
            now = self.tick()
            receipt = ledger.addRecord(pid, rid, c, 0x55, ZERO32, sender=provider)
            out = self.m.write_outcome(pid, provider.address, c, now)
            if out == 0:
                self.m.records[rid] = (pid, c)
                self.step(pid, provider.address, rid, 0, 8)
                assert ledger.getRecord(pid, rid).author == provider.address
            else:
                [e] = logs_of(receipt, ledger, "AccessRecorded")
                assert e.outcome == out + 8
                self.step(pid, provider.address, rid, 0, out + 8)
                assert ledger.getRecord(pid, rid).author == "0x" + "0" * 40

        @precondition(lambda self: bool(self.free_keys()))
        @rule(data=st.data(), ending=st.sampled_from(["accept", "cancel", "guardians", "expire"]))
        def recovery(self, data: Any, ending: str) -> None:
            """Guardians recover a patient to a free key, or the round is cancelled / expires."""
            pid = data.draw(st.sampled_from(sorted(self.m.controllers)))
            candidate = data.draw(st.sampled_from(self.free_keys()))
            old = self.key(self.m.controllers[pid])
            self.tick()
            ledger.setGuardians(guardians, 2, DAY, ZERO32, sender=old)
            self.tick()
            ledger.approveRecovery(pid, candidate, sender=guardians[0])
            self.tick()
            ledger.approveRecovery(pid, candidate, sender=guardians[1])
            if ending == "cancel":
                self.tick()
                ledger.cancelRecovery(sender=old)
            elif ending == "guardians":
                self.tick()
                ledger.voteCancelRecovery(pid, sender=guardians[0])
                self.tick()
                ledger.voteCancelRecovery(pid, sender=guardians[1])
            self.now += DAY + (31 * DAY if ending == "expire" else 0)
            self.tick()
            if ending == "accept":
                ledger.acceptRecovery(pid, sender=candidate)
                self.m.controllers[pid] = candidate.address
                pad = bytes(12) + bytes.fromhex(old.address[2:])
                self.step(pid, candidate.address, pad, 0, 10)
                self.m.epochs[pid] = self.m.epochs.get(pid, 0) + 1
            elif ending == "expire":
                with ape.reverts(ledger.RecoveryExpired):
                    ledger.acceptRecovery(pid, sender=candidate)
            else:
                with ape.reverts(ledger.RecoveryNotScheduled):
                    ledger.acceptRecovery(pid, sender=candidate)
            assert ledger.patientOf(self.m.controllers[pid]) == pid

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
                self.step(pid, sender.address, rid, 0, 9)

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
            max_examples=int(EXAMPLES_OVERRIDE)
            if EXAMPLES_OVERRIDE
            else (300 if chain.provider.name == "test" else 100),
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
