// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Codes
/// @notice The fixed code lists shared by the contracts and `src/medledger/codes.py` (docs/architecture.md).
/// @dev Categories and purposes are small integers; grants carry bit masks (`1 << code`).
library Codes {
    // --- categories (uint8 code, bit in a uint16 mask) ---
    uint8 internal constant CATEGORY_ALLERGIES = 0;
    uint8 internal constant CATEGORY_MEDICATIONS = 1;
    uint8 internal constant CATEGORY_CONDITIONS = 2;
    uint8 internal constant CATEGORY_LABS = 3;
    uint8 internal constant CATEGORY_IMAGING = 4;
    uint8 internal constant CATEGORY_NOTES = 5;
    uint8 internal constant CATEGORY_VITALS = 6;
    uint8 internal constant CATEGORY_IMMUNIZATIONS = 7;
    uint8 internal constant CATEGORY_PROCEDURES = 8;
    uint8 internal constant CATEGORY_GENOMICS = 9;
    /// @dev Number of defined categories; codes are `0 .. CATEGORY_COUNT - 1`.
    uint8 internal constant CATEGORY_COUNT = 10;
    /// @dev Every defined category bit.
    uint16 internal constant ALL_CATEGORIES = 0x03FF;
    /// @dev allergies | medications | conditions.
    uint16 internal constant DEFAULT_EMERGENCY_CATEGORIES = 0x0007;

    // --- purposes (uint8 code, bit in a uint16 mask) ---
    uint8 internal constant PURPOSE_TREATMENT = 0;
    uint8 internal constant PURPOSE_EMERGENCY = 1;
    uint8 internal constant PURPOSE_PAYMENT = 2;
    uint8 internal constant PURPOSE_OPERATIONS = 3;
    uint8 internal constant PURPOSE_RESEARCH = 4;
    uint8 internal constant PURPOSE_PUBLIC_HEALTH = 5;
    uint8 internal constant PURPOSE_PATIENT_REQUEST = 6;
    uint8 internal constant PURPOSE_LEGAL = 7;
    uint8 internal constant PURPOSE_COUNT = 8;
    uint16 internal constant ALL_PURPOSES = 0x00FF;

    // --- actions (uint8 mask) ---
    uint8 internal constant ACTION_READ = 1;
    uint8 internal constant ACTION_WRITE = 2;
    uint8 internal constant ALL_ACTIONS = 3;

    // --- hash-chain outcome codes (< 16 = allowed / not a denial) ---
    // Reads (recordAccess):
    uint8 internal constant OUTCOME_ALLOWED_CONSENT = 0;
    uint8 internal constant OUTCOME_ALLOWED_PATIENT = 1;
    uint8 internal constant OUTCOME_ALLOWED_EMERGENCY = 2;
    // Patient-touching operations, each one chain entry:
    uint8 internal constant OUTCOME_BREAK_GLASS_OPENED = 3;
    uint8 internal constant OUTCOME_BREAK_GLASS_CLOSED = 4;
    uint8 internal constant OUTCOME_CONSENT_GRANTED = 5;
    uint8 internal constant OUTCOME_CONSENT_REPLACED = 6;
    uint8 internal constant OUTCOME_CONSENT_REVOKED = 7;
    uint8 internal constant OUTCOME_RECORD_ADDED = 8;
    uint8 internal constant OUTCOME_RECORD_ERASED = 9;
    uint8 internal constant OUTCOME_CONTROLLER_CHANGED = 10;
    uint8 internal constant OUTCOME_PATIENT_REGISTERED = 11;
    // Read denials:
    uint8 internal constant OUTCOME_DENIED_NO_CONSENT = 16;
    uint8 internal constant OUTCOME_DENIED_EXPIRED = 17;
    uint8 internal constant OUTCOME_DENIED_NOT_YET_VALID = 18;
    uint8 internal constant OUTCOME_DENIED_CATEGORY = 19;
    uint8 internal constant OUTCOME_DENIED_PURPOSE = 20;
    uint8 internal constant OUTCOME_DENIED_ACTION = 21;
    uint8 internal constant OUTCOME_DENIED_SUSPENDED = 22;
    uint8 internal constant OUTCOME_DENIED_ERASED = 23;
    /// @dev A denied write (addRecord) is logged as its denial reason + 8: 24 no consent, 25
    ///      expired, 26 not yet valid, 27 category, 29 action, 30 suspended.
    uint8 internal constant OUTCOME_WRITE_DENIAL_OFFSET = 8;
    /// @dev Outcomes below this value mean "allowed" (or an operation entry).
    uint8 internal constant OUTCOME_FIRST_DENIAL = 16;

    // --- break-glass reasons ---
    uint8 internal constant REASON_UNCONSCIOUS_PATIENT = 0;
    uint8 internal constant REASON_LIFE_THREATENING = 1;
    uint8 internal constant REASON_UNABLE_TO_CONSENT = 2;
    uint8 internal constant REASON_OTHER = 3;
    /// @dev Longest break-glass window a patient may allow (24 h).
    uint32 internal constant MAX_BREAK_GLASS_SECONDS = 86_400;
    /// @dev Default and minimum break-glass cooldown after a window ends (24 h, 1 h), and maximum (30 days).
    uint32 internal constant DEFAULT_BREAK_GLASS_COOLDOWN = 86_400;
    uint32 internal constant MIN_BREAK_GLASS_COOLDOWN = 3_600;
    uint32 internal constant MAX_BREAK_GLASS_COOLDOWN = 2_592_000;

    // --- provider status ---
    uint8 internal constant PROVIDER_NONE = 0;
    uint8 internal constant PROVIDER_ACTIVE = 1;
    uint8 internal constant PROVIDER_SUSPENDED = 2;

    // --- CID codecs of record ciphertexts ---
    uint8 internal constant CID_CODEC_RAW = 0x55;
    uint8 internal constant CID_CODEC_DAG_PB = 0x70;
}
