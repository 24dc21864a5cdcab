// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";
import {Codes} from "../libraries/Codes.sol";
import {Packed} from "../libraries/Packed.sol";
import {MedLedgerBase} from "./MedLedgerBase.sol";

/// @title RecordRegistry
/// @notice The longitudinal, append-only record index (keyed by patient) with erasure tombstones.
abstract contract RecordRegistry is MedLedgerBase {
    /// @inheritdoc IRecordRegistry
    function addRecord(uint64 patientId, bytes32 recordId, uint8 category, uint8 cidCodec, bytes32 keyring)
        external
        returns (bool added)
    {
        return _addRecord(patientId, recordId, category, cidCodec, keyring, msg.sender);
    }

    /// @inheritdoc IRecordRegistry
    function addRecordBatch(
        uint64 patientId,
        bytes32 keyring,
        bytes32[] calldata recordIds,
        bytes calldata categories,
        bytes calldata cidCodecs
    ) external returns (uint256 added) {
        uint256 n = recordIds.length;
        if (n > MAX_RECORD_BATCH) revert MedLedgerBatchTooLarge(n, MAX_RECORD_BATCH);
        if (categories.length != n || cidCodecs.length != n) {
            revert RecordBatchLengthMismatch(n, categories.length, cidCodecs.length);
        }
        for (uint256 i = 0; i < n; ++i) {
            if (_addRecord(patientId, recordIds[i], uint8(categories[i]), uint8(cidCodecs[i]), keyring, msg.sender)) {
                ++added;
            }
        }
    }

    /// @inheritdoc IRecordRegistry
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
    ) external returns (bool added) {
        bytes32 structHash = keccak256(
            abi.encode(
                ADD_RECORD_TYPEHASH, patientId, recordId, category, cidCodec, keyring, author, nonce, deadline
            )
        );
        _checkSignature(author, structHash, nonce, deadline, signature);
        return _addRecord(patientId, recordId, category, cidCodec, keyring, author);
    }

    /// @inheritdoc IRecordRegistry
    function eraseRecord(bytes32 recordId) external {
        uint64 patientId = _callerPatient();
        uint256 r = _records[patientId][recordId];
        // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
        if (r == 0) revert RecordNotFound(patientId, recordId);
        if (Packed.recordErased(r)) revert RecordAlreadyErased(recordId);
        _records[patientId][recordId] = r | Packed.RECORD_ERASED;
        (uint64 seq, bytes24 head) = _appendLog(patientId, msg.sender, recordId, 0, Codes.OUTCOME_RECORD_ERASED, 0);
        emit RecordErased(patientId, recordId, seq, head);
    }

    /// @inheritdoc IRecordRegistry
    function getRecord(uint64 patientId, bytes32 recordId) external view returns (Record memory) {
        uint256 r = _records[patientId][recordId];
        // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
        if (r == 0) return Record(address(0), 0, 0, 0, false);
        return Record({
            author: Packed.recordAuthor(r),
            category: Packed.recordCategory(r),
            cidCodec: Packed.recordDagPb(r) ? Codes.CID_CODEC_DAG_PB : Codes.CID_CODEC_RAW,
            createdAt: Packed.recordCreatedAt(r),
            erased: Packed.recordErased(r)
        });
    }

    function _addRecord(
        uint64 patientId,
        bytes32 recordId,
        uint8 category,
        uint8 cidCodec,
        bytes32 keyring,
        address author
    ) internal returns (bool) {
        if (recordId == bytes32(0)) revert RecordInvalidId();
        if (category >= Codes.CATEGORY_COUNT) revert RecordInvalidCategory(category);
        bool dagPb = cidCodec == Codes.CID_CODEC_DAG_PB;
        if (!dagPb && cidCodec != Codes.CID_CODEC_RAW) revert RecordInvalidCodec(cidCodec);
        uint256 a = _accounts[author];
        uint64 own = Packed.accountPatient(a);
        // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
        if (own == 0 || own != patientId) {
            uint8 status = Packed.accountStatus(a);
            // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
            if (status == Codes.PROVIDER_NONE) revert RecordNoStanding(patientId, author);
            uint8 outcome = _grantOutcome(_consents[patientId][author], status, category, Codes.ACTION_WRITE, 0);
            if (outcome != Codes.OUTCOME_ALLOWED_CONSENT) {
                // A registered provider's denied write is evidence: chain it instead of reverting.
                outcome += Codes.OUTCOME_WRITE_DENIAL_OFFSET;
                (uint64 dseq, bytes24 dhead) = _appendLog(patientId, author, recordId, 0, outcome, 0);
                emit AccessRecorded(patientId, author, recordId, dseq, 0, outcome, uint40(block.timestamp), dhead);
                return false;
            }
        }
        if (_records[patientId][recordId] != 0) revert RecordAlreadyExists(patientId, recordId);
        bytes32 current = _patients[patientId].keyring;
        if (current != keyring) revert RecordStaleKeyring(keyring, current);
        _records[patientId][recordId] = Packed.packRecord(author, uint40(block.timestamp), category, dagPb); // range: _appendLog
        (uint64 seq, bytes24 head) = _appendLog(patientId, author, recordId, 0, Codes.OUTCOME_RECORD_ADDED, 0);
        emit RecordAdded(patientId, recordId, author, category, cidCodec, seq, head);
        return true;
    }
}
