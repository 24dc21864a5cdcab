"""medledger: patient-controlled medical records on an EVM chain, encrypted records on IPFS."""

from medledger.errors import (
    AccessDenied,
    ConsentExpired,
    IntegrityError,
    InvalidInput,
    MedledgerError,
    NotRegistered,
    StoreUnavailable,
)

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "ConsentExpired",
    "IntegrityError",
    "InvalidInput",
    "MedledgerError",
    "NotRegistered",
    "StoreUnavailable",
    "__version__",
]
