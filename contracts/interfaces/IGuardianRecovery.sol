// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title IGuardianRecovery
/// @notice M-of-N guardian recovery: approvals counted per candidate (movable), cancellable by the
///         controller or by `threshold` guardians, delayed (1 .. 90 days), expiring (30 days), and
///         accepted by the candidate itself.
interface IGuardianRecovery is IMedLedgerErrors {
    /// @notice Guardians, threshold, delay and the digest of their sealed key shares set; any
    ///         pending recovery round is cancelled.
    event GuardiansSet(uint64 indexed patientId, address[] guardians, uint8 threshold, uint32 delay, bytes32 shares);
    /// @notice `guardian` approves `candidate` in `round`; `approvals` = the candidate's count now.
    event RecoveryApproved(
        uint64 indexed patientId, address indexed guardian, address indexed candidate, uint32 round, uint8 approvals
    );
    /// @notice `candidate` reached the threshold; it may accept from `executableAt` until `expiresAt`.
    event RecoveryScheduled(uint64 indexed patientId, address indexed candidate, uint40 executableAt, uint40 expiresAt);
    /// @notice The recovery round `round` was cancelled (by the controller, guardians, a new
    ///         guardian set or a controller change).
    event RecoveryCancelled(uint64 indexed patientId, uint32 round, address indexed by);
    /// @notice `guardian` voted to cancel round `round`; `votes` so far.
    event RecoveryCancelVoted(uint64 indexed patientId, address indexed guardian, uint32 round, uint8 votes);
    /// @notice `guardian` posted `sealedShare`, the digest of its key share re-sealed to the
    ///         candidate of round `round` (off-chain document; the chain only relays the digest).
    event RecoveryShareSent(uint64 indexed patientId, address indexed guardian, uint32 round, bytes32 sealedShare);
    /// @notice The candidate accepted: control moved to `newController` (see also ControllerChanged).
    event RecoveryExecuted(uint64 indexed patientId, address indexed newController, uint32 round);

    /// @notice Guardian list is empty, too long, has a zero/duplicate entry or contains the controller.
    error RecoveryInvalidGuardians();
    /// @notice Threshold must satisfy 1 <= threshold <= number of guardians.
    error RecoveryInvalidThreshold(uint8 threshold, uint256 guardians);
    /// @notice The delay must be within 1 .. 90 days.
    error RecoveryInvalidDelay(uint32 delay);
    /// @notice The caller is not a guardian of the patient.
    error RecoveryNotGuardian(address caller);
    /// @notice A guardian cannot be the candidate.
    error RecoveryCandidateIsGuardian(address candidate);
    /// @notice This guardian already approves this candidate (or already voted to cancel).
    error RecoveryAlreadyApproved(address guardian);
    /// @notice The caller is not the scheduled candidate (or nothing is scheduled).
    error RecoveryNotScheduled(uint64 patientId, address caller);
    /// @notice The recovery delay has not elapsed yet.
    error RecoveryDelayNotElapsed(uint40 executableAt);
    /// @notice The recovery round expired at `expiresAt`.
    error RecoveryExpired(uint40 expiresAt);
    /// @notice There is no pending recovery to cancel.
    error RecoveryNothingPending();

    /// @notice Sets the caller's patient's guardians; cancels any pending recovery round.
    /// @param guardians 1 .. 10 distinct non-zero addresses, not the controller.
    /// @param threshold Approvals needed, 1 <= threshold <= guardians.length.
    /// @param delay Seconds between reaching the threshold and the earliest acceptance, 86400 .. 7776000.
    /// @param shares CID digest of the guardians' sealed key shares document (zero = none).
    function setGuardians(address[] calldata guardians, uint8 threshold, uint32 delay, bytes32 shares) external;

    /// @notice The guardians, threshold, delay and sealed key shares digest of `patientId`.
    function getGuardians(uint64 patientId)
        external
        view
        returns (address[] memory guardians, uint8 threshold, uint32 delay, bytes32 shares);

    /// @notice The caller (a guardian) hands the candidate of the current round its key share:
    ///         `sealedShare` is the digest of the share re-sealed to the candidate's key. Reverts
    ///         with `RecoveryNothingPending` while no round has started.
    function postRecoveryShare(uint64 patientId, bytes32 sealedShare) external;

    /// @notice The caller (a guardian) approves `candidate`; a previous approval of another
    ///         candidate in the same round moves. An expired round is replaced by a new one.
    /// @param candidate Non-zero, unused address that is not a guardian.
    function approveRecovery(uint64 patientId, address candidate) external;

    /// @notice The caller (a guardian) votes to cancel the pending round; `threshold` votes cancel it.
    function voteCancelRecovery(uint64 patientId) external;

    /// @notice Cancels the pending recovery round of the caller's patient (controller only).
    function cancelRecovery() external;

    /// @notice The scheduled candidate takes control once the delay elapsed and before expiry.
    function acceptRecovery(uint64 patientId) external;

    /// @notice The current recovery round of `patientId`.
    /// @return round Round number (bumped on every cancel/expiry/acceptance).
    /// @return candidate Scheduled candidate (zero while none reached the threshold).
    /// @return startedAt First approval of the round (0 = no approval yet).
    /// @return executableAt Earliest acceptance (0 while not scheduled).
    /// @return expiresAt End of the round: startedAt + 30 days, or executableAt + 30 days once scheduled.
    /// @return cancelVotes Guardian votes to cancel the round.
    function getRecovery(uint64 patientId)
        external
        view
        returns (
            uint32 round,
            address candidate,
            uint40 startedAt,
            uint40 executableAt,
            uint40 expiresAt,
            uint8 cancelVotes
        );

    /// @notice Approvals of `candidate` in the current round of `patientId`.
    function recoveryApprovals(uint64 patientId, address candidate) external view returns (uint8);
}
