"""The HTTP services (custodian, FHIR API, patient portal): one ASGI stack, one way to run it.

Each service is a FastAPI app built by a factory in its own package; :mod:`.runner` serves any of
them with uvicorn, bound to loopback unless told otherwise, with no request logging (paths can
carry patient identifiers; each service logs its own structured, PHI-free lines).
"""
