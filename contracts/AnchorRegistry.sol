// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IAnchorRegistry} from "./interfaces/IAnchorRegistry.sol";

/// @title AnchorRegistry
/// @notice Permissionless registry of Merkle roots of off-chain batches (vitals, trial data,
///         archived log pages). One slot per anchor: cost does not depend on the batch size.
contract AnchorRegistry is IAnchorRegistry {
    /// @dev Longest accepted proof: enough for 2**64 leaves.
    uint256 public constant MAX_PROOF_LENGTH = 64;

    /// @dev One slot: submitter 160 | count 64 | anchoredAt 32.
    struct Anchor {
        address submitter;
        uint64 count;
        uint32 anchoredAt;
    }

    /// @notice The proof is longer than MAX_PROOF_LENGTH.
    error AnchorRegistryProofTooLong(uint256 length);

    mapping(bytes32 streamId => mapping(bytes32 root => Anchor)) private _anchors;

    /// @inheritdoc IAnchorRegistry
    function anchor(bytes32 streamId, bytes32 root, uint64 count) external {
        if (root == bytes32(0)) revert AnchorRegistryInvalidRoot();
        if (count == 0) revert AnchorRegistryEmptyBatch();
        Anchor storage a = _anchors[streamId][root];
        if (a.anchoredAt != 0) revert AnchorRegistryAlreadyAnchored(streamId, root);
        _anchors[streamId][root] = Anchor(msg.sender, count, uint32(block.timestamp));
        emit BatchAnchored(streamId, root, msg.sender, count);
    }

    /// @inheritdoc IAnchorRegistry
    function getAnchor(bytes32 streamId, bytes32 root)
        external
        view
        returns (address submitter, uint64 count, uint32 anchoredAt)
    {
        Anchor memory a = _anchors[streamId][root];
        return (a.submitter, a.count, a.anchoredAt);
    }

    /// @inheritdoc IAnchorRegistry
    function verify(bytes32 streamId, bytes32 root, bytes32 leaf, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        return _verify(streamId, root, leaf, proof);
    }

    /// @inheritdoc IAnchorRegistry
    function verifyItem(bytes32 streamId, bytes32 root, bytes32 itemDigest, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        return _verify(streamId, root, keccak256(bytes.concat(keccak256(abi.encode(itemDigest)))), proof);
    }

    function _verify(bytes32 streamId, bytes32 root, bytes32 leaf, bytes32[] calldata proof)
        private
        view
        returns (bool)
    {
        if (proof.length > MAX_PROOF_LENGTH) revert AnchorRegistryProofTooLong(proof.length);
        if (_anchors[streamId][root].anchoredAt == 0) return false;
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }
}
