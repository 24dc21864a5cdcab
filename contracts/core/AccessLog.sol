// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IAccessLog} from "../interfaces/IAccessLog.sol";
import {Codes} from "../libraries/Codes.sol";
import {Packed} from "../libraries/Packed.sol";
import {MedLedgerBase} from "./MedLedgerBase.sol";

/// @title AccessLog
/// @notice Consent-checked reads, chained per patient (see MedLedgerBase._appendLog).
abstract contract AccessLog is MedLedgerBase {
    /// @inheritdoc IAccessLog
    function recordAccess(uint64 patientId, bytes32 recordId, uint8 purpose) external returns (bool allowed) {
        return _recordAccess(patientId, recordId, purpose);
    }

    /// @inheritdoc IAccessLog
    function recordAccessBatch(AccessRequest[] calldata requests) external returns (bool[] memory allowed) {
        uint256 n = requests.length;
        if (n > MAX_ACCESS_BATCH) revert MedLedgerBatchTooLarge(n, MAX_ACCESS_BATCH);
        allowed = new bool[](n);
        for (uint256 i = 0; i < n; ++i) {
            AccessRequest calldata r = requests[i];
            allowed[i] = _recordAccess(r.patientId, r.recordId, r.purpose);
        }
    }

    /// @inheritdoc IAccessLog
    function checkAccess(uint64 patientId, address accessor, uint8 category, uint8 action, uint8 purpose)
        external
        view
        returns (uint8 outcome)
    {
        if (purpose >= Codes.PURPOSE_COUNT) revert AccessLogInvalidPurpose(purpose);
        return _evaluate(patientId, accessor, _accounts[accessor], category, action, purpose);
    }

    /// @inheritdoc IAccessLog
    function logHead(uint64 patientId) external view returns (bytes24 head, uint64 count) {
        uint256 state = _logs[patientId];
        return (bytes24(bytes32(state)), uint64(state & LOG_COUNT_MASK));
    }

    /// @dev Checks, logs and never reverts on denial; reverts on malformed input and for callers
    ///      without standing (neither a registered provider nor this patient's controller).
    function _recordAccess(uint64 patientId, bytes32 recordId, uint8 purpose) internal returns (bool) {
        if (purpose >= Codes.PURPOSE_COUNT) revert AccessLogInvalidPurpose(purpose);
        uint256 acct = _accounts[msg.sender];
        // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
        if (Packed.accountStatus(acct) == Codes.PROVIDER_NONE && Packed.accountPatient(acct) != patientId) {
            revert AccessLogNoStanding(patientId, msg.sender);
        }
        uint256 r = _records[patientId][recordId];
        // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
        if (r == 0) revert AccessLogUnknownRecord(patientId, recordId);
        uint8 outcome = Packed.recordErased(r)
            ? Codes.OUTCOME_DENIED_ERASED
            : _evaluate(patientId, msg.sender, acct, Packed.recordCategory(r), Codes.ACTION_READ, purpose);
        (uint64 seq, bytes24 head) = _appendLog(patientId, msg.sender, recordId, purpose, outcome, 0);
        emit AccessRecorded(patientId, msg.sender, recordId, seq, purpose, outcome, uint40(block.timestamp), head);
        return outcome < Codes.OUTCOME_FIRST_DENIAL;
    }
}
