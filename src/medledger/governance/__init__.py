"""Consortium governance: a Safe 1.4.1 multisig (npm build artifacts) behind an OpenZeppelin
``TimelockController`` owning the provider registry. See docs/governance.md."""

from medledger.governance.consortium import Consortium, ConsortiumSetup, create_consortium
from medledger.governance.proposal import (
    OperationNotReady,
    Proposal,
    ProposalAlreadyExecuted,
    ProposalTampered,
    ThresholdNotReached,
)
from medledger.governance.safe import (
    SafeContract,
    SafeSigner,
    SafeTx,
    safe_message_hash,
    safe_tx_hash,
)
from medledger.governance.timelock import DEFAULT_MIN_DELAY, ScheduledChange

__all__ = [
    "DEFAULT_MIN_DELAY",
    "Consortium",
    "ConsortiumSetup",
    "OperationNotReady",
    "Proposal",
    "ProposalAlreadyExecuted",
    "ProposalTampered",
    "SafeContract",
    "SafeSigner",
    "SafeTx",
    "ScheduledChange",
    "ThresholdNotReached",
    "create_consortium",
    "safe_message_hash",
    "safe_tx_hash",
]
