// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IConsentManager} from "../interfaces/IConsentManager.sol";
import {Codes} from "../libraries/Codes.sol";
import {Packed} from "../libraries/Packed.sol";
import {MedLedgerBase} from "./MedLedgerBase.sol";

/// @title ConsentManager
/// @notice Grants, revocation, their EIP-712 signed variants, and break-glass emergency access.
abstract contract ConsentManager is MedLedgerBase {
    /// @inheritdoc IConsentManager
    function grant(
        address grantee,
        uint16 categories,
        uint8 actions,
        uint16 purposes,
        uint32 validFrom,
        uint32 validUntil,
        bytes32 keyBundle
    ) external {
        _grant(_callerPatient(), grantee, categories, actions, purposes, validFrom, validUntil, keyBundle);
    }

    /// @inheritdoc IConsentManager
    function grantBatch(GrantRequest[] calldata grants) external {
        uint64 patientId = _callerPatient();
        uint256 n = grants.length;
        if (n > MAX_GRANT_BATCH) revert MedLedgerBatchTooLarge(n, MAX_GRANT_BATCH);
        for (uint256 i = 0; i < n; ++i) {
            GrantRequest calldata g = grants[i];
            _grant(patientId, g.grantee, g.categories, g.actions, g.purposes, g.validFrom, g.validUntil, g.keyBundle);
        }
    }

    /// @inheritdoc IConsentManager
    function revoke(address grantee) external {
        _revoke(_callerPatient(), grantee);
    }

    /// @inheritdoc IConsentManager
    function grantBySig(uint64 patientId, GrantRequest calldata g, uint256 deadline, bytes calldata signature)
        external
    {
        address controller = _controllerOf(patientId);
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
                _useNonce(controller),
                deadline
            )
        );
        _checkSignature(controller, structHash, deadline, signature);
        _grant(patientId, g.grantee, g.categories, g.actions, g.purposes, g.validFrom, g.validUntil, g.keyBundle);
    }

    /// @inheritdoc IConsentManager
    function revokeBySig(uint64 patientId, address grantee, uint256 deadline, bytes calldata signature) external {
        address controller = _controllerOf(patientId);
        bytes32 structHash =
            keccak256(abi.encode(REVOKE_TYPEHASH, patientId, grantee, _useNonce(controller), deadline));
        _checkSignature(controller, structHash, deadline, signature);
        _revoke(patientId, grantee);
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
        uint32 expiresAt = uint32(block.timestamp) + duration;
        _breakGlass[patientId][msg.sender] = BreakGlassWindow(expiresAt, categories);
        emit BreakGlassOpened(patientId, msg.sender, reason, expiresAt, justification);
        _appendLog(patientId, msg.sender, bytes32(0), Codes.PURPOSE_EMERGENCY, Codes.OUTCOME_BREAK_GLASS_OPENED);
    }

    /// @inheritdoc IConsentManager
    function breakGlassUntil(uint64 patientId, address responder) external view returns (uint32) {
        return _breakGlass[patientId][responder].expiresAt;
    }

    function _grant(
        uint64 patientId,
        address grantee,
        uint16 categories,
        uint8 actions,
        uint16 purposes,
        uint32 validFrom,
        uint32 validUntil,
        bytes32 keyBundle
    ) internal {
        if (categories == 0 || categories & ~Codes.ALL_CATEGORIES != 0) revert ConsentInvalidCategories(categories);
        if (actions == 0 || actions & ~Codes.ALL_ACTIONS != 0) revert ConsentInvalidActions(actions);
        if (purposes == 0 || purposes & ~Codes.ALL_PURPOSES != 0) revert ConsentInvalidPurposes(purposes);
        if (validFrom == 0) validFrom = uint32(block.timestamp);
        if (validUntil <= validFrom || validUntil <= block.timestamp) revert ConsentInvalidWindow(validFrom, validUntil);
        uint8 status = Packed.accountStatus(_accounts[grantee]);
        if (status != Codes.PROVIDER_ACTIVE) {
            // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
            if (status == Codes.PROVIDER_NONE) revert ConsentGranteeNotProvider(grantee);
            revert ConsentGranteeSuspended(grantee);
        }
        _consents[patientId][grantee] = Packed.packConsent(categories, actions, purposes, validFrom, validUntil);
        emit ConsentGranted(patientId, grantee, categories, actions, purposes, validFrom, validUntil, keyBundle);
    }

    function _revoke(uint64 patientId, address grantee) internal {
        if (_consents[patientId][grantee] == 0) revert ConsentNotFound(patientId, grantee);
        delete _consents[patientId][grantee];
        emit ConsentRevoked(patientId, grantee);
    }
}
