// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title IProviderRegistry
/// @notice Care providers (and emergency responders), governed by the consortium owner.
interface IProviderRegistry {
    /// @notice A provider as returned by `getProvider` (status 0 = not registered).
    struct Provider {
        uint8 status; // 0 none, 1 active, 2 suspended
        bool emergencyResponder;
        uint32 registeredAt;
        bytes32 encryptionKey;
        bytes32 keyDocument;
        string name;
    }

    event ProviderRegistered(
        address indexed provider, bytes32 encryptionKey, bytes32 keyDocument, bool emergencyResponder, string name
    );
    event ProviderUpdated(
        address indexed provider, bytes32 encryptionKey, bytes32 keyDocument, bool emergencyResponder, string name
    );
    event ProviderSuspended(address indexed provider);
    event ProviderReinstated(address indexed provider);

    /// @notice The provider address must be non-zero.
    error ProviderInvalidAddress(address provider);
    /// @notice The provider is already registered.
    error ProviderAlreadyRegistered(address provider);
    /// @notice The provider is not registered.
    error ProviderNotRegistered(address provider);
    /// @notice The provider's X25519 encryption key must be non-zero.
    error ProviderInvalidEncryptionKey();
    /// @notice The name must be 1 .. 64 bytes.
    error ProviderInvalidName();
    /// @notice Only an active provider can be suspended.
    error ProviderNotActive(address provider);
    /// @notice Only a suspended provider can be reinstated.
    error ProviderNotSuspended(address provider);

    /// @notice Registers an active provider (owner only).
    /// @param provider The provider's address; must not control a patient.
    /// @param encryptionKey X25519 public key (non-zero).
    /// @param keyDocument CID digest of an optional public key document.
    /// @param emergencyResponder True lets the provider open break-glass access.
    /// @param name Display name, 1 .. 64 bytes.
    function registerProvider(
        address provider,
        bytes32 encryptionKey,
        bytes32 keyDocument,
        bool emergencyResponder,
        string calldata name
    ) external;

    /// @notice Updates a registered provider's keys, responder flag and name (owner only).
    function updateProvider(
        address provider,
        bytes32 encryptionKey,
        bytes32 keyDocument,
        bool emergencyResponder,
        string calldata name
    ) external;

    /// @notice Suspends an active provider: its grants and break-glass windows stop working (owner only).
    function suspendProvider(address provider) external;

    /// @notice Reinstates a suspended provider; its unexpired grants work again (owner only).
    function reinstateProvider(address provider) external;

    /// @notice The provider record of `provider` (status 0 if unknown).
    function getProvider(address provider) external view returns (Provider memory);
}
