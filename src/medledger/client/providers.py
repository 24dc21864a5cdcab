"""``session.providers``: the consortium's provider registry (register, suspend, reinstate)."""

from __future__ import annotations

from eth_utils.address import to_checksum_address

from medledger.chain.types import ZERO32, Provider, TxResult
from medledger.client._base import Namespace
from medledger.client.documents import pinned
from medledger.client.types import Party
from medledger.crypto import PublicKey, Suite
from medledger.errors import InvalidInput, NotAuthorized


class ProvidersNamespace(Namespace):
    def register(
        self,
        party: Party | str,
        name: str,
        emergency_responder: bool = False,
        encryption_key: PublicKey | None = None,
    ) -> TxResult:
        """Register a provider (this session must be the consortium owner)."""
        if isinstance(party, Party):
            address, key = party.address, party.identity.public_key
        else:
            if encryption_key is None:
                raise InvalidInput("registering by address needs the provider's encryption_key")
            address, key = to_checksum_address(party), encryption_key
        if not name.strip():
            raise InvalidInput("a provider needs a name")
        if self._contract.owner() != self._address:
            raise NotAuthorized(
                f"{self._address} is not the consortium owner of the provider registry",
                hint="act as the registry owner (the deployer unless ownership was transferred)",
            )
        with pinned(self._store) as pins:
            key_doc = ZERO32
            if key.suite is not Suite.X25519:
                key_doc = pins.put(key.encode()).digest
            return self._contract.register_provider(
                address, key.x25519_public_bytes(), key_doc, emergency_responder, name
            )

    def suspend(self, address: str) -> TxResult:
        return self._contract.suspend_provider(to_checksum_address(address))

    def reinstate(self, address: str) -> TxResult:
        return self._contract.reinstate_provider(to_checksum_address(address))

    def get(self, address: str) -> Provider:
        """The registry entry of ``address`` (status 0 = not a provider)."""
        return self._directory.get(address)

    def name(self, address: str) -> str | None:
        """The registry name of a provider, ``None`` if not a provider."""
        return self._directory.name(address)
