// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IConsentManager} from "../interfaces/IConsentManager.sol";
import {Codes} from "../libraries/Codes.sol";
import {Packed} from "../libraries/Packed.sol";
import {PatientIdentity} from "./PatientIdentity.sol";

/// @title ConsentManager
/// @notice Grants, revocation (plain and atomic with rekeying), their EIP-712 signed variants, and
///         break-glass emergency access.
abstract contract ConsentManager is PatientIdentity {
    /// @inheritdoc IConsentManager
    function grant(
        address grantee,
        uint16 categories,
        uint8 actions,
        uint16 purposes,
        uint40 validFrom,
        uint40 validUntil,
        bytes32 keyBundle
    ) external {
        _grant(_callerPatient(), grantee, categories, actions, purposes, validFrom, validUntil, keyBundle);
    }

    /// @inheritdoc IConsentManager
    function grantBatch(GrantRequest[] calldata grants) external {
        uint64 patientId = _callerPatient();
        uint256 n = grants.length;
        if (n > MAX_GRANT_BATCH) revert MedLedgerBatchTooLarge(n, MAX_GRANT_BATCH);
        address last = address(0);
        for (uint256 i = 0; i < n; ++i) {
            GrantRequest calldata g = grants[i];
            if (g.grantee <= last) revert ConsentBatchNotAscending(i, g.grantee);
            last = g.grantee;
            _grant(patientId, g.grantee, g.categories, g.actions, g.purposes, g.validFrom, g.validUntil, g.keyBundle);
        }
    }

    /// @inheritdoc IConsentManager
    function revoke(address grantee) external {
        _revoke(_callerPatient(), grantee, 1);
    }

    /// @inheritdoc IConsentManager
    function revokeAndRekey(address grantee, bytes32 expectedKeyring, bytes32 newKeyring, Bundle[] calldata bundles)
        external
    {
        uint64 patientId = _callerPatient();
        _revoke(patientId, grantee, 1);
        _swapKeyring(patientId, expectedKeyring, newKeyring);
        _refreshBundles(patientId, bundles);
    }

    /// @inheritdoc IConsentManager
    function revokeAndRekeyBySig(
        uint64 patientId,
        address grantee,
        bytes32 expectedKeyring,
        bytes32 newKeyring,
        Bundle[] calldata bundles,
        uint32 epoch,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        address controller = _controllerOf(patientId);
        _checkEpoch(patientId, epoch);
        bytes32 structHash = keccak256(
            abi.encode(
                REVOKE_AND_REKEY_TYPEHASH,
                patientId,
                grantee,
                expectedKeyring,
                newKeyring,
                _hashBundles(bundles),
                epoch,
                nonce,
                deadline
            )
        );
        _checkSignature(controller, structHash, nonce, deadline, signature);
        _revoke(patientId, grantee, 0);
        _swapKeyring(patientId, expectedKeyring, newKeyring);
        _refreshBundles(patientId, bundles);
    }

    /// @inheritdoc IConsentManager
    function grantBySig(
        uint64 patientId,
        GrantRequest calldata g,
        uint32 epoch,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        address controller = _controllerOf(patientId);
        _checkEpoch(patientId, epoch);
        bytes32 structHash = keccak256(
            abi.encode(
                GRANT_TYPEHASH,
                patientId,
                g.grantee,
                g.categories,
                g.actions,
                g.purposes,
                g.validFrom,
                g.validUntil,
                g.keyBundle,
                epoch,
                nonce,
                deadline
            )
        );
        _checkSignature(controller, structHash, nonce, deadline, signature);
        _grant(patientId, g.grantee, g.categories, g.actions, g.purposes, g.validFrom, g.validUntil, g.keyBundle);
    }

    /// @inheritdoc IConsentManager
    function revokeBySig(
        uint64 patientId,
        address grantee,
        uint32 epoch,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        address controller = _controllerOf(patientId);
        _checkEpoch(patientId, epoch);
        bytes32 structHash = keccak256(abi.encode(REVOKE_TYPEHASH, patientId, grantee, epoch, nonce, deadline));
        _checkSignature(controller, structHash, nonce, deadline, signature);
        _revoke(patientId, grantee, 0);
    }

    /// @inheritdoc IConsentManager
    function getConsent(uint64 patientId, address grantee) external view returns (Consent memory) {
        uint256 c = _consents[patientId][grantee];
        return Consent({
            categories: Packed.consentCategories(c),
            actions: Packed.consentActions(c),
            purposes: Packed.consentPurposes(c),
            validFrom: Packed.consentValidFrom(c),
            validUntil: Packed.consentValidUntil(c)
        });
    }

    /// @inheritdoc IConsentManager
    function hasAccess(uint64 patientId, address grantee, uint8 category, uint8 action) external view returns (bool) {
        uint8 status = Packed.accountStatus(_accounts[grantee]);
        return _grantOutcome(_consents[patientId][grantee], status, category, action, 0) == Codes.OUTCOME_ALLOWED_CONSENT;
    }

    /// @inheritdoc IConsentManager
    function openBreakGlass(uint64 patientId, uint8 reason, uint32 duration, bytes32 justification) external {
        uint256 a = _accounts[msg.sender];
        if (Packed.accountStatus(a) != Codes.PROVIDER_ACTIVE || !Packed.accountResponder(a)) {
            revert BreakGlassNotResponder(msg.sender);
        }
        if (reason > Codes.REASON_OTHER) revert BreakGlassInvalidReason(reason);
        Patient storage p = _patients[patientId];
        if (p.controller == address(0)) revert MedLedgerUnknownPatient(patientId);
        uint16 categories = p.emergencyCategories;
        if (p.breakGlassOptOut || categories == 0) revert BreakGlassOptedOut(patientId);
        uint32 maxDuration = p.breakGlassMaxDuration;
        if (duration == 0) duration = maxDuration;
        else if (duration > maxDuration) revert BreakGlassDurationTooLong(duration, maxDuration);
        BreakGlassWindow storage w = _breakGlass[patientId][msg.sender];
        uint40 previousEnd = w.expiresAt;
        if (previousEnd != 0) {
            uint40 until = previousEnd + p.breakGlassCooldown;
            if (block.timestamp < until) revert BreakGlassCooldown(until);
        }
        uint40 expiresAt = uint40(block.timestamp) + duration; // _appendLog checks the range
        w.expiresAt = expiresAt;
        w.categories = categories;
        (uint64 seq, bytes24 head) =
            _appendLog(patientId, msg.sender, justification, Codes.PURPOSE_EMERGENCY, Codes.OUTCOME_BREAK_GLASS_OPENED, 0);
        emit BreakGlassOpened(patientId, msg.sender, reason, categories, expiresAt, justification, seq, head);
    }

    /// @inheritdoc IConsentManager
    function closeBreakGlass(uint64 patientId, address responder) external {
        if (msg.sender != responder && Packed.accountPatient(_accounts[msg.sender]) != patientId) {
            revert BreakGlassNotAllowedToClose(msg.sender);
        }
        BreakGlassWindow storage w = _breakGlass[patientId][responder];
        if (block.timestamp >= w.expiresAt) revert BreakGlassNotOpen(patientId, responder);
        w.expiresAt = uint40(block.timestamp); // the cooldown runs from now; range checked by _appendLog
        (uint64 seq, bytes24 head) = _appendLog(
            patientId,
            responder,
            bytes32(uint256(uint160(msg.sender))),
            Codes.PURPOSE_EMERGENCY,
            Codes.OUTCOME_BREAK_GLASS_CLOSED,
            0
        );
        emit BreakGlassClosed(patientId, responder, msg.sender, seq, head);
    }

    /// @inheritdoc IConsentManager
    function breakGlassUntil(uint64 patientId, address responder) external view returns (uint40) {
        return _breakGlass[patientId][responder].expiresAt;
    }

    function _grant(
        uint64 patientId,
        address grantee,
        uint16 categories,
        uint8 actions,
        uint16 purposes,
        uint40 validFrom,
        uint40 validUntil,
        bytes32 keyBundle
    ) internal {
        if (categories == 0 || categories & ~Codes.ALL_CATEGORIES != 0) revert ConsentInvalidCategories(categories);
        if (actions == 0 || actions & ~Codes.ALL_ACTIONS != 0) revert ConsentInvalidActions(actions);
        if (purposes == 0 || purposes & ~Codes.ALL_PURPOSES != 0) revert ConsentInvalidPurposes(purposes);
        if (validFrom == 0) validFrom = uint40(block.timestamp); // range checked by _appendLog
        if (validUntil <= validFrom || validUntil <= block.timestamp) revert ConsentInvalidWindow(validFrom, validUntil);
        uint8 status = Packed.accountStatus(_accounts[grantee]);
        if (status != Codes.PROVIDER_ACTIVE) {
            // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
            if (status == Codes.PROVIDER_NONE) revert ConsentGranteeNotProvider(grantee);
            revert ConsentGranteeSuspended(grantee);
        }
        uint256 word = Packed.packConsent(categories, actions, purposes, validFrom, validUntil);
        bool replaced = _consents[patientId][grantee] != 0;
        _consents[patientId][grantee] = word;
        (uint64 seq, bytes24 head) = _appendLog(
            patientId,
            grantee,
            bytes32(word),
            0,
            replaced ? Codes.OUTCOME_CONSENT_REPLACED : Codes.OUTCOME_CONSENT_GRANTED,
            0
        );
        emit ConsentGranted(
            patientId, grantee, categories, actions, purposes, validFrom, validUntil, keyBundle, replaced, seq, head
        );
    }

    /// @dev Deletes the consent and chains the revocation; `bump` 1 (direct revokes) also bumps the
    ///      signature epoch so no outstanding signature can resurrect or touch consent.
    function _revoke(uint64 patientId, address grantee, uint256 bump) internal {
        if (_consents[patientId][grantee] == 0) revert ConsentNotFound(patientId, grantee);
        delete _consents[patientId][grantee];
        (uint64 seq, bytes24 head) =
            _appendLog(patientId, grantee, bytes32(0), 0, Codes.OUTCOME_CONSENT_REVOKED, bump);
        emit ConsentRevoked(patientId, grantee, seq, head);
    }

    /// @dev Publishes refreshed bundles; every grantee must hold a consent and be an active provider.
    function _refreshBundles(uint64 patientId, Bundle[] calldata bundles) internal {
        uint256 n = bundles.length;
        if (n > MAX_GRANT_BATCH) revert MedLedgerBatchTooLarge(n, MAX_GRANT_BATCH);
        for (uint256 i = 0; i < n; ++i) {
            address g = bundles[i].grantee;
            if (_consents[patientId][g] == 0) revert ConsentNotFound(patientId, g);
            if (Packed.accountStatus(_accounts[g]) != Codes.PROVIDER_ACTIVE) revert ConsentGranteeSuspended(g);
            emit KeyBundleRefreshed(patientId, g, bundles[i].keyBundle);
        }
    }

    /// @dev EIP-712 hash of a `Bundle[]`: keccak256 of the concatenated struct hashes.
    function _hashBundles(Bundle[] calldata bundles) internal pure returns (bytes32) {
        uint256 n = bundles.length;
        bytes32[] memory hashes = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            hashes[i] = keccak256(abi.encode(BUNDLE_TYPEHASH, bundles[i].grantee, bundles[i].keyBundle));
        }
        return keccak256(abi.encodePacked(hashes));
    }
}
