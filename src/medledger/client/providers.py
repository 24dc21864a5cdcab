"""``session.providers``: the consortium's provider registry (register, suspend, reinstate).

v2: the consortium owner registers a provider's identity and flags, but the provider's
encryption key goes on-chain only with the provider's own EIP-712 ``ProviderKey`` signature
(an owner cannot substitute a key it controls). Key rotation is the provider's own business
(:meth:`ProvidersNamespace.rotate_key`).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.address import to_checksum_address

from medledger.chain import eip712
from medledger.chain.types import ZERO32, Provider, TxResult
from medledger.client._base import Namespace
from medledger.client.documents import pinned
from medledger.client.types import DEFAULT_SIGNATURE_TTL, Party
from medledger.crypto import PublicKey, Suite
from medledger.errors import InvalidInput, NotAuthorized


@dataclass(frozen=True)
class ProviderKeySignature:
    """A provider's signature over its own encryption key (EIP-712 ``ProviderKey``)."""

    provider: str
    encryption_key: PublicKey
    nonce: int
    deadline: int
    signature: bytes


class ProvidersNamespace(Namespace):
    def register(
        self,
        party: Party | str,
        name: str,
        emergency_responder: bool = False,
        encryption_key: PublicKey | None = None,
        *,
        key_signature: ProviderKeySignature | None = None,
    ) -> TxResult:
        """Register a provider (this session must be the consortium owner).

        With a :class:`Party` the provider's key signature is made here with its account;
        registering by address needs the provider's ``key_signature``
        (``provider_session.providers.sign_key()``).
        """
        if isinstance(party, Party):
            address, key = party.address, party.identity.public_key
        else:
            address = to_checksum_address(party)
            if key_signature is None:
                raise InvalidInput(
                    "registering by address needs the provider's key signature",
                    hint="the provider runs session.providers.sign_key() and hands it over",
                )
            if to_checksum_address(key_signature.provider) != address:
                raise InvalidInput("the key signature is from another provider")
            if encryption_key is not None and encryption_key != key_signature.encryption_key:
                raise InvalidInput("encryption_key differs from the key the provider signed")
            key = key_signature.encryption_key
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
            if isinstance(party, Party):
                nonce = self._contract.nonces(address, eip712.KEY_PROVIDER)
                deadline = self._chain.now() + DEFAULT_SIGNATURE_TTL
                sig = self._sign_key(party, key, key_doc, nonce, deadline)
            else:
                assert key_signature is not None
                nonce, deadline, sig = (
                    key_signature.nonce,
                    key_signature.deadline,
                    key_signature.signature,
                )
            return self._contract.register_provider(
                address,
                key.x25519_public_bytes(),
                key_doc,
                emergency_responder,
                name,
                nonce,
                deadline,
                sig,
            )

    def sign_key(self, *, deadline: int | None = None) -> ProviderKeySignature:
        """This party's signature over its own identity key, for the consortium owner to
        register it (stores the key document when the suite needs one)."""
        key = self._party.identity.public_key
        key_doc = ZERO32
        if key.suite is not Suite.X25519:
            key_doc = self._store.put(key.encode()).digest
        nonce = self._contract.nonces(self._address, eip712.KEY_PROVIDER)
        dl = deadline if deadline is not None else self._chain.now() + DEFAULT_SIGNATURE_TTL
        sig = self._sign_key(self._party, key, key_doc, nonce, dl)
        return ProviderKeySignature(self._address, key, nonce, dl, sig)

    def rotate_key(self) -> TxResult:
        """Publish this provider's current identity key (its own transaction)."""
        key = self._party.identity.public_key
        if self._contract.get_provider(self._address).status == 0:
            raise NotAuthorized(f"{self._address} is not a registered provider")
        with pinned(self._store) as pins:
            key_doc = ZERO32
            if key.suite is not Suite.X25519:
                key_doc = pins.put(key.encode()).digest
            return self._contract.set_provider_key(key.x25519_public_bytes(), key_doc)

    def _sign_key(
        self, party: Party, key: PublicKey, key_doc: bytes, nonce: int, deadline: int
    ) -> bytes:
        msg = eip712.provider_key_message(
            party.address, key.x25519_public_bytes(), key_doc, nonce, deadline
        )
        return eip712.sign_typed(
            party.account,
            "ProviderKey",
            msg,
            chain_id=self._chain.chain_id,
            verifying_contract=self._contract.address,
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
