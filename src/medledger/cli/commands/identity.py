"""``medledger register patient|provider``: on-chain identities."""

from __future__ import annotations

from typing import Any

import click

from medledger.cli.output import emit, kv_table
from medledger.cli.state import get_state, is_dev_account, sdk_options
from medledger.cli.views import tx_facts
from medledger.errors import InvalidInput

#: ProviderRegistry.MAX_NAME_BYTES: longer names revert with ProviderInvalidName.
MAX_PROVIDER_NAME_BYTES = 64


def refuse_dev_identity(name: str, role: str) -> None:
    """Dev accounts (``dev:N``) have no keystore, so no lasting encryption key: refuse them
    as patients or providers (their identity key would differ from one command to the next
    and nothing sealed to it could ever be opened again)."""
    if is_dev_account(name):
        raise InvalidInput(
            f"{name} cannot be registered as a {role}: dev accounts have no keystore, so their "
            "encryption key would not survive this command",
            hint="create a key with `medledger keys create NAME`, fund it with `medledger fund "
            "NAME`, and register that",
        )


@click.group()
def register() -> None:
    """Register a patient (yourself) or a provider (consortium owner only)."""


@register.command(
    epilog="""\b
Example:
  medledger register patient --as alice"""
)
@click.option(
    "--pq",
    is_flag=True,
    help="Post-quantum hybrid keyring (ML-KEM-768 + X25519) for your categories.",
)
@sdk_options
def patient(pq: bool) -> None:
    """Register the --as account as a patient; publishes its encryption key and keyring."""
    state = get_state()
    refuse_dev_identity(state.account_name() or "", "patient")
    info = state.session().identity.register(suite="mlkem768-x25519" if pq else None)
    data: dict[str, Any] = {
        "patient_id": info.patient_id,
        "controller": info.controller,
        "keyring_cid": str(info.keyring_cid),
        **tx_facts(info.tx),
    }
    emit(state.json, data, lambda con: con.print(kv_table(data, title="patient registered")))


@register.command(
    epilog="""\b
Example (on the local node the consortium owner is dev account 0):
  medledger register provider clinic --name "Riverside Clinic" --as dev:0
  medledger register provider er --name "City ER" --emergency-responder --as dev:0"""
)
@click.argument("provider")
@click.option("--name", required=True, help="Display name, public on-chain.")
@click.option("--emergency-responder", is_flag=True, help="May open break-glass access.")
@sdk_options
def provider(provider: str, name: str, emergency_responder: bool) -> None:
    """Register PROVIDER (a key name or a keystore .json file) in the provider registry.

    Sent by the --as account, which must own the registry. The provider's keystore is unlocked
    too (MEDLEDGER_PASSWORD or a prompt): v2 puts a provider's encryption key on-chain only with
    the provider's own EIP-712 signature over it.
    """
    from pathlib import Path

    from medledger.cli.state import read_password
    from medledger.client import Party

    size = len(name.encode("utf-8"))
    if not 0 < size <= MAX_PROVIDER_NAME_BYTES:
        raise InvalidInput(
            f"a provider name is 1 to {MAX_PROVIDER_NAME_BYTES} bytes of UTF-8 ({size} given)",
            hint="use a shorter display name; it is public on-chain",
        )
    state = get_state()
    refuse_dev_identity(provider, "provider")
    if provider.endswith(".json"):
        party = Party.from_keystore(Path(provider), read_password(f"Password for {provider}"))
    else:
        party = state.party(provider)
    address = party.address
    receipt = state.session().providers.register(
        party, name=name, emergency_responder=emergency_responder
    )
    data = {
        "provider": address,
        "name": name,
        "emergency_responder": emergency_responder,
        **tx_facts(receipt),
    }
    emit(state.json, data, lambda con: con.print(kv_table(data, title="provider registered")))
