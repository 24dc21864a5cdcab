"""Consent: ``grant``, ``revoke``, ``relay`` (EIP-712 signed consents), ``emergency``, ``break-glass``."""

from __future__ import annotations

import json
from typing import Any

import click

from medledger.cli.output import emit, kv_table, print_json, to_jsonable, when
from medledger.cli.parsing import parse_duration, split_names
from medledger.cli.state import get_state, sdk_options
from medledger.errors import InvalidInput


def _tx(receipt: Any) -> dict[str, Any]:
    return {
        "tx_hash": to_jsonable(getattr(receipt, "tx_hash", None)),
        "gas_used": getattr(receipt, "gas_used", None),
        "block": getattr(receipt, "block_number", None),
    }


def _grant_view(info: Any) -> dict[str, Any]:
    data: dict[str, Any] = to_jsonable(info)
    if isinstance(data, dict):
        tx = getattr(info, "tx", None)
        if tx is not None:
            data["tx"] = _tx(tx)
    return data


@click.command(
    epilog="""\b
Examples:
  medledger grant 0xSpecialist --as alice --category labs --purpose treatment --for 30d
  medledger grant clinic --as alice -c allergies,labs -p treatment -a read,write --for 1y
  medledger grant 0xStudy --as alice -c labs -p research --for 2w --sign-only > consent.json
  medledger relay consent.json --as dev:0"""
)
@click.argument("grantee")
@click.option("-c", "--category", "categories", multiple=True, required=True,
              help="Record categories (repeat or comma-separate): allergies, labs, ...")
@click.option("-p", "--purpose", "purposes", multiple=True, required=True,
              help="Purposes: treatment, emergency, research, ...")
@click.option("-a", "--action", "actions", multiple=True, default=("read",), show_default=True,
              help="read and/or write.")
@click.option("--for", "duration", metavar="DURATION", default=None,
              help="How long: 24h, 30d, 2w, 1y (default: no expiry).")
@click.option("--sign-only", is_flag=True,
              help="Do not send: print an EIP-712 signed grant (JSON) for `medledger relay`.")
@sdk_options
def grant(grantee: str, categories: tuple[str, ...], purposes: tuple[str, ...],
          actions: tuple[str, ...], duration: str | None, sign_only: bool) -> None:
    """Give GRANTEE (address or key name) access to categories of your records, for purposes.

    The grantee receives, sealed to their encryption key, the category keys of epochs that start
    before the grant ends; a new key epoch starts when it ends, so later records stay closed.
    """
    from medledger.cli import resolve

    state = get_state()
    kwargs: dict[str, Any] = {
        "categories": split_names(categories),
        "purposes": split_names(purposes),
        "actions": split_names(actions),
        "duration": parse_duration(duration) if duration else None,
    }
    address = resolve.address(grantee)
    session = state.session()
    if sign_only:
        signed = session.sign_grant(address, **kwargs)
        print_json(signed.to_json() if hasattr(signed, "to_json") else signed)
        return
    info = session.grant(address, **kwargs)
    data = _grant_view(info)

    def human(con: Any) -> None:
        until = getattr(info, "valid_until", None)
        con.print(f"granted {', '.join(kwargs['categories'])} for "
                  f"{', '.join(kwargs['purposes'])} to {address}"
                  + (f" until {when(until)}" if until else " (no expiry)"))
        con.print(kv_table(data))

    emit(state.json, data, human)


@click.command()
@click.argument("grantee")
@click.option("--sign-only", is_flag=True,
              help="Do not send: print an EIP-712 signed revocation (JSON) for `medledger relay`.")
@sdk_options
def revoke(grantee: str, sign_only: bool) -> None:
    """Withdraw GRANTEE's consent now (a new key epoch starts: later records stay closed)."""
    from medledger.cli import resolve

    state = get_state()
    address = resolve.address(grantee)
    session = state.session()
    if sign_only:
        signed = session.sign_revoke(address)
        print_json(signed.to_json() if hasattr(signed, "to_json") else signed)
        return
    receipt = session.revoke(address)
    data = {"revoked": address, **_tx(receipt)}
    emit(state.json, data, lambda con: con.print(f"revoked consent of {address}"))


@click.command()
@click.argument("file", type=click.File("r"))
@sdk_options
def relay(file: Any) -> None:
    """Submit a signed grant or revocation (FILE from `--sign-only`, or - for stdin).

    The relayer (--as) pays the gas; the patient who signed needs no ETH.
    """
    from medledger.client import SignedConsent

    state = get_state()
    try:
        raw = json.load(file)
    except ValueError as exc:
        raise InvalidInput(f"{getattr(file, 'name', 'input')} is not JSON: {exc}",
                           hint="pass the output of `medledger grant ... --sign-only`") from None
    signed = SignedConsent.from_json(raw)
    receipt = state.session().relay(signed)
    data = {"relayed": getattr(signed, "kind", "consent"), **_tx(receipt)}
    emit(state.json, data, lambda con: con.print(f"relayed signed {data['relayed']}"))


@click.command()
@click.option("-c", "--category", "categories", multiple=True,
              help="Emergency categories (default: allergies, medications, conditions).")
@click.option("--max", "max_duration", metavar="DURATION", default=None,
              help="Longest break-glass window (at most 24h).")
@click.option("--opt-out", is_flag=True, help="Refuse break-glass access entirely.")
@click.option("--responder", "responders", multiple=True,
              help="Emergency responder (address or key name) to seal the emergency kit to.")
@sdk_options
def emergency(categories: tuple[str, ...], max_duration: str | None, opt_out: bool,
              responders: tuple[str, ...]) -> None:
    """Configure break-glass access to your records (patient)."""
    from medledger.cli import resolve

    state = get_state()
    receipt = state.session().configure_emergency(
        categories=split_names(categories) or None,
        max_duration=parse_duration(max_duration) if max_duration else None,
        opt_out=opt_out,
        responders=[resolve.address(r) for r in split_names(responders)],
    )
    data = {"opt_out": opt_out, **_tx(receipt)}
    emit(state.json, data, lambda con: con.print("emergency access configured"))


@click.command("break-glass", epilog="""\b
Example:
  medledger break-glass 7 --as er --reason unconscious_patient --for 24h \\
      --justification "Unresponsive on arrival" """)
@click.argument("patient_id", type=int)
@click.option("--reason", required=True,
              type=click.Choice(["unconscious_patient", "life_threatening", "unable_to_consent",
                                 "other"], case_sensitive=False))
@click.option("--for", "duration", metavar="DURATION", default=None,
              help="Window (default: the patient's maximum, at most 24h).")
@click.option("--justification", default="", help="Free text; only its digest goes on-chain.")
@sdk_options
def break_glass(patient_id: int, reason: str, duration: str | None, justification: str) -> None:
    """Open emergency access to a patient's emergency categories (emergency responders).

    Logged on-chain with the reason; expires by itself.
    """
    state = get_state()
    info = state.session().break_glass(
        patient_id, reason=reason, duration=parse_duration(duration) if duration else None,
        justification=justification,
    )
    data = _grant_view(info)
    expires = getattr(info, "expires_at", None)
    emit(state.json, data, lambda con: con.print(
        f"break-glass open for patient {patient_id} until {when(expires)}"))

