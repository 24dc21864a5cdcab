// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title IRecordRegistry
/// @notice The longitudinal, append-only record index, keyed by (patientId, recordId).
interface IRecordRegistry is IMedLedgerErrors {
    /// @notice A record index entry (all zero = unknown).
    struct Record {
        address author;
        uint8 category;
        uint8 cidCodec;
        uint40 createdAt;
        bool erased;
    }

    /// @notice A record was added (sealed under the keyring current in this block). Chain entry:
    ///         outcome 8, actor author, subject recordId, purpose 0.
    event RecordAdded(
        uint64 indexed patientId,
        bytes32 indexed recordId,
        address indexed author,
        uint8 category,
        uint8 cidCodec,
        uint64 seq,
        bytes24 head
    );
    /// @notice A record was erased. Chain entry: outcome 9, actor controller, subject recordId.
    event RecordErased(uint64 indexed patientId, bytes32 indexed recordId, uint64 seq, bytes24 head);

    /// @notice The record id must be non-zero.
    error RecordInvalidId();
    /// @notice A record id can be added only once per patient (erased ids stay taken).
    error RecordAlreadyExists(uint64 patientId, bytes32 recordId);
    /// @notice Unknown category code (0 .. 9).
    error RecordInvalidCategory(uint8 category);
    /// @notice The CID codec must be raw (0x55) or dag-pb (0x70).
    error RecordInvalidCodec(uint8 cidCodec);
    /// @notice The author is neither a registered provider nor the patient's controller.
    error RecordNoStanding(uint64 patientId, address author);
    /// @notice The record was sealed under `expected`, but the patient's keyring is `actual`.
    error RecordStaleKeyring(bytes32 expected, bytes32 actual);
    /// @notice `addRecordBatch` needs one category byte and one codec byte per record id.
    error RecordBatchLengthMismatch(uint256 records, uint256 categories, uint256 cidCodecs);
    /// @notice No record has this id under this patient.
    error RecordNotFound(uint64 patientId, bytes32 recordId);
    /// @notice The record is already erased.
    error RecordAlreadyErased(bytes32 recordId);

    /// @notice Adds a record to `patientId`'s index; the caller is the author.
    /// @dev Allowed for the controller or an active provider with write consent for `category`.
    ///      A registered provider without it is logged as a denied write (outcome reason + 8) and
    ///      false is returned, nothing stored. Anyone else reverts.
    /// @param keyring The keyring digest the record was sealed under; must be the current one.
    /// @return added True if stored.
    function addRecord(uint64 patientId, bytes32 recordId, uint8 category, uint8 cidCodec, bytes32 keyring)
        external
        returns (bool added);

    /// @notice `addRecord` for up to 256 records of one patient sealed under one keyring, in order;
    ///         the caller is the author of each. Byte i of `categories` and of `cidCodecs` belongs
    ///         to `recordIds[i]`.
    /// @dev Each record follows `addRecord`'s rules (a denied write is logged, not reverted); any
    ///      revert (duplicate id, stale keyring, bad code) undoes the whole batch. One hash-chain
    ///      entry and one `RecordAdded` per added record, as with `addRecord`.
    /// @return added How many records were stored.
    function addRecordBatch(
        uint64 patientId,
        bytes32 keyring,
        bytes32[] calldata recordIds,
        bytes calldata categories,
        bytes calldata cidCodecs
    ) external returns (uint256 added);

    /// @notice `addRecord` authorised by the author's EIP-712 `AddRecord` signature; anyone may submit.
    function addRecordBySig(
        uint64 patientId,
        bytes32 recordId,
        uint8 category,
        uint8 cidCodec,
        bytes32 keyring,
        address author,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external returns (bool added);

    /// @notice Tombstones a record of the caller's patient; later reads are denied (outcome 23).
    function eraseRecord(bytes32 recordId) external;

    /// @notice The index entry of (`patientId`, `recordId`) (all zero if unknown).
    function getRecord(uint64 patientId, bytes32 recordId) external view returns (Record memory);
}
