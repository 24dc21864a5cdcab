// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title IRecordRegistry
/// @notice Longitudinal index of encrypted records (the record id is the ciphertext's CID digest).
interface IRecordRegistry is IMedLedgerErrors {
    /// @notice A record index entry (all zero = unknown).
    struct Record {
        uint64 patientId;
        address author;
        uint8 category;
        uint8 cidCodec;
        uint32 createdAt;
        bool erased;
    }

    event RecordAdded(
        uint64 indexed patientId, bytes32 indexed recordId, address indexed author, uint8 category, uint8 cidCodec
    );
    event RecordErased(uint64 indexed patientId, bytes32 indexed recordId);

    /// @notice The record id must be non-zero.
    error RecordInvalidId();
    /// @notice A record id can be added only once (erased ids stay taken).
    error RecordAlreadyExists(bytes32 recordId);
    /// @notice Unknown category code (0 .. 9).
    error RecordInvalidCategory(uint8 category);
    /// @notice The CID codec must be raw (0x55) or dag-pb (0x70).
    error RecordInvalidCodec(uint8 cidCodec);
    /// @notice The author is neither the patient's controller nor a provider with write consent.
    /// @param outcome The access outcome code that denied the write.
    error RecordNotAuthorized(address author, uint8 outcome);
    /// @notice No record has this id.
    error RecordNotFound(bytes32 recordId);
    /// @notice The record is already erased.
    error RecordAlreadyErased(bytes32 recordId);

    /// @notice Adds a record to `patientId`'s index; the caller is the author.
    /// @dev Allowed for the patient's controller, or an active provider whose consent covers
    ///      `category` with the write action now.
    function addRecord(uint64 patientId, bytes32 recordId, uint8 category, uint8 cidCodec) external;

    /// @notice `addRecord` authorised by the author's EIP-712 `AddRecord` signature; anyone may submit.
    function addRecordBySig(
        uint64 patientId,
        bytes32 recordId,
        uint8 category,
        uint8 cidCodec,
        address author,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Tombstones a record of the caller's patient; later reads are denied (outcome 23).
    /// @dev Emits RecordErased, the notice to grantees (GDPR Art. 19). The ciphertext is removed off-chain.
    function eraseRecord(bytes32 recordId) external;

    /// @notice The index entry of `recordId` (all zero if unknown).
    function getRecord(bytes32 recordId) external view returns (Record memory);
}
