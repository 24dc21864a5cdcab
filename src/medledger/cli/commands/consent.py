"""Consent: ``grant``, ``revoke``, ``relay`` (signed consents), ``emergency``, ``break-glass``."""

from __future__ import annotations

import json
from typing import Any

import click

from medledger.cli.options import PATIENT_ID
from medledger.cli.output import emit, kv_table, print_json, when
from medledger.cli.parsing import parse_duration, parse_time, split_names
from medledger.cli.state import get_state, sdk_options
from medledger.cli.views import tx_facts
from medledger.errors import InvalidInput


def grant_view(info: Any) -> dict[str, Any]:
    """A GrantInfo as plain data (names for codes)."""
    from medledger.codes import Action

    return {
        "patient_id": info.patient_id,
        "grantee": info.grantee,
        "categories": [c.name.lower() for c in info.categories],
        "purposes": [p.name.lower() for p in info.purposes],
        "actions": [str(a.name).lower() for a in Action if info.actions & a],
        "valid_from": info.valid_from,
        "valid_until": info.valid_until,
        "key_bundle_cid": str(info.key_bundle_cid),
        "refreshed_bundles": list(info.refreshed),
        **tx_facts(info),
    }


@click.command(
    epilog="""\b
Examples:
  medledger grant 0xSpecialist --as alice --category labs --purpose treatment --for 30d
  medledger grant clinic --as alice -c allergies,labs -p treatment -a read,write --for 1y
  medledger grant 0xStudy --as alice -c labs -p research --for 2w --sign-only > consent.json
  medledger relay consent.json --as dev:0"""
)
@click.argument("grantee")
@click.option(
    "-c",
    "--category",
    "categories",
    multiple=True,
    required=True,
    help="Record categories (repeat or comma-separate): allergies, labs, ...",
)
@click.option(
    "-p",
    "--purpose",
    "purposes",
    multiple=True,
    required=True,
    help="Purposes: treatment, emergency, research, ...",
)
@click.option(
    "-a",
    "--action",
    "actions",
    multiple=True,
    default=("read",),
    show_default=True,
    help="read and/or write.",
)
@click.option(
    "--for",
    "duration",
    metavar="DURATION",
    default=None,
    help="How long from now: 24h, 30d, 2w, 1y.",
)
@click.option(
    "--until",
    "until",
    metavar="TIME",
    default=None,
    help="Or an end time: ISO 8601 (UTC unless an offset is given) or unix seconds.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Replace the grantee's current consent (a grantee holds one consent per patient).",
)
@click.option(
    "--sign-only",
    is_flag=True,
    help="Do not send: print an EIP-712 signed grant (JSON) for `medledger relay`.",
)
@sdk_options
def grant(
    grantee: str,
    categories: tuple[str, ...],
    purposes: tuple[str, ...],
    actions: tuple[str, ...],
    duration: str | None,
    until: str | None,
    replace: bool,
    sign_only: bool,
) -> None:
    """Give GRANTEE (address or key name) access to categories of your records, for purposes.

    The grantee receives, sealed to their encryption key, the category keys of epochs that start
    before the grant ends; a new key epoch starts when it ends, so later records stay closed.
    """
    from medledger import codes
    from medledger.cli import resolve

    if (duration is None) == (until is None):
        raise InvalidInput(
            "give exactly one of --for DURATION or --until TIME",
            hint="e.g. --for 30d; every consent ends",
        )
    state = get_state()
    kwargs: dict[str, Any] = {
        "categories": [codes.category(c).name.lower() for c in split_names(categories)],
        "purposes": [codes.purpose(p).name.lower() for p in split_names(purposes)],
        "actions": split_names(actions),
    }
    if duration is not None:
        kwargs["duration"] = parse_duration(duration)
    else:
        assert until is not None
        kwargs["valid_until"] = parse_time(until)
    address = resolve.address(grantee)
    ml = state.medledger()
    _check_window(ml.now(), kwargs)
    session = state.session()
    _check_replace(session, address, replace)
    if sign_only:
        signed = session.consent.sign_grant(address, **kwargs)
        print_json(signed.to_json())
        return
    info = session.consent.grant(address, **kwargs)
    data = grant_view(info)

    def human(con: Any) -> None:
        until = data["valid_until"]
        forever = until >= 2**32 - 1
        con.print(
            f"granted {', '.join(data['categories'])} for "
            f"{', '.join(data['purposes'])} to {address}"
            + (" (no expiry)" if forever else f" until {when(until)}")
        )
        view = {
            **data,
            "valid_from": when(data["valid_from"]),
            "valid_until": "never" if forever else when(until),
        }
        con.print(kv_table(view))

    emit(state.json, data, human)


def _check_window(now: int, kwargs: dict[str, Any]) -> None:
    """The grant's end, checked against chain time and the time range before anything is sent."""
    from medledger.cli.output import when
    from medledger.cli.parsing import check_time

    if "duration" in kwargs:
        end = now + int(kwargs["duration"].total_seconds())
        check_time(end, f"a grant ending {end - now} s from now")
        return
    end = int(kwargs["valid_until"])
    check_time(end, f"--until {end}")
    if end <= now:
        raise InvalidInput(
            f"--until {when(end)} is in the past (chain time is {when(now)})",
            hint="give a later time, or --for DURATION",
        )


