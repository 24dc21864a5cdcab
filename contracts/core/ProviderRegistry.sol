// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {IProviderRegistry} from "../interfaces/IProviderRegistry.sol";
import {Codes} from "../libraries/Codes.sol";
import {Packed} from "../libraries/Packed.sol";
import {MedLedgerBase} from "./MedLedgerBase.sol";

/// @title ProviderRegistry
/// @notice Providers governed by the consortium owner (typically a multisig), with two-step
///         ownership transfer.
abstract contract ProviderRegistry is MedLedgerBase, Ownable2Step {
    /// @dev Longest provider name in bytes (bounds the event and storage cost).
    uint256 internal constant MAX_NAME_BYTES = 64;

    /// @notice Renouncing would freeze the provider registry forever; it is disabled.
    error ProviderRegistryRenounceDisabled();

    /// @inheritdoc IProviderRegistry
    function registerProvider(
        address provider,
        bytes32 encryptionKey,
        bytes32 keyDocument,
        bool emergencyResponder,
        string calldata name
    ) external onlyOwner {
        if (provider == address(0)) revert ProviderInvalidAddress(provider);
        uint256 a = _accounts[provider];
        if (Packed.accountStatus(a) != Codes.PROVIDER_NONE) revert ProviderAlreadyRegistered(provider);
        if (a != 0) revert IdentityAddressInUse(provider); // controls a patient
        _checkProviderData(encryptionKey, name);
        _accounts[provider] = Packed.packProvider(Codes.PROVIDER_ACTIVE, emergencyResponder, uint32(block.timestamp));
        _providerInfo[provider] = ProviderInfo(encryptionKey, keyDocument, name);
        emit ProviderRegistered(provider, encryptionKey, keyDocument, emergencyResponder, name);
    }

    /// @inheritdoc IProviderRegistry
    function updateProvider(
        address provider,
        bytes32 encryptionKey,
        bytes32 keyDocument,
        bool emergencyResponder,
        string calldata name
    ) external onlyOwner {
        uint256 a = _accounts[provider];
        if (Packed.accountStatus(a) == Codes.PROVIDER_NONE) revert ProviderNotRegistered(provider);
        _checkProviderData(encryptionKey, name);
        _accounts[provider] =
            Packed.packProvider(Packed.accountStatus(a), emergencyResponder, Packed.accountRegisteredAt(a));
        _providerInfo[provider] = ProviderInfo(encryptionKey, keyDocument, name);
        emit ProviderUpdated(provider, encryptionKey, keyDocument, emergencyResponder, name);
    }

    /// @inheritdoc IProviderRegistry
    function suspendProvider(address provider) external onlyOwner {
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
    function renounceOwnership() public view override onlyOwner {
        revert ProviderRegistryRenounceDisabled();
    }

    function _setStatus(address provider, uint256 a, uint8 status) private {
        _accounts[provider] = Packed.packProvider(status, Packed.accountResponder(a), Packed.accountRegisteredAt(a));
    }

    function _checkProviderData(bytes32 encryptionKey, string calldata name) private pure {
        if (encryptionKey == bytes32(0)) revert ProviderInvalidEncryptionKey();
        uint256 len = bytes(name).length;
        if (len == 0 || len > MAX_NAME_BYTES) revert ProviderInvalidName();
    }
}
