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

from typing import TYPE_CHECKING

from medledger.chain.transactions import TxSender
from medledger.client._deprecated import FlatSessionMethods
from medledger.client.access import AccessNamespace
from medledger.client.anchors import AnchorsNamespace
from medledger.client.audit import AuditNamespace
from medledger.client.consent import ConsentNamespace
from medledger.client.emergency import EmergencyNamespace
from medledger.client.identity import IdentityNamespace
from medledger.client.keys import KeyManager
from medledger.client.providers import ProvidersNamespace
from medledger.client.records import RecordsNamespace
from medledger.client.recovery import RecoveryNamespace
from medledger.client.relay import RelayNamespace
from medledger.client.types import Party
from medledger.errors import NotRegistered

if TYPE_CHECKING:
    from medledger.client.facade import Medledger


class Session(FlatSessionMethods):
    """One party acting on a deployment. Create with :meth:`Medledger.session`.

    ``session.consent.grant(...)``, ``session.access.read(...)``: the flows live in namespaces
    (``identity``, ``providers``, ``records``, ``consent``, ``relay``, ``emergency``,
    ``access``, ``audit``, ``anchors``, ``recovery``).
    """

    def __init__(self, ml: Medledger, party: Party) -> None:
        self.ml = ml
        self.party = party
        self.sender = TxSender(ml.chain, party.account)
        bound = ml.deployment.connect_as(self.sender)
        #: the bound contracts (advanced use: raw calls as this party)
        self.contract = bound.medledger
        self.anchor_registry = bound.anchors
        self.keys = KeyManager(ml.chain, self.contract, ml.documents, party.identity, self.address)
        self.identity = IdentityNamespace(self)
        self.providers = ProvidersNamespace(self)
        self.records = RecordsNamespace(self)
        self.consent = ConsentNamespace(self)
        self.relay = RelayNamespace(self)
        self.emergency = EmergencyNamespace(self)
        self.access = AccessNamespace(self)
        self.audit = AuditNamespace(self)
        self.anchors = AnchorsNamespace(self)
        self.recovery = RecoveryNamespace(self)

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
