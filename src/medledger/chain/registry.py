"""MedLedger bindings of the provider registry and its governance: providers, their keys,
suspension, ownership of the registry, and calldata for a multisig or timelock to send."""

from __future__ import annotations

from typing import Any

from medledger.chain.contracts import checksum as to_checksum_address
from medledger.chain.suite_contract import Ownable2StepCalls, key_words, signed
from medledger.chain.types import Provider, TxResult


def provider_args(
    provider: str, encryption_key: bytes, key_document: bytes, responder: bool, name: str
) -> tuple[Any, ...]:
    """The provider part of registerProvider's arguments, checked and normalised (the
    registry binding's and the consortium's proposals)."""
    return (
        to_checksum_address(provider),
        *key_words(encryption_key, key_document),
        responder,
        name,
    )


class ProviderRegistryCalls(Ownable2StepCalls):
    """Provider administration (consortium owner and suspender) and providers' own key rotation."""

    def register_provider(
        self,
        provider: str,
        encryption_key: bytes,
        key_document: bytes,
        emergency_responder: bool,
        name: str,
        nonce: int,
        deadline: int,
        provider_signature: bytes,
    ) -> TxResult:
        """Register a provider (consortium owner only); its key comes with the provider's own
        EIP-712 ``ProviderKey`` signature."""
        return self._tx(
            "registerProvider",
            *provider_args(provider, encryption_key, key_document, emergency_responder, name),
            *signed(nonce, deadline, provider_signature),
        )

    def update_provider(self, provider: str, emergency_responder: bool, name: str) -> TxResult:
        """Update a provider's responder flag and name (owner only; keys are the provider's)."""
        return self._tx("updateProvider", to_checksum_address(provider), emergency_responder, name)

    def set_provider_key(self, encryption_key: bytes, key_document: bytes) -> TxResult:
        """Rotate the sender's own provider key."""
        return self._tx(
            "setProviderKey",
            *key_words(encryption_key, key_document),
        )

    def set_provider_key_by_sig(
        self,
        provider: str,
        encryption_key: bytes,
        key_document: bytes,
        nonce: int,
        deadline: int,
        signature: bytes,
    ) -> TxResult:
        """Submit a provider-signed EIP-712 ProviderKey rotation."""
        return self._tx(
            "setProviderKeyBySig",
            to_checksum_address(provider),
            *key_words(encryption_key, key_document),
            *signed(nonce, deadline, signature),
        )

    def suspend_provider(self, provider: str) -> TxResult:
        """Suspend a provider: every consent check for it fails until reinstated (owner only)."""
        return self._tx("suspendProvider", to_checksum_address(provider))

    def reinstate_provider(self, provider: str) -> TxResult:
        """Lift a suspension (owner only)."""
        return self._tx("reinstateProvider", to_checksum_address(provider))

    def get_provider(self, provider: str) -> Provider:
        """A provider's registration (status 0 = not registered)."""
        return Provider(*self._view("getProvider", to_checksum_address(provider)))

    def suspender(self) -> str:
        """The account that may suspend providers besides the owner (zero address when none).

        From the latest ``ProviderSuspenderChanged`` event: the contract has no getter (one
        more selector would cost the hot paths' dispatch, docs/decisions.md)."""
        events = self.get_events("ProviderSuspenderChanged")
        if not events:
            return "0x0000000000000000000000000000000000000000"
        return to_checksum_address(events[-1].args["suspender"])

    def set_suspender_account(self, suspender: str) -> TxResult:
        """Name the account that may also suspend providers (owner only)."""
        return self._tx("setSuspenderAccount", to_checksum_address(suspender))
