// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title IAccessLog
/// @notice The per-patient hash chain of every patient-touching operation:
///         head' = bytes24(keccak256(abi.encode(bytes32(head), patientId, seq, actor, subject,
///         purpose, outcome, uint40 timestamp))).
interface IAccessLog is IMedLedgerErrors {
    /// @notice One access in a batch.
    struct AccessRequest {
        uint64 patientId;
        bytes32 recordId;
        uint8 purpose;
    }

    /// @notice A read (outcomes 0-2, 16-23) or a denied write (outcomes 24-30) entered the chain.
    event AccessRecorded(
        uint64 indexed patientId,
        address indexed accessor,
        bytes32 indexed recordId,
        uint64 seq,
        uint8 purpose,
        uint8 outcome,
        uint40 timestamp,
        bytes24 head
    );

    /// @notice `recordId` is unknown for `patientId`.
    error AccessLogUnknownRecord(uint64 patientId, bytes32 recordId);
    /// @notice Unknown purpose code (0 .. 7).
    error AccessLogInvalidPurpose(uint8 purpose);
    /// @notice `caller` is neither a registered provider nor the patient's controller.
    error AccessLogNoStanding(uint64 patientId, address caller);

    /// @notice Logs the caller's read of `recordId` for `purpose`, checking consent on-chain.
    /// @dev A denied attempt does not revert: it is logged and returns false. Callers without
    ///      standing (not a registered provider, not the controller) revert and leave no entry.
    function recordAccess(uint64 patientId, bytes32 recordId, uint8 purpose) external returns (bool allowed);

    /// @notice `recordAccess` for several records in one transaction (at most 256).
    function recordAccessBatch(AccessRequest[] calldata requests) external returns (bool[] memory allowed);

    /// @notice The outcome `recordAccess` (action 1) or `addRecord` (action 2) would log now.
    function checkAccess(uint64 patientId, address accessor, uint8 category, uint8 action, uint8 purpose)
        external
        view
        returns (uint8 outcome);

    /// @notice The current chain head and number of entries of `patientId`'s chain.
    function logHead(uint64 patientId) external view returns (bytes24 head, uint64 count);
}
