// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {NoncesKeyed} from "@openzeppelin/contracts/utils/NoncesKeyed.sol";

import {IConsentManager} from "../interfaces/IConsentManager.sol";
import {IMedLedger} from "../interfaces/IMedLedger.sol";
import {Codes} from "../libraries/Codes.sol";
import {Packed} from "../libraries/Packed.sol";

/// @title MedLedgerBase
/// @notice Shared storage and primitives of the MedLedger components: one storage space so the hot
///         paths (grant, revoke, recordAccess, addRecord) read identity, provider status and
///         consent without external calls. Bit layouts are documented in docs/contracts.md.
abstract contract MedLedgerBase is EIP712, NoncesKeyed, IMedLedger {
    /// @dev Provider data that the hot paths never read.
    struct ProviderInfo {
        bytes32 encryptionKey;
        bytes32 keyDocument;
        string name;
    }

    /// @dev A break-glass window; categories are snapshotted at opening and re-checked on reads.
    struct BreakGlassWindow {
        uint40 expiresAt;
        uint16 categories;
    }

    /// @dev Guardian configuration; `guardians` holds at most MAX_GUARDIANS entries.
    struct GuardianConfig {
        uint8 threshold;
        uint32 delay;
        address[] guardians;
    }

    /// @dev The current recovery round of a patient (one slot). Approvals live in `_votes`/`_tally`
    ///      keyed by round, so bumping `round` discards them all.
    struct RecoveryRound {
        uint32 round;
        address candidate; // scheduled candidate, zero while none reached the threshold
        uint40 startedAt;
        uint40 executableAt;
        uint16 cancelMask; // bit i = guardians[i] voted to cancel
    }

    uint256 internal constant MAX_GUARDIANS = 10;
    uint256 internal constant MAX_GRANT_BATCH = 64;
    uint256 internal constant MAX_ACCESS_BATCH = 256;
    uint256 internal constant MAX_RECORD_BATCH = 256;
    uint256 internal constant MAX_SIGNATURE_LIFETIME = 30 days;
    uint256 internal constant RECOVERY_LIFETIME = 30 days;
    uint256 internal constant LOG_COUNT_MASK = 0xFFFFFFFFFF; // bits 39..0

    bytes32 internal constant GRANT_TYPEHASH = keccak256(
        "Grant(uint64 patientId,address grantee,uint16 categories,uint8 actions,uint16 purposes,uint40 validFrom,uint40 validUntil,bytes32 keyBundle,uint32 epoch,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant REVOKE_TYPEHASH =
        keccak256("Revoke(uint64 patientId,address grantee,uint32 epoch,uint256 nonce,uint256 deadline)");
    bytes32 internal constant BUNDLE_TYPEHASH = keccak256("Bundle(address grantee,bytes32 keyBundle)");
    bytes32 internal constant REVOKE_AND_REKEY_TYPEHASH = keccak256(
        "RevokeAndRekey(uint64 patientId,address grantee,bytes32 expectedKeyring,bytes32 newKeyring,Bundle[] bundles,uint32 epoch,uint256 nonce,uint256 deadline)Bundle(address grantee,bytes32 keyBundle)"
    );
    bytes32 internal constant SET_KEYRING_TYPEHASH = keccak256(
        "SetKeyring(uint64 patientId,bytes32 expectedKeyring,bytes32 newKeyring,uint32 epoch,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant ADD_RECORD_TYPEHASH = keccak256(
        "AddRecord(uint64 patientId,bytes32 recordId,uint8 category,uint8 cidCodec,bytes32 keyring,address author,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant PROVIDER_KEY_TYPEHASH = keccak256(
        "ProviderKey(address provider,bytes32 encryptionKey,bytes32 keyDocument,uint256 nonce,uint256 deadline)"
    );

    uint64 internal _patientCount;
    /// @dev Packed.Account words: which patient an address controls and its provider role.
    mapping(address account => uint256) internal _accounts;
    mapping(uint64 patientId => Patient) internal _patients;
    mapping(address provider => ProviderInfo) internal _providerInfo;
    /// @dev Packed.Consent words.
    mapping(uint64 patientId => mapping(address grantee => uint256)) internal _consents;
    mapping(uint64 patientId => mapping(address responder => BreakGlassWindow)) internal _breakGlass;
    /// @dev Hash-chain state: head (bits 255..64) | signature epoch (63..40) | count (39..0).
    // slither-disable-next-line uninitialized-state (written by the assembly in _appendLog)
    mapping(uint64 patientId => uint256) internal _logs;
    /// @dev Packed.Record words, keyed by patient: one slot per record.
    mapping(uint64 patientId => mapping(bytes32 recordId => uint256)) internal _records;
    mapping(uint64 patientId => GuardianConfig) internal _guardianConfigs;
    mapping(uint64 patientId => RecoveryRound) internal _recoveries;
    /// @dev keccak256(patientId, round, guardian) => approved candidate.
    mapping(bytes32 voteKey => address) internal _votes;
    /// @dev keccak256(patientId, round, candidate) => approvals.
    mapping(bytes32 tallyKey => uint8) internal _tally;

    /// @inheritdoc IConsentManager
    function nonces(address signer, uint192 key)
        public
        view
        override(NoncesKeyed, IConsentManager)
        returns (uint256)
    {
        return super.nonces(signer, key);
    }

    /// @inheritdoc IConsentManager
    function cancelNonce(uint256 keyNonce) external {
        _useCheckedNonce(msg.sender, keyNonce);
        emit NonceCancelled(msg.sender, keyNonce);
    }

    /// @inheritdoc IConsentManager
    function signatureEpoch(uint64 patientId) external view returns (uint32) {
        return _epochOf(patientId);
    }

    function _epochOf(uint64 patientId) internal view returns (uint32) {
        return uint32((_logs[patientId] >> 40) & 0xFFFFFF);
    }

    /// @dev Block time as a stored 40-bit time; reverts past 2**40 - 1.
    function _now() internal view returns (uint40) {
        if (block.timestamp > type(uint40).max) revert MedLedgerTimeOverflow(block.timestamp);
        return uint40(block.timestamp);
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

    /// @dev Checks deadline (not passed, at most 30 days ahead), consumes `signer`'s keyed nonce and
    ///      checks an EIP-712 signature of `signer` over `structHash`. ERC-1271 wallets are accepted.
    function _checkSignature(
        address signer,
        bytes32 structHash,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) internal {
        if (block.timestamp > deadline) revert MedLedgerSignatureExpired(deadline);
        uint256 maxDeadline = block.timestamp + MAX_SIGNATURE_LIFETIME;
        if (deadline > maxDeadline) revert MedLedgerDeadlineTooFar(deadline, maxDeadline);
        _useCheckedNonce(signer, nonce);
        if (!SignatureChecker.isValidSignatureNow(signer, _hashTypedDataV4(structHash), signature)) {
            revert MedLedgerInvalidSignature();
        }
    }

    /// @dev Reverts unless `epoch` is the patient's current signature epoch.
    function _checkEpoch(uint64 patientId, uint32 epoch) internal view {
        uint32 current = _epochOf(patientId);
        if (epoch != current) revert MedLedgerStaleEpoch(epoch, current);
    }

    /// @dev The grant rules on a Packed.Consent word `c`. `purposeBit` 0 skips the purpose check.
    ///      Order: none, suspended, not yet valid, expired, category, action, purpose.
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

    /// @dev Full access rules for the account word `acct` of `accessor`: the patient's own
    ///      controller, then consent, then an open break-glass window (read only, purposes
    ///      emergency/treatment, re-checked against the patient's current settings and the
    ///      responder's current status and flag).
    function _evaluate(
        uint64 patientId,
        address accessor,
        uint256 acct,
        uint8 category,
        uint8 action,
        uint8 purpose
    ) internal view returns (uint8 outcome) {
        uint64 own = Packed.accountPatient(acct);
        // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
        if (own != 0 && own == patientId) return Codes.OUTCOME_ALLOWED_PATIENT;
        uint8 status = Packed.accountStatus(acct);
        outcome = _grantOutcome(_consents[patientId][accessor], status, category, action, uint256(1) << purpose);
        if (
            outcome >= Codes.OUTCOME_FIRST_DENIAL && action == Codes.ACTION_READ
                && (purpose == Codes.PURPOSE_EMERGENCY || purpose == Codes.PURPOSE_TREATMENT)
        ) {
            BreakGlassWindow memory w = _breakGlass[patientId][accessor];
            // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
            if (block.timestamp < w.expiresAt && (uint256(w.categories) >> category) & 1 == 1) {
                Patient storage p = _patients[patientId];
                // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
                if (!p.breakGlassOptOut && (uint256(p.emergencyCategories) >> category) & 1 == 1 && Packed.accountResponder(acct)) {
                    // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
                    outcome =
                        status == Codes.PROVIDER_ACTIVE ? Codes.OUTCOME_ALLOWED_EMERGENCY : Codes.OUTCOME_DENIED_SUSPENDED;
                }
            }
        }
    }

    /// @dev Appends one entry to `patientId`'s hash chain (docs/architecture.md):
    ///      head' = bytes24(keccak256(abi.encode(bytes32(head), patientId, seq, actor, subject,
    ///      purpose, outcome, uint40 timestamp))). `bump` 1 also increments the signature epoch
    ///      (mod 2**24). One SLOAD, one SSTORE; the caller emits the operation's event with
    ///      `seq` and `head`. Narrow inputs are cleaned before use.
    function _appendLog(uint64 patientId, address actor, bytes32 subject, uint8 purpose, uint8 outcome, uint256 bump)
        internal
        returns (uint64 seq, bytes24 head)
    {
        if (block.timestamp > type(uint40).max) revert MedLedgerTimeOverflow(block.timestamp);
        assembly ("memory-safe") {
            patientId := and(patientId, 0xffffffffffffffff)
            actor := and(actor, 0xffffffffffffffffffffffffffffffffffffffff)
            purpose := and(purpose, 0xff)
            outcome := and(outcome, 0xff)
            mstore(0x00, patientId)
            mstore(0x20, _logs.slot)
            let slot := keccak256(0x00, 0x40) // _logs[patientId]
            let state := sload(slot)
            let s := and(state, 0xffffffffff)
            let m := mload(0x40) // scratch above the free pointer; not retained
            mstore(m, and(state, not(0xffffffffffffffff)))
            mstore(add(m, 0x20), patientId)
            mstore(add(m, 0x40), s)
            mstore(add(m, 0x60), actor)
            mstore(add(m, 0x80), subject)
            mstore(add(m, 0xa0), purpose)
            mstore(add(m, 0xc0), outcome)
            mstore(add(m, 0xe0), timestamp())
            let h := and(keccak256(m, 0x100), not(0xffffffffffffffff))
            let low := and(add(state, shl(40, and(bump, 1))), 0xffffffffffffffff)
            sstore(slot, or(h, add(low, 1)))
            seq := s
            head := h
        }
    }
}
