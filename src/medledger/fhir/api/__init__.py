"""A FHIR R4 read API over medledger (``medledger fhir serve``): see docs/fhir-api.md.

``create_app(ml, session, links)`` builds the ASGI app acting as ``session``'s provider;
serve it with :func:`medledger.services.runner.serve` (or ``BackgroundServer`` in tests).
"""

from medledger.fhir.api.app import FHIR_JSON, create_app
from medledger.fhir.api.links import FhirLinks, PatientLink
from medledger.fhir.api.outcomes import PURPOSE_HEADER

__all__ = ["FHIR_JSON", "PURPOSE_HEADER", "FhirLinks", "PatientLink", "create_app"]
