"""The base of the shipped suite's typed bindings, and the argument helpers they share."""

from __future__ import annotations

from typing import ClassVar

from medledger.chain.artifacts import Artifact, load_artifact
from medledger.chain.connection import Chain
from medledger.chain.contracts import BoundContract, checksum
from medledger.chain.transactions import TxSender
from medledger.chain.types import TxResult, bytes32


class SuiteContract(BoundContract):
    """A binding of one of the shipped suite's contracts: the artifact defaults to the shipped
    one named by ``ARTIFACT``."""

    ARTIFACT: ClassVar[str]

    def __init__(
        self,
        chain: Chain,
        address: str,
        *,
        sender: TxSender | None = None,
        deploy_block: int = 0,
        artifact: Artifact | None = None,
    ) -> None:
        super().__init__(
            chain,
            address,
            artifact or load_artifact(self.ARTIFACT),
            sender=sender,
            deploy_block=deploy_block,
        )


class Ownable2StepCalls(SuiteContract):
    """OpenZeppelin ``Ownable2Step``, as both registries the consortium governs have it: the
    owner, the pending owner and the two steps of a transfer."""

    def owner(self) -> str:
        """The registry's owner (the consortium's timelock once governed)."""
        return checksum(self._view("owner"))

    def pending_owner(self) -> str:
        """The address that may accept ownership (zero address when none)."""
        return checksum(self._view("pendingOwner"))

    def transfer_ownership(self, new_owner: str) -> TxResult:
        """Offer the registry to ``new_owner`` (owner only; it must accept)."""
        return self._tx("transferOwnership", checksum(new_owner))

    def accept_ownership(self) -> TxResult:
        """Accept a pending ownership transfer (pending owner only)."""
        return self._tx("acceptOwnership")


def key_words(encryption_key: bytes, key_document: bytes) -> tuple[bytes, bytes]:
    """An identity key and its key document's digest, as the contract's two ``bytes32``."""
    return bytes32(encryption_key, "encryption_key"), bytes32(key_document, "key_document")


def signed(nonce: int, deadline: int, signature: bytes) -> tuple[int, int, bytes]:
    """The tail every ``...BySig`` call ends with: the signer's nonce, the deadline and the
    EIP-712 signature."""
    return nonce, deadline, bytes(signature)
