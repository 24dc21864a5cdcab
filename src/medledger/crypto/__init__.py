"""medledger cryptography: sealed records, HPKE key wrapping, keyring, bundles, kits, keystore.

Pure crypto and formats; this package never imports the chain, storage or flow modules.
Formats and the threat model are documented in docs/crypto.md.

Key hierarchy::

    IdentityKey (patient) --seals--> Keyring private part
    Keyring: category x epoch key pairs --wrap--> per-record data keys (sealed records)
    grantee public key --receives--> key bundle (granted categories, epochs before the grant end)
    responder public key --receives--> emergency kit part (emergency categories, all epochs)
"""

from medledger.crypto._wire import UNBOUND, Domain
from medledger.crypto.bundle import open_key_bundle, seal_key_bundle
from medledger.crypto.emergency import (
    emergency_kit_responders,
    open_emergency_kit,
    seal_emergency_kit,
)
from medledger.crypto.epochs import EpochKey, EpochPublicKey, KeySet, KeySource, category_mask
from medledger.crypto.keyring import Keyring, PublicDirectory
from medledger.crypto.keys import IdentityKey, PrivateKey, PublicKey, Suite
from medledger.crypto.keystore import Keystore, ScryptParams
from medledger.crypto.record import (
    DEFAULT_SEGMENT_SIZE,
    OpenedRecord,
    RecordHeader,
    open_file,
    open_record,
    open_record_with_key,
    open_stream,
    read_header,
    seal_file,
    seal_record,
    seal_stream,
)

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "UNBOUND",
    "Domain",
    "EpochKey",
    "EpochPublicKey",
    "IdentityKey",
    "KeySet",
    "KeySource",
    "Keyring",
    "Keystore",
    "OpenedRecord",
    "PrivateKey",
    "PublicDirectory",
    "PublicKey",
    "RecordHeader",
    "ScryptParams",
    "Suite",
    "category_mask",
    "emergency_kit_responders",
    "open_emergency_kit",
    "open_file",
    "open_key_bundle",
    "open_record",
    "open_record_with_key",
    "open_stream",
    "read_header",
    "seal_emergency_kit",
    "seal_file",
    "seal_key_bundle",
    "seal_record",
    "seal_stream",
]
