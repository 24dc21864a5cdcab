// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title IConsentManager
/// @notice Patient consent to providers (categories, actions, purposes, time window), its EIP-712
///         signed variants, and break-glass emergency access.
interface IConsentManager is IMedLedgerErrors {
    /// @notice One grant request (also the EIP-712 `Grant` payload minus patientId/nonce/deadline).
    struct GrantRequest {
        address grantee;
        uint16 categories;
        uint8 actions;
        uint16 purposes;
        uint32 validFrom;
        uint32 validUntil;
        bytes32 keyBundle;
    }

    /// @notice A stored consent (all zero = none).
    struct Consent {
        uint16 categories;
        uint8 actions;
        uint16 purposes;
        uint32 validFrom;
        uint32 validUntil;
    }

    event ConsentGranted(
        uint64 indexed patientId,
        address indexed grantee,
        uint16 categories,
        uint8 actions,
        uint16 purposes,
        uint32 validFrom,
        uint32 validUntil,
        bytes32 keyBundle
    );
    event ConsentRevoked(uint64 indexed patientId, address indexed grantee);
    event BreakGlassOpened(
        uint64 indexed patientId, address indexed responder, uint8 reason, uint32 expiresAt, bytes32 justification
    );

    /// @notice The grantee is not a registered provider.
    error ConsentGranteeNotProvider(address grantee);
    /// @notice The grantee is a suspended provider.
    error ConsentGranteeSuspended(address grantee);
    /// @notice The category mask is empty or has undefined bits.
    error ConsentInvalidCategories(uint16 categories);
    /// @notice The action mask is empty or has bits other than read (1) and write (2).
    error ConsentInvalidActions(uint8 actions);
    /// @notice The purpose mask is empty or has undefined bits.
    error ConsentInvalidPurposes(uint16 purposes);
    /// @notice The window must satisfy validFrom < validUntil and now < validUntil.
    error ConsentInvalidWindow(uint32 validFrom, uint32 validUntil);
    /// @notice There is no consent to revoke.
    error ConsentNotFound(uint64 patientId, address grantee);
    /// @notice The caller is not an active emergency responder.
    error BreakGlassNotResponder(address caller);
    /// @notice The patient opted out of break-glass (or has no emergency categories).
    error BreakGlassOptedOut(uint64 patientId);
    /// @notice Unknown break-glass reason code (0 .. 3).
    error BreakGlassInvalidReason(uint8 reason);
    /// @notice The requested window is longer than the patient's maximum.
    error BreakGlassDurationTooLong(uint32 duration, uint32 maxDuration);

    /// @notice Grants (or replaces) the consent of the caller's patient to `grantee`.
    /// @param grantee An active registered provider.
    /// @param categories Category mask (non-empty, defined bits only).
    /// @param actions Action mask: 1 read, 2 write, 3 both.
    /// @param purposes Purpose mask (non-empty, defined bits only).
    /// @param validFrom Start of validity (unix seconds); 0 means now.
    /// @param validUntil End of validity (exclusive); must be after validFrom and after now.
    /// @param keyBundle CID digest of the key bundle sealed to the grantee (emitted, not stored).
    function grant(
        address grantee,
        uint16 categories,
        uint8 actions,
        uint16 purposes,
        uint32 validFrom,
        uint32 validUntil,
        bytes32 keyBundle
    ) external;

    /// @notice Applies several grants of the caller's patient; all or nothing.
    /// @param grants At most 64 requests.
    function grantBatch(GrantRequest[] calldata grants) external;

    /// @notice Revokes the caller's patient's consent to `grantee` (deletes it).
    function revoke(address grantee) external;

    /// @notice `grant` authorised by the EIP-712 `Grant` signature of the patient's current controller.
    /// @dev Anyone may submit. Consumes `nonces(controller)`.
    /// @param patientId The patient.
    /// @param g The grant.
    /// @param deadline Last valid unix second for the signature.
    /// @param signature 65-byte ECDSA signature (or ERC-1271 for contract controllers).
    function grantBySig(uint64 patientId, GrantRequest calldata g, uint256 deadline, bytes calldata signature)
        external;

    /// @notice `revoke` authorised by the EIP-712 `Revoke` signature of the patient's current controller.
    function revokeBySig(uint64 patientId, address grantee, uint256 deadline, bytes calldata signature) external;

    /// @notice The next EIP-712 nonce of `signer`.
    function nonces(address signer) external view returns (uint256);

    /// @notice The stored consent of `patientId` to `grantee` (all zero = none).
    function getConsent(uint64 patientId, address grantee) external view returns (Consent memory);

    /// @notice Whether `grantee` holds a consent of `patientId` covering `category` and `action` now
    ///         (validFrom <= now < validUntil, provider active). Grants only: no patient/break-glass rule.
    function hasAccess(uint64 patientId, address grantee, uint8 category, uint8 action) external view returns (bool);

    /// @notice Opens emergency read access to the patient's emergency categories; always logged
    ///         in the access log (outcome 3, recordId 0, purpose emergency).
    /// @param patientId The patient.
    /// @param reason Reason code 0 .. 3.
    /// @param duration Window in seconds; 0 = the patient's maximum; more than the maximum reverts.
    /// @param justification Digest of the off-chain justification document.
    function openBreakGlass(uint64 patientId, uint8 reason, uint32 duration, bytes32 justification) external;

    /// @notice End (exclusive) of `responder`'s latest break-glass window on `patientId` (0 = never opened).
    function breakGlassUntil(uint64 patientId, address responder) external view returns (uint32);
}
