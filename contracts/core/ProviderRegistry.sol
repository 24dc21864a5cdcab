// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {IProviderRegistry} from "../interfaces/IProviderRegistry.sol";
import {Codes} from "../libraries/Codes.sol";
import {Packed} from "../libraries/Packed.sol";
import {MedLedgerBase} from "./MedLedgerBase.sol";

/// @title ProviderRegistry
/// @notice Providers: identities and flags governed by the consortium owner (two-step ownership);
///         encryption keys set only by the provider itself (transaction or EIP-712 signature).
///         The owner may name a suspender (the consortium Safe when the owner is a timelock) who
///         can suspend without the owner's delay; everything else stays with the owner.
abstract contract ProviderRegistry is MedLedgerBase, Ownable2Step {
    /// @dev Longest provider name in bytes (bounds the event and storage cost).
    uint256 internal constant MAX_NAME_BYTES = 64;

    /// @dev May suspend providers besides the owner; zero = nobody else.
    address private _suspender;

    /// @inheritdoc IProviderRegistry
    function registerProvider(
        address provider,
        bytes32 encryptionKey,
        bytes32 keyDocument,
        bool emergencyResponder,
        string calldata name,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external onlyOwner {
        if (provider == address(0)) revert ProviderInvalidAddress(provider);
        uint256 a = _accounts[provider];
        if (Packed.accountStatus(a) != Codes.PROVIDER_NONE) revert ProviderAlreadyRegistered(provider);
        if (a != 0) revert IdentityAddressInUse(provider); // controls a patient
        _checkName(name);
        _checkProviderKeySig(provider, encryptionKey, keyDocument, nonce, deadline, signature);
        _accounts[provider] = Packed.packProvider(Codes.PROVIDER_ACTIVE, emergencyResponder, _now());
        _providerInfo[provider] = ProviderInfo(encryptionKey, keyDocument, name);
        emit ProviderRegistered(provider, encryptionKey, keyDocument, emergencyResponder, name);
    }

    /// @inheritdoc IProviderRegistry
    function updateProvider(address provider, bool emergencyResponder, string calldata name) external onlyOwner {
        uint256 a = _accounts[provider];
        if (Packed.accountStatus(a) == Codes.PROVIDER_NONE) revert ProviderNotRegistered(provider);
        _checkName(name);
        _accounts[provider] =
            Packed.packProvider(Packed.accountStatus(a), emergencyResponder, Packed.accountRegisteredAt(a));
        _providerInfo[provider].name = name;
        emit ProviderUpdated(provider, emergencyResponder, name);
    }

    /// @inheritdoc IProviderRegistry
    function setProviderKey(bytes32 encryptionKey, bytes32 keyDocument) external {
        _setProviderKey(msg.sender, encryptionKey, keyDocument);
    }

    /// @inheritdoc IProviderRegistry
    function setProviderKeyBySig(
        address provider,
        bytes32 encryptionKey,
        bytes32 keyDocument,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _checkProviderKeySig(provider, encryptionKey, keyDocument, nonce, deadline, signature);
        _setProviderKey(provider, encryptionKey, keyDocument);
    }

    /// @inheritdoc IProviderRegistry
    function suspendProvider(address provider) external {
        // Not onlyOwner: the suspender acts without the owner's timelock delay (docs/governance.md).
        if (msg.sender != owner() && msg.sender != _suspender) revert OwnableUnauthorizedAccount(msg.sender);
        uint256 a = _accounts[provider];
        if (Packed.accountStatus(a) != Codes.PROVIDER_ACTIVE) revert ProviderNotActive(provider);
        _setStatus(provider, a, Codes.PROVIDER_SUSPENDED);
        emit ProviderSuspended(provider);
    }

    /// @inheritdoc IProviderRegistry
    function reinstateProvider(address provider) external onlyOwner {
        uint256 a = _accounts[provider];
        if (Packed.accountStatus(a) != Codes.PROVIDER_SUSPENDED) revert ProviderNotSuspended(provider);
        _setStatus(provider, a, Codes.PROVIDER_ACTIVE);
        emit ProviderReinstated(provider);
    }

    /// @inheritdoc IProviderRegistry
    function setSuspenderAccount(address suspender_) external onlyOwner {
        address previous = _suspender;
        _suspender = suspender_;
        emit ProviderSuspenderChanged(previous, suspender_);
    }

    /// @inheritdoc IProviderRegistry
    function getProvider(address provider) external view returns (Provider memory) {
        uint256 a = _accounts[provider];
        ProviderInfo storage info = _providerInfo[provider];
        return Provider({
            status: Packed.accountStatus(a),
            emergencyResponder: Packed.accountResponder(a),
            registeredAt: Packed.accountRegisteredAt(a),
            encryptionKey: info.encryptionKey,
            keyDocument: info.keyDocument,
            name: info.name
        });
    }

    /// @notice Disabled: the consortium must always have an owner (use the two-step transfer).
    /// @dev Non-view so that it overrides Ownable's state-changing function faithfully; always reverts.
    function renounceOwnership() public override onlyOwner {
        revert ProviderRegistryRenounceDisabled();
    }

    function _setProviderKey(address provider, bytes32 encryptionKey, bytes32 keyDocument) private {
        // slither-disable-next-line incorrect-equality (zero/flag test on a packed word, not a time comparison)
        if (Packed.accountStatus(_accounts[provider]) == Codes.PROVIDER_NONE) revert ProviderNotRegistered(provider);
        if (encryptionKey == bytes32(0)) revert ProviderInvalidEncryptionKey();
        ProviderInfo storage info = _providerInfo[provider];
        info.encryptionKey = encryptionKey;
        info.keyDocument = keyDocument;
        emit ProviderKeyUpdated(provider, encryptionKey, keyDocument);
    }

    function _checkProviderKeySig(
        address provider,
        bytes32 encryptionKey,
        bytes32 keyDocument,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) private {
        if (encryptionKey == bytes32(0)) revert ProviderInvalidEncryptionKey();
        bytes32 structHash =
            keccak256(abi.encode(PROVIDER_KEY_TYPEHASH, provider, encryptionKey, keyDocument, nonce, deadline));
        _checkSignature(provider, structHash, nonce, deadline, signature);
    }

    function _setStatus(address provider, uint256 a, uint8 status) private {
        _accounts[provider] = Packed.packProvider(status, Packed.accountResponder(a), Packed.accountRegisteredAt(a));
    }

    function _checkName(string calldata name) private pure {
        uint256 len = bytes(name).length;
        if (len == 0 || len > MAX_NAME_BYTES) revert ProviderInvalidName();
    }
}
