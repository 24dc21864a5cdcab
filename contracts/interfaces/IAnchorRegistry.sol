// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title IAnchorRegistry
/// @notice Merkle roots of off-chain batches. Leaves are
///         keccak256(bytes.concat(keccak256(abi.encode(itemDigest)))); inner nodes hash sorted pairs.
interface IAnchorRegistry {
    event BatchAnchored(bytes32 indexed streamId, bytes32 indexed root, address indexed submitter, uint64 count);

    /// @notice The root must be non-zero.
    error AnchorRegistryInvalidRoot();
    /// @notice A batch must hold at least one item.
    error AnchorRegistryEmptyBatch();
    /// @notice This root is already anchored in this stream.
    error AnchorRegistryAlreadyAnchored(bytes32 streamId, bytes32 root);

    /// @notice Anchors `root` of a batch of `count` items in `streamId`; permissionless, the caller
    ///         is recorded as submitter. Constant cost whatever the batch size.
    function anchor(bytes32 streamId, bytes32 root, uint64 count) external;

    /// @notice The anchor of (`streamId`, `root`); all zero if not anchored.
    function getAnchor(bytes32 streamId, bytes32 root)
        external
        view
        returns (address submitter, uint64 count, uint32 anchoredAt);

    /// @notice True iff `root` is anchored in `streamId` and `proof` proves `leaf` (an already
    ///         double-hashed leaf) under it.
    function verify(bytes32 streamId, bytes32 root, bytes32 leaf, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice Like `verify`, but takes the item digest and computes the double-hashed leaf on-chain,
    ///         so an inner node can never pass as an item.
    function verifyItem(bytes32 streamId, bytes32 root, bytes32 itemDigest, bytes32[] calldata proof)
        external
        view
        returns (bool);
}
