// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title IAnchorRegistry
/// @notice Merkle roots of off-chain batches, namespaced by submitter: a stream belongs to the
///         address that anchors into it, so no one can write into (or front-run) another's stream.
interface IAnchorRegistry {
    /// @notice `submitter` anchored `root` (a batch of `count` items) in its stream `streamId`.
    event BatchAnchored(address indexed submitter, bytes32 indexed streamId, bytes32 indexed root, uint64 count);

    /// @notice The root must be non-zero.
    error AnchorRegistryInvalidRoot();
    /// @notice A batch must hold at least one item.
    error AnchorRegistryEmptyBatch();
    /// @notice This root is already anchored in this submitter's stream.
    error AnchorRegistryAlreadyAnchored(address submitter, bytes32 streamId, bytes32 root);
    /// @notice The proof is longer than MAX_PROOF_LENGTH.
    error AnchorRegistryProofTooLong(uint256 length);
    /// @notice The block time no longer fits in 40 bits.
    error AnchorRegistryTimeOverflow(uint256 timestamp);

    /// @notice Anchors `root` of a batch of `count` items in the caller's stream `streamId`.
    function anchor(bytes32 streamId, bytes32 root, uint64 count) external;

    /// @notice The anchor of (`submitter`, `streamId`, `root`); zero if not anchored.
    function getAnchor(address submitter, bytes32 streamId, bytes32 root)
        external
        view
        returns (uint64 count, uint40 anchoredAt);

    /// @notice True iff `submitter` anchored `root` in `streamId` and `proof` proves the item with
    ///         digest `itemDigest` under it. The leaf is computed on-chain as
    ///         keccak256(bytes.concat(keccak256(abi.encode(itemDigest)))), so an inner node can never
    ///         pass as an item.
    function verifyItem(
        address submitter,
        bytes32 streamId,
        bytes32 root,
        bytes32 itemDigest,
        bytes32[] calldata proof
    ) external view returns (bool);
}
