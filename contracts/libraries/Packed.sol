// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Packed
/// @notice Bit layouts of the one-slot records on MedLedger's hot paths (docs/contracts.md).
/// @dev Hot mappings store plain uint256 words so that a lookup is exactly one SLOAD and a write
///      exactly one SSTORE. Every stored time is 40 bits (unix seconds, good until year 36812).
library Packed {
    // --- Account: per address ----------------------------------------------------------------
    // bits   0..63   patientId the address controls (0 = none)
    // bits  64..71   provider status (0 none, 1 active, 2 suspended)
    // bits  72..79   emergency responder flag (0/1)
    // bits  80..119  provider registeredAt (unix seconds)
    function accountPatient(uint256 a) internal pure returns (uint64) {
        return uint64(a);
    }

    function accountStatus(uint256 a) internal pure returns (uint8) {
        return uint8(a >> 64);
    }

    function accountResponder(uint256 a) internal pure returns (bool) {
        return uint8(a >> 72) != 0;
    }

    function accountRegisteredAt(uint256 a) internal pure returns (uint40) {
        return uint40(a >> 80);
    }

    function packProvider(uint8 status, bool responder, uint40 registeredAt) internal pure returns (uint256) {
        return (uint256(status) << 64) | (responder ? uint256(1) << 72 : 0) | (uint256(registeredAt) << 80);
    }

    // --- Consent: per (patientId, grantee) ------------------------------------------------------
    // bits   0..15   categories mask
    // bits  16..23   actions mask
    // bits  24..39   purposes mask
    // bits  40..79   validFrom
    // bits  80..119  validUntil (0 = no consent: a stored grant always has validUntil > 0)
    function packConsent(uint16 categories, uint8 actions, uint16 purposes, uint40 validFrom, uint40 validUntil)
        internal
        pure
        returns (uint256)
    {
        return uint256(categories) | (uint256(actions) << 16) | (uint256(purposes) << 24)
            | (uint256(validFrom) << 40) | (uint256(validUntil) << 80);
    }

    function consentCategories(uint256 c) internal pure returns (uint16) {
        return uint16(c);
    }

    function consentActions(uint256 c) internal pure returns (uint8) {
        return uint8(c >> 16);
    }

    function consentPurposes(uint256 c) internal pure returns (uint16) {
        return uint16(c >> 24);
    }

    function consentValidFrom(uint256 c) internal pure returns (uint40) {
        return uint40(c >> 40);
    }

    function consentValidUntil(uint256 c) internal pure returns (uint40) {
        return uint40(c >> 80);
    }

    // --- Record: per (patientId, recordId) ------------------------------------------------------
    // bits   0..159  author
    // bits 160..199  createdAt
    // bits 200..203  category
    // bit  204       CID codec is dag-pb (0x70); else raw (0x55)
    // bit  205       erased (tombstone)
    uint256 internal constant RECORD_DAG_PB = uint256(1) << 204;
    uint256 internal constant RECORD_ERASED = uint256(1) << 205;

    function packRecord(address author, uint40 createdAt, uint8 category, bool dagPb)
        internal
        pure
        returns (uint256)
    {
        return uint256(uint160(author)) | (uint256(createdAt) << 160) | ((uint256(category) & 0x0F) << 200)
            | (dagPb ? RECORD_DAG_PB : 0);
    }

    function recordAuthor(uint256 r) internal pure returns (address) {
        return address(uint160(r));
    }

    function recordCreatedAt(uint256 r) internal pure returns (uint40) {
        return uint40(r >> 160);
    }

    function recordCategory(uint256 r) internal pure returns (uint8) {
        return uint8((r >> 200) & 0x0F);
    }

    function recordErased(uint256 r) internal pure returns (bool) {
        return r & RECORD_ERASED != 0;
    }

    function recordDagPb(uint256 r) internal pure returns (bool) {
        return r & RECORD_DAG_PB != 0;
    }
}
