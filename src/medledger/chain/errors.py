"""Turn contract reverts into typed medledger errors, on every backend.

Nodes report revert data differently:

* Anvil / geth: JSON-RPC ``error.data`` is the hex revert data;
* Hardhat 2: ``error.data`` is ``{"message": ..., "data": "0x..."}`` (also on
  ``eth_sendRawTransaction``, because its automine executes the transaction immediately);
* web3.py wraps them as ``ContractCustomError`` / ``ContractLogicError`` / ``ContractPanicError``
  (``.data``: hex string or the dict above) or ``Web3RPCError`` (``.rpc_response``);
* the embedded py-evm chain is adapted by :mod:`medledger.chain.connection` to report
  ``error.data`` like Anvil;
* some nodes only put ``... return data: 0x...`` in the message text.

:func:`revert_data` digs the bytes out of any of these; :func:`decode_revert` decodes them by
selector against every known ``error`` ABI entry into :class:`medledger.errors.ContractError`.

Class choice: a decoded error is always a ``ContractError`` (so ``.name``, ``.args_by_name`` and
``.tx_hash`` are always there and ``except TransactionFailed`` catches every revert). When
:data:`ERROR_CLASSES` lists the name (``ProviderNotRegistered``, ``MedLedgerNotController``,
``MedLedgerInvalidSignature``...), the raised object is *also* an instance of the specific
class (``NotRegistered``, ``NotAuthorized``, ``SignatureError``...): we build one subclass of
both per pair, cached, e.g. ``class NotRegisteredContractError(ContractError, NotRegistered)``.
So callers catch whichever they care about and never need to inspect ``__cause__``.
"""

from __future__ import annotations

import ast
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from eth_abi.abi import encode as abi_encode
from hexbytes import HexBytes
from web3.exceptions import ContractLogicError

from medledger import errors as mle
from medledger.chain.codec import ERROR_STRING_SELECTOR, AbiRegistry
from medledger.chain.error_text import describe

# Every custom error of the suite's ABIs is in exactly one of ERROR_CLASSES and GENERIC_ERRORS
# (tests/chain/test_errors.py walks src/medledger/artifacts/*.json and fails on one that is in
# neither): a new contract error is one line here, and a forgotten one fails the tests instead of
# silently falling back to the generic class.
_SIG = mle.SignatureError
_REG = mle.NotRegistered
_AUTH = mle.NotAuthorized
_BAD = mle.InvalidInput

