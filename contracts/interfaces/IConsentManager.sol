// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title IConsentManager
/// @notice Patient consent to providers (categories, actions, purposes, time window), its EIP-712
///         signed variants, atomic revoke-and-rekey, and break-glass emergency access.
interface IConsentManager is IMedLedgerErrors {
    /// @notice One grant request (also the EIP-712 `Grant` payload minus patientId/epoch/nonce/deadline).
    struct GrantRequest {
        address grantee;
        uint16 categories;
        uint8 actions;
        uint16 purposes;
        uint40 validFrom;
        uint40 validUntil;
        bytes32 keyBundle;
    }

    /// @notice A refreshed key bundle for a remaining grantee (EIP-712 `Bundle`).
    struct Bundle {
        address grantee;
        bytes32 keyBundle;
    }

    /// @notice A stored consent (all zero = none).
    struct Consent {
        uint16 categories;
        uint8 actions;
        uint16 purposes;
        uint40 validFrom;
        uint40 validUntil;
    }

    /// @notice Consent granted (`replaced` false) or replaced (`replaced` true, e.g. narrowed).
    ///         Chain entry: outcome 5 (new) or 6 (replaced), actor grantee, subject = the packed
    ///         consent word (docs/contracts.md), purpose 0.
    event ConsentGranted(
        uint64 indexed patientId,
        address indexed grantee,
        uint16 categories,
        uint8 actions,
        uint16 purposes,
        uint40 validFrom,
        uint40 validUntil,
        bytes32 keyBundle,
        bool replaced,
        uint64 seq,
        bytes24 head
    );
    /// @notice Consent revoked. Chain entry: outcome 7, actor grantee, subject 0, purpose 0.
    event ConsentRevoked(uint64 indexed patientId, address indexed grantee, uint64 seq, bytes24 head);
    /// @notice A remaining grantee's key bundle was refreshed (revokeAndRekey); not a chain entry.
    event KeyBundleRefreshed(uint64 indexed patientId, address indexed grantee, bytes32 keyBundle);
    /// @notice A break-glass window opened. Chain entry: outcome 3, actor responder, subject
    ///         justification, purpose 1 (emergency).
    event BreakGlassOpened(
        uint64 indexed patientId,
        address indexed responder,
        uint8 reason,
        uint16 categories,
        uint40 expiresAt,
        bytes32 justification,
        uint64 seq,
        bytes24 head
    );
    /// @notice An open window was closed early by `closedBy` (the controller or the responder).
    ///         Chain entry: outcome 4, actor responder, subject = closedBy (left-padded), purpose 1.
    event BreakGlassClosed(
        uint64 indexed patientId, address indexed responder, address indexed closedBy, uint64 seq, bytes24 head
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
    error ConsentInvalidWindow(uint40 validFrom, uint40 validUntil);
    /// @notice There is no consent to revoke (or to refresh a bundle for).
    error ConsentNotFound(uint64 patientId, address grantee);
    /// @notice Batch grantees must be strictly ascending (so no grantee appears twice).
    error ConsentBatchNotAscending(uint256 index, address grantee);
    /// @notice The caller is not an active emergency responder.
    error BreakGlassNotResponder(address caller);
    /// @notice The patient opted out of break-glass (or has no emergency categories).
    error BreakGlassOptedOut(uint64 patientId);
    /// @notice Unknown break-glass reason code (0 .. 3).
    error BreakGlassInvalidReason(uint8 reason);
    /// @notice The requested window is longer than the patient's maximum.
    error BreakGlassDurationTooLong(uint32 duration, uint32 maxDuration);
    /// @notice The responder's window is open or in its cooldown until `until`.
    error BreakGlassCooldown(uint40 until);
    /// @notice No open window of `responder` on `patientId`.
    error BreakGlassNotOpen(uint64 patientId, address responder);
    /// @notice Only the patient's controller or the responder may close a window.
    error BreakGlassNotAllowedToClose(address caller);

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
        uint40 validFrom,
        uint40 validUntil,
        bytes32 keyBundle
    ) external;

    /// @notice Applies several grants of the caller's patient; all or nothing.
    /// @param grants At most 64 requests, grantees strictly ascending.
    function grantBatch(GrantRequest[] calldata grants) external;

    /// @notice Revokes the caller's patient's consent to `grantee` and bumps the patient's
    ///         signature epoch, so no signature signed before it can act any more.
    function revoke(address grantee) external;

    /// @notice Atomically revokes `grantee`, swaps the keyring (compare-and-swap) and publishes the
    ///         refreshed key bundles of remaining grantees. Bumps the signature epoch.
    /// @param bundles Each grantee must hold a consent and be an active provider (else reverts).
    function revokeAndRekey(address grantee, bytes32 expectedKeyring, bytes32 newKeyring, Bundle[] calldata bundles)
        external;

    /// @notice `revokeAndRekey` authorised by the controller's EIP-712 `RevokeAndRekey` signature.
    function revokeAndRekeyBySig(
        uint64 patientId,
        address grantee,
        bytes32 expectedKeyring,
        bytes32 newKeyring,
        Bundle[] calldata bundles,
        uint32 epoch,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice `grant` authorised by the EIP-712 `Grant` signature of the patient's current controller.
    /// @param patientId The patient.
    /// @param g The grant.
    /// @param epoch The patient's signature epoch the signer saw (`signatureEpoch`).
    /// @param nonce The controller's keyed nonce (SDK: key = grantee), consumed.
    /// @param deadline Last valid unix second (at most 30 days ahead).
    /// @param signature ECDSA or ERC-1271 signature.
    function grantBySig(
        uint64 patientId,
        GrantRequest calldata g,
        uint32 epoch,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice `revoke` authorised by the EIP-712 `Revoke` signature of the patient's current controller.
    /// @dev Consumes the nonce; does not bump the epoch (other relayed operations stay valid).
    function revokeBySig(
        uint64 patientId,
        address grantee,
        uint32 epoch,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Consumes the caller's keyed nonce `keyNonce` so a signature over it can never be used.
    function cancelNonce(uint256 keyNonce) external;

    /// @notice The next nonce of `signer` under `key` (key << 64 | sequence).
    function nonces(address signer, uint192 key) external view returns (uint256);

    /// @notice The patient's signature epoch (bumped by direct revokes and controller changes).
    function signatureEpoch(uint64 patientId) external view returns (uint32);

    /// @notice The stored consent of `patientId` to `grantee` (all zero = none).
    function getConsent(uint64 patientId, address grantee) external view returns (Consent memory);

    /// @notice Whether `grantee` holds a consent of `patientId` covering `category` and `action` now.
    function hasAccess(uint64 patientId, address grantee, uint8 category, uint8 action) external view returns (bool);

    /// @notice Opens emergency read access to the patient's emergency categories.
    /// @param patientId The patient.
    /// @param reason Reason code 0 .. 3.
    /// @param duration Window in seconds; 0 = the patient's maximum; more than the maximum reverts.
    /// @param justification Digest of the off-chain justification document.
    function openBreakGlass(uint64 patientId, uint8 reason, uint32 duration, bytes32 justification) external;

    /// @notice Closes `responder`'s open window (the patient's controller or the responder itself);
    ///         the cooldown starts now.
    function closeBreakGlass(uint64 patientId, address responder) external;

    /// @notice End (exclusive) of `responder`'s latest break-glass window on `patientId` (0 = never opened).
    function breakGlassUntil(uint64 patientId, address responder) external view returns (uint40);
}
