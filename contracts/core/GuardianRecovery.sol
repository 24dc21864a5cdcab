// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IGuardianRecovery} from "../interfaces/IGuardianRecovery.sol";
import {PatientIdentity} from "./PatientIdentity.sol";

/// @title GuardianRecovery
/// @notice M-of-N guardian recovery of a patient's controller: per-candidate approvals, guardian or
///         controller cancellation, bounded delay, 30-day expiry, acceptance by the candidate.
abstract contract GuardianRecovery is PatientIdentity {
    uint32 internal constant MIN_RECOVERY_DELAY = 1 days;
    uint32 internal constant MAX_RECOVERY_DELAY = 90 days;

    /// @dev CID digest of each patient's sealed guardian key shares document (zero = none); set
    ///      with the guardian set so that the shares always match the guardians that hold them.
    mapping(uint64 patientId => bytes32) private _recoveryShares;

    /// @inheritdoc IGuardianRecovery
    function setGuardians(address[] calldata guardians, uint8 threshold, uint32 delay, bytes32 shares) external {
        uint64 patientId = _callerPatient();
        uint256 n = guardians.length;
        if (n == 0 || n > MAX_GUARDIANS) revert RecoveryInvalidGuardians();
        if (threshold == 0 || threshold > n) revert RecoveryInvalidThreshold(threshold, n);
        if (delay < MIN_RECOVERY_DELAY || delay > MAX_RECOVERY_DELAY) revert RecoveryInvalidDelay(delay);
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
        _recoveryShares[patientId] = shares;
        _cancelRecoveryRound(patientId, msg.sender);
        emit GuardiansSet(patientId, guardians, threshold, delay, shares);
    }

    /// @inheritdoc IGuardianRecovery
    function getGuardians(uint64 patientId)
        external
        view
        returns (address[] memory guardians, uint8 threshold, uint32 delay, bytes32 shares)
    {
        GuardianConfig storage cfg = _guardianConfigs[patientId];
        return (cfg.guardians, cfg.threshold, cfg.delay, _recoveryShares[patientId]);
    }

    /// @inheritdoc IGuardianRecovery
    function approveRecovery(uint64 patientId, address candidate) external {
        GuardianConfig storage cfg = _guardianConfigs[patientId];
        _guardianIndex(cfg, msg.sender);
        if (candidate == address(0)) revert IdentityInvalidController(candidate);
        if (_isGuardian(cfg, candidate)) revert RecoveryCandidateIsGuardian(candidate);
        _requireUnused(candidate);

        RecoveryRound memory r = _recoveries[patientId];
        if (r.startedAt != 0 && block.timestamp >= _expiry(r)) {
            // Expired: the next approval opens a fresh round.
            emit RecoveryCancelled(patientId, r.round, address(0));
            r = RecoveryRound(r.round + 1, address(0), 0, 0, 0);
        }
        if (r.startedAt == 0) r.startedAt = _now();

        bytes32 voteKey = keccak256(abi.encode(patientId, r.round, msg.sender));
        address previous = _votes[voteKey];
        if (previous == candidate) revert RecoveryAlreadyApproved(msg.sender);
        if (previous != address(0)) {
            uint8 left = --_tally[keccak256(abi.encode(patientId, r.round, previous))];
            if (previous == r.candidate && left < cfg.threshold) {
                r.candidate = address(0);
                r.executableAt = 0;
            }
        }
        _votes[voteKey] = candidate;
        uint8 approvals = ++_tally[keccak256(abi.encode(patientId, r.round, candidate))];
        bool scheduled = r.candidate == address(0) && approvals >= cfg.threshold;
        if (scheduled) {
            r.candidate = candidate;
            r.executableAt = _now() + cfg.delay;
        }
        _recoveries[patientId] = r;
        emit RecoveryApproved(patientId, msg.sender, candidate, r.round, approvals);
        if (scheduled) emit RecoveryScheduled(patientId, candidate, r.executableAt, _expiry(r));
    }

    /// @inheritdoc IGuardianRecovery
    function postRecoveryShare(uint64 patientId, bytes32 sealedShare) external {
        _guardianIndex(_guardianConfigs[patientId], msg.sender);
        RecoveryRound memory r = _recoveries[patientId];
        if (r.startedAt == 0) revert RecoveryNothingPending();
        emit RecoveryShareSent(patientId, msg.sender, r.round, sealedShare);
    }

    /// @inheritdoc IGuardianRecovery
    function voteCancelRecovery(uint64 patientId) external {
        GuardianConfig storage cfg = _guardianConfigs[patientId];
        uint256 index = _guardianIndex(cfg, msg.sender);
        RecoveryRound storage r = _recoveries[patientId];
        if (r.startedAt == 0) revert RecoveryNothingPending();
        uint16 bit = uint16(1 << index);
        uint16 cancelMask = r.cancelMask;
        if (cancelMask & bit != 0) revert RecoveryAlreadyApproved(msg.sender);
        cancelMask |= bit;
        uint8 votes = _popcount(cancelMask);
        emit RecoveryCancelVoted(patientId, msg.sender, r.round, votes);
        if (votes >= cfg.threshold) {
            _cancelRecoveryRound(patientId, msg.sender);
        } else {
            r.cancelMask = cancelMask;
        }
    }

    /// @inheritdoc IGuardianRecovery
    function cancelRecovery() external {
        uint64 patientId = _callerPatient();
        if (_recoveries[patientId].startedAt == 0) revert RecoveryNothingPending();
        _cancelRecoveryRound(patientId, msg.sender);
    }

    /// @inheritdoc IGuardianRecovery
    function acceptRecovery(uint64 patientId) external {
        RecoveryRound memory r = _recoveries[patientId];
        if (r.candidate == address(0) || r.candidate != msg.sender) revert RecoveryNotScheduled(patientId, msg.sender);
        if (block.timestamp < r.executableAt) revert RecoveryDelayNotElapsed(r.executableAt);
        uint40 expiresAt = _expiry(r);
        if (block.timestamp >= expiresAt) revert RecoveryExpired(expiresAt);
        _recoveries[patientId] = RecoveryRound(r.round + 1, address(0), 0, 0, 0);
        emit RecoveryExecuted(patientId, msg.sender, r.round);
        _rotate(patientId, msg.sender);
    }

    /// @inheritdoc IGuardianRecovery
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
        )
    {
        RecoveryRound memory r = _recoveries[patientId];
        // slither-disable-next-line incorrect-equality (0 = no round started; not a time comparison)
        return (
            r.round,
            r.candidate,
            r.startedAt,
            r.executableAt,
            r.startedAt == 0 ? 0 : _expiry(r),
            _popcount(r.cancelMask)
        );
    }

    /// @inheritdoc IGuardianRecovery
    function recoveryApprovals(uint64 patientId, address candidate) external view returns (uint8) {
        return _tally[keccak256(abi.encode(patientId, _recoveries[patientId].round, candidate))];
    }

    function _expiry(RecoveryRound memory r) private pure returns (uint40) {
        return (r.executableAt != 0 ? r.executableAt : r.startedAt) + uint40(RECOVERY_LIFETIME);
    }

    function _guardianIndex(GuardianConfig storage cfg, address account) private view returns (uint256) {
        address[] storage guardians = cfg.guardians;
        uint256 n = guardians.length; // <= MAX_GUARDIANS
        for (uint256 i = 0; i < n; ++i) {
            if (guardians[i] == account) return i;
        }
        revert RecoveryNotGuardian(account);
    }

    function _isGuardian(GuardianConfig storage cfg, address account) private view returns (bool) {
        address[] storage guardians = cfg.guardians;
        uint256 n = guardians.length;
        for (uint256 i = 0; i < n; ++i) {
            if (guardians[i] == account) return true;
        }
        return false;
    }

    function _popcount(uint16 x) private pure returns (uint8 c) {
        while (x != 0) {
            x &= x - 1;
            ++c;
        }
    }
}
