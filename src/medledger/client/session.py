"""A :class:`Session`: one party acting on a deployment, with one namespace per concern.

Every flow follows the same discipline:

1. validate the input and read what must hold on-chain (registered? consent?) -> typed errors
   before anything is stored or sent;
2. prepare off-chain documents (sealed record, keyring, key bundle, kit) and pin them;
3. send the transaction(s) (each simulated first by the transaction sender, so a revert costs
   nothing); if a transaction fails, unpin what step 2 pinned and the chain does not reference
   (:func:`~medledger.client.documents.pinned`), and say so in the error.

Keys never appear in ``repr``, logs or errors.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from medledger.chain.connection import Chain
from medledger.chain.deployment import Deployment as ChainDeployment
from medledger.chain.transactions import TxSender
from medledger.client._base import Context
from medledger.client._deprecated import FlatSessionMethods
from medledger.client.access import AccessNamespace
from medledger.client.anchors import AnchorsNamespace
from medledger.client.audit import AuditNamespace
from medledger.client.consent import ConsentNamespace
from medledger.client.consortium import ConsortiumNamespace
from medledger.client.custodians import CustodiansNamespace
from medledger.client.directory import ProviderDirectory
from medledger.client.documents import DocumentStore
from medledger.client.emergency import EmergencyNamespace
from medledger.client.identity import IdentityNamespace
from medledger.client.keys import KeyManager
from medledger.client.providers import ProvidersNamespace
from medledger.client.records import RecordsNamespace
from medledger.client.recovery import RecoveryNamespace
from medledger.client.relay import RelayNamespace
from medledger.client.types import Party
from medledger.errors import NotRegistered
from medledger.storage import BlockStore


class Deployment(Protocol):
    """What a session needs of its :class:`~medledger.client.facade.Medledger` (typed here so
    that the session does not import the facade that creates it)."""

    @property
    def chain(self) -> Chain: ...
    @property
    def deployment(self) -> ChainDeployment: ...
    @property
    def store(self) -> BlockStore: ...
    @property
    def documents(self) -> DocumentStore: ...
    @property
    def providers(self) -> ProviderDirectory: ...
    def now(self) -> int: ...
    def increase_time(self, seconds: int | timedelta) -> int: ...


class Session(FlatSessionMethods):
    """One party acting on a deployment. Create with :meth:`Medledger.session`.

    ``session.consent.grant(...)``, ``session.access.read(...)``: the flows live in namespaces
    (``identity``, ``providers``, ``records``, ``consent``, ``relay``, ``emergency``,
    ``access``, ``audit``, ``anchors``, ``recovery``, ``consortium``, ``custodians``).
    """

    def __init__(self, ml: Deployment, party: Party) -> None:
        self.ml = ml
        self.party = party
        self.sender = TxSender(ml.chain, party.account)
        bound = ml.deployment.connect_as(self.sender)
        #: the bound contracts (advanced use: raw calls as this party)
        self.contract = bound.medledger
        self.anchor_registry = bound.anchors
        self.keys = KeyManager(ml.chain, self.contract, ml.documents, party.identity, self.address)
        ctx = Context(
            ml.chain,
            ml.store,
            ml.documents,
            ml.providers,
            self.contract,
            self.anchor_registry,
            self.keys,
            party,
            self.patient_id,
        )
        self.identity = IdentityNamespace(ctx)
        self.providers = ProvidersNamespace(ctx)
        self.records = RecordsNamespace(ctx)
        self.consent = ConsentNamespace(ctx)
        self.relay = RelayNamespace(ctx)
        self.emergency = EmergencyNamespace(ctx)
        self.access = AccessNamespace(ctx)
        self.audit = AuditNamespace(ctx)
        self.anchors = AnchorsNamespace(ctx, self.records, self.access)
        self.recovery = RecoveryNamespace(ctx)
        self.consortium = ConsortiumNamespace(ctx, ml.deployment)
        # custodian mode (issue 16): one namespace, hooked into the flows it changes
        self.custodians = CustodiansNamespace(ctx, bound.custodians, self.access)
        for ns in (self.consent, self.emergency, self.records, self.access, self.recovery):
            ns.custodians = self.custodians

    def __repr__(self) -> str:
        return f"Session({self.address})"

    @property
    def address(self) -> str:
        return self.party.address

    def patient_id(self) -> int:
        """The id of the patient this party controls; ``NotRegistered`` if none."""
        pid = self.contract.patient_of(self.address)
        if pid == 0:
            raise NotRegistered(
                f"{self.address} does not control a patient",
                hint="register as a patient first (`medledger register patient`, or "
                "session.identity.register()), or act as the patient's controller",
            )
        return pid
