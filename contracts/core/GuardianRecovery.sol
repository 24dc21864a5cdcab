// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IGuardianRecovery} from "../interfaces/IGuardianRecovery.sol";
import {PatientIdentity} from "./PatientIdentity.sol";

/// @title GuardianRecovery
/// @notice M-of-N guardian recovery of a patient's controller with a cancellable delay.
abstract contract GuardianRecovery is PatientIdentity {
    /// @inheritdoc IGuardianRecovery
    function setGuardians(address[] calldata guardians, uint8 threshold, uint32 delay) external {
        uint64 patientId = _callerPatient();
        uint256 n = guardians.length;
        if (n == 0 || n > MAX_GUARDIANS) revert RecoveryInvalidGuardians();
        if (threshold == 0 || threshold > n) revert RecoveryInvalidThreshold(threshold, n);
        for (uint256 i = 0; i < n; ++i) {
            address g = guardians[i];
            if (g == address(0) || g == msg.sender) revert RecoveryInvalidGuardians();
            for (uint256 j = 0; j < i; ++j) {
                if (guardians[j] == g) revert RecoveryInvalidGuardians();
            }
        }
        GuardianConfig storage cfg = _guardianConfigs[patientId];
        cfg.threshold = threshold;
        cfg.delay = delay;
        cfg.guardians = guardians;
        // Approvals are indexed by guardian position, so a new list invalidates them.
        address pending = _recoveries[patientId].newController;
        if (pending != address(0)) {
            delete _recoveries[patientId];
            emit RecoveryCancelled(patientId, pending);
        }
        emit GuardiansSet(patientId, guardians, threshold, delay);
    }

    /// @inheritdoc IGuardianRecovery
    function getGuardians(uint64 patientId)
        external
        view
        returns (address[] memory guardians, uint8 threshold, uint32 delay)
    {
        GuardianConfig storage cfg = _guardianConfigs[patientId];
        return (cfg.guardians, cfg.threshold, cfg.delay);
    }

    /// @inheritdoc IGuardianRecovery
    function approveRecovery(uint64 patientId, address newController) external {
        GuardianConfig storage cfg = _guardianConfigs[patientId];
        address[] storage guardians = cfg.guardians;
        uint256 n = guardians.length; // <= MAX_GUARDIANS
        uint256 index = type(uint256).max;
        for (uint256 i = 0; i < n; ++i) {
            if (guardians[i] == msg.sender) {
                index = i;
                break;
            }
        }
        if (index == type(uint256).max) revert RecoveryNotGuardian(msg.sender);
        if (newController == address(0)) revert IdentityInvalidController(newController);
        _requireUnused(newController);

        PendingRecovery memory r = _recoveries[patientId];
        if (r.newController == address(0)) {
            r.newController = newController;
        } else if (r.newController != newController) {
            revert RecoveryCandidateMismatch(r.newController);
        }
        uint16 bit = uint16(1 << index);
        if (r.approvedMask & bit != 0) revert RecoveryAlreadyApproved(msg.sender);
        r.approvedMask |= bit;
        r.approvals += 1;
        bool scheduled = r.approvals == cfg.threshold;
        if (scheduled) r.executableAt = uint32(block.timestamp) + cfg.delay;
        _recoveries[patientId] = r;
        emit RecoveryApproved(patientId, msg.sender, newController, r.approvals);
        if (scheduled) emit RecoveryScheduled(patientId, newController, r.executableAt);
    }

    /// @inheritdoc IGuardianRecovery
    function executeRecovery(uint64 patientId) external {
        PendingRecovery memory r = _recoveries[patientId];
        // slither-disable-next-line incorrect-equality (0 = not scheduled)
        if (r.executableAt == 0) revert RecoveryNotScheduled(patientId);
        if (block.timestamp < r.executableAt) revert RecoveryDelayNotElapsed(r.executableAt);
        delete _recoveries[patientId];
        _rotate(patientId, r.newController);
    }

    /// @inheritdoc IGuardianRecovery
    function cancelRecovery() external {
        uint64 patientId = _callerPatient();
        address pending = _recoveries[patientId].newController;
        if (pending == address(0)) revert RecoveryNothingPending();
        delete _recoveries[patientId];
        emit RecoveryCancelled(patientId, pending);
    }

    /// @inheritdoc IGuardianRecovery
    function getRecovery(uint64 patientId)
        external
        view
        returns (address newController, uint8 approvals, uint32 executableAt)
    {
        PendingRecovery memory r = _recoveries[patientId];
        return (r.newController, r.approvals, r.executableAt);
    }
}
