// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPatientIdentity} from "../interfaces/IPatientIdentity.sol";
import {Codes} from "../libraries/Codes.sol";
import {Packed} from "../libraries/Packed.sol";
import {MedLedgerBase} from "./MedLedgerBase.sol";

/// @title PatientIdentity
/// @notice Patients, their controller keys, published public keys and emergency settings.
abstract contract PatientIdentity is MedLedgerBase {
    /// @inheritdoc IPatientIdentity
    function registerPatient(bytes32 encryptionKey, bytes32 keyDocument, bytes32 keyring)
        external
        returns (uint64 patientId)
    {
        _requireUnused(msg.sender);
        if (encryptionKey == bytes32(0)) revert IdentityInvalidEncryptionKey();
        // Record entries store the id in 56 bits; SafeCast keeps ids inside that range.
        patientId = uint64(SafeCast.toUint56(uint256(_patientCount) + 1));
        _patientCount = patientId;
        _patients[patientId] = Patient({
            controller: msg.sender,
            registeredAt: uint32(block.timestamp),
            emergencyCategories: Codes.DEFAULT_EMERGENCY_CATEGORIES,
            breakGlassMaxDuration: Codes.MAX_BREAK_GLASS_SECONDS,
            breakGlassOptOut: false,
            encryptionKey: encryptionKey,
            keyDocument: keyDocument,
            keyring: keyring,
            emergencyKit: bytes32(0)
        });
        _accounts[msg.sender] = patientId; // not a provider: checked by _requireUnused
        emit PatientRegistered(patientId, msg.sender, encryptionKey, keyDocument, keyring);
    }

    /// @inheritdoc IPatientIdentity
    function setKeyring(bytes32 keyring) external {
        uint64 patientId = _callerPatient();
        _patients[patientId].keyring = keyring;
        emit KeyringUpdated(patientId, keyring);
    }

    /// @inheritdoc IPatientIdentity
    function setKeyringBySig(uint64 patientId, bytes32 keyring, uint256 deadline, bytes calldata signature)
        external
    {
        address controller = _controllerOf(patientId);
        bytes32 structHash =
            keccak256(abi.encode(SET_KEYRING_TYPEHASH, patientId, keyring, _useNonce(controller), deadline));
        _checkSignature(controller, structHash, deadline, signature);
        _patients[patientId].keyring = keyring;
        emit KeyringUpdated(patientId, keyring);
    }

    /// @inheritdoc IPatientIdentity
    function setEncryptionKey(bytes32 encryptionKey, bytes32 keyDocument) external {
        uint64 patientId = _callerPatient();
        if (encryptionKey == bytes32(0)) revert IdentityInvalidEncryptionKey();
        Patient storage p = _patients[patientId];
        p.encryptionKey = encryptionKey;
        p.keyDocument = keyDocument;
        emit EncryptionKeyUpdated(patientId, encryptionKey, keyDocument);
    }

    /// @inheritdoc IPatientIdentity
    function setEmergencyAccess(uint16 categories, uint32 maxDuration, bool optOut, bytes32 emergencyKit) external {
        uint64 patientId = _callerPatient();
        if (categories & ~Codes.ALL_CATEGORIES != 0) revert IdentityInvalidEmergencyCategories(categories);
        if (maxDuration == 0 || maxDuration > Codes.MAX_BREAK_GLASS_SECONDS) {
            revert IdentityInvalidBreakGlassDuration(maxDuration);
        }
        Patient storage p = _patients[patientId];
        p.emergencyCategories = categories;
        p.breakGlassMaxDuration = maxDuration;
        p.breakGlassOptOut = optOut;
        p.emergencyKit = emergencyKit;
        emit EmergencyAccessConfigured(patientId, categories, maxDuration, optOut, emergencyKit);
    }

    /// @inheritdoc IPatientIdentity
    function rotateController(address newController) external {
        uint64 patientId = _callerPatient();
        PendingRecovery storage r = _recoveries[patientId];
        address pending = r.newController;
        if (pending != address(0)) {
            // A recovery proposed against the previous key makes no sense after a voluntary rotation.
            delete _recoveries[patientId];
            emit RecoveryCancelled(patientId, pending);
        }
        _rotate(patientId, newController);
    }

    /// @inheritdoc IPatientIdentity
    function patientOf(address controller) external view returns (uint64) {
        return Packed.accountPatient(_accounts[controller]);
    }

    /// @inheritdoc IPatientIdentity
    function getPatient(uint64 patientId) external view returns (Patient memory) {
        return _patients[patientId];
    }

    /// @inheritdoc IPatientIdentity
    function patientCount() external view returns (uint64) {
        return _patientCount;
    }

    /// @dev Moves `patientId` to `newController`. The previous controller's account is cleared,
    ///      so it can no longer act (grant, revoke, sign, erase) for the patient.
    function _rotate(uint64 patientId, address newController) internal {
        if (newController == address(0)) revert IdentityInvalidController(newController);
        _requireUnused(newController);
        Patient storage p = _patients[patientId];
        address previous = p.controller;
        delete _accounts[previous]; // a controller is never a provider, so nothing else is lost
        _accounts[newController] = patientId;
        p.controller = newController;
        emit ControllerRotated(patientId, previous, newController);
    }

    /// @dev Reverts unless `account` controls no patient and is not a provider.
    function _requireUnused(address account) internal view {
        // Any non-zero word means a patient id or a provider registration.
        if (_accounts[account] != 0) revert IdentityAddressInUse(account);
    }
}
