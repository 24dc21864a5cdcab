"""medledger: patient-controlled medical records on an EVM chain, encrypted records on IPFS.

``from medledger import Medledger, Party`` gives the SDK facade. Names are loaded on first use
(PEP 562), so ``import medledger`` (and ``medledger --help``) imports neither web3 nor the crypto.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from medledger.client import Medledger, Party, Session
    from medledger.errors import (
        AccessDenied,
        BlockNotFound,
        ChainError,
        ChainUnavailable,
        ConsentExpired,
        ContractError,
        CryptoError,
        DecryptionFailed,
        DeploymentNotFound,
        IntegrityError,
        InvalidInput,
        KeyNotAvailable,
        KeystoreError,
        MedledgerError,
        NotAuthorized,
        NotRegistered,
        SignatureError,
        StorageError,
        StoreTimeout,
        StoreUnavailable,
        TransactionFailed,
    )


_CLIENT = ("Medledger", "Party", "Session")


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'medledger' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "AccessDenied",
    "BlockNotFound",
    "ChainError",
    "ChainUnavailable",
    "ConsentExpired",
    "ContractError",
    "CryptoError",
    "DecryptionFailed",
    "DeploymentNotFound",
    "IntegrityError",
    "InvalidInput",
    "KeyNotAvailable",
    "KeystoreError",
    "Medledger",
    "MedledgerError",
    "NotAuthorized",
    "NotRegistered",
    "Party",
    "Session",
    "SignatureError",
    "StorageError",
    "StoreTimeout",
    "StoreUnavailable",
    "TransactionFailed",
    "__version__",
]

#: public name -> module that defines it
_LAZY: dict[str, str] = {
    name: "medledger.client" if name in _CLIENT else "medledger.errors"
    for name in __all__
    if name != "__version__"
}