#: ``{custom error name: the specific class it is also raised as}``. An app that registers its
#: own contracts' ABIs may add its error names here the same way.
ERROR_CLASSES: dict[str, type[mle.MedledgerError]] = {
    # signatures, deadlines, nonces
    "InvalidAccountNonce": _SIG,  # OpenZeppelin Nonces
    "MedLedgerInvalidSignature": _SIG,
    "MedLedgerSignatureExpired": _SIG,
    "MedLedgerDeadlineTooFar": _SIG,
    "MedLedgerStaleEpoch": _SIG,  # a direct revoke or controller change killed the signature
    # compare-and-swap lost: the keyring changed since it was read
    "IdentityStaleKeyring": mle.StaleKeyring,
    "RecordStaleKeyring": mle.StaleKeyring,
    # unknown parties
    "ConsentGranteeNotProvider": _REG,
    "MedLedgerUnknownPatient": _REG,
    "ProviderNotRegistered": _REG,
    # wrong caller
    "BreakGlassNotResponder": _AUTH,
    "MedLedgerNotController": _AUTH,
    "OwnableUnauthorizedAccount": _AUTH,
    "RecordNoStanding": _AUTH,
    "AccessLogNoStanding": _AUTH,
    "BreakGlassNotAllowedToClose": _AUTH,
    "IdentityNotProposed": _AUTH,
    "RecoveryNotGuardian": _AUTH,
    "AccessControlUnauthorizedAccount": _AUTH,  # ConsortiumTimelock roles
    "TimelockUnauthorizedCaller": _AUTH,
    # refused by the patient's choice
    "BreakGlassOptedOut": mle.AccessDenied,
    "BreakGlassCooldown": mle.AccessDenied,
    # bad arguments
    "AccessLogInvalidPurpose": _BAD,
    "AnchorRegistryInvalidRoot": _BAD,
    "AnchorRegistryProofTooLong": _BAD,
    "BreakGlassDurationTooLong": _BAD,
    "BreakGlassInvalidReason": _BAD,
    "ConsentInvalidActions": _BAD,
    "ConsentInvalidCategories": _BAD,
    "ConsentInvalidPurposes": _BAD,
    "ConsentInvalidWindow": _BAD,
    "ConsentBatchNotAscending": _BAD,
    "IdentityInvalidBreakGlassCooldown": _BAD,
    "RecoveryInvalidDelay": _BAD,
    "RecoveryCandidateIsGuardian": _BAD,
    "IdentityInvalidBreakGlassDuration": _BAD,
    "IdentityInvalidController": _BAD,
    "IdentityInvalidEmergencyCategories": _BAD,
    "IdentityInvalidEncryptionKey": _BAD,
    "InvalidShortString": _BAD,  # OpenZeppelin ShortStrings
    "MedLedgerBatchTooLarge": _BAD,
    "OwnableInvalidOwner": _BAD,
    "ProviderInvalidAddress": _BAD,
    "ProviderInvalidEncryptionKey": _BAD,
    "ProviderInvalidName": _BAD,
    "RecordBatchLengthMismatch": _BAD,
    "RecordInvalidCategory": _BAD,
    "RecordInvalidCodec": _BAD,
    "RecordInvalidId": _BAD,
    "RecoveryInvalidGuardians": _BAD,
    "RecoveryInvalidThreshold": _BAD,
    "StringTooLong": _BAD,  # OpenZeppelin ShortStrings
    "TimelockInsufficientDelay": _BAD,
    "TimelockInvalidOperationLength": _BAD,
    # CustodianRegistry (issue 16)
    "CustodianRegistryNotController": _AUTH,
    "CustodianRegistryInvalidAddress": _BAD,
    "CustodianRegistryInvalidText": _BAD,
    "CustodianRegistryInvalidKey": _BAD,
    "CustodianRegistryInvalidList": _BAD,
    "CustodianRegistryInvalidThreshold": _BAD,
    "CustodianRegistryInvalidCategories": _BAD,
    "CustodianRegistryInvalidUmbralKeys": _BAD,
}

#: Errors deliberately raised as plain ``ContractError``: state conflicts (already exists, not
#: found, not yet due) that no generic class describes better; callers match on ``.name``.
GENERIC_ERRORS: frozenset[str] = frozenset(
    {
        "AccessControlBadConfirmation",  # ConsortiumTimelock (OpenZeppelin) from here ...
        "FailedCall",
        "TimelockUnexecutedPredecessor",
        "TimelockUnexpectedOperationState",  # ... to here: not scheduled, not ready, done
        "AccessLogUnknownRecord",
        "CustodianRegistryAlreadyRegistered",  # CustodianRegistry state conflicts
        "CustodianRegistryNotActive",
        "CustodianRegistryKeyNotSet",
        "CustodianRegistryRenounceDisabled",
        "AnchorRegistryAlreadyAnchored",
        "AnchorRegistryEmptyBatch",
        "ConsentGranteeSuspended",
        "ConsentNotFound",
        "IdentityAddressInUse",
        "ProviderAlreadyRegistered",
        "ProviderNotActive",
        "ProviderNotSuspended",
        "ProviderRegistryRenounceDisabled",
        "RecordAlreadyErased",
        "RecordAlreadyExists",
        "RecordNotFound",
        "RecoveryAlreadyApproved",
        "RecoveryDelayNotElapsed",
        "RecoveryExpired",
        "BreakGlassNotOpen",
        "MedLedgerTimeOverflow",  # past year 36812: a deployment problem, not a user error
        "AnchorRegistryTimeOverflow",
        "RecoveryNotScheduled",
        "RecoveryNothingPending",
        "SafeCastOverflowedUintDowncast",  # OpenZeppelin SafeCast: a bug, not a user error
    }
)

