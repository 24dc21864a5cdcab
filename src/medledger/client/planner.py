"""The consent planner: one plan for a grant, a batch of grants or a revocation.

A plan is everything a consent change needs, prepared off-chain and pinned: the grant requests
with their key bundles, the new key epochs, the updated keyring document (with the on-chain
keyring it replaces: every keyring update is a compare-and-swap), the refreshed bundles of the
other ACTIVE grantees whose grants span a new epoch, and the resealed emergency kit when an
emergency category changed. The direct path (:mod:`medledger.client.consent`) executes a plan as
transactions; the relayed path executes the same plan as EIP-712 signed steps. Both paths build
their plan here, so they cannot drift apart. A revocation with new epochs is ONE atomic
``revokeAndRekey`` (revoke + keyring CAS + refreshed bundles) on both paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import to_checksum_address

from medledger import codes
from medledger.chain.suite import MedLedgerContract
from medledger.chain.types import ZERO32, Bundle, Consent, GrantRequest, Patient, Provider
from medledger.client.directory import ProviderDirectory
from medledger.client.documents import DocumentStore, Pins
from medledger.client.keys import KeyManager
from medledger.client.types import MAX_GRANT_BATCH, KitUpdate
from medledger.codes import Category, Purpose
from medledger.crypto import (
    Domain,
    Keyring,
    PrivateKey,
    PublicKey,
    emergency_kit_responders,
    seal_emergency_kit,
    seal_key_bundle,
)
from medledger.crypto.epochs import EpochKey
from medledger.errors import InvalidInput
from medledger.storage import CID


@dataclass(frozen=True)
class GrantSpec:
    """A validated grant request, before keys and transactions."""

    grantee: str
    provider: Provider
    categories: tuple[Category, ...]
    purposes: tuple[Purpose, ...]
    actions: int
    valid_from: int
    until: int
    #: the patient accepted sealing a post-quantum keyring to this grantee's classical key
    allow_classical: bool = False


@dataclass
class ConsentPlan:
    """What a consent change sends, in order: revoke (if any), keyring, grants, kit."""

    kind: str  # "grant" or "revoke"
    patient_id: int
    now: int
    specs: tuple[GrantSpec, ...] = ()
    requests: tuple[GrantRequest, ...] = ()
    revoked: str | None = None
    new_epochs: tuple[EpochKey, ...] = ()
    keyring: Keyring | None = None
    keyring_cid: CID | None = None
    refreshed: tuple[GrantRequest, ...] = ()
    kit: KitUpdate | None = None
    bundles: tuple[CID, ...] = field(default_factory=tuple)
    #: the on-chain keyring digest the plan was made on (the compare-and-swap's expected value)
    expected_keyring: bytes = ZERO32

    @property
    def grants(self) -> tuple[GrantRequest, ...]:
        """The grants to send: the requested ones, then the refreshed bundles (a grant plan's
        refreshed bundles are re-grants; a revocation's go into ``revokeAndRekey``)."""
        if self.kind == "revoke":
            return self.requests
        return (*self.requests, *self.refreshed)

    @property
    def batch(self) -> tuple[GrantRequest, ...]:
        """:attr:`grants` in ``grantBatch`` order: grantees strictly ascending."""
        return tuple(sorted(self.grants, key=lambda g: int(g.grantee, 16)))

    @property
    def refreshed_bundles(self) -> tuple[Bundle, ...]:
        """The refreshed bundles of a revocation, as ``revokeAndRekey`` takes them."""
        return tuple(Bundle(g.grantee, g.key_bundle) for g in self.refreshed)

    def shape(self) -> dict[str, Any]:
        """The plan without its random key material (bundle and keyring digests, epoch keys),
        times relative to ``now``: equal shapes mean the same consent change."""

        def grant(g: GrantRequest) -> tuple[Any, ...]:
            start = g.valid_from - self.now if g.valid_from else 0
            return (g.grantee, g.categories, g.actions, g.purposes, start, g.valid_until - self.now)

        return {
            "kind": self.kind,
            "patient": self.patient_id,
            "requests": [grant(g) for g in self.requests],
            "revoked": self.revoked,
            "new_epochs": sorted((e.category, e.valid_from - self.now) for e in self.new_epochs),
            "keyring": self.keyring_cid is not None,
            "refreshed": [grant(g) for g in self.refreshed],
            "kit": None
            if self.kit is None
            else (self.kit.categories, self.kit.max_duration, self.kit.opt_out),
        }


class ConsentPlanner:
    """Builds :class:`ConsentPlan` s for one patient's controller."""

    def __init__(
        self,
        contract: MedLedgerContract,
        keys: KeyManager,
        directory: ProviderDirectory,
        documents: DocumentStore,
    ) -> None:
        self._contract = contract
        self._keys = keys
        self._directory = directory
        self._documents = documents

    def plan_grants(
        self, pid: int, specs: Sequence[GrantSpec], now: int, pins: Pins
    ) -> ConsentPlan:
        # Plan on a copy: the cached keyring changes only once the new one is on-chain.
        keyring = self._keys.keyring_copy(pid)
        expected = self._keys.keyring_digest(pid)
        new_epochs: list[EpochKey] = []
        # A grant that replaces a live one and drops categories is a partial revocation:
        # the dropped categories get fresh keys for everything from now on.
        dropped: set[int] = set()
        for sp in specs:
            old = self._contract.get_consent(pid, sp.grantee)
            if old.exists and old.valid_until > now:
                kept = {c.value for c in sp.categories}
                dropped |= {c.value for c in codes.unmask_categories(old.categories)} - kept
        if dropped:
            keyring, new_epochs = rotate_from(keyring, dropped, now)
        for sp in specs:
            new_epochs += keyring.split_at([c.value for c in sp.categories], sp.until)
        bundles: list[CID] = []
        requests: list[GrantRequest] = []
        for sp in specs:
            cats = [c.value for c in sp.categories]
            bundle = pins.put(
                self._bundle(keyring, sp.grantee, sp.provider, cats, sp.until, sp.allow_classical)
            )
            bundles.append(bundle)
            requests.append(
                GrantRequest(
                    sp.grantee,
                    codes.mask(sp.categories),
                    sp.actions,
                    codes.mask(sp.purposes),
                    sp.valid_from,
                    sp.until,
                    bundle.digest,
                )
            )
        plan = ConsentPlan(
            "grant",
            pid,
            now,
            tuple(specs),
            tuple(requests),
            bundles=tuple(bundles),
            expected_keyring=expected,
        )
        self._rekey(plan, keyring, new_epochs, [sp.grantee for sp in specs], pins)
        check_batch_limit(
            len(plan.grants),
            f"grants (with {len(plan.refreshed)} refreshed bundles)",
            "batch",
            hint="grant in smaller groups",
        )
        return plan

    def plan_revoke(
        self,
        pid: int,
        grantee: str,
        consent: Consent,
        now: int,
        pins: Pins,
        also: Iterable[int] = (),
    ) -> ConsentPlan:
        """Revoke ``grantee`` and rotate its categories (and ``also``: other pending ones)."""
        keyring = self._keys.keyring_copy(pid)
        expected = self._keys.keyring_digest(pid)
        cats = {c.value for c in codes.unmask_categories(consent.categories)} | set(also)
        keyring, new_epochs = rotate_from(keyring, cats, now)
        plan = ConsentPlan("revoke", pid, now, revoked=grantee, expected_keyring=expected)
        self._rekey(plan, keyring, new_epochs, [grantee], pins)
        check_batch_limit(
            len(plan.refreshed),
            "refreshed bundles",
            "revokeAndRekey",
            hint="revoke without rekeying, then re-grant in groups",
        )
        return plan

    def plan_rotation(
        self,
        pid: int,
        categories: Iterable[int],
        stale_grantees: Sequence[str],
        stale_kit: bool,
        now: int,
        pins: Pins,
    ) -> ConsentPlan:
        """Complete pending rotations: fresh keys from ``now`` for ``categories``, refreshed
        bundles for every active grantee that misses an epoch (``stale_grantees`` and those the
        new epochs reach), and the kit rebuilt for active responders when it changed."""
        keyring = self._keys.keyring_copy(pid)
        expected = self._keys.keyring_digest(pid)
        plan = ConsentPlan("grant", pid, now, expected_keyring=expected)
        cats = sorted(set(categories))
        new_epochs: list[EpochKey] = []
        if cats:
            keyring, new_epochs = rotate_from(keyring, cats, now)
            self._rekey(plan, keyring, new_epochs, (), pins)
        done = {g.grantee for g in plan.refreshed}
        extra = [
            r
            for g in stale_grantees
            if g not in done and (r := self._refresh(pid, g, keyring, now, pins)) is not None
        ]
        plan.refreshed = (*plan.refreshed, *extra)
        if stale_kit and plan.kit is None:
            patient = self._contract.get_patient(pid)
            if patient.emergency_kit != ZERO32:
                plan.kit = self.kit(keyring, patient, None, pins, allow_classical=True)
        check_batch_limit(
            len(plan.refreshed),
            "refreshed bundles",
            "batch",
            hint="revoke or let expire some grants first",
        )
        return plan

    def kit(
        self,
        keyring: Keyring,
        patient: Patient,
        responders: Sequence[str] | None,
        pins: Pins,
        categories: int | None = None,
        max_duration: int | None = None,
        opt_out: bool | None = None,
        allow_classical: bool = False,
    ) -> KitUpdate:
        """Seal (and pin) an emergency kit; ``None`` settings keep the patient's current ones,
        ``responders=None`` keeps the kit's current responders."""
        if responders is None:
            # the kit's current responders that may still hold it: a suspended (or no longer
            # responding) one is dropped, and its keys rotated by the caller
            _, kept = emergency_kit_responders(self._documents.get(patient.emergency_kit))
            responders = [r for r in kept if _responds(self._contract.get_provider(r))]
        cats = patient.emergency_categories if categories is None else categories
        keys: dict[str, PublicKey] = {
            to_checksum_address(r): self._directory.responder_key(r) for r in responders
        }
        if not keys:
            return KitUpdate(
                ZERO32,
                cats,
                patient.break_glass_max_duration if max_duration is None else max_duration,
                patient.break_glass_opt_out if opt_out is None else opt_out,
            )
        kit = seal_emergency_kit(
            keyring,
            categories=[c.value for c in codes.unmask_categories(cats)],
            responders=keys,
            allow_classical=allow_classical,
            domain=self._domain(),
        )
        return KitUpdate(
            pins.put(kit).digest,
            cats,
            patient.break_glass_max_duration if max_duration is None else max_duration,
            patient.break_glass_opt_out if opt_out is None else opt_out,
        )

    # --- internals ---------------------------------------------------------------------------

    def _refresh(
        self,
        pid: int,
        grantee: str,
        keyring: Keyring,
        now: int,
        pins: Pins,
        consent: Consent | None = None,
    ) -> GrantRequest | None:
        """A refreshed bundle for an active grantee on ``keyring`` (``None`` if its consent
        ended or it is suspended)."""
        if consent is None:
            consent = self._contract.get_consent(pid, grantee)
        if not consent.exists or consent.valid_until <= now:
            return None
        provider = self._contract.get_provider(grantee)
        if not provider.is_active:
            # suspended grantees cannot take a bundle (the contract reverts the whole
            # change); they get a fresh one with a new grant after reinstatement
            return None
        cats = [c.value for c in codes.unmask_categories(consent.categories)]
        # a refresh continues a grant the patient already made (a classical grantee of a
        # hybrid patient was accepted then); refusing here would block revocations
        bundle = pins.put(self._bundle(keyring, grantee, provider, cats, consent.valid_until, True))
        return GrantRequest(
            grantee,
            consent.categories,
            consent.actions,
            consent.purposes,
            consent.valid_from,
            consent.valid_until,
            bundle.digest,
        )

    def _bundle(
        self,
        keyring: Keyring,
        grantee: str,
        provider: Provider,
        cats: Sequence[int],
        until: int,
        allow_classical: bool = False,
    ) -> bytes:
        return seal_key_bundle(
            keyring,
            categories=cats,
            valid_until=until,
            grantee=grantee,
            grantee_key=self._directory.public_key(provider),
            allow_classical=allow_classical,
            domain=self._domain(),
        )

    def _domain(self) -> Domain:
        """The deployment bundles and kits are bound to (format v2)."""
        return Domain.of(self._contract.chain.chain_id, self._contract.address)

    def _active_grants(self, pid: int, now: int) -> dict[str, Consent]:
        grantees = {
            to_checksum_address(e.args["grantee"])
            for e in self._contract.get_events(
                "ConsentGranted", argument_filters={"patientId": pid}
            )
        }
        active: dict[str, Consent] = {}
        for g in sorted(grantees):
            c = self._contract.get_consent(pid, g)
            if c.exists and c.valid_until > now:
                active[g] = c
        return active

    def _rekey(
        self,
        plan: ConsentPlan,
        keyring: Keyring,
        new_epochs: Sequence[EpochKey],
        skip: Iterable[str],
        pins: Pins,
    ) -> None:
        """After new epochs: the keyring to publish, refreshed bundles for the other active
        grantees whose grant spans a new epoch, and a resealed emergency kit when an emergency
        category changed."""
        if not new_epochs:
            return
        pid, skipped = plan.patient_id, set(skip)
        refreshed: list[GrantRequest] = []
        for grantee, consent in self._active_grants(pid, plan.now).items():
            cats = [c.value for c in codes.unmask_categories(consent.categories)]
            starts = [e.valid_from for e in new_epochs if e.category in cats]
            if grantee in skipped or not starts or min(starts) >= consent.valid_until:
                continue
            req = self._refresh(pid, grantee, keyring, plan.now, pins, consent)
            if req is not None:
                refreshed.append(req)
        patient = self._contract.get_patient(pid)
        changed = {e.category for e in new_epochs}
        emergency = {c.value for c in codes.unmask_categories(patient.emergency_categories)}
        if patient.emergency_kit != ZERO32 and changed & emergency:
            # rebuilt for the kit's current responders, whom the patient already accepted
            plan.kit = self.kit(keyring, patient, None, pins, allow_classical=True)
        plan.new_epochs = tuple(new_epochs)
        plan.keyring = keyring
        plan.keyring_cid = pins.put(self._keys.keyring_document(keyring))
        plan.refreshed = tuple(refreshed)


def check_batch_limit(count: int, what: str, call: str, *, hint: str) -> None:
    """Refuse a plan whose one transaction would carry more than ``MAX_GRANT_BATCH`` items
    (the contract's bound): before anything is sent."""
    if count > MAX_GRANT_BATCH:
        raise InvalidInput(
            f"{count} {what} exceed the {call} limit of {MAX_GRANT_BATCH}", hint=hint
        )


def _responds(provider: Provider) -> bool:
    return provider.is_active and provider.emergency_responder


def rotate_from(
    keyring: Keyring, categories: Iterable[int], t: int
) -> tuple[Keyring, list[EpochKey]]:
    """``keyring`` with fresh keys for every epoch of ``categories`` that covers a time from
    ``t`` on, and those new epochs.

    ``Keyring.rotate`` only splits the epoch covering ``t``; an epoch that starts later (the
    boundary of another grant's end) keeps its key, which a cut-off party may hold. Such future
    epochs hold no record yet, so they are re-keyed under new epoch numbers.
    """
    cats = {int(c) for c in categories}
    split = keyring.split_at(cats, t)
    created = {(e.category, e.epoch) for e in split}
    entries: list[EpochKey] = []
    new: list[EpochKey] = list(split)
    for c in keyring.categories:
        eps = keyring.epochs(c)
        top = max(e.epoch for e in eps)
        for e in eps:
            if c in cats and e.valid_from >= t and (c, e.epoch) not in created:
                top += 1
                e = EpochKey(
                    c, top, e.valid_from, e.valid_until, PrivateKey.generate(keyring.suite)
                )
                new.append(e)
            entries.append(e)
    return keyring.with_entries(entries), new
