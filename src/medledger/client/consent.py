"""``session.consent``: grant, grant many, revoke, directly or signed for a relayer.

Both paths turn the request into one :class:`~medledger.client.planner.ConsentPlan`; the direct
path sends it as transactions, the relayed path signs it as EIP-712 steps with keyed nonces
(:mod:`medledger.client.relay` submits them). Keyring updates are compare-and-swaps: when another
flow moved the keyring first (``StaleKeyring``) the direct path reloads it and plans once more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypedDict, Unpack

from medledger.chain.contracts import checksum as to_checksum_address
from medledger.chain.types import Consent, TxResult
from medledger.client._base import Namespace, retry_stale
from medledger.client._inputs import as_actions, as_categories, as_purposes, as_timestamp, grant_end
from medledger.client.documents import Pins, amend_message, pinned
from medledger.client.plan_steps import send_plan, sign_plan
from medledger.client.planner import ConsentPlan, ConsentPlanner, GrantSpec
from medledger.client.types import (
    ActiveGrant,
    GrantInfo,
    RevokeInfo,
    SignedConsent,
)
from medledger.codes import Category, Purpose, mask, unmask_categories, unmask_purposes
from medledger.errors import InvalidInput, MedledgerError
from medledger.storage import CID

Categories = Iterable[str | int | Category] | str | int
Purposes = Iterable[str | int | Purpose] | str | int
Actions = Iterable[str | int] | str | int


class GrantTerms(TypedDict, total=False):
    """The keyword terms of one grant (:meth:`ConsentNamespace.grant`,
    :meth:`~ConsentNamespace.sign_grant`, each item of the ``*_many`` variants): exactly one of
    ``duration`` (from now) or ``valid_until`` sets the end; ``valid_from`` a later start;
    ``allow_classical`` lets a post-quantum patient's keys go to a classical-only grantee."""

    duration: timedelta | int | None
    valid_from: int | datetime | None
    valid_until: int | datetime | None
    allow_classical: bool


