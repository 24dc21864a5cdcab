// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title IAccessLog
/// @notice Consent-checked access events chained per patient into a tamper-evident hash chain:
///         head' = bytes24(keccak256(abi.encode(bytes32(head), patientId, seq, accessor, recordId,
///         purpose, outcome, timestamp))).
interface IAccessLog is IMedLedgerErrors {
    /// @notice One access in a batch.
    struct AccessRequest {
        uint64 patientId;
        bytes32 recordId;
        uint8 purpose;
    }

    event AccessRecorded(
        uint64 indexed patientId,
        address indexed accessor,
        bytes32 indexed recordId,
        uint64 seq,
        uint8 purpose,
        uint8 outcome,
        uint32 timestamp,
        bytes24 head
    );

    /// @notice `recordId` is unknown or does not belong to `patientId`.
    error AccessLogUnknownRecord(uint64 patientId, bytes32 recordId);
    /// @notice Unknown purpose code (0 .. 7).
    error AccessLogInvalidPurpose(uint8 purpose);

    /// @notice Logs the caller's read of `recordId` for `purpose`, checking consent on-chain.
    /// @dev A denied attempt does not revert: it is logged with its reason code and returns false.
    /// @return allowed True for outcomes 0 (consent), 1 (patient), 2 (break-glass).
    function recordAccess(uint64 patientId, bytes32 recordId, uint8 purpose) external returns (bool allowed);

    /// @notice `recordAccess` for several records in one transaction.
    /// @param requests At most 256 requests.
    function recordAccessBatch(AccessRequest[] calldata requests) external returns (bool[] memory allowed);

    /// @notice The outcome `recordAccess` would log for `accessor` reading (`action` 1) or writing
    ///         (`action` 2) `category` of `patientId` for `purpose` now; no state change, no record lookup.
    function checkAccess(uint64 patientId, address accessor, uint8 category, uint8 action, uint8 purpose)
        external
        view
        returns (uint8 outcome);

    /// @notice The current chain head and number of entries of `patientId`'s access log.
    function logHead(uint64 patientId) external view returns (bytes24 head, uint64 count);
}