_PANIC_REASONS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "invalid storage byte array",
    0x31: "pop on empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to a zero-initialized function",
}

_HEX_RE = re.compile(r"^0x(?:[0-9a-fA-F]{2})*$")
_RETURN_DATA_RE = re.compile(r"(?:return data|revert data|reverted with data):?\s*(0x[0-9a-fA-F]*)")

_class_cache: dict[type[mle.MedledgerError], type[mle.ContractError]] = {}
_class_lock = threading.Lock()


def _combined_class(specific: type[mle.MedledgerError]) -> type[mle.ContractError]:
    """``class <Specific>ContractError(ContractError, Specific)``, created once per class."""
    with _class_lock:
        cls = _class_cache.get(specific)
        if cls is None:
            cls = type(
                f"{specific.__name__}ContractError",
                (mle.ContractError, specific),
                {
                    "__module__": __name__,
                    "__doc__": f"A contract revert that means {specific.__name__}.",
                },
            )
            _class_cache[specific] = cls
        return cls


def error_class_for(name: str) -> type[mle.ContractError]:
    """The class a decoded custom error called ``name`` is raised as (generic if unlisted)."""
    specific = ERROR_CLASSES.get(name)
    if specific is None:
        return mle.ContractError
    if issubclass(specific, mle.ContractError):
        return specific
    return _combined_class(specific)


def _as_bytes(value: Any) -> bytes | None:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and _HEX_RE.match(value):
        return bytes(HexBytes(value))
    return None


def _from_structure(obj: Any, depth: int = 0) -> bytes | None:
    """Revert data inside a JSON-RPC ``error`` object or ``error.data`` value, any nesting."""
    if depth > 5:
        return None
    direct = _as_bytes(obj)
    if direct is not None:
        return direct
    if isinstance(obj, Mapping):
        for key in ("data", "return", "result", "output", "revert", "error"):
            if key in obj:
                found = _from_structure(obj[key], depth + 1)
                if found is not None:
                    return found
        # ganache-style {"0x<txhash>": {"return": "0x..."}}
        for value in obj.values():
            if isinstance(value, Mapping):
                found = _from_structure(value, depth + 1)
                if found is not None:
                    return found
        message = obj.get("message")
        if isinstance(message, str):
            return _from_message(message)
    return None


def _from_message(message: str) -> bytes | None:
    m = _RETURN_DATA_RE.search(message)
    return bytes(HexBytes(m.group(1))) if m else None