class ConsentNamespace(Namespace):
    #: the plan of the last consent change this session made or signed (for inspection and tests)
    last_plan: ConsentPlan | None = None

    @property
    def planner(self) -> ConsentPlanner:
        return ConsentPlanner(self._contract, self._keys, self._directory, self._documents)

    def complete_rotation(self) -> list[TxResult]:
        """Complete what a cut-off left undone, and refresh what a failed flow did not deliver.

        Fresh key epochs from now on for every category a cut-off party (revoked, narrowed,
        suspended grantee; removed, opted-out or suspended responder) still holds the keys of;
        refreshed key bundles for every active grantee missing an epoch; the emergency kit
        resealed for active responders only. Safe to run again at any time: it sends nothing
        when everything is in place. Returns the transactions it sent.
        """
        pid = self._patient_id()

        def attempt() -> list[TxResult]:
            now = self._chain.now()
            st = self.rotation.state(pid, now)
            if st.clean:
                return []
            start = self._chain.block_number() + 1
            with pinned(self._store, on_chain=self._on_chain(pid, start)) as pins:
                plan = self.last_plan = self.planner.plan_rotation(
                    pid, st.pending_categories, st.stale_grantees, st.stale_kit, now, pins
                )
                extra, main = self._execute(plan, pins)
            return [*extra, main] if main is not None else extra

        return retry_stale(attempt, CAS_ATTEMPTS)

    def active(self, patient_id: int | None = None) -> list[ActiveGrant]:
        """The consents in force now (started, not expired, not revoked), soonest expiry first.

        Grantees come from the ``ConsentGranted`` events; each one's consent is then read from
        the contract, so a revoked or replaced grant shows as it stands now."""
        pid = self._patient_id() if patient_id is None else patient_id
        self._require_patient(pid)
        now = self._chain.now()
        events = self._contract.get_events("ConsentGranted", argument_filters={"patientId": pid})
        grantees = {to_checksum_address(e.args["grantee"]) for e in events}
        out = []
        for addr in grantees:
            c = self._contract.get_consent(pid, addr)
            if not c.exists or c.valid_until <= now or c.valid_from > now:
                continue
            out.append(
                ActiveGrant(
                    addr,
                    self._directory.name(addr),
                    tuple(unmask_categories(c.categories)),
                    tuple(unmask_purposes(c.purposes)),
                    c.actions,
                    c.valid_from,
                    c.valid_until,
                )
            )
        return sorted(out, key=lambda g: (g.valid_until, g.grantee))

    # --- requests ----------------------------------------------------------------------------

    def _spec(
        self,
        grantee: str,
        categories: Categories,
        purposes: Purposes,
        actions: Actions,
        now: int,
        *,
        duration: timedelta | int | None = None,
        valid_from: int | datetime | None = None,
        valid_until: int | datetime | None = None,
        allow_classical: bool = False,
    ) -> GrantSpec:
        addr, provider = self._directory.active(grantee)
        if addr == self._address:
            raise InvalidInput("a patient cannot grant consent to themself")
        cats = as_categories(categories)
        purps = as_purposes(purposes)
        acts = as_actions(actions)
        start = as_timestamp(valid_from) if valid_from is not None else 0
        until = grant_end(now, duration, valid_until)
        if until <= max(start, now):
            raise InvalidInput("the grant must end after it starts and after now")
        return GrantSpec(addr, provider, cats, purps, acts, start, until, bool(allow_classical))

    def _specs(self, grants: Sequence[dict[str, Any]], now: int) -> list[GrantSpec]:
        if not grants:
            raise InvalidInput("no grants given")
        specs = []
        for g in grants:
            try:
                specs.append(
                    self._spec(
                        g["grantee"],
                        g["categories"],
                        g.get("purposes", ("treatment",)),
                        g.get("actions", ("read",)),
                        now,
                        **{k: g[k] for k in GrantTerms.__optional_keys__ if k in g},
                    )
                )
            except (KeyError, TypeError) as exc:
                raise InvalidInput(f"malformed grant request {g!r}: {exc}") from None
        if len({sp.grantee for sp in specs}) != len(specs):
            raise InvalidInput("a grantee appears twice in one batch")
        return specs

    def _consent_of(self, pid: int, grantee: str) -> tuple[str, Consent]:
        addr = to_checksum_address(grantee)
        consent = self._contract.get_consent(pid, addr)
        if not consent.exists:
            raise InvalidInput(f"{addr} holds no consent from patient {pid}")
        return addr, consent

    # --- direct ------------------------------------------------------------------------------

    def grant(
        self,
        grantee: str,
        categories: Categories,
        purposes: Purposes = ("treatment",),
        actions: Actions = ("read",),
        **terms: Unpack[GrantTerms],
    ) -> GrantInfo:
        """Grant ``grantee`` time-limited, purpose-bound access to ``categories``.

        Exactly one of ``duration`` (from now) or ``valid_until`` sets the end. The grantee gets a
        key bundle with every key epoch of those categories that starts before the end; an epoch
        boundary is created at the end so that records added afterwards are unreadable to it.
        A post-quantum patient's keys go to a grantee with a classical X25519 key only with
        ``allow_classical=True`` (else :class:`~medledger.errors.PostQuantumDowngrade`).
        """
        now = self._chain.now()
        spec = self._spec(grantee, categories, purposes, actions, now, **terms)
        return self._grant_all([spec], now)[0]

    def grant_many(self, grants: Sequence[dict[str, Any]]) -> list[GrantInfo]:
        """Several grants in one transaction (``grantBatch``, at most 64 including refreshed
        bundles); each item takes the keyword arguments of :meth:`grant`. New key epochs for
        all of them are published in one keyring update."""
        now = self._chain.now()
        return self._grant_all(self._specs(grants, now), now)

    def _grant_all(self, specs: Sequence[GrantSpec], now: int) -> list[GrantInfo]:
        pid = self._patient_id()
        self.rotation.require_complete(pid, now)

        def attempt() -> tuple[ConsentPlan, list[TxResult], TxResult]:
            start = self._chain.block_number() + 1
            with pinned(self._store, on_chain=self._on_chain(pid, start)) as pins:
                plan = self.last_plan = self.planner.plan_grants(pid, specs, now, pins)
                extra, tx = self._execute(plan, pins)
            assert tx is not None
            return plan, extra, tx

        plan, extra, tx = retry_stale(attempt, CAS_ATTEMPTS)
        refreshed_to = tuple(r.grantee for r in plan.refreshed)
        if self.custodians is not None:  # custodian mode (issue 16): delegate via custodians
            for sp in specs:
                self.custodians.after_grant(pid, sp.grantee, mask(c.value for c in sp.categories))
        return [
            GrantInfo(
                pid,
                sp.grantee,
                sp.categories,
                sp.purposes,
                sp.actions,
                sp.valid_from or now,
                sp.until,
                cid,
                tx,
                tuple(extra),
                refreshed_to,
            )
            for sp, cid in zip(specs, plan.bundles, strict=True)
        ]

    def revoke(self, grantee: str) -> RevokeInfo:
        """Withdraw ``grantee``'s consent and rotate its categories to new key epochs.

        One atomic ``revokeAndRekey`` transaction revokes, publishes the keyring with new epochs
        for the revoked categories (compare-and-swap against the keyring the plan was made on)
        and hands the other ACTIVE grantees on them refreshed key bundles; the emergency kit is
        resealed (a second transaction) if it is affected.
        """
        pid = self._patient_id()
        addr: str = to_checksum_address(grantee)
        if not self._contract.get_consent(pid, addr).exists:
            # An interrupted revocation (the revoke landed, its rotation did not) is finished
            # by revoking again: complete the pending rotation instead of refusing.
            st = self.rotation.state(pid, self._chain.now())
            if any(c.party == addr for c in st.pending):
                txs = self.complete_rotation()
                assert txs, "a pending rotation always sends its keyring"
                plan = self.last_plan
                refreshed = () if plan is None else tuple(r.grantee for r in plan.refreshed)
                return RevokeInfo(pid, addr, txs[0], tuple(txs[1:]), refreshed, completed=True)
        addr, consent = self._consent_of(pid, grantee)

        def attempt() -> tuple[ConsentPlan, list[TxResult], TxResult]:
            now = self._chain.now()
            # fold any other pending rotation into this one
            also = self.rotation.state(pid, now).pending_categories
            start = self._chain.block_number() + 1
            with pinned(self._store, on_chain=self._on_chain(pid, start)) as pins:
                plan = self.last_plan = self.planner.plan_revoke(
                    pid, addr, consent, now, pins, also
                )
                extra, tx = self._execute(plan, pins)
            assert tx is not None
            return plan, extra, tx

        plan, extra, tx = retry_stale(attempt, CAS_ATTEMPTS)
        if self.custodians is not None:  # custodian mode (issue 16): custodians delete fragments
            self.custodians.after_revoke(pid, addr)
        return RevokeInfo(pid, addr, tx, tuple(extra), tuple(r.grantee for r in plan.refreshed))

    def _on_chain(self, pid: int, start: int) -> Callable[[Sequence[CID]], set[CID]]:
        """Which of a flow's documents the chain references (for the pin rollback): the
        keyring, the kit, and bundles named by grant events since block ``start``."""

        def check(cids: Sequence[CID]) -> set[CID]:
            c = self._contract
            patient = c.get_patient(pid)
            named = {patient.keyring, patient.emergency_kit}
            for name in ("ConsentGranted", "KeyBundleRefreshed"):
                named |= {
                    bytes(e.args["keyBundle"])
                    for e in c.get_events(
                        name, from_block=start, argument_filters={"patientId": pid}
                    )
                }
            return {cid for cid in cids if cid.digest in named}

        return check

    def _execute(self, plan: ConsentPlan, pins: Pins) -> tuple[list[TxResult], TxResult | None]:
        """Send ``plan``; on a failure the error names the transactions that landed before it
        and what did not, and how to finish (:meth:`complete_rotation`)."""
        landed: list[str] = []
        try:
            return send_plan(self._contract, self._keys, plan, pins, landed)
        except MedledgerError as exc:
            if landed:
                amend_message(
                    exc,
                    f"; landed before the failure: {', '.join(landed)}; the rest did not land "
                    "(session.consent.complete_rotation() delivers the missing key bundles and "
                    "kit; retrying the change also completes it)",
                )
            raise

    # --- relayed -----------------------------------------------------------------------------

    def sign_grant(
        self,
        grantee: str,
        categories: Categories,
        purposes: Purposes = ("treatment",),
        actions: Actions = ("read",),
        *,
        deadline: int | None = None,
        **terms: Unpack[GrantTerms],
    ) -> SignedConsent:
        """Sign a grant for a relayer (EIP-712); the patient sends no transaction.

        Everything off-chain is prepared now (the same plan as :meth:`grant`): the key bundle,
        and when the grant's end needs a new key epoch the updated keyring, refreshed bundles for
        other grantees and a resealed emergency kit, each transaction as a signed step.
        """
        now = self._chain.now()
        spec = self._spec(grantee, categories, purposes, actions, now, **terms)
        return self._sign_grants([spec], now, deadline)

    def sign_grant_many(
        self, grants: Sequence[dict[str, Any]], *, deadline: int | None = None
    ) -> SignedConsent:
        """:meth:`grant_many` signed for a relayer: one signed ``grant`` step per grant."""
        now = self._chain.now()
        return self._sign_grants(self._specs(grants, now), now, deadline)

    def _sign_grants(
        self, specs: Sequence[GrantSpec], now: int, deadline: int | None
    ) -> SignedConsent:
        pid = self._patient_id()
        self.rotation.require_complete(pid, now)
        with pinned(self._store) as pins:
            plan = self.last_plan = self.planner.plan_grants(pid, specs, now, pins)
            return sign_plan(self._contract, self._party.account, plan, deadline)

    def sign_revoke(self, grantee: str, *, deadline: int | None = None) -> SignedConsent:
        """Sign a revocation for a relayer (EIP-712), with the key rotation that must follow it
        (signed keyring update, refreshed bundles for the other grantees)."""
        pid = self._patient_id()
        addr, consent = self._consent_of(pid, grantee)
        now = self._chain.now()
        also = self.rotation.state(pid, now).pending_categories
        with pinned(self._store) as pins:
            plan = self.last_plan = self.planner.plan_revoke(pid, addr, consent, now, pins, also)
            return sign_plan(self._contract, self._party.account, plan, deadline)


#: how many times a flow plans again after losing the keyring compare-and-swap
CAS_ATTEMPTS = 3