def _check_replace(session: Any, grantee: str, replace: bool) -> None:
    """A grantee holds one consent per patient: a new grant replaces the old one whole. Say what
    would be replaced and require --replace, so adding a purpose never silently wipes a grant."""
    from medledger import codes
    from medledger.cli.output import when

    if replace:
        return
    current = session.contract.get_consent(session.patient_id(), grantee)
    if not current.exists or current.valid_until <= session.ml.now():
        return
    cats = ", ".join(c.name.lower() for c in codes.unmask_categories(current.categories))
    purposes = ", ".join(p.name.lower() for p in codes.unmask_purposes(current.purposes))
    acts = ", ".join(str(a.name).lower() for a in codes.Action if current.actions & a)
    raise InvalidInput(
        f"{grantee} already holds a consent ({cats} for {purposes}, {acts}, until "
        f"{when(current.valid_until)}) and a new grant replaces it whole",
        hint="repeat with --replace, listing everything the grantee should keep",
    )


@click.command()
@click.argument("grantee")
@click.option(
    "--sign-only",
    is_flag=True,
    help="Do not send: print an EIP-712 signed revocation (JSON) for `medledger relay`.",
)
@sdk_options
def revoke(grantee: str, sign_only: bool) -> None:
    """Withdraw GRANTEE's consent now (a new key epoch starts: later records stay closed)."""
    from medledger.cli import resolve

    state = get_state()
    address = resolve.address(grantee)
    session = state.session()
    if sign_only:
        signed = session.consent.sign_revoke(address)
        print_json(signed.to_json())
        return
    receipt = session.consent.revoke(address)
    # a re-run after an interrupted revoke completes its key rotation (issue 13 point 2)
    done = "completed the pending key rotation for" if receipt.completed else "revoked consent of"
    data = {"revoked": address, "rotation_completed": receipt.completed, **tx_facts(receipt)}
    emit(state.json, data, lambda con: con.print(f"{done} {address}"))


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
        raise InvalidInput(
            f"{getattr(file, 'name', 'input')} is not JSON: {exc}",
            hint="pass the output of `medledger grant ... --sign-only`",
        ) from None
    if not isinstance(raw, dict):
        raise InvalidInput(
            "a signed consent is a JSON object",
            hint="pass the output of `medledger grant ... --sign-only`",
        )
    signed = SignedConsent.from_json(raw)
    receipts = state.session().relay.submit(signed)
    steps = [st.op for st in signed.steps]
    data = {
        "relayed": signed.kind,
        "patient_id": signed.patient_id,
        "grantee": signed.grantee,
        "steps": steps,
        "transactions": [str(r.tx_hash) for r in receipts],
        "gas_used": sum(int(r.gas_used) for r in receipts),
    }
    emit(
        state.json,
        data,
        lambda con: con.print(
            f"relayed signed {data['relayed']} ({len(receipts)} transactions: {', '.join(steps)})"
        ),
    )


@click.command()
@click.option(
    "-c",
    "--category",
    "categories",
    multiple=True,
    help="Emergency categories (default: allergies, medications, conditions).",
)
@click.option(
    "--max",
    "max_duration",
    metavar="DURATION",
    default=None,
    help="Longest break-glass window (at most 24h).",
)
@click.option("--opt-out", is_flag=True, help="Refuse break-glass access entirely.")
@click.option(
    "--responder",
    "responders",
    multiple=True,
    help="Emergency responder (address or key name) to seal the emergency kit to.",
)
@sdk_options
def emergency(
    categories: tuple[str, ...],
    max_duration: str | None,
    opt_out: bool,
    responders: tuple[str, ...],
) -> None:
    """Configure break-glass access to your records (patient)."""
    from medledger.cli import resolve

    state = get_state()
    receipt = state.session().emergency.configure(
        categories=split_names(categories) or None,
        max_duration=parse_duration(max_duration) if max_duration else None,
        opt_out=opt_out,
        responders=[resolve.address(r) for r in split_names(responders)],
    )
    data = {"opt_out": opt_out, **tx_facts(receipt)}
    emit(state.json, data, lambda con: con.print("emergency access configured"))


@click.command(
    "break-glass",
    epilog="""\b
Example:
  medledger break-glass 7 --as er --reason unconscious_patient --for 24h \\
      --justification "Unresponsive on arrival" """,
)
@click.argument("patient_id", type=PATIENT_ID)
@click.option(
    "--reason",
    required=True,
    type=click.Choice(
        ["unconscious_patient", "life_threatening", "unable_to_consent", "other"],
        case_sensitive=False,
    ),
)
@click.option(
    "--for",
    "duration",
    metavar="DURATION",
    default=None,
    help="Window (default: the patient's maximum, at most 24h).",
)
@click.option("--justification", default="", help="Free text; only its digest goes on-chain.")
@sdk_options
def break_glass(patient_id: int, reason: str, duration: str | None, justification: str) -> None:
    """Open emergency access to a patient's emergency categories (emergency responders).

    Logged on-chain with the reason; expires by itself.
    """
    state = get_state()
    info = state.session().emergency.break_glass(
        patient_id,
        reason=reason,
        duration=parse_duration(duration) if duration else None,
        justification=justification,
    )
    data = {
        "patient_id": info.patient_id,
        "responder": info.responder,
        "reason": info.reason.name.lower(),
        "expires_at": info.expires_at,
        **tx_facts(info),
    }
    emit(
        state.json,
        data,
        lambda con: con.print(
            f"break-glass open for patient {patient_id} until {when(info.expires_at)} "
            f"(tx {data['tx_hash']})"
        ),
    )
