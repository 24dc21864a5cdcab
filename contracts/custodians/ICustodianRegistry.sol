// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title ICustodianRegistry
/// @notice Custodians (re-encryption services run by consortium members) and each patient's
///         custodian policy: which custodians hold key fragments for the patient, the threshold
///         k of them needed for a read, and the categories kept in custodian mode. A separate
///         contract from MedLedger (whose runtime is near the 24 kB limit); it reads MedLedger
///         only to find a patient's controller.
interface ICustodianRegistry {
    /// @notice A custodian as returned by `getCustodian` (status 0 = not registered).
    struct Custodian {
        uint8 status; // 0 none, 1 active, 2 removed
        uint40 registeredAt;
        bytes32 encryptionKey; // X25519 HPKE public key; zero until the custodian sets it
        string name;
        string endpoint;
    }

    /// @notice A patient's custodian policy as returned by `getCustodianPolicy`.
    struct Policy {
        uint8 threshold; // 0 = no policy
        uint16 categories; // bit c = category c is in custodian mode
        uint40 updatedAt;
        address[] custodians; // strictly ascending addresses
        bytes umbralKeys; // the patient's Umbral delegating || kfrag-verifying keys (2 x 33 bytes)
    }

    /// @notice The consortium registered `custodian`.
    event CustodianRegistered(address indexed custodian, string name, string endpoint);
    /// @notice The custodian set its own HPKE encryption key.
    event CustodianKeySet(address indexed custodian, bytes32 encryptionKey);
    /// @notice The consortium removed `custodian`; policies naming it must be replaced.
    event CustodianRemoved(address indexed custodian);
    /// @notice The patient's controller set (threshold > 0) or cleared (threshold 0) its policy.
    event CustodianPolicySet(
        uint64 indexed patientId, address[] custodians, uint8 threshold, uint16 categories, bytes umbralKeys
    );

    /// @notice The custodian address must be non-zero.
    error CustodianRegistryInvalidAddress(address custodian);
    /// @notice The custodian is already registered (or was removed: addresses are never reused).
    error CustodianRegistryAlreadyRegistered(address custodian);
    /// @notice The custodian is not active.
    error CustodianRegistryNotActive(address custodian);
    /// @notice The name must be 1 .. 64 bytes and the endpoint 1 .. 256 bytes.
    error CustodianRegistryInvalidText();
    /// @notice The encryption key must be non-zero.
    error CustodianRegistryInvalidKey();
    /// @notice A custodian in a policy has not set its encryption key yet.
    error CustodianRegistryKeyNotSet(address custodian);
    /// @notice The caller does not control patient `patientId`.
    error CustodianRegistryNotController(uint64 patientId, address caller);
    /// @notice The list must hold 1 .. MAX_CUSTODIANS strictly ascending addresses.
    error CustodianRegistryInvalidList(uint256 length);
    /// @notice The threshold must be 1 .. number of custodians.
    error CustodianRegistryInvalidThreshold(uint8 threshold, uint256 custodians);
    /// @notice The categories must be a non-empty subset of the defined categories.
    error CustodianRegistryInvalidCategories(uint16 categories);
    /// @notice The Umbral keys must be two 33-byte compressed secp256k1 points (prefix 2 or 3).
    error CustodianRegistryInvalidUmbralKeys();
    /// @notice Renouncing would freeze the registry forever; it is disabled.
    error CustodianRegistryRenounceDisabled();

    /// @notice Registers an active custodian (owner = consortium only).
    /// @param custodian The custodian's signing account (it signs receipts and its key).
    /// @param name Display name, 1 .. 64 bytes.
    /// @param endpoint Base URL of its HTTP service, 1 .. 256 bytes.
    function registerCustodian(address custodian, string calldata name, string calldata endpoint) external;

    /// @notice The calling active custodian sets (or rotates) its X25519 HPKE encryption key.
    /// @param encryptionKey X25519 public key (non-zero).
    function setCustodianKey(bytes32 encryptionKey) external;

    /// @notice Removes an active custodian (owner only). It stays listed, with status 2.
    function removeCustodian(address custodian) external;

    /// @notice Sets the custodian policy of `patientId` (its controller only).
    /// @param patientId The patient; the caller must be its MedLedger controller.
    /// @param custodians 1 .. MAX_CUSTODIANS active custodians with keys, strictly ascending.
    /// @param threshold How many must answer for a read, 1 .. custodians.length.
    /// @param categories Bit mask of the categories kept in custodian mode (non-zero, defined).
    /// @param umbralKeys The patient's Umbral public keys, delegating || verifying (33 bytes
    ///        each, compressed): writers encapsulate each record's data key to the first;
    ///        readers check capsule fragments against both (the second signs key fragments).
    function setCustodianPolicy(
        uint64 patientId,
        address[] calldata custodians,
        uint8 threshold,
        uint16 categories,
        bytes calldata umbralKeys
    ) external;

    /// @notice Clears the policy of `patientId` (its controller only): new records go direct again.
    function clearCustodianPolicy(uint64 patientId) external;

    /// @notice The custodian `custodian` (all zero if never registered).
    function getCustodian(address custodian) external view returns (Custodian memory);

    /// @notice The policy of `patientId` (threshold 0 = none).
    function getCustodianPolicy(uint64 patientId) external view returns (Policy memory);

    /// @notice The MedLedger whose controllers own the policies.
    function medLedger() external view returns (address);
}