def revert_bytes_from_tester_message(message: str) -> bytes | None:
    """eth-tester stringifies revert bytes (``b'...'``) or decodes an Error(string) reason."""
    text = message.removeprefix("execution reverted: ").strip()
    if text.startswith(("b'", 'b"')):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return None
        return bytes(value) if isinstance(value, bytes) else None
    return ERROR_STRING_SELECTOR + abi_encode(["string"], [text])


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert bytes carried by an exception from web3/eth-tester, or None.

    Walks ``__cause__`` / ``__context__`` so wrapped errors work too. Returns ``b""`` for a
    revert without data (``revert()`` / ``require(cond)``) when the node says so explicitly.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _revert_data_one(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _revert_data_one(exc: BaseException) -> bytes | None:
    data = getattr(exc, "data", None)
    if data is not None:
        found = _from_structure(data)
        if found is not None:
            return found
    rpc_response = getattr(exc, "rpc_response", None)
    if isinstance(rpc_response, Mapping) and "error" in rpc_response:
        found = _from_structure(rpc_response["error"])
        if found is not None:
            return found
    if type(exc).__module__.startswith("eth_tester") and exc.args and isinstance(exc.args[0], str):
        return revert_bytes_from_tester_message(exc.args[0])
    for arg in exc.args:
        found = _from_structure(arg) if isinstance(arg, Mapping) else None
        if found is None and isinstance(arg, str):
            found = _from_message(arg)
        if found is not None:
            return found
    return None


def error_from_rpc_error(
    error: Mapping[str, Any], registry: AbiRegistry, *, what: str
) -> mle.ChainError:
    """The typed error for a raw JSON-RPC ``error`` object (revert or not)."""
    data = _from_structure(error)
    if data is None and "revert" in str(error.get("message", "")).lower():
        data = b""
    if data is not None:
        return decode_revert(data, registry)
    return mle.ChainError(f"{what} failed: {error.get('message', error)}")


def decode_revert(
    data: bytes,
    registry: AbiRegistry,
    *,
    tx_hash: str | None = None,
) -> mle.TransactionFailed:
    """The typed error for raw revert ``data`` (the caller raises it).

    Known custom errors become ``ContractError`` (plus the specific class, see the module doc);
    ``Error(string)`` becomes ``ContractError("Error", {"message": ...})``; ``Panic(uint256)``
    becomes ``ContractError("Panic", {"code": ...})``; unknown selectors
    ``ContractError("UnknownError", {"selector", "data"})``; empty data a plain
    ``TransactionFailed``.
    """
    if not data:
        return mle.TransactionFailed(
            "transaction reverted without a reason", tx_hash=tx_hash, hint=_tx_hint(tx_hash)
        )
    decoded = registry.decode_error(data)
    if decoded is None:
        return mle.ContractError(
            "UnknownError",
            {"selector": "0x" + data[:4].hex(), "data": "0x" + data.hex()},
            message=f"contract reverted with unknown error data 0x{data.hex()}",
            tx_hash=tx_hash,
        )
    name, args = decoded
    if name == "Error":
        return mle.ContractError(
            name, args, message=f"reverted: {args['message']}", tx_hash=tx_hash
        )
    if name == "Panic":
        code = int(args["code"])
        reason = _PANIC_REASONS.get(code, "unknown panic")
        return mle.ContractError(
            name, args, message=f"panic 0x{code:02x}: {reason}", tx_hash=tx_hash
        )
    text = describe(name, args)
    if text is None:
        return error_class_for(name)(name, args, tx_hash=tx_hash)
    sentence, hint = text
    return error_class_for(name)(name, args, message=sentence, tx_hash=tx_hash, hint=hint)


def _tx_hint(tx_hash: str | None) -> str | None:
    return f"inspect the transaction {tx_hash} with a tracer" if tx_hash else None


def error_from_exception(
    exc: BaseException,
    registry: AbiRegistry,
    *,
    tx_hash: str | None = None,
) -> mle.TransactionFailed | None:
    """The typed error for a revert raised by web3/eth-tester, or None if ``exc`` is no revert."""
    data = revert_data(exc)
    if data is None:
        if not isinstance(exc, ContractLogicError):
            return None
        data = b""  # web3 saw "execution reverted" but the node sent no data
    return decode_revert(data, registry, tx_hash=tx_hash)


def default_registry(extra_abis: Iterable[list[dict[str, Any]]] = ()) -> AbiRegistry:
    """A registry of the shipped suite's errors and events (missing artifacts are skipped)."""
    from medledger.chain.artifacts import SUITE, load_artifact

    abis: list[list[dict[str, Any]]] = []
    for name in SUITE:
        try:
            abis.append(load_artifact(name).abi)
        except mle.InvalidInput:
            continue  # not exported yet: only the extra ABIs are decodable
    return AbiRegistry([*abis, *extra_abis])


_shared: AbiRegistry | None = None


def shared_registry() -> AbiRegistry:
    """The process-wide registry (suite ABIs + whatever bindings registered), created lazily."""
    global _shared
    with _class_lock:
        if _shared is None:
            _shared = default_registry()
        return _shared
