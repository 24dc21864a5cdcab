"""The provider directory: names, encryption keys and checks on grantees and responders."""

from __future__ import annotations

from medledger.chain.contracts import checksum as to_checksum_address
from medledger.chain.suite import MedLedgerContract
from medledger.chain.types import ZERO32, Provider
from medledger.client.documents import DocumentStore
from medledger.crypto import PublicKey
from medledger.errors import InvalidInput, NotRegistered


class ProviderDirectory:
    """Reads the provider registry (names cached for the life of the deployment object)."""

    def __init__(self, contract: MedLedgerContract, documents: DocumentStore) -> None:
        self._contract = contract
        self._documents = documents
        self._names: dict[str, str] = {}

    def get(self, address: str) -> Provider:
        return self._contract.get_provider(to_checksum_address(address))

    def name(self, address: str) -> str | None:
        """The registry name of a provider, ``None`` if not a provider."""
        addr = to_checksum_address(address)
        if addr not in self._names:
            p = self._contract.get_provider(addr)
            if p.status == 0:
                return None
            self._names[addr] = p.name
        return self._names[addr]

    def all(self, *, active_only: bool = True) -> list[tuple[str, Provider]]:
        """Every registered provider (address, entry) from the ``ProviderRegistered`` events,
        by name; suspended ones only with ``active_only=False``."""
        seen = {
            to_checksum_address(e.args["provider"])
            for e in self._contract.get_events("ProviderRegistered")
        }
        out = []
        for addr in seen:
            p = self._contract.get_provider(addr)
            if p.status == 0 or (active_only and not p.is_active):
                continue
            self._names[addr] = p.name
            out.append((addr, p))
        return sorted(out, key=lambda item: (item[1].name.lower(), item[0]))

    def public_key(self, provider: Provider) -> PublicKey:
        """A provider's encryption public key (the key document when it has one)."""
        if provider.key_document != ZERO32:
            return PublicKey.decode(self._documents.get(provider.key_document))
        return PublicKey.from_x25519_bytes(provider.encryption_key)

    def active(self, grantee: str) -> tuple[str, Provider]:
        """A grantee that can receive a grant: registered and not suspended."""
        addr = to_checksum_address(grantee)
        provider = self._contract.get_provider(addr)
        if provider.status == 0:
            raise NotRegistered(
                f"grantee {addr} is not a registered provider",
                hint="the consortium registers providers (with their encryption key) first",
            )
        if provider.status != 1:
            raise InvalidInput(f"grantee {addr} is suspended; grants to it would not work")
        return addr, provider

    def responder_key(self, address: str) -> PublicKey:
        """The key an emergency kit is sealed to (registered emergency responders only)."""
        provider = self._contract.get_provider(address)
        if provider.status == 0:
            raise NotRegistered(f"responder {address} is not a registered provider")
        if not provider.emergency_responder:
            raise InvalidInput(f"{address} ({provider.name}) is not an emergency responder")
        return self.public_key(provider)
