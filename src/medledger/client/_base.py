"""What every namespace of a :class:`~medledger.client.session.Session` shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from medledger.errors import InvalidInput, NotRegistered

if TYPE_CHECKING:
    from medledger.chain.contracts import AnchorRegistryContract, MedLedgerContract
    from medledger.client.directory import ProviderDirectory
    from medledger.client.documents import DocumentStore
    from medledger.client.facade import Medledger
    from medledger.client.keys import KeyManager
    from medledger.client.session import Session
    from medledger.storage import BlockStore


class Namespace:
    """One concern of a session (``session.consent``, ``session.records``, ...)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._session.address})"

    @property
    def _ml(self) -> Medledger:
        return self._session.ml

    @property
    def _address(self) -> str:
        return self._session.address

    @property
    def _contract(self) -> MedLedgerContract:
        return self._session.contract

    @property
    def _anchor_registry(self) -> AnchorRegistryContract:
        return self._session.anchor_registry

    @property
    def _keys(self) -> KeyManager:
        return self._session.keys

    @property
    def _documents(self) -> DocumentStore:
        return self._session.ml.documents

    @property
    def _directory(self) -> ProviderDirectory:
        return self._session.ml.providers

    @property
    def _store(self) -> BlockStore:
        return self._session.ml.store

    def _patient_id(self) -> int:
        return self._session.patient_id()

    def _require_patient(self, patient_id: int) -> Any:
        if patient_id < 1:
            raise InvalidInput(f"patient ids start at 1, got {patient_id}")
        patient = self._contract.get_patient(patient_id)
        if int(patient.controller, 16) == 0:
            raise NotRegistered(f"patient {patient_id} is not registered")
        return patient
