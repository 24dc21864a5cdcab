"""The consortium: a Safe multisig behind a timelock that owns the provider registry and the
custodian registry.

    Safe (k-of-n owners) --schedule/execute--> ConsortiumTimelock (48 h) --owner--> MedLedger
                                                    --owner--> CustodianRegistry
    Safe --suspender--> MedLedger.suspendProvider (immediate)

:func:`create_consortium` sets this up from a registry owned by one key; :class:`Consortium`
builds proposals, checks them and submits them. Every refusal happens before a transaction is
sent, and the Safe and timelock refuse the same cases on chain.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from medledger.chain.custodians import CustodianRegistryContract
from medledger.chain.deployment import DeployedContract, Deployment, Manifest
from medledger.chain.registry import provider_args
from medledger.chain.suite import MedLedgerContract
from medledger.chain.suite_contract import signed
from medledger.chain.transactions import TxSender
from medledger.chain.types import TxResult
from medledger.errors import DeploymentNotFound, IntegrityError, InvalidInput
from medledger.governance.custodians import (
    GovernedCustodianRegistry,
    check_registration,
    check_removal,
)
from medledger.governance.proposal import (
    OperationNotReady,
    Proposal,
    ProposalAlreadyExecuted,
    ProposalTampered,
)
from medledger.governance.safe import (
    SafeContract,
    SafeDeployment,
    SafeTx,
    create_safe,
    deploy_safe_infrastructure,
)
from medledger.governance.timelock import (
    DEFAULT_MIN_DELAY,
    ZERO32,
    ScheduledChange,
    TimelockCall,
    TimelockContract,
    decode_registry_call,
    deploy_timelock,
    describe,
    scheduled_changes,
)

#: manifest ``contracts`` keys of the consortium
SAFE_KEY, TIMELOCK_KEY = "ConsortiumSafe", "ConsortiumTimelock"
#: ``registry=`` names of the governed contracts (proposals, ownership hand-over)
REGISTRIES = {"medledger": "MedLedger", "custodians": "CustodianRegistry"}
_INFRA_KEYS = ("SafeSingleton", "SafeProxyFactory", "SafeFallbackHandler")


@dataclass
class ConsortiumSetup:
    """What :func:`create_consortium` did: the new manifest and the gas of each step."""

    consortium: Consortium
    manifest: Manifest
    gas: dict[str, int] = field(default_factory=dict)


def create_consortium(
    deployment: Deployment,
    registry_owner: LocalAccount,
    owners: Sequence[str],
    threshold: int,
    *,
    min_delay: int = DEFAULT_MIN_DELAY,
    salt_nonce: int = 0,
    custodians: bool = True,
) -> ConsortiumSetup:
    """Deploy a Safe (``threshold`` of ``owners``) and a timelock, and move the registry to
    them: the Safe becomes the suspender, the timelock the owner (both steps of Ownable2Step).
    With ``custodians`` (the default) the deployment's CustodianRegistry, when it has one, moves
    to the timelock the same two-step way.

    ``registry_owner`` (the registries' current owner) pays and bootstraps: the timelock starts
    with delay 0 and it as temporary proposer/executor/admin, accepts ownership, raises its delay
    to ``min_delay`` and then ``registry_owner`` renounces every role. The end state is checked.
    """
    chain = deployment.chain
    sender = TxSender(chain, registry_owner)
    registry = deployment.medledger.connect_as(sender)
    if registry.owner() != registry_owner.address:
        raise InvalidInput(f"{registry_owner.address} does not own the provider registry")
    if min_delay < 0:
        raise InvalidInput("the timelock delay cannot be negative")
    custodian_registry = None
    if custodians and deployment.custodians is not None:
        # checked before anything is sent: a refusal leaves no half-made consortium
        custodian_registry = GovernedCustodianRegistry.of(deployment.custodians.connect_as(sender))
        if custodian_registry.owner() != registry_owner.address:
            raise InvalidInput(
                f"{registry_owner.address} does not own the custodian registry",
                hint="pass custodians=False (--no-custodians) to leave it where it is",
            )
    gas: dict[str, int] = {}
    infra = _existing_infra(deployment.manifest)
    if infra is None:
        infra, gas["deploy Safe singleton + factory + handler"] = deploy_safe_infrastructure(sender)
    safe, created = create_safe(sender, infra, owners, threshold, salt_nonce=salt_nonce)
    gas["create Safe proxy"] = created.gas_used
    me = registry_owner.address
    timelock = deploy_timelock(sender, 0, [safe.address, me], [safe.address, me], me)
    gas["deploy ConsortiumTimelock"] = timelock.deploy_gas
    gas["setSuspenderAccount"] = registry.set_suspender_account(safe.address).gas_used
    gas["transferOwnership"] = registry.transfer_ownership(timelock.address).gas_used
    _run_now(timelock, registry.address, registry.calldata("acceptOwnership"), gas, "accept")
    if custodian_registry is not None:
        tx = custodian_registry.transfer_ownership(timelock.address)
        gas["custodians transferOwnership"] = tx.gas_used
        data = custodian_registry.calldata("acceptOwnership")
        _run_now(timelock, custodian_registry.address, data, gas, "custodians accept")
    if min_delay:
        data = timelock.calldata("updateDelay", min_delay)
        _run_now(timelock, timelock.address, data, gas, "updateDelay")
    renounced = [
        timelock.send("renounceRole", timelock.call(role), me).gas_used
        for role in ("PROPOSER_ROLE", "CANCELLER_ROLE", "EXECUTOR_ROLE", "DEFAULT_ADMIN_ROLE")
    ]
    gas["bootstrap renounces 4 roles"] = sum(renounced)
    _check_setup(registry, safe, timelock, me, min_delay)
    if custodian_registry is not None and custodian_registry.owner() != timelock.address:
        raise IntegrityError(
            "consortium setup incomplete: custodian registry owner is not the timelock"
        )
    contracts = dict(deployment.manifest.contracts)
    for key, addr in zip(_INFRA_KEYS, (infra.singleton, infra.factory, infra.handler), strict=True):
        contracts.setdefault(key, DeployedContract(addr, 0, ""))
    contracts[SAFE_KEY] = DeployedContract(safe.address, created.block_number, created.tx_hash)
    contracts[TIMELOCK_KEY] = DeployedContract(timelock.address, timelock.deploy_block, "")
    manifest = replace(deployment.manifest, contracts=contracts)
    governed = Consortium(registry, safe, timelock, deployment.custodians)
    return ConsortiumSetup(governed, manifest, gas)


def _existing_infra(m: Manifest) -> SafeDeployment | None:
    if all(k in m.contracts for k in _INFRA_KEYS):
        return SafeDeployment(*(m.contracts[k].address for k in _INFRA_KEYS))
    return None


def _run_now(
    timelock: TimelockContract, target: str, data: bytes, gas: dict[str, int], label: str
) -> None:
    salt = os.urandom(32)
    r1 = timelock.send("schedule", target, 0, data, ZERO32, salt, 0)
    r2 = timelock.send("execute", target, 0, data, ZERO32, salt)
    gas[f"bootstrap {label} (schedule+execute)"] = r1.gas_used + r2.gas_used


def _check_setup(
    registry: MedLedgerContract,
    safe: SafeContract,
    timelock: TimelockContract,
    bootstrapper: str,
    min_delay: int,
) -> None:
    problems = []
    if registry.owner() != timelock.address:
        problems.append("registry owner is not the timelock")
    if registry.suspender() != safe.address:
        problems.append("registry suspender is not the Safe")
    if timelock.min_delay() != min_delay:
        problems.append("timelock delay differs")
    for role in ("proposer", "executor", "canceller"):
        if not timelock.has_role(role, safe.address):
            problems.append(f"the Safe lacks the {role} role")
    for role in ("proposer", "executor", "canceller", "admin"):
        if timelock.has_role(role, bootstrapper):
            problems.append(f"the bootstrapping key kept the {role} role")
    if problems:
        raise IntegrityError("consortium setup incomplete: " + "; ".join(problems))


class Consortium:
    """The consortium's Safe and timelock over the provider registry (MedLedger) and, when the
    deployment has one, the CustodianRegistry."""

    def __init__(
        self,
        registry: MedLedgerContract,
        safe: SafeContract,
        timelock: TimelockContract,
        custodians: CustodianRegistryContract | None = None,
    ) -> None:
        self.registry = registry
        self.safe = safe
        self.timelock = timelock
        self.chain = registry.chain
        self.custodians = GovernedCustodianRegistry.of(custodians) if custodians else None
        #: governed contract address -> artifact name (what proposals may target)
        self.targets: dict[str, str] = {registry.address: "MedLedger"}
        if self.custodians is not None:
            self.targets[self.custodians.address] = "CustodianRegistry"

    def __repr__(self) -> str:
        return f"Consortium(safe={self.safe.address}, timelock={self.timelock.address})"

    @classmethod
    def from_deployment(cls, deployment: Deployment) -> Consortium:
        m = deployment.manifest
        if SAFE_KEY not in m.contracts or TIMELOCK_KEY not in m.contracts:
            raise DeploymentNotFound(
                "this deployment has no consortium Safe",
                hint="medledger consortium create --owners A,B,C --threshold 2",
            )
        chain = deployment.chain
        tl = m.contracts[TIMELOCK_KEY]
        return cls(
            deployment.medledger,
            SafeContract(chain, m.contracts[SAFE_KEY].address),
            TimelockContract(chain, tl.address, deploy_block=tl.block),
            deployment.custodians,
        )

    # --- proposals ---------------------------------------------------------------------------

    def propose_suspend(self, provider: str, *, nonce: int | None = None) -> Proposal:
        """Suspend now: the Safe is the registry's suspender (no delay)."""
        data = self.registry.calldata("suspendProvider", to_checksum_address(provider))
        return self._proposal("suspend", SafeTx(self.registry.address, 0, data, self._nonce(nonce)))

    def propose_register(
        self,
        provider: str,
        encryption_key: bytes,
        key_document: bytes,
        emergency_responder: bool,
        name: str,
        key_nonce: int,
        key_deadline: int,
        key_signature: bytes,
        *,
        delay: int | None = None,
        nonce: int | None = None,
    ) -> Proposal:
        """Schedule a registration (the provider's ``ProviderKey`` signature must still be
        valid when the delay has passed: its deadline is checked at execution)."""
        data = self.registry.calldata(
            "registerProvider",
            *provider_args(provider, encryption_key, key_document, emergency_responder, name),
            *signed(key_nonce, key_deadline, key_signature),
        )
        return self._schedule("register", data, delay, nonce)

    def propose_update(
        self,
        provider: str,
        emergency_responder: bool,
        name: str,
        *,
        delay: int | None = None,
        nonce: int | None = None,
    ) -> Proposal:
        data = self.registry.calldata(
            "updateProvider", to_checksum_address(provider), emergency_responder, name
        )
        return self._schedule("update", data, delay, nonce)

    def propose_reinstate(
        self, provider: str, *, delay: int | None = None, nonce: int | None = None
    ) -> Proposal:
        data = self.registry.calldata("reinstateProvider", to_checksum_address(provider))
        return self._schedule("reinstate", data, delay, nonce)

    def propose_transfer_ownership(
        self,
        new_owner: str,
        *,
        registry: str = "medledger",
        delay: int | None = None,
        nonce: int | None = None,
    ) -> Proposal:
        """Schedule offering ``registry`` ("medledger" or "custodians") to ``new_owner``, who
        then accepts (Ownable2Step; a new consortium's timelock accepts with
        :meth:`propose_accept_ownership`)."""
        target = self._target(registry)
        data = target.calldata("transferOwnership", to_checksum_address(new_owner))
        action = "transfer-ownership" + ("" if registry == "medledger" else ":" + registry)
        return self._schedule(action, data, delay, nonce, target=target.address)

    def propose_accept_ownership(
        self, registry: str = "custodians", *, delay: int | None = None, nonce: int | None = None
    ) -> Proposal:
        """Schedule the timelock's ``acceptOwnership`` of ``registry`` after its owner offered
        it to the timelock (a registry deployed after the consortium, or moving between
        consortia)."""
        target = self._target(registry)
        pending = target.call("pendingOwner")
        if to_checksum_address(pending) != self.timelock.address:
            raise InvalidInput(
                f"the {REGISTRIES[registry]} has not been offered to the timelock "
                f"(its pending owner is {pending})",
                hint="its owner first calls transferOwnership(timelock)",
            )
        data = target.calldata("acceptOwnership")
        action = "accept-ownership:" + registry
        return self._schedule(action, data, delay, nonce, target=target.address)

    # --- custodians (issue 16) ----------------------------------------------------------------

    def propose_register_custodian(
        self,
        custodian: str,
        name: str,
        endpoint: str,
        *,
        delay: int | None = None,
        nonce: int | None = None,
    ) -> Proposal:
        """Schedule registering ``custodian`` (its signing account). Once registered it sets
        its own HPKE key with its own signature (``setCustodianKey``): the consortium never
        handles a custodian's key."""
        registry = self._governed_custodians()
        address = check_registration(registry, custodian, name, endpoint)
        data = registry.calldata("registerCustodian", address, name, endpoint)
        return self._schedule("register-custodian", data, delay, nonce, target=registry.address)

    def propose_remove_custodian(
        self, custodian: str, *, delay: int | None = None, nonce: int | None = None
    ) -> Proposal:
        """Schedule removing an active custodian (policies naming it must then be replaced)."""
        registry = self._governed_custodians()
        data = registry.calldata("removeCustodian", check_removal(registry, custodian))
        return self._schedule("remove-custodian", data, delay, nonce, target=registry.address)

    def _target(self, registry: str) -> MedLedgerContract | GovernedCustodianRegistry:
        if registry == "medledger":
            return self.registry
        if registry == "custodians":
            if self.custodians is None:
                raise DeploymentNotFound("this deployment has no CustodianRegistry")
            return self.custodians
        raise InvalidInput(f"unknown registry {registry!r}: one of {', '.join(REGISTRIES)}")

    def _governed_custodians(self) -> GovernedCustodianRegistry:
        """The custodian registry, refused unless the timelock owns it (or is about to: it is
        the pending owner) -- otherwise the operation would revert 48 h from now."""
        target = self._target("custodians")
        assert isinstance(target, GovernedCustodianRegistry)
        tl = self.timelock.address
        if target.owner() != tl and target.pending_owner() != tl:
            raise InvalidInput(
                f"the consortium's timelock does not own the custodian registry "
                f"(its owner is {target.owner()})",
                hint="its owner offers it (transferOwnership) and the consortium proposes "
                "accept-ownership --registry custodians",
            )
        return target

    def propose_execute(self, scheduled: Proposal, *, nonce: int | None = None) -> Proposal:
        """The Safe transaction that executes what ``scheduled`` put in the timelock."""
        call = self._scheduled_call(scheduled)
        tx = SafeTx(self.timelock.address, 0, call.execute_data(self.timelock), self._nonce(nonce))
        return self._proposal("execute:" + scheduled.action, tx, call)

    def propose_cancel(self, scheduled: Proposal, *, nonce: int | None = None) -> Proposal:
        """The Safe transaction that cancels what ``scheduled`` put in the timelock (the Safe
        holds the canceller role): the change never takes effect."""
        call = self._scheduled_call(scheduled)
        tx = SafeTx(self.timelock.address, 0, call.cancel_data(self.timelock), self._nonce(nonce))
        return self._proposal("cancel:" + scheduled.action, tx, call)

    def _scheduled_call(self, scheduled: Proposal) -> TimelockCall:
        if scheduled.action.split(":")[0] in ("execute", "cancel"):
            raise InvalidInput("give the proposal that scheduled the operation")
        return self._timelock_call(scheduled)

    def _schedule(
        self,
        action: str,
        data: bytes,
        delay: int | None,
        nonce: int | None,
        *,
        target: str | None = None,
    ) -> Proposal:
        d = self.timelock.min_delay() if delay is None else delay
        to = target or self.registry.address
        call = TimelockCall(self.timelock.address, to, data, os.urandom(32), d)
        tx = SafeTx(self.timelock.address, 0, call.schedule_data(self.timelock), self._nonce(nonce))
        return self._proposal(action, tx, call)

    def _nonce(self, nonce: int | None) -> int:
        return self.safe.nonce() if nonce is None else nonce

    def _proposal(self, action: str, tx: SafeTx, call: TimelockCall | None = None) -> Proposal:
        return Proposal(
            self.chain.chain_id,
            self.safe.address,
            action,
            self._summary(action, tx, call),
            tx,
            call.to_json() if call else None,
        )

    def _summary(self, action: str, tx: SafeTx, call: TimelockCall | None) -> str:
        if call is None:
            function, args = decode_registry_call(tx.data)
            return describe(function, args, "immediately")
        contract = self.targets.get(call.target)
        if contract is None:
            raise InvalidInput(f"{call.target} is not a contract the consortium governs")
        function, args = decode_registry_call(call.data, contract)
        if action.startswith("execute:"):
            return "execute: " + describe(function, args, "now", contract)
        if action.startswith("cancel:"):
            return "cancel: " + describe(function, args, "at its scheduled time", contract)
        when = f"{call.delay} s after scheduling"
        return "schedule: " + describe(function, args, when, contract)

    def _timelock_call(self, p: Proposal) -> TimelockCall:
        if p.timelock is None:
            raise InvalidInput(f"the {p.action} proposal has no timelock operation")
        return TimelockCall.from_json(p.timelock)

    # --- checks, signing, execution ----------------------------------------------------------

    def verify(self, p: Proposal) -> None:
        """Refuse a proposal for another Safe or chain, or whose derived parts were edited."""
        if p.chain_id != self.chain.chain_id or p.safe != self.safe.address:
            raise InvalidInput(
                f"the proposal is for Safe {p.safe} on chain {p.chain_id}, "
                f"not {self.safe.address} on {self.chain.chain_id}"
            )
        call = None
        if p.timelock is not None:
            call = self._timelock_call(p)
            if call.timelock != self.timelock.address or call.target not in self.targets:
                raise ProposalTampered("the timelock operation targets another contract")
            kind = p.action.split(":")[0]
            if kind == "execute":
                expected = call.execute_data(self.timelock)
            elif kind == "cancel":
                expected = call.cancel_data(self.timelock)
            else:
                expected = call.schedule_data(self.timelock)
            if p.tx.to != self.timelock.address or p.tx.data != expected or p.tx.value:
                raise ProposalTampered("the timelock operation differs from the signed transaction")
        elif p.tx.to != self.registry.address or p.tx.value:
            raise ProposalTampered("the transaction does not call the registry")
        try:
            summary = self._summary(p.action, p.tx, call)
        except InvalidInput as exc:
            raise ProposalTampered(f"the proposal's call is not a registry change: {exc}") from exc
        if summary != p.summary:
            raise ProposalTampered("the proposal's summary does not describe its transaction")

    def sign(self, p: Proposal, owner: LocalAccount) -> Proposal:
        """Add ``owner``'s signature (reads the Safe's owners; the signature itself is offline)."""
        self.verify(p)
        return p.sign(owner, self.safe.owners())

    def check_executable(self, p: Proposal) -> bytes:
        """Every refusal :meth:`execute` makes, without sending: the packed signatures."""
        self.verify(p)
        current = self.safe.nonce()
        if p.tx.nonce < current:
            raise ProposalAlreadyExecuted(
                f"Safe nonce {p.tx.nonce} was used (the Safe is at {current}): "
                "this transaction ran already or was superseded"
            )
        if p.tx.nonce > current:
            raise InvalidInput(
                f"Safe nonce {p.tx.nonce} is ahead of the Safe ({current}): execute the earlier "
                "proposals first"
            )
        packed = p.packed_signatures(self.safe.owners(), self.safe.threshold())
        cancel = p.action.startswith("cancel:")
        if cancel and not self.timelock.call(
            "isOperationPending", self._timelock_call(p).operation_id
        ):
            raise OperationNotReady("the operation is not pending: nothing to cancel")
        if p.action.startswith("execute:"):
            op = self._timelock_call(p).operation_id
            ts = self.timelock.timestamp_of(op)
            if ts == 0:
                raise OperationNotReady("the operation was never scheduled (or was cancelled)")
            if ts == 1:
                raise ProposalAlreadyExecuted("the timelock operation was executed already")
            now = self.chain.now()
            if ts > now:
                raise OperationNotReady(
                    f"the timelock delay runs until {ts} (unix), {ts - now} s from now",
                    hint="patients can see the scheduled change until then",
                )
        return packed

    def execute(self, p: Proposal, sender: TxSender) -> TxResult:
        """Submit the Safe transaction (``sender`` pays; it need not be an owner)."""
        packed = self.check_executable(p)
        return self.safe.connect_as(sender).exec_transaction(p.tx, packed)

    # --- status ------------------------------------------------------------------------------

    def scheduled(self, *, include_done: bool = False) -> list[ScheduledChange]:
        """Registry changes in the timelock, oldest first (what patients watch)."""
        return scheduled_changes(self.timelock, self.targets, include_done=include_done)

    def status(self) -> dict[str, Any]:
        return {
            "safe": self.safe.address,
            "owners": self.safe.owners(),
            "threshold": self.safe.threshold(),
            "safeNonce": self.safe.nonce(),
            "timelock": self.timelock.address,
            "minDelay": self.timelock.min_delay(),
            "registryOwner": self.registry.owner(),
            "suspender": self.registry.suspender(),
            "custodianRegistry": self.custodians.address if self.custodians else None,
            "custodianRegistryOwner": self.custodians.owner() if self.custodians else None,
            "scheduled": [s.__dict__ for s in self.scheduled()],
        }
