// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title IPatientIdentity
/// @notice Patients: a stable id, a replaceable controller key, published public keys and
///         emergency (break-glass) settings. Only public keys and CID digests are stored.
interface IPatientIdentity is IMedLedgerErrors {
    /// @notice A patient as returned by `getPatient` (all zero = no such patient).
    struct Patient {
        address controller;
        uint32 registeredAt;
        uint16 emergencyCategories;
        uint32 breakGlassMaxDuration;
        bool breakGlassOptOut;
        bytes32 encryptionKey;
        bytes32 keyDocument;
        bytes32 keyring;
        bytes32 emergencyKit;
    }

    event PatientRegistered(
        uint64 indexed patientId, address indexed controller, bytes32 encryptionKey, bytes32 keyDocument, bytes32 keyring
    );
    event KeyringUpdated(uint64 indexed patientId, bytes32 keyring);
    event EncryptionKeyUpdated(uint64 indexed patientId, bytes32 encryptionKey, bytes32 keyDocument);
    event EmergencyAccessConfigured(
        uint64 indexed patientId, uint16 categories, uint32 maxDuration, bool optOut, bytes32 emergencyKit
    );
    event ControllerRotated(uint64 indexed patientId, address indexed previousController, address indexed newController);

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

    /// @notice Registers the caller as the controller of a new patient.
    /// @dev Emergency defaults: categories allergies|medications|conditions, 24 h maximum, no opt-out.
    /// @param encryptionKey The patient's X25519 identity public key (non-zero).
    /// @param keyDocument CID digest of an optional public key document (zero if none).
    /// @param keyring CID digest of the patient's keyring document (zero if none yet).
    /// @return patientId The new patient's id (sequential from 1).
    function registerPatient(bytes32 encryptionKey, bytes32 keyDocument, bytes32 keyring)
        external
        returns (uint64 patientId);

    /// @notice Replaces the keyring document reference of the caller's patient.
    /// @param keyring CID digest of the new keyring document.
    function setKeyring(bytes32 keyring) external;

    /// @notice `setKeyring` authorised by the EIP-712 `SetKeyring` signature of the patient's
    /// current controller, so that a relayer can publish new key epochs for a patient without ETH
    /// (a relayed grant or revocation that needs new epochs is submitted together with it).
    /// @dev Anyone may submit. Consumes `nonces(controller)`.
    /// @param patientId The patient.
    /// @param keyring CID digest of the new keyring document.
    /// @param deadline Last valid unix second for the signature.
    /// @param signature 65-byte ECDSA signature (or ERC-1271 for contract controllers).
    function setKeyringBySig(uint64 patientId, bytes32 keyring, uint256 deadline, bytes calldata signature)
        external;

    /// @notice Replaces the caller's patient's encryption public key and key document reference.
    /// @param encryptionKey New X25519 public key (non-zero).
    /// @param keyDocument CID digest of the public key document (zero if none).
    function setEncryptionKey(bytes32 encryptionKey, bytes32 keyDocument) external;

    /// @notice Configures break-glass access for the caller's patient.
    /// @param categories Category mask responders may read in an emergency (0 disables break-glass).
    /// @param maxDuration Longest break-glass window in seconds, 1 .. 86400.
    /// @param optOut True forbids break-glass entirely.
    /// @param emergencyKit CID digest of the emergency kit (zero if none).
    function setEmergencyAccess(uint16 categories, uint32 maxDuration, bool optOut, bytes32 emergencyKit) external;

    /// @notice Moves control of the caller's patient to `newController`; the caller loses all power.
    /// @dev Cancels any pending guardian recovery.
    /// @param newController Non-zero address that controls no patient and is not a provider.
    function rotateController(address newController) external;

    /// @notice The patient controlled by `controller`.
    /// @return The patient id, 0 if `controller` controls none.
    function patientOf(address controller) external view returns (uint64);

    /// @notice The patient record of `patientId` (all zero if unknown).
    function getPatient(uint64 patientId) external view returns (Patient memory);

    /// @notice Number of registered patients (the highest patient id).
    function patientCount() external view returns (uint64);
}
