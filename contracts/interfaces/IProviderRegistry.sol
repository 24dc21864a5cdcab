// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title IProviderRegistry
/// @notice Providers: the consortium owner approves identities and flags; a provider's
///         encryption key is set only by the provider (own transaction or EIP-712 signature).
interface IProviderRegistry {
    /// @notice A provider as returned by `getProvider` (status 0 = not registered).
    struct Provider {
        uint8 status; // 0 none, 1 active, 2 suspended
        bool emergencyResponder;
        uint40 registeredAt;
        bytes32 encryptionKey;
        bytes32 keyDocument;
        string name;
    }

    /// @notice A provider was registered with the key it signed.
    event ProviderRegistered(
        address indexed provider, bytes32 encryptionKey, bytes32 keyDocument, bool emergencyResponder, string name
    );
    /// @notice The owner changed a provider's responder flag and name.
    event ProviderUpdated(address indexed provider, bool emergencyResponder, string name);
    /// @notice The provider (itself or by its signature) changed its encryption key.
    event ProviderKeyUpdated(address indexed provider, bytes32 encryptionKey, bytes32 keyDocument);
    /// @notice The provider was suspended.
    event ProviderSuspended(address indexed provider);
    /// @notice The provider was reinstated.
    event ProviderReinstated(address indexed provider);
    /// @notice The owner named `suspender` (zero = none) as the account that may also suspend.
    event ProviderSuspenderChanged(address indexed previousSuspender, address indexed suspender);

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
    /// @notice Renouncing would freeze the provider registry forever; it is disabled.
    error ProviderRegistryRenounceDisabled();

    /// @notice Registers an active provider (owner only) with the key the provider signed.
    /// @param provider The provider's address; must not control a patient.
    /// @param encryptionKey X25519 public key (non-zero).
    /// @param keyDocument CID digest of an optional public key document.
    /// @param emergencyResponder True lets the provider open break-glass access.
    /// @param name Display name, 1 .. 64 bytes.
    /// @param nonce The provider's keyed nonce, consumed.
    /// @param deadline Last valid unix second of the signature (at most 30 days ahead).
    /// @param signature The provider's EIP-712 `ProviderKey` signature (ECDSA or ERC-1271).
    function registerProvider(
        address provider,
        bytes32 encryptionKey,
        bytes32 keyDocument,
        bool emergencyResponder,
        string calldata name,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Updates a registered provider's responder flag and name (owner only; never its key).
    function updateProvider(address provider, bool emergencyResponder, string calldata name) external;

    /// @notice The calling provider replaces its own encryption key.
    function setProviderKey(bytes32 encryptionKey, bytes32 keyDocument) external;

    /// @notice `setProviderKey` authorised by the provider's EIP-712 `ProviderKey` signature.
    function setProviderKeyBySig(
        address provider,
        bytes32 encryptionKey,
        bytes32 keyDocument,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Suspends an active provider: its grants and break-glass windows stop working
    ///         (owner or suspender; others revert with `OwnableUnauthorizedAccount`).
    function suspendProvider(address provider) external;

    /// @notice Names the account that may suspend providers besides the owner (owner only; zero = none).
    /// @dev Lets a timelocked owner keep suspension immediate: the consortium Safe is the suspender.
    ///      Its selector (0xff0f9889) sorts after every other one and there is no getter (read
    ///      the latest `ProviderSuspenderChanged` event): the dispatcher tests selectors in
    ///      order, so the hot paths pay nothing for this function (docs/decisions.md).
    function setSuspenderAccount(address suspender) external;

    /// @notice Reinstates a suspended provider; its unexpired grants work again (owner only).
    function reinstateProvider(address provider) external;

    /// @notice The provider record of `provider` (status 0 if unknown).
    function getProvider(address provider) external view returns (Provider memory);
}
