"""HTTP client of one custodian (protocol v1, docs/custodians.md).

Every failure is typed: a 4xx answer raises :class:`CustodianRefused` with the custodian's reason
code; a connection error, a timeout, a 5xx or an answer that is not the protocol's JSON raises
:class:`CustodianUnreachable`. The client never verifies cfrags (that needs the reader's keys):
the SDK does, and raises ``ForgedFragment``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from medledger.custodian.protocol import (
    PROTOCOL_VERSION,
    CapsuleRegistration,
    CapsuleRegistrationBatch,
    Delegation,
    Erasure,
    Reencryption,
    Revocation,
    SignedReceipt,
    capsule_entries_to_json,
    parse_hex,
    to_hex,
)
from medledger.errors import CustodianError, CustodianRefused, CustodianUnreachable, InvalidInput


@dataclass(frozen=True)
class CustodianInfo:
    """``GET /v1/info``: the custodian's identity and policy."""

    address: str
    #: raw 32-byte X25519 public key kfrags are sealed to
    encryption_key: bytes
    chain_id: int
    medledger: str
    finality: int
    max_age: int


class CustodianClient:
    """One custodian's HTTP API. Use as a context manager, or call :meth:`close`."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        # Idle connections are dropped well before the server's keep-alive timeout (uvicorn
        # closes after 5 s by default; `custodian serve` uses 15 s): reusing a connection the
        # server is closing fails the request with no answer, and a POST is not retried.
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            limits=httpx.Limits(max_keepalive_connections=20, keepalive_expiry=2.0),
        )

    def __repr__(self) -> str:
        return f"CustodianClient({self.url!r})"

    def __enter__(self) -> CustodianClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- plumbing ----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        try:
            if timeout is None:
                response = self._http.request(method, path, json=body)
            else:
                response = self._http.request(method, path, json=body, timeout=timeout)
        except httpx.HTTPError as exc:
            name = type(exc).__name__
            if isinstance(exc, httpx.TimeoutException):
                message, code = f"custodian {self.url} timed out ({name})", "timeout"
            else:
                message, code = f"cannot reach custodian {self.url}: {name}", "unreachable"
            raise CustodianUnreachable(message, custodian=self.url, code=code) from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 400:
            code = f"http_{response.status_code}"
            message = response.reason_phrase
            if isinstance(payload, dict):
                code = str(payload.get("error") or code)
                message = str(payload.get("message") or message)
            error = CustodianRefused if response.status_code < 500 else CustodianUnreachable
            raise error(
                f"custodian {self.url} refused ({code}): {message}"
                if error is CustodianRefused
                else f"custodian {self.url} failed ({code}): {message}",
                custodian=self.url,
                code=code,
            )
        if payload is None:
            raise CustodianUnreachable(
                f"custodian {self.url} answered with non-JSON",
                custodian=self.url,
                code="bad_response",
            )
        return payload

    def _receipt(self, payload: Any) -> SignedReceipt:
        try:
            return SignedReceipt.from_json(payload)
        except InvalidInput as exc:
            raise CustodianError(
                f"custodian {self.url} returned a malformed receipt: {exc}",
                custodian=self.url,
                code="bad_receipt",
            ) from None

    # --- API ---------------------------------------------------------------------------------

    def health(self) -> bool:
        """True when ``/health`` answers ok."""
        try:
            return bool(self._request("GET", "/health").get("status") == "ok")
        except CustodianError:
            return False

    def ready(self) -> dict[str, Any]:
        """``/ready``'s body; raises CustodianUnreachable (code ``chain_behind``...) when not."""
        payload = self._request("GET", "/ready")
        return dict(payload) if isinstance(payload, dict) else {}

    def info(self) -> CustodianInfo:
        payload = self._request("GET", "/v1/info")
        try:
            if payload.get("version") != PROTOCOL_VERSION:
                raise InvalidInput(f"protocol version {payload.get('version')!r} is not supported")
            return CustodianInfo(
                address=str(payload["address"]),
                encryption_key=parse_hex(payload["encryptionKey"], "encryptionKey", 32),
                chain_id=int(payload["chainId"]),
                medledger=str(payload["medledger"]),
                finality=int(payload["finality"]),
                max_age=int(payload["maxAge"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CustodianError(
                f"custodian {self.url} returned malformed info: {exc}",
                custodian=self.url,
                code="bad_response",
            ) from None

    def delegate(
        self,
        delegation: Delegation,
        sealed_kfrag: bytes,
        delegating_pk: bytes,
        receiving_pk: bytes,
        verifying_pk: bytes,
        signature: bytes,
    ) -> SignedReceipt:
        body = {
            "delegation": delegation.to_json(),
            "kfrag": to_hex(sealed_kfrag),
            "delegatingPk": to_hex(delegating_pk),
            "receivingPk": to_hex(receiving_pk),
            "verifyingPk": to_hex(verifying_pk),
            "signature": to_hex(signature),
        }
        return self._receipt(self._request("POST", "/v1/delegations", body))

    def register_capsule(
        self, registration: CapsuleRegistration, signature: bytes
    ) -> SignedReceipt:
        """Tell the custodian which capsule belongs to a record (write-once; author or
        controller signs)."""
        body = {"registration": registration.to_json(), "signature": to_hex(signature)}
        return self._receipt(self._request("POST", "/v1/capsules", body))

    def register_capsules(
        self,
        registration: CapsuleRegistrationBatch,
        entries: list[tuple[bytes, bytes]],
        signature: bytes,
        *,
        timeout: float | None = None,
    ) -> SignedReceipt:
        """Register the capsules of several records at once: ``entries`` are ``(record id,
        capsule digest)`` pairs hashing to the signed ``entriesDigest``. The custodian makes one
        chain call per record, so ``timeout`` (default: the client's) should grow with them."""
        body = {
            "registration": registration.to_json(),
            "entries": capsule_entries_to_json(entries),
            "signature": to_hex(signature),
        }
        payload = self._request("POST", "/v1/capsules/batch", body, timeout=timeout)
        return self._receipt(payload)

    def revoke(self, revocation: Revocation, signature: bytes) -> SignedReceipt:
        body = {"revocation": revocation.to_json(), "signature": to_hex(signature)}
        return self._receipt(self._request("POST", "/v1/revocations", body))

    def erase(self, erasure: Erasure, signature: bytes) -> SignedReceipt:
        body = {"erasure": erasure.to_json(), "signature": to_hex(signature)}
        return self._receipt(self._request("POST", "/v1/erasures", body))

    def reencrypt(
        self, request: Reencryption, capsule: bytes, signature: bytes
    ) -> tuple[bytes, SignedReceipt]:
        """One cfrag (``VerifiedCapsuleFrag`` bytes, unverified here) and the signed receipt."""
        body = {
            "request": request.to_json(),
            "capsule": to_hex(capsule),
            "signature": to_hex(signature),
        }
        payload = self._request("POST", "/v1/reencrypt", body)
        try:
            cfrag = parse_hex(payload.get("cfrag"), "cfrag")
        except (InvalidInput, AttributeError) as exc:
            raise CustodianError(
                f"custodian {self.url} returned a malformed cfrag: {exc}",
                custodian=self.url,
                code="bad_response",
            ) from None
        return cfrag, self._receipt(payload)

    def decisions(self, patient_id: int | None = None, since: int = 0) -> list[dict[str, Any]]:
        """The custodian's append-only decision log (newest last)."""
        params = f"?since={int(since)}" + (
            f"&patientId={int(patient_id)}" if patient_id is not None else ""
        )
        payload = self._request("GET", "/v1/decisions" + params)
        return list(payload) if isinstance(payload, list) else []
