// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

import {IConsentManager} from "../interfaces/IConsentManager.sol";
import {IMedLedger} from "../interfaces/IMedLedger.sol";
import {Codes} from "../libraries/Codes.sol";
import {Packed} from "../libraries/Packed.sol";

/// @title MedLedgerBase
/// @notice Shared storage and primitives of the MedLedger components: one storage space so the hot
///         paths (grant, recordAccess, addRecord) read identity, provider status and consent
///         without external calls. Bit layouts are documented in docs/contracts.md.
abstract contract MedLedgerBase is EIP712, Nonces, IMedLedger {
    /// @dev Provider data that the hot paths never read.
    struct ProviderInfo {
        bytes32 encryptionKey;
        bytes32 keyDocument;
        string name;
    }

    /// @dev An opened break-glass window; categories are snapshotted at opening.
    struct BreakGlassWindow {
        uint32 expiresAt;
        uint16 categories;
    }

    /// @dev Guardian configuration; `guardians` holds at most MAX_GUARDIANS entries.
    struct GuardianConfig {
        uint8 threshold;
        uint32 delay;
        address[] guardians;
    }

    /// @dev The single pending recovery of a patient (one slot).
    struct PendingRecovery {
        address newController;
        uint8 approvals;
        uint32 executableAt; // 0 until the threshold is reached
        uint16 approvedMask; // bit i = guardians[i] approved
    }

    uint256 internal constant MAX_GUARDIANS = 10;
    uint256 internal constant MAX_GRANT_BATCH = 64;
    uint256 internal constant MAX_ACCESS_BATCH = 256;

    bytes32 internal constant GRANT_TYPEHASH = keccak256(
        "Grant(uint64 patientId,address grantee,uint16 categories,uint8 actions,uint16 purposes,uint32 validFrom,uint32 validUntil,bytes32 keyBundle,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant REVOKE_TYPEHASH =
        keccak256("Revoke(uint64 patientId,address grantee,uint256 nonce,uint256 deadline)");
    bytes32 internal constant SET_KEYRING_TYPEHASH =
        keccak256("SetKeyring(uint64 patientId,bytes32 keyring,uint256 nonce,uint256 deadline)");
    bytes32 internal constant ADD_RECORD_TYPEHASH = keccak256(
        "AddRecord(uint64 patientId,bytes32 recordId,uint8 category,uint8 cidCodec,address author,uint256 nonce,uint256 deadline)"
    );

    uint64 internal _patientCount;
    /// @dev Packed.Account words: which patient an address controls and its provider role. One
    ///      SLOAD answers "who is the caller" on every hot path; an address is never both.
    mapping(address account => uint256) internal _accounts;
    mapping(uint64 patientId => Patient) internal _patients;
    mapping(address provider => ProviderInfo) internal _providerInfo;
    /// @dev Packed.Consent words.
    mapping(uint64 patientId => mapping(address grantee => uint256)) internal _consents;
    mapping(uint64 patientId => mapping(address responder => BreakGlassWindow)) internal _breakGlass;
    /// @dev Access-log chain state: head (bits 255..64) | count (bits 63..0); see _appendLog.
    // slither-disable-next-line uninitialized-state (written by the assembly in _appendLog)
    mapping(uint64 patientId => uint256) internal _logs;
    /// @dev Packed.Record words: one slot per record, so addRecord creates exactly one slot.
    mapping(bytes32 recordId => uint256) internal _records;
    mapping(uint64 patientId => GuardianConfig) internal _guardianConfigs;
    mapping(uint64 patientId => PendingRecovery) internal _recoveries;

    /// @inheritdoc IConsentManager
    function nonces(address signer) public view override(Nonces, IConsentManager) returns (uint256) {
        return super.nonces(signer);
    }

    /// @dev The patient controlled by the caller; reverts if none (old controllers control none).
    function _callerPatient() internal view returns (uint64 patientId) {
        patientId = Packed.accountPatient(_accounts[msg.sender]);
        // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
        if (patientId == 0) revert MedLedgerNotController();
    }

    /// @dev The current controller of `patientId`; reverts if the patient does not exist.
    function _controllerOf(uint64 patientId) internal view returns (address controller) {
        controller = _patients[patientId].controller;
        if (controller == address(0)) revert MedLedgerUnknownPatient(patientId);
    }

    /// @dev Checks an EIP-712 signature of `signer` over `structHash` (which must embed the
    ///      signer's consumed nonce) and the deadline. ERC-1271 wallets are accepted as signers.
    function _checkSignature(address signer, bytes32 structHash, uint256 deadline, bytes calldata signature)
        internal
        view
    {
        if (block.timestamp > deadline) revert MedLedgerSignatureExpired(deadline);
        if (!SignatureChecker.isValidSignatureNow(signer, _hashTypedDataV4(structHash), signature)) {
            revert MedLedgerInvalidSignature();
        }
    }

    /// @dev The grant rules, without the patient and break-glass rules, on a Packed.Consent word
    ///      `c`. `purposeBit` 0 skips the purpose check (writes and `hasAccess`). The order of the
    ///      reasons is documented in docs/contracts.md: none, suspended, not yet valid, expired,
    ///      category, action, purpose.
    function _grantOutcome(uint256 c, uint8 status, uint8 category, uint8 action, uint256 purposeBit)
        internal
        view
        returns (uint8)
    {
        uint256 validUntil = Packed.consentValidUntil(c);
        if (validUntil == 0) return Codes.OUTCOME_DENIED_NO_CONSENT;
        if (status != Codes.PROVIDER_ACTIVE) return Codes.OUTCOME_DENIED_SUSPENDED;
        if (block.timestamp < Packed.consentValidFrom(c)) return Codes.OUTCOME_DENIED_NOT_YET_VALID;
        if (block.timestamp >= validUntil) return Codes.OUTCOME_DENIED_EXPIRED;
        // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
        if ((uint256(Packed.consentCategories(c)) >> category) & 1 == 0) return Codes.OUTCOME_DENIED_CATEGORY;
        uint8 granted = Packed.consentActions(c);
        if (action == 0 || granted & action != action) return Codes.OUTCOME_DENIED_ACTION;
        if (purposeBit != 0 && uint256(Packed.consentPurposes(c)) & purposeBit == 0) {
            return Codes.OUTCOME_DENIED_PURPOSE;
        }
        return Codes.OUTCOME_ALLOWED_CONSENT;
    }

    /// @dev Full access rules for `accessor`: the patient's own controller, then consent, then an
    ///      open break-glass window (read only).
    function _evaluate(uint64 patientId, address accessor, uint8 category, uint8 action, uint8 purpose)
        internal
        view
        returns (uint8 outcome)
    {
        uint256 acct = _accounts[accessor];
        uint64 own = Packed.accountPatient(acct);
        // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
        if (own != 0 && own == patientId) return Codes.OUTCOME_ALLOWED_PATIENT;
        uint8 status = Packed.accountStatus(acct);
        outcome = _grantOutcome(_consents[patientId][accessor], status, category, action, uint256(1) << purpose);
        if (outcome >= Codes.OUTCOME_FIRST_DENIAL && action == Codes.ACTION_READ) {
            BreakGlassWindow memory w = _breakGlass[patientId][accessor];
            // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
            if (block.timestamp < w.expiresAt && (uint256(w.categories) >> category) & 1 == 1) {
                // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
                outcome = status == Codes.PROVIDER_ACTIVE ? Codes.OUTCOME_ALLOWED_EMERGENCY : Codes.OUTCOME_DENIED_SUSPENDED;
            }
        }
    }

    /// @dev Appends one entry to `patientId`'s hash chain and emits it (docs/architecture.md):
    ///      head' = bytes24(keccak256(abi.encode(bytes32(head), patientId, seq, accessor, recordId,
    ///      purpose, outcome, timestamp))). The state word holds head in bits 255..64 (already
    ///      left-aligned, i.e. bytes32(head)) and count in bits 63..0: one SLOAD, one SSTORE, then
    ///      the event. Hand-written because it runs on every access (about 120 gas less than the
    ///      Solidity equivalent).
    function _appendLog(uint64 patientId, address accessor, bytes32 recordId, uint8 purpose, uint8 outcome) internal {
        bytes32 eventSig = AccessRecorded.selector;
        assembly ("memory-safe") {
            mstore(0x00, patientId)
            mstore(0x20, _logs.slot)
            let slot := keccak256(0x00, 0x40) // _logs[patientId]
            let state := sload(slot)
            let seq := and(state, 0xffffffffffffffff)
            let m := mload(0x40) // scratch above the free pointer; not retained
            mstore(m, and(state, not(0xffffffffffffffff)))
            mstore(add(m, 0x20), patientId)
            mstore(add(m, 0x40), seq)
            mstore(add(m, 0x60), accessor)
            mstore(add(m, 0x80), recordId)
            mstore(add(m, 0xa0), purpose)
            mstore(add(m, 0xc0), outcome)
            mstore(add(m, 0xe0), and(timestamp(), 0xffffffff))
            let head := and(keccak256(m, 0x100), not(0xffffffffffffffff))
            sstore(slot, or(head, add(seq, 1)))
            // AccessRecorded data = seq, purpose, outcome, timestamp, head: reuse the words in place.
            mstore(add(m, 0x80), seq)
            mstore(add(m, 0x100), head)
            log4(add(m, 0x80), 0xa0, eventSig, patientId, accessor, recordId)
        }
    }
}
