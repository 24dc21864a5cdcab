// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title IGuardianRecovery
/// @notice Social recovery: M of N guardians move a patient to a new controller after a delay that
///         starts when the M-th approval arrives; the current controller can cancel during the delay.
interface IGuardianRecovery is IMedLedgerErrors {
    event GuardiansSet(uint64 indexed patientId, address[] guardians, uint8 threshold, uint32 delay);
    event RecoveryApproved(
        uint64 indexed patientId, address indexed guardian, address indexed newController, uint8 approvals
    );
    event RecoveryScheduled(uint64 indexed patientId, address indexed newController, uint32 executableAt);
    event RecoveryCancelled(uint64 indexed patientId, address indexed newController);

    /// @notice Guardian list is empty, too long, has a zero/duplicate entry or contains the controller.
    error RecoveryInvalidGuardians();
    /// @notice Threshold must satisfy 1 <= threshold <= number of guardians.
    error RecoveryInvalidThreshold(uint8 threshold, uint256 guardians);
    /// @notice The caller is not a guardian of the patient.
    error RecoveryNotGuardian(address caller);
    /// @notice This guardian already approved the pending recovery.
    error RecoveryAlreadyApproved(address guardian);
    /// @notice Another new controller is already pending; the controller must cancel it first.
    error RecoveryCandidateMismatch(address pending);
    /// @notice No recovery has reached its threshold for this patient.
    error RecoveryNotScheduled(uint64 patientId);
    /// @notice The recovery delay has not elapsed yet.
    error RecoveryDelayNotElapsed(uint32 executableAt);
    /// @notice There is no pending recovery to cancel.
    error RecoveryNothingPending();

    /// @notice Sets the caller's patient's guardians; cancels any pending recovery.
    /// @param guardians 1 .. 10 distinct non-zero addresses, not the controller.
    /// @param threshold Approvals needed, 1 <= threshold <= guardians.length.
    /// @param delay Seconds between reaching the threshold and the earliest execution.
    function setGuardians(address[] calldata guardians, uint8 threshold, uint32 delay) external;

    /// @notice The guardians, threshold and delay of `patientId`.
    function getGuardians(uint64 patientId)
        external
        view
        returns (address[] memory guardians, uint8 threshold, uint32 delay);

    /// @notice Approves moving `patientId` to `newController` (caller must be a guardian).
    /// @dev The approval that reaches the threshold schedules the rotation at now + delay.
    function approveRecovery(uint64 patientId, address newController) external;

    /// @notice Executes a scheduled recovery once its delay has elapsed; callable by anyone.
    function executeRecovery(uint64 patientId) external;

    /// @notice Cancels the pending recovery of the caller's patient (controller only).
    function cancelRecovery() external;

    /// @notice The pending recovery of `patientId`.
    /// @return newController Proposed controller (zero if none pending).
    /// @return approvals Guardian approvals so far.
    /// @return executableAt Earliest execution time; 0 while the threshold is not reached.
    function getRecovery(uint64 patientId)
        external
        view
        returns (address newController, uint8 approvals, uint32 executableAt);
}
