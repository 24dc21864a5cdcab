"""The chain layer: connection, deployment, contract bindings, transactions, errors, EIP-712.

Typical use::

    from medledger.chain import connect, deploy_suite, TxSender

    chain = connect()                      # embedded py-evm; or connect("http://127.0.0.1:8545")
    admin = chain.dev_accounts()[0]
    suite = deploy_suite(chain, admin)
    alice = suite.medledger.connect_as(TxSender(chain, chain.dev_accounts()[1]))
    alice.register_patient(enc_key, b"\\0" * 32, keyring_digest)
"""

from medledger.chain.artifacts import Artifact, artifacts_hash, load_artifact
from medledger.chain.connection import Chain, connect, embedded_chain
from medledger.chain.contracts import BoundContract
from medledger.chain.deployment import (
    DeployedContract,
    Deployment,
    Manifest,
    deploy_suite,
    load_deployment,
)
from medledger.chain.nonces import NonceManager
from medledger.chain.suite import AnchorRegistryContract, MedLedgerContract
from medledger.chain.transactions import TxSender
from medledger.chain.types import (
    AccessRequest,
    Anchor,
    Consent,
    DecodedEvent,
    GrantRequest,
    Guardians,
    LogHead,
    Patient,
    Provider,
    Record,
    Recovery,
    TxResult,
)

__all__ = [
    "AccessRequest",
    "Anchor",
    "AnchorRegistryContract",
    "Artifact",
    "BoundContract",
    "Chain",
    "Consent",
    "DecodedEvent",
    "DeployedContract",
    "Deployment",
    "GrantRequest",
    "Guardians",
    "LogHead",
    "Manifest",
    "MedLedgerContract",
    "NonceManager",
    "Patient",
    "Provider",
    "Record",
    "Recovery",
    "TxResult",
    "TxSender",
    "artifacts_hash",
    "connect",
    "deploy_suite",
    "embedded_chain",
    "load_artifact",
    "load_deployment",
]
