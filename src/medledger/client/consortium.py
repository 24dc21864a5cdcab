"""``session.consortium``: the consortium's Safe and timelock (docs/governance.md).

Patients read what is coming (:meth:`ConsortiumNamespace.scheduled`); consortium members
propose, sign (offline, as this party) and execute Safe transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medledger.chain.deployment import Deployment
from medledger.chain.transactions import TxSender
from medledger.chain.types import ZERO32, TxResult
from medledger.client._base import Context, Namespace
from medledger.client.providers import ProviderKeySignature
from medledger.crypto import Suite
from medledger.errors import DeploymentNotFound, InvalidInput
from medledger.governance import (
    DEFAULT_MIN_DELAY,
    Consortium,
    ConsortiumSetup,
    Proposal,
    ScheduledChange,
    create_consortium,
)
from medledger.governance.custodians import GovernedCustodianRegistry


class ConsortiumNamespace(Namespace):
    def __init__(self, ctx: Context, deployment: Deployment) -> None:
        super().__init__(ctx)
        self._deployment = deployment

    def get(self) -> Consortium:
        """The deployment's consortium (``DeploymentNotFound`` if none was created)."""
        return Consortium.from_deployment(self._deployment)

    def create(
        self,
        owners: Sequence[str],
        threshold: int,
        *,
        min_delay: int = DEFAULT_MIN_DELAY,
        custodians: bool = True,
    ) -> ConsortiumSetup:
        """Put the registry (and, with ``custodians``, the CustodianRegistry) under a new
        ``threshold``-of-``owners`` Safe behind a timelock (this party must own them). The
        deployment's manifest is updated in memory; save ``setup.manifest`` to keep it."""
        setup = create_consortium(
            self._deployment,
            self._party.account,
            owners,
            threshold,
            min_delay=min_delay,
            custodians=custodians,
        )
        self._deployment.manifest = setup.manifest
        return setup

    # --- what patients watch ----------------------------------------------------------------

    def scheduled(self, *, include_done: bool = False) -> list[ScheduledChange]:
        """Registry changes waiting in the timelock, oldest first, each with a one-line
        ``summary`` ("provider 0x.. will become an emergency responder at T")."""
        return self.get().scheduled(include_done=include_done)

    def upcoming_responders(self) -> list[ScheduledChange]:
        """Scheduled changes that will let a provider open break-glass access."""
        return [
            s
            for s in self.scheduled()
            if s.function in ("registerProvider", "updateProvider")
            and bool(s.args.get("emergencyResponder"))
        ]

    def status(self) -> dict[str, Any]:
        return self.get().status()

    # --- what members do --------------------------------------------------------------------

    def propose_register(
        self,
        key_signature: ProviderKeySignature,
        name: str,
        emergency_responder: bool = False,
        *,
        delay: int | None = None,
    ) -> Proposal:
        """Schedule registering the provider that made ``key_signature``
        (``provider_session.providers.sign_key(deadline=...)``: the deadline must outlast the
        delay)."""
        ks = key_signature
        key = ks.encryption_key
        # the same key document the provider's signature covers (providers.sign_key)
        key_doc = ZERO32 if key.suite is Suite.X25519 else self._store.put(key.encode()).digest
        if ks.deadline <= self._chain.now() + (delay or self.get().timelock.min_delay()):
            raise InvalidInput(
                "the provider's key signature expires before the timelock delay ends",
                hint="have the provider sign with a later deadline (at most 30 days)",
            )
        return self.get().propose_register(
            ks.provider,
            key.x25519_public_bytes(),
            key_doc,
            emergency_responder,
            name,
            ks.nonce,
            ks.deadline,
            ks.signature,
            delay=delay,
        )

    def propose_update(self, provider: str, emergency_responder: bool, name: str) -> Proposal:
        return self.get().propose_update(provider, emergency_responder, name)

    def propose_suspend(self, provider: str) -> Proposal:
        return self.get().propose_suspend(provider)

    def propose_reinstate(self, provider: str) -> Proposal:
        return self.get().propose_reinstate(provider)

    def propose_transfer_ownership(self, new_owner: str, registry: str = "medledger") -> Proposal:
        """Schedule offering ``registry`` ("medledger" or "custodians") to ``new_owner``."""
        return self.get().propose_transfer_ownership(new_owner, registry=registry)

    def propose_accept_ownership(self, registry: str = "custodians") -> Proposal:
        """Schedule the timelock's acceptance of ``registry`` once its owner offered it
        (:meth:`offer_custodian_registry`)."""
        return self.get().propose_accept_ownership(registry)

    def propose_execute(self, scheduled: Proposal) -> Proposal:
        return self.get().propose_execute(scheduled)

    def propose_cancel(self, scheduled: Proposal) -> Proposal:
        return self.get().propose_cancel(scheduled)

    # --- custodians (issue 16) ------------------------------------------------------------------

    def propose_register_custodian(
        self, custodian: str, name: str, endpoint: str, *, delay: int | None = None
    ) -> Proposal:
        """Schedule registering ``custodian`` through the Safe and timelock; once executed the
        custodian sets its own HPKE key with its own account (``setCustodianKey``)."""
        return self.get().propose_register_custodian(custodian, name, endpoint, delay=delay)

    def propose_remove_custodian(self, custodian: str, *, delay: int | None = None) -> Proposal:
        """Schedule removing an active custodian through the Safe and timelock."""
        return self.get().propose_remove_custodian(custodian, delay=delay)

    def _custodian_registry(self) -> GovernedCustodianRegistry:
        registry = self._deployment.custodians
        if registry is None:
            raise DeploymentNotFound("this deployment has no CustodianRegistry")
        sender = TxSender(self._chain, self._party.account)
        return GovernedCustodianRegistry.of(registry.connect_as(sender))

    def offer_custodian_registry(self) -> TxResult:
        """As the CustodianRegistry's current owner, offer it to the consortium's timelock
        (step one of two; the consortium then runs :meth:`propose_accept_ownership`). For a
        registry the consortium's ``create`` did not move."""
        return self._custodian_registry().transfer_ownership(self.get().timelock.address)

    def register_custodian(self, custodian: str, name: str, endpoint: str) -> TxResult:
        """Register a custodian directly: only while this party itself owns the
        CustodianRegistry (a deployment with no consortium yet). Under a consortium use
        :meth:`propose_register_custodian`. The custodian then sets its own HPKE key."""
        return self._custodian_registry().register_custodian(custodian, name, endpoint)

    def remove_custodian(self, custodian: str) -> TxResult:
        """Remove a custodian directly (only while this party owns the CustodianRegistry)."""
        return self._custodian_registry().remove_custodian(custodian)

    def sign(self, proposal: Proposal) -> Proposal:
        """``proposal`` with this party's owner signature added."""
        return self.get().sign(proposal, self._party.account)

    def execute(self, proposal: Proposal) -> TxResult:
        """Submit ``proposal`` once signed by the threshold (this party pays the gas)."""
        return self.get().execute(proposal, TxSender(self._chain, self._party.account))
