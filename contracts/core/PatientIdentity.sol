// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPatientIdentity} from "../interfaces/IPatientIdentity.sol";
import {Codes} from "../libraries/Codes.sol";
import {Packed} from "../libraries/Packed.sol";
import {MedLedgerBase} from "./MedLedgerBase.sol";

/// @title PatientIdentity
/// @notice Patients, their controller keys (two-step change), published public keys and emergency settings.
abstract contract PatientIdentity is MedLedgerBase {
    /// @inheritdoc IPatientIdentity
    function registerPatient(bytes32 encryptionKey, bytes32 keyDocument, bytes32 keyring)
        external
        returns (uint64 patientId)
    {
        _requireUnused(msg.sender);
        if (encryptionKey == bytes32(0)) revert IdentityInvalidEncryptionKey();
        patientId = SafeCast.toUint64(uint256(_patientCount) + 1);
        _patientCount = patientId;
        _patients[patientId] = Patient({
            controller: msg.sender,
            registeredAt: _now(),
            emergencyCategories: Codes.DEFAULT_EMERGENCY_CATEGORIES,
            breakGlassMaxDuration: Codes.MAX_BREAK_GLASS_SECONDS,
            breakGlassOptOut: false,
            pendingController: address(0),
            breakGlassCooldown: Codes.DEFAULT_BREAK_GLASS_COOLDOWN,
            encryptionKey: encryptionKey,
            keyDocument: keyDocument,
            keyring: keyring,
            emergencyKit: bytes32(0)
        });
        _accounts[msg.sender] = patientId; // not a provider: checked by _requireUnused
        // Entry 0 starts the chain, so every later append rewrites a non-zero slot.
        (, bytes24 head) = _appendLog(patientId, msg.sender, keyring, 0, Codes.OUTCOME_PATIENT_REGISTERED, 0);
        emit PatientRegistered(patientId, msg.sender, encryptionKey, keyDocument, keyring, head);
    }

    /// @inheritdoc IPatientIdentity
    function setKeyring(bytes32 expectedKeyring, bytes32 newKeyring) external {
        _swapKeyring(_callerPatient(), expectedKeyring, newKeyring);
    }

    /// @inheritdoc IPatientIdentity
    function setKeyringBySig(
        uint64 patientId,
        bytes32 expectedKeyring,
        bytes32 newKeyring,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        address controller = _controllerOf(patientId);
        bytes32 structHash = keccak256(
            abi.encode(
                SET_KEYRING_TYPEHASH, patientId, expectedKeyring, newKeyring, _epochOf(patientId), nonce, deadline
            )
        );
        _checkSignature(controller, structHash, nonce, deadline, signature);
        _swapKeyring(patientId, expectedKeyring, newKeyring);
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
    function setEmergencyAccess(uint16 categories, uint32 maxDuration, bool optOut, uint32 cooldown, bytes32 emergencyKit)
        external
    {
        uint64 patientId = _callerPatient();
        if (categories & ~Codes.ALL_CATEGORIES != 0) revert IdentityInvalidEmergencyCategories(categories);
        if (maxDuration == 0 || maxDuration > Codes.MAX_BREAK_GLASS_SECONDS) {
            revert IdentityInvalidBreakGlassDuration(maxDuration);
        }
        if (cooldown < Codes.MIN_BREAK_GLASS_COOLDOWN || cooldown > Codes.MAX_BREAK_GLASS_COOLDOWN) {
            revert IdentityInvalidBreakGlassCooldown(cooldown);
        }
        Patient storage p = _patients[patientId];
        p.emergencyCategories = categories;
        p.breakGlassMaxDuration = maxDuration;
        p.breakGlassOptOut = optOut;
        p.breakGlassCooldown = cooldown;
        p.emergencyKit = emergencyKit;
        emit EmergencyAccessConfigured(patientId, categories, maxDuration, optOut, cooldown, emergencyKit);
    }

    /// @inheritdoc IPatientIdentity
    function proposeController(address candidate) external {
        uint64 patientId = _callerPatient();
        _patients[patientId].pendingController = candidate;
        emit ControllerProposed(patientId, msg.sender, candidate);
    }

    /// @inheritdoc IPatientIdentity
    function acceptController(uint64 patientId) external {
        Patient storage p = _patients[patientId];
        if (msg.sender == address(0) || p.pendingController != msg.sender) {
            revert IdentityNotProposed(patientId, msg.sender);
        }
        _cancelRecoveryRound(patientId, msg.sender);
        _rotate(patientId, msg.sender);
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

    /// @dev Compare-and-swap of the keyring reference.
    function _swapKeyring(uint64 patientId, bytes32 expectedKeyring, bytes32 newKeyring) internal {
        Patient storage p = _patients[patientId];
        bytes32 current = p.keyring;
        if (current != expectedKeyring) revert IdentityStaleKeyring(expectedKeyring, current);
        p.keyring = newKeyring;
        emit KeyringUpdated(patientId, current, newKeyring);
    }

    /// @dev Moves `patientId` to `newController` (which signed this transaction). The previous
    ///      controller's account is cleared, the signature epoch bumped and the change chained.
    function _rotate(uint64 patientId, address newController) internal {
        _requireUnused(newController);
        Patient storage p = _patients[patientId];
        address previous = p.controller;
        delete _accounts[previous]; // a controller is never a provider, so nothing else is lost
        _accounts[newController] = patientId;
        p.controller = newController;
        p.pendingController = address(0);
        (uint64 seq, bytes24 head) = _appendLog(
            patientId,
            newController,
            bytes32(uint256(uint160(previous))),
            0,
            Codes.OUTCOME_CONTROLLER_CHANGED,
            1
        );
        emit ControllerChanged(patientId, previous, newController, seq, head);
    }

    /// @dev Discards the current recovery round (if it has any approval or schedule).
    function _cancelRecoveryRound(uint64 patientId, address by) internal {
        RecoveryRound storage r = _recoveries[patientId];
        if (r.startedAt != 0) {
            uint32 round = r.round;
            _recoveries[patientId] = RecoveryRound(round + 1, address(0), 0, 0, 0);
            emit RecoveryCancelled(patientId, round, by);
        }
    }

    /// @dev Reverts unless `account` controls no patient and is not a provider.
    function _requireUnused(address account) internal view {
        if (_accounts[account] != 0) revert IdentityAddressInUse(account);
    }
}
