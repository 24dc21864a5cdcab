"""What each contract custom error means, in words a user acts on: a sentence and a hint.

:func:`medledger.chain.errors.decode_revert` uses these as the error's message and hint, so a
revert never surfaces as a raw Solidity name (``ProviderInvalidName()``); the name stays on
``ContractError.name`` for programs. ``{arg}`` placeholders are the error's decoded arguments.
tests/cli/test_error_text.py fails on a contract error that has no entry here.
"""

from __future__ import annotations

from typing import Any

# errors that two contracts raise for the same situation
_NO_SUCH_RECORD = (
    "patient {patientId} has no record {recordId}",
    "list the records with `medledger record list`",
)
_CLOCK_PAST_RANGE = (
    "the chain clock is past the contracts' time range",
    "this deployment cannot be used any more; redeploy",
)

#: ``{custom error name: (sentence, hint or None)}``
ERROR_TEXT: dict[str, tuple[str, str | None]] = {
    "AccessControlBadConfirmation": ("a role can only be renounced by its own holder", None),
    "AccessControlUnauthorizedAccount": ("{account} does not hold the timelock role this needs",
                                         "only the consortium Safe proposes, executes and "
                                         "cancels; go through `medledger consortium propose`"),
    "FailedCall": ("the call the timelock executed failed",
                   "check the scheduled operation with `medledger consortium status`"),
    "TimelockInsufficientDelay": ("a delay of {delay} s is below the timelock's minimum of "
                                  "{minDelay} s", None),
    "TimelockInvalidOperationLength": ("a batched operation has {targets} targets, {payloads} "
                                       "payloads and {values} values; they must match", None),
    "TimelockUnauthorizedCaller": ("{caller} may not call this timelock function directly",
                                   "timelock settings change only through a scheduled "
                                   "operation"),
    "TimelockUnexecutedPredecessor": ("the operation this one depends on ({predecessorId}) has "
                                      "not been executed yet", "execute it first"),
    "TimelockUnexpectedOperationState": ("timelock operation {operationId} is not in the state "
                                         "this needs (not yet ready, already done or unknown)",
                                         "see `medledger consortium status` for when it is "
                                         "ready"),
    "AccessLogInvalidPurpose": ("purpose code {purpose} is not a known purpose",
                                "use treatment, emergency, research, ... (see docs/cli.md)"),
    "AccessLogNoStanding": ("{caller} has no standing to read records of patient {patientId}",
                            "ask the patient for consent first"),
    "AccessLogUnknownRecord": _NO_SUCH_RECORD,
    "AnchorRegistryAlreadyAnchored": ("this batch root is already anchored in that stream",
                                      "nothing to do; prove items against the existing anchor"),
    "AnchorRegistryEmptyBatch": ("an anchored batch needs at least one item", None),
    "AnchorRegistryInvalidRoot": ("the batch root is empty (zero)", None),
    "AnchorRegistryProofTooLong": ("the inclusion proof has {length} steps, more than allowed",
                                   "split the batch into smaller ones"),
    "AnchorRegistryTimeOverflow": _CLOCK_PAST_RANGE,
    "BreakGlassCooldown": ("break-glass for this patient is in its cooldown until {until}",
                           "wait until the cooldown ends"),
    "BreakGlassDurationTooLong": ("a break-glass window of {duration} s exceeds the patient's "
                                  "maximum of {maxDuration} s", "ask for a shorter --for"),
    "BreakGlassInvalidReason": ("break-glass reason {reason} is not a known reason",
                                "use unconscious_patient, life_threatening, unable_to_consent "
                                "or other"),
    "BreakGlassNotAllowedToClose": ("{caller} may not close this break-glass access",
                                    "only the responder or the patient closes it"),
    "BreakGlassNotOpen": ("no break-glass access of {responder} to patient {patientId} is open",
                          None),
    "BreakGlassNotResponder": ("{caller} is not a registered emergency responder",
                               "the consortium registers responders with "
                               "--emergency-responder"),
    "BreakGlassOptedOut": ("patient {patientId} has opted out of break-glass access", None),
    "ConsentBatchNotAscending": ("grantees of a batch must be in ascending address order "
                                 "(entry {index})", None),
    "ConsentGranteeNotProvider": ("{grantee} is not a registered provider",
                                  "the consortium registers providers first"),
    "ConsentGranteeSuspended": ("provider {grantee} is suspended",
                                "ask the consortium to reinstate it"),
    "ConsentInvalidActions": ("the action set {actions} is not valid", "use -a read and/or write"),
    "ConsentInvalidCategories": ("the category set {categories} is not valid",
                                 "give at least one known category with -c"),
    "ConsentInvalidPurposes": ("the purpose set {purposes} is not valid",
                               "give at least one known purpose with -p"),
    "ConsentInvalidWindow": ("the consent window {validFrom}..{validUntil} is not valid",
                             "the end must be after the start and after now (--for / --until)"),
    "ConsentNotFound": ("{grantee} holds no consent from patient {patientId}",
                        "see the grants in `medledger audit`"),
    "IdentityAddressInUse": ("{account} already belongs to a patient",
                             "each account controls at most one patient"),
    "IdentityInvalidBreakGlassCooldown": ("a break-glass cooldown of {cooldown} s is not allowed",
                                          None),
    "IdentityInvalidBreakGlassDuration": ("a break-glass maximum of {maxDuration} s is not "
                                          "allowed", "use --max up to 24h"),
    "IdentityInvalidController": ("{account} cannot be a patient's controller",
                                  "use a non-zero address that controls no patient"),
    "IdentityInvalidEmergencyCategories": ("the emergency category set {categories} is not "
                                           "valid", "give known categories with -c"),
    "IdentityInvalidEncryptionKey": ("the encryption key is malformed", None),
    "IdentityNotProposed": ("{caller} was not proposed as controller of patient {patientId}",
                            None),
    "IdentityStaleKeyring": ("the patient's keyring changed while this change was prepared",
                             "run the command again"),
    "InvalidAccountNonce": ("this signature's nonce was already used or skipped",
                            "sign the operation again (a signed operation is valid once)"),
    "InvalidShortString": ("a stored short string is malformed", None),
    "MedLedgerBatchTooLarge": ("a batch of {length} exceeds the limit of {max}",
                               "split it into smaller batches"),
    "MedLedgerDeadlineTooFar": ("the signature's deadline is too far in the future",
                                "sign again with a nearer deadline"),
    "MedLedgerInvalidSignature": ("the signature is not valid for this operation (wrong signer, "
                                  "altered, or already used)",
                                  "ask the patient to sign the operation again"),
    "MedLedgerNotController": ("the signing account does not control this patient",
                               "act as the patient's controller (--as)"),
    "MedLedgerSignatureExpired": ("the signed operation expired at {deadline}",
                                  "ask the patient to sign it again"),
    "MedLedgerStaleEpoch": ("the patient revoked or changed controller after signing this "
                            "operation", "ask the patient to sign it again"),
    "MedLedgerTimeOverflow": _CLOCK_PAST_RANGE,
    "MedLedgerUnknownPatient": ("there is no patient {patientId}",
                                "patient ids are printed by `medledger register patient`"),
    "OwnableInvalidOwner": ("{owner} cannot own the registry", None),
    "OwnableUnauthorizedAccount": ("{account} is not the consortium owner",
                                   "register providers as the owner (dev:0 on the local node)"),
    # CustodianRegistry (issue 16)
    "CustodianRegistryAlreadyRegistered": (
        "{custodian} is already a registered custodian (removed addresses are never reused)",
        None,
    ),
    "CustodianRegistryInvalidAddress": ("the custodian address is empty (zero)", None),
    "CustodianRegistryInvalidCategories": (
        "category mask {categories} is empty or names unknown categories",
        None,
    ),
    "CustodianRegistryInvalidKey": ("the custodian's encryption key is empty (zero)", None),
    "CustodianRegistryInvalidList": (
        "a custodian policy needs 1 or more distinct custodians in ascending order (got {length})",
        None,
    ),
    "CustodianRegistryInvalidText": (
        "the custodian's name must be 1-64 bytes and its endpoint 1-256 bytes",
        None,
    ),
    "CustodianRegistryInvalidThreshold": (
        "threshold {threshold} is not between 1 and the {custodians} custodians",
        None,
    ),
    "CustodianRegistryInvalidUmbralKeys": (
        "the patient's Umbral keys must be two 33-byte compressed points",
        None,
    ),
    "CustodianRegistryKeyNotSet": (
        "custodian {custodian} has not published its encryption key yet",
        "ask the custodian to run its key registration first",
    ),
    "CustodianRegistryNotActive": ("{custodian} is not an active custodian", None),
    "CustodianRegistryNotController": (
        "{caller} does not control patient {patientId}",
        "sign with the patient's own key",
    ),
    "CustodianRegistryRenounceDisabled": (
        "the custodian registry's ownership cannot be renounced",
        None,
    ),
    "ProviderAlreadyRegistered": ("{provider} is already a registered provider", None),
    "ProviderInvalidAddress": ("{provider} is not a valid provider address", None),
    "ProviderInvalidEncryptionKey": ("the provider's encryption key is malformed", None),
    "ProviderInvalidName": ("the provider name must be 1 to 64 bytes",
                            "use a shorter --name"),
    "ProviderNotActive": ("provider {provider} is not active", None),
    "ProviderNotRegistered": ("{provider} is not a registered provider",
                              "the consortium registers providers first"),
    "ProviderNotSuspended": ("provider {provider} is not suspended", None),
    "ProviderRegistryRenounceDisabled": ("the registry's ownership cannot be renounced", None),
    "RecordAlreadyErased": ("record {recordId} is already erased", None),
    "RecordAlreadyExists": ("patient {patientId} already has record {recordId}",
                            "the same content was added before"),
    "RecordBatchLengthMismatch": (
        "a record batch of {records} ids came with {categories} categories and {cidCodecs} codecs",
        "send one category and one codec per record",
    ),
    "RecordInvalidCategory": ("category code {category} is not a known category", None),
    "RecordInvalidCodec": ("CID codec {cidCodec} is not accepted for records", None),
    "RecordInvalidId": ("the record id is empty (zero)", None),
    "RecordNoStanding": ("{author} may not add records for patient {patientId}",
                         "ask the patient for a write grant (-a write)"),
    "RecordNotFound": _NO_SUCH_RECORD,
    "RecordStaleKeyring": ("the patient's keyring changed while this record was prepared",
                           "run the command again"),
    "RecoveryAlreadyApproved": ("guardian {guardian} already approved this candidate", None),
    "RecoveryCandidateIsGuardian": ("{candidate} is a guardian and cannot be the new controller",
                                    None),
    "RecoveryDelayNotElapsed": ("the recovery delay has not passed yet (until {executableAt})",
                                "run accept again after that time"),
    "RecoveryExpired": ("the recovery expired at {expiresAt}", "start the approvals again"),
    "RecoveryInvalidDelay": ("a recovery delay of {delay} s is not allowed", None),
    "RecoveryInvalidGuardians": ("the guardian list is not valid (empty, duplicates or the "
                                 "patient)", None),
    "RecoveryInvalidThreshold": ("a threshold of {threshold} does not fit {guardians} "
                                 "guardians", None),
    "RecoveryNotGuardian": ("{caller} is not a guardian of this patient", None),
    "RecoveryNotScheduled": ("{caller} has no recovery scheduled for patient {patientId}", None),
    "RecoveryNothingPending": ("no recovery is pending", None),
    "SafeCastOverflowedUintDowncast": ("a value ({value}) does not fit {bits} bits",
                                       "check the numbers given (times, ids)"),
    "StringTooLong": ("a text value is too long", None),
}  # fmt: skip


def describe(name: str, args: dict[str, Any]) -> tuple[str, str | None] | None:
    """(sentence, hint) for custom error ``name`` with its decoded ``args``; None if unknown."""
    entry = ERROR_TEXT.get(name)
    if entry is None:
        return None
    sentence, hint = entry
    shown = {
        k: ("0x" + v.hex() if isinstance(v, bytes | bytearray) else v) for k, v in args.items()
    }
    try:
        return sentence.format(**shown), hint
    except (KeyError, IndexError, ValueError):
        return sentence, hint
