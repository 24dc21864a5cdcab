// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Packed
/// @notice Bit layouts of the one-slot records on MedLedger's hot paths (docs/contracts.md).
/// @dev Hot mappings store plain uint256 words so that a lookup is exactly one SLOAD and a write
///      exactly one SSTORE, with no read-modify-write of neighbouring struct fields.
library Packed {
    // --- Account: per address ----------------------------------------------------------------
    // bits   0..63   patientId the address controls (0 = none)
    // bits  64..71   provider status (0 none, 1 active, 2 suspended)
    // bits  72..79   emergency responder flag (0/1)
    // bits  80..111  provider registeredAt (unix seconds)
    uint256 internal constant ACCOUNT_PATIENT_MASK = 0xFFFFFFFFFFFFFFFF;

    function accountPatient(uint256 a) internal pure returns (uint64) {
        return uint64(a);
    }

    function accountStatus(uint256 a) internal pure returns (uint8) {
        return uint8(a >> 64);
    }

    function accountResponder(uint256 a) internal pure returns (bool) {
        return uint8(a >> 72) != 0;
    }

    function accountRegisteredAt(uint256 a) internal pure returns (uint32) {
        return uint32(a >> 80);
    }

    function packProvider(uint8 status, bool responder, uint32 registeredAt) internal pure returns (uint256) {
        return (uint256(status) << 64) | (responder ? uint256(1) << 72 : 0) | (uint256(registeredAt) << 80);
    }

    // --- Consent: per (patientId, grantee) ------------------------------------------------------
    // bits   0..15   categories mask
    // bits  16..23   actions mask
    // bits  24..39   purposes mask
    // bits  40..71   validFrom
    // bits  72..103  validUntil (0 = no consent: a stored grant always has validUntil > 0)
    function packConsent(uint16 categories, uint8 actions, uint16 purposes, uint32 validFrom, uint32 validUntil)
        internal
        pure
        returns (uint256)
    {
        return uint256(categories) | (uint256(actions) << 16) | (uint256(purposes) << 24)
            | (uint256(validFrom) << 40) | (uint256(validUntil) << 72);
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

    function consentValidFrom(uint256 c) internal pure returns (uint32) {
        return uint32(c >> 40);
    }

    function consentValidUntil(uint256 c) internal pure returns (uint32) {
        return uint32(c >> 72);
    }

    // --- Record: per recordId --------------------------------------------------------------------
    // bits   0..159  author
    // bits 160..215  patientId (56 bits; ids are capped accordingly at registration)
    // bits 216..247  createdAt
    // bits 248..251  category
    // bit  252       CID codec is dag-pb (0x70); else raw (0x55)
    // bit  253       erased (tombstone)
    uint256 internal constant RECORD_DAG_PB = uint256(1) << 252;
    uint256 internal constant RECORD_ERASED = uint256(1) << 253;

    function packRecord(address author, uint64 patientId, uint32 createdAt, uint8 category, bool dagPb)
        internal
        pure
        returns (uint256)
    {
        return uint256(uint160(author)) | (uint256(patientId) << 160) | (uint256(createdAt) << 216)
            | (uint256(category) << 248) | (dagPb ? RECORD_DAG_PB : 0);
    }

    function recordAuthor(uint256 r) internal pure returns (address) {
        return address(uint160(r));
    }

    function recordPatient(uint256 r) internal pure returns (uint64) {
        return uint64(uint56(r >> 160));
    }

    function recordCreatedAt(uint256 r) internal pure returns (uint32) {
        return uint32(r >> 216);
    }

    function recordCategory(uint256 r) internal pure returns (uint8) {
        return uint8((r >> 248) & 0x0F);
    }

    function recordErased(uint256 r) internal pure returns (bool) {
        return r & RECORD_ERASED != 0;
    }

    function recordDagPb(uint256 r) internal pure returns (bool) {
        return r & RECORD_DAG_PB != 0;
    }
}
