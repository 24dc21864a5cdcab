"""``medledger register patient|provider``: on-chain identities."""

from __future__ import annotations

from typing import Any

import click

from medledger.cli.output import emit, kv_table
from medledger.cli.state import get_state, sdk_options
from medledger.cli.views import tx_facts


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

    Signed by the --as account, which must own the registry. The provider's public encryption
    key is read from its keystore file (no password needed).
    """
    from medledger.cli.views import public_keys

    state = get_state()
    address, public_key = public_keys(provider)
    receipt = state.session().providers.register(
        address, name=name, emergency_responder=emergency_responder, encryption_key=public_key
    )
    data = {
        "provider": address,
        "name": name,
        "emergency_responder": emergency_responder,
        **tx_facts(receipt),
    }
    emit(state.json, data, lambda con: con.print(kv_table(data, title="provider registered")))
