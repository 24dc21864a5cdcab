"""The one exception hierarchy of medledger.

Every error the SDK raises on purpose derives from :class:`MedledgerError`. Callers that only care
whether something failed catch the root; callers that can act on a failure catch the subclass
(``AccessDenied`` -> ask for consent, ``StoreUnavailable`` -> retry later, ...).

Contract custom errors are decoded by name into these classes (see ``medledger.chain.errors``);
``ContractError.name`` and ``ContractError.args_by_name`` keep the raw decoded revert.
"""

from __future__ import annotations

from typing import Any


class MedledgerError(Exception):
    """Root of every medledger error."""

    #: A short hint telling the user how to fix the problem (shown by the CLI).
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


# --- input ---------------------------------------------------------------------------------


class InvalidInput(MedledgerError, ValueError):
    """The caller passed something malformed; nothing was sent or stored."""


class NotARegularFile(InvalidInput):
    """A write target exists and is not a regular file (device, symlink, directory): refused,
    since replacing it by rename would replace the node itself (``/dev/null`` as root)."""


# --- consent and access --------------------------------------------------------------------


class AccessDenied(MedledgerError):
    """The on-chain consent check refused an access (the denial itself was logged on-chain)."""

    def __init__(
        self,
        message: str,
        *,
        outcome: int | None = None,
        tx_hash: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.outcome = outcome
        self.tx_hash = tx_hash


class ConsentExpired(AccessDenied):
    """The grant existed but its validity window has ended."""


class NotRegistered(MedledgerError):
    """A patient, provider or grantee is not registered on-chain."""


class NotAuthorized(MedledgerError):
    """The signing account is not allowed to perform this operation (not the controller, ...)."""


# --- chain ---------------------------------------------------------------------------------


class ChainError(MedledgerError):
    """Talking to the chain failed."""


class ChainUnavailable(ChainError):
    """The JSON-RPC endpoint cannot be reached."""


class ToolNotFound(ChainError):
    """A local node's executable (anvil, hardhat) is not installed or not where configured."""


class TransactionFailed(ChainError):
    """A transaction reverted or could not be sent."""

    def __init__(self, message: str, *, tx_hash: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.tx_hash = tx_hash


class ContractError(TransactionFailed):
    """A contract reverted with a custom error, decoded by name with its arguments."""

    def __init__(
        self,
        name: str,
        args_by_name: dict[str, Any] | None = None,
        *,
        message: str | None = None,
        tx_hash: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.name = name
        self.args_by_name = dict(args_by_name or {})
        rendered = ", ".join(f"{k}={v!r}" for k, v in self.args_by_name.items())
        super().__init__(message or f"{name}({rendered})", tx_hash=tx_hash, hint=hint)


class SignatureError(MedledgerError):
    """An EIP-712 signature is invalid, expired or already used."""


class StaleKeyring(MedledgerError):
    """The patient's on-chain keyring moved since this change was planned (another flow won the
    compare-and-swap); reload the keyring and plan again."""


class RotationPending(MedledgerError):
    """A party was cut off (consent revoked or narrowed, provider suspended, responder removed)
    but the patient's keyring still holds key epochs that party was given for records written
    from now on: nobody may seal to it or grant from it until the patient completes the rotation
    (``session.keys.complete_rotation()``, or ``medledger rotate``)."""

    def __init__(
        self, message: str, *, parties: tuple[str, ...] = (), hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        #: the cut-off parties that still hold keys of future records
        self.parties = parties


class DeploymentNotFound(ChainError):
    """No deployment manifest matches the connected chain."""


# --- storage -------------------------------------------------------------------------------


class StorageError(MedledgerError):
    """A record store operation failed."""


class StoreUnavailable(StorageError):
    """The store (IPFS node) cannot be reached."""


class StoreTimeout(StoreUnavailable):
    """The store did not answer in time (e.g. a block nobody has, asked of an offline node)."""


class ContentTooLarge(StorageError):
    """Content is larger than the caller's cap (checked from the verified root before reading,
    and again while reading): nothing beyond the cap was fetched."""


class BlockNotFound(StorageError, KeyError):
    """The store does not hold the requested content."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class IntegrityError(MedledgerError):
    """Content, a signature chain or an archive does not match what it must match."""


# --- crypto --------------------------------------------------------------------------------


class CryptoError(MedledgerError):
    """Decryption or key handling failed."""


class DecryptionFailed(CryptoError, IntegrityError):
    """Authenticated decryption failed: wrong key, or ciphertext/associated data tampered with."""


class KeyNotAvailable(CryptoError):
    """The caller holds no key for this record (e.g. an epoch after their access ended)."""


class PostQuantumDowngrade(InvalidInput):
    """Sealing a post-quantum (ML-KEM-768+X25519) patient's keys to a classical X25519 key was
    refused: it would expose them to a harvest-now-decrypt-later attacker. ``recipients`` names
    the classical grantees/responders; the caller may accept with ``allow_classical=True``."""

    def __init__(
        self, message: str, *, recipients: tuple[str, ...] = (), hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.recipients = recipients


class KeyMismatch(DecryptionFailed):
    """A key does not match what it is committed to: a key from a bundle or kit differs from the
    patient's published epoch public key, or a record's data key differs from its header's key
    commitment (a malicious patient or writer handing different readers different keys)."""


class RecordTimeMismatch(IntegrityError):
    """A record's sealed ``created_at`` lies outside its key epoch's validity window, or too far
    from the on-chain time the record was registered (a back-dated or stale write)."""


class KeystoreError(CryptoError):
    """A keystore file cannot be read, or the password is wrong."""


# --- custodians ----------------------------------------------------------------------------


class CustodianError(MedledgerError):
    """A custodian (threshold re-encryption service) failed or refused; ``custodian`` names it
    (URL or address) and ``code`` is the protocol's reason code (``replayed``, ``erased``, ...)."""

    def __init__(
        self, message: str, *, custodian: str = "", code: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.custodian = custodian
        self.code = code


class CustodianRefused(CustodianError):
    """A custodian answered with a 4xx and a reason code: it checked the request and said no."""


class CustodianUnreachable(CustodianError):
    """A custodian could not be reached, timed out, or failed on its side (5xx)."""


class ForgedFragment(CustodianError):
    """A re-encryption fragment (or a receipt) from a custodian failed verification."""


class CustodiansUnavailable(MedledgerError):
    """Fewer custodians than the threshold answered; ``unavailable`` maps each failed custodian
    to why it failed."""

    def __init__(
        self, message: str, *, unavailable: dict[str, str], hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.unavailable = dict(unavailable)
