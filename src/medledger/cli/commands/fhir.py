"""``medledger fhir serve``: the FHIR R4 read API for an EHR, acting as one provider."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from medledger.cli.output import note
from medledger.cli.state import get_state, sdk_options

if TYPE_CHECKING:
    from medledger.client import Session


@click.group()
def fhir() -> None:
    """FHIR R4: serve records to an EHR over a FHIR API."""


def default_links(address: str) -> Path:
    from medledger.cli.profiles import home

    return home() / "fhir" / f"{address.lower()}.links.json"


@fhir.command(
    "serve",
    epilog="""\b
Examples:
  medledger fhir serve --as clinic                       # http://127.0.0.1:<free port>
  medledger fhir serve --as clinic --port 8080 --links links.json
  curl -H 'X-Purpose-Of-Use: TREAT' http://127.0.0.1:8080/Patient/<id>/\\$everything""",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="Port (0: any free one).")
@click.option(
    "--links",
    "links_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The link file (FHIR Patient id -> patient, resource -> record), or the patient "
    "mapping `medledger import fhir` wrote; default $MEDLEDGER_HOME/fhir/<address>.links.json.",
)
@sdk_options
def serve(host: str, port: int, links_path: Path | None) -> None:
    """Serve a FHIR R4 read API as the --as provider until interrupted.

    Every read of clinical data is consent-checked and logged on-chain before it is returned;
    the purpose of use is the X-Purpose-Of-Use header (default TREAT). See docs/fhir-api.md.
    Prints `listening on URL` when ready. No request paths are logged (they name patients).
    """
    from medledger.fhir.api import FhirLinks, create_app
    from medledger.services.runner import serve as run

    state = get_state()
    session = state.session()
    _check_provider_keys(session)
    path = links_path or default_links(session.address)
    links = FhirLinks.load(path)
    app = create_app(state.medledger(), session, links)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    api_log = logging.getLogger("medledger.fhir.api")
    api_log.addHandler(handler)
    api_log.setLevel(logging.INFO)

    def ready(url: str) -> None:
        note(f"{len(links.patients())} linked patient(s), {len(links)} indexed resource(s)")
        click.echo(f"listening on {url}", err=False)
        sys.stdout.flush()

    try:
        run(app, host, port, on_ready=ready)
    finally:
        session.custodians.close()  # the custodian HTTP clients and their worker threads
        if links.path is not None and (links.patients() or len(links)):
            links.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            links.save()  # what searches learnt (resource ids -> records; no content)


def _check_provider_keys(session: Session) -> None:
    """Refuse to serve as an account whose reads could never open anything: every key bundle it
    was granted, and every custodian re-encryption of a record in custodian mode, is bound to the
    encryption key it registered as a provider; an account with another identity key (a
    ``dev:N`` account, whose identity key is fresh each run) would answer every read with 500."""
    from medledger.errors import NotRegistered

    provider = session.contract.get_provider(session.address)
    if provider.status == 0:
        raise NotRegistered(
            f"{session.address} is not a registered provider",
            hint="the FHIR API acts as a provider: register it (`medledger register provider`)",
        )
    if provider.encryption_key != session.party.identity.x25519_public_bytes():
        raise NotRegistered(
            f"{session.address} is registered as a provider with another encryption key: no "
            "record granted to it (key bundles, custodian re-encryptions) would open",
            hint="run it as the keystore account that registered the provider",
        )
