// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IAnchorRegistry} from "./interfaces/IAnchorRegistry.sol";

/// @title AnchorRegistry
/// @notice Permissionless registry of Merkle roots of off-chain batches (vitals, trial data,
///         archived log pages), namespaced by submitter. One slot per anchor.
contract AnchorRegistry is IAnchorRegistry {
    /// @dev Longest accepted proof: enough for 2**64 leaves.
    uint256 public constant MAX_PROOF_LENGTH = 64;

    /// @dev One slot: count 64 | anchoredAt 40.
    struct Anchor {
        uint64 count;
        uint40 anchoredAt;
    }

    mapping(address submitter => mapping(bytes32 streamId => mapping(bytes32 root => Anchor))) private _anchors;

    /// @inheritdoc IAnchorRegistry
    function anchor(bytes32 streamId, bytes32 root, uint64 count) external {
        if (root == bytes32(0)) revert AnchorRegistryInvalidRoot();
        if (count == 0) revert AnchorRegistryEmptyBatch();
        if (block.timestamp > type(uint40).max) revert AnchorRegistryTimeOverflow(block.timestamp);
        Anchor storage a = _anchors[msg.sender][streamId][root];
        if (a.anchoredAt != 0) revert AnchorRegistryAlreadyAnchored(msg.sender, streamId, root);
        _anchors[msg.sender][streamId][root] = Anchor(count, uint40(block.timestamp));
        emit BatchAnchored(msg.sender, streamId, root, count);
    }

    /// @inheritdoc IAnchorRegistry
    function getAnchor(address submitter, bytes32 streamId, bytes32 root)
        external
        view
        returns (uint64 count, uint40 anchoredAt)
    {
        Anchor memory a = _anchors[submitter][streamId][root];
        return (a.count, a.anchoredAt);
    }

    /// @inheritdoc IAnchorRegistry
    function verifyItem(
        address submitter,
        bytes32 streamId,
        bytes32 root,
        bytes32 itemDigest,
        bytes32[] calldata proof
    ) external view returns (bool) {
        if (proof.length > MAX_PROOF_LENGTH) revert AnchorRegistryProofTooLong(proof.length);
        if (_anchors[submitter][streamId][root].anchoredAt == 0) return false;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(itemDigest))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }
}
