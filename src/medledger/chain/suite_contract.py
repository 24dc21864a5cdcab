"""The base of the shipped suite's typed bindings, and the argument helpers they share."""

from __future__ import annotations

from typing import ClassVar

from medledger.chain.artifacts import Artifact, load_artifact
from medledger.chain.connection import Chain
from medledger.chain.contracts import BoundContract
from medledger.chain.transactions import TxSender
from medledger.chain.types import bytes32


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


def key_words(encryption_key: bytes, key_document: bytes) -> tuple[bytes, bytes]:
    """An identity key and its key document's digest, as the contract's two ``bytes32``."""
    return bytes32(encryption_key, "encryption_key"), bytes32(key_document, "key_document")


def signed(nonce: int, deadline: int, signature: bytes) -> tuple[int, int, bytes]:
    """The tail every ``...BySig`` call ends with: the signer's nonce, the deadline and the
    EIP-712 signature."""
    return nonce, deadline, bytes(signature)
