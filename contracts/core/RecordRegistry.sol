// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";
import {Codes} from "../libraries/Codes.sol";
import {Packed} from "../libraries/Packed.sol";
import {MedLedgerBase} from "./MedLedgerBase.sol";

/// @title RecordRegistry
/// @notice The longitudinal, append-only record index with erasure tombstones.
abstract contract RecordRegistry is MedLedgerBase {
    /// @inheritdoc IRecordRegistry
    function addRecord(uint64 patientId, bytes32 recordId, uint8 category, uint8 cidCodec) external {
        _addRecord(patientId, recordId, category, cidCodec, msg.sender);
    }

    /// @inheritdoc IRecordRegistry
    function addRecordBySig(
        uint64 patientId,
        bytes32 recordId,
        uint8 category,
        uint8 cidCodec,
        address author,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes32 structHash = keccak256(
            abi.encode(ADD_RECORD_TYPEHASH, patientId, recordId, category, cidCodec, author, _useNonce(author), deadline)
        );
        _checkSignature(author, structHash, deadline, signature);
        _addRecord(patientId, recordId, category, cidCodec, author);
    }

    /// @inheritdoc IRecordRegistry
    function eraseRecord(bytes32 recordId) external {
        uint64 patientId = _callerPatient();
        uint256 r = _records[recordId];
        uint64 owner = Packed.recordPatient(r);
        if (owner == 0) revert RecordNotFound(recordId);
        if (owner != patientId) revert MedLedgerNotController();
        if (Packed.recordErased(r)) revert RecordAlreadyErased(recordId);
        _records[recordId] = r | Packed.RECORD_ERASED;
        emit RecordErased(patientId, recordId);
    }

    /// @inheritdoc IRecordRegistry
    function getRecord(bytes32 recordId) external view returns (Record memory) {
        uint256 r = _records[recordId];
        // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
        if (r == 0) return Record(0, address(0), 0, 0, 0, false);
        return Record({
            patientId: Packed.recordPatient(r),
            author: Packed.recordAuthor(r),
            category: Packed.recordCategory(r),
            cidCodec: Packed.recordDagPb(r) ? Codes.CID_CODEC_DAG_PB : Codes.CID_CODEC_RAW,
            createdAt: Packed.recordCreatedAt(r),
            erased: Packed.recordErased(r)
        });
    }

    function _addRecord(uint64 patientId, bytes32 recordId, uint8 category, uint8 cidCodec, address author)
        internal
    {
        if (recordId == bytes32(0)) revert RecordInvalidId();
        if (category >= Codes.CATEGORY_COUNT) revert RecordInvalidCategory(category);
        bool dagPb = cidCodec == Codes.CID_CODEC_DAG_PB;
        if (!dagPb && cidCodec != Codes.CID_CODEC_RAW) revert RecordInvalidCodec(cidCodec);
        if (_records[recordId] != 0) revert RecordAlreadyExists(recordId);
        uint256 a = _accounts[author];
        uint64 own = Packed.accountPatient(a);
        // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
        if (own == 0 || own != patientId) {
            uint8 outcome = _grantOutcome(
                _consents[patientId][author], Packed.accountStatus(a), category, Codes.ACTION_WRITE, 0
            );
            if (outcome != Codes.OUTCOME_ALLOWED_CONSENT) revert RecordNotAuthorized(author, outcome);
        }
        // patientId < 2**56: the author controls it or holds a consent for it, so it exists.
        _records[recordId] = Packed.packRecord(author, patientId, uint32(block.timestamp), category, dagPb);
        emit RecordAdded(patientId, recordId, author, category, cidCodec);
    }
}
