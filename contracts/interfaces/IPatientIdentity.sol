// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title IPatientIdentity
/// @notice Patients: a stable id, a replaceable controller key (two-step change), published public
///         keys and emergency (break-glass) settings. Only public keys and CID digests are stored.
interface IPatientIdentity is IMedLedgerErrors {
    /// @notice A patient as returned by `getPatient` (all zero = no such patient).
    struct Patient {
        address controller;
        uint40 registeredAt;
        uint16 emergencyCategories;
        uint32 breakGlassMaxDuration;
        bool breakGlassOptOut;
        address pendingController;
        uint32 breakGlassCooldown;
        bytes32 encryptionKey;
        bytes32 keyDocument;
        bytes32 keyring;
        bytes32 emergencyKit;
    }

    /// @notice A patient was registered; its hash chain starts with entry `seq` 0 (outcome 11).
    event PatientRegistered(
        uint64 indexed patientId,
        address indexed controller,
        bytes32 encryptionKey,
        bytes32 keyDocument,
        bytes32 keyring,
        bytes24 head
    );
    /// @notice The keyring reference changed from `previousKeyring` to `keyring` (compare-and-swap).
    event KeyringUpdated(uint64 indexed patientId, bytes32 previousKeyring, bytes32 keyring);
    /// @notice The patient's encryption key and key document changed.
    event EncryptionKeyUpdated(uint64 indexed patientId, bytes32 encryptionKey, bytes32 keyDocument);
    /// @notice Break-glass settings changed; they apply to open windows at once.
    event EmergencyAccessConfigured(
        uint64 indexed patientId, uint16 categories, uint32 maxDuration, bool optOut, uint32 cooldown, bytes32 emergencyKit
    );
    /// @notice The controller proposed `candidate` (zero = proposal withdrawn).
    event ControllerProposed(uint64 indexed patientId, address indexed controller, address indexed candidate);
    /// @notice Control moved to `newController` (accepted proposal or recovery); chain entry
    ///         outcome 10, actor `newController`, subject `previousController`.
    event ControllerChanged(
        uint64 indexed patientId,
        address indexed previousController,
        address indexed newController,
        uint64 seq,
        bytes24 head
    );

    /// @notice `account` already controls a patient or is a registered provider.
    error IdentityAddressInUse(address account);
    /// @notice A new controller must be a non-zero address.
    error IdentityInvalidController(address account);
    /// @notice The X25519 encryption public key must be non-zero.
    error IdentityInvalidEncryptionKey();
    /// @notice The emergency category mask has bits outside the defined categories.
    error IdentityInvalidEmergencyCategories(uint16 categories);
    /// @notice The break-glass maximum must be within 1 .. 86400 seconds.
    error IdentityInvalidBreakGlassDuration(uint32 maxDuration);
    /// @notice The break-glass cooldown must be within 3600 .. 2592000 seconds.
    error IdentityInvalidBreakGlassCooldown(uint32 cooldown);
    /// @notice The caller is not the proposed controller of `patientId`.
    error IdentityNotProposed(uint64 patientId, address caller);
    /// @notice The keyring named as current is not the current keyring.
    error IdentityStaleKeyring(bytes32 expected, bytes32 actual);

    /// @notice Registers the caller as the controller of a new patient and starts its hash chain.
    /// @dev Emergency defaults: categories allergies|medications|conditions, 24 h maximum, 24 h cooldown.
    /// @param encryptionKey The patient's X25519 identity public key (non-zero).
    /// @param keyDocument CID digest of an optional public key document (zero if none).
    /// @param keyring CID digest of the patient's keyring document (zero if none yet).
    /// @return patientId The new patient's id (sequential from 1).
    function registerPatient(bytes32 encryptionKey, bytes32 keyDocument, bytes32 keyring)
        external
        returns (uint64 patientId);

    /// @notice Replaces the keyring reference of the caller's patient if it is still `expectedKeyring`.
    /// @param expectedKeyring The keyring the new one replaces; reverts IdentityStaleKeyring otherwise.
    /// @param newKeyring CID digest of the new keyring document.
    function setKeyring(bytes32 expectedKeyring, bytes32 newKeyring) external;

    /// @notice `setKeyring` authorised by the controller's EIP-712 `SetKeyring` signature.
    /// @param patientId The patient.
    /// @param expectedKeyring The keyring the new one replaces.
    /// @param newKeyring CID digest of the new keyring document.
    /// @param nonce The signer's keyed nonce (`nonces(controller, key)`), consumed.
    /// @param deadline Last valid unix second (at most 30 days ahead).
    /// @param signature ECDSA or ERC-1271 signature of the current controller.
    function setKeyringBySig(
        uint64 patientId,
        bytes32 expectedKeyring,
        bytes32 newKeyring,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Replaces the caller's patient's encryption public key and key document reference.
    /// @param encryptionKey New X25519 public key (non-zero).
    /// @param keyDocument CID digest of the public key document (zero if none).
    function setEncryptionKey(bytes32 encryptionKey, bytes32 keyDocument) external;

    /// @notice Configures break-glass access for the caller's patient; applies to open windows at once.
    /// @param categories Category mask responders may read in an emergency (0 disables break-glass).
    /// @param maxDuration Longest break-glass window in seconds, 1 .. 86400.
    /// @param optOut True forbids break-glass entirely.
    /// @param cooldown Seconds after a window ends before the same responder may reopen, 3600 .. 2592000.
    /// @param emergencyKit CID digest of the emergency kit (zero if none).
    function setEmergencyAccess(uint16 categories, uint32 maxDuration, bool optOut, uint32 cooldown, bytes32 emergencyKit)
        external;

    /// @notice Proposes `candidate` as the next controller of the caller's patient (zero withdraws).
    /// @dev Takes effect only when `candidate` calls `acceptController`.
    function proposeController(address candidate) external;

    /// @notice Accepts control of `patientId` proposed to the caller. The previous controller
    ///         loses all power, its outstanding signatures die (signature epoch bumped) and any
    ///         pending recovery is cancelled.
    function acceptController(uint64 patientId) external;

    /// @notice The patient controlled by `controller`, 0 if none.
    function patientOf(address controller) external view returns (uint64);

    /// @notice The patient record of `patientId` (all zero if unknown).
    function getPatient(uint64 patientId) external view returns (Patient memory);

    /// @notice Number of registered patients (the highest patient id).
    function patientCount() external view returns (uint64);
}
