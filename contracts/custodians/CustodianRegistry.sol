// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {IPatientIdentity} from "../interfaces/IPatientIdentity.sol";
import {ICustodianRegistry} from "./ICustodianRegistry.sol";

/// @title CustodianRegistry
/// @notice Consortium-approved custodians and patients' custodian policies (docs/custodians.md).
///         The consortium owner (the timelock in production, two-step ownership) registers and
///         removes custodians; a custodian sets only its own key; a patient's controller, as
///         MedLedger knows it now, sets only its own policy.
contract CustodianRegistry is ICustodianRegistry, Ownable2Step {
    /// @dev Most custodians one policy may name (bounds the policy's storage and event cost).
    uint256 public constant MAX_CUSTODIANS = 16;
    uint256 private constant MAX_NAME_BYTES = 64;
    uint256 private constant MAX_ENDPOINT_BYTES = 256;
    uint16 private constant ALL_CATEGORIES = 0x03FF;
    uint8 private constant STATUS_ACTIVE = 1;
    uint8 private constant STATUS_REMOVED = 2;

    IPatientIdentity private immutable _medLedger;
    mapping(address custodian => Custodian) private _custodians;
    mapping(uint64 patientId => Policy) private _policies;

    /// @param medLedger_ The MedLedger whose patient controllers own the policies.
    /// @param initialOwner The consortium owner (a ConsortiumTimelock in production).
    constructor(address medLedger_, address initialOwner) Ownable(initialOwner) {
        if (medLedger_ == address(0)) revert CustodianRegistryInvalidAddress(medLedger_);
        _medLedger = IPatientIdentity(medLedger_);
    }

    /// @inheritdoc ICustodianRegistry
    function registerCustodian(address custodian, string calldata name, string calldata endpoint)
        external
        onlyOwner
    {
        if (custodian == address(0)) revert CustodianRegistryInvalidAddress(custodian);
        if (_custodians[custodian].status != 0) revert CustodianRegistryAlreadyRegistered(custodian);
        uint256 n = bytes(name).length;
        uint256 e = bytes(endpoint).length;
        if (n == 0 || n > MAX_NAME_BYTES || e == 0 || e > MAX_ENDPOINT_BYTES) {
            revert CustodianRegistryInvalidText();
        }
        _custodians[custodian] = Custodian(STATUS_ACTIVE, uint40(block.timestamp), bytes32(0), name, endpoint);
        emit CustodianRegistered(custodian, name, endpoint);
    }

    /// @inheritdoc ICustodianRegistry
    function setCustodianKey(bytes32 encryptionKey) external {
        Custodian storage c = _custodians[msg.sender];
        if (c.status != STATUS_ACTIVE) revert CustodianRegistryNotActive(msg.sender);
        if (encryptionKey == bytes32(0)) revert CustodianRegistryInvalidKey();
        c.encryptionKey = encryptionKey;
        emit CustodianKeySet(msg.sender, encryptionKey);
    }

    /// @inheritdoc ICustodianRegistry
    function removeCustodian(address custodian) external onlyOwner {
        Custodian storage c = _custodians[custodian];
        if (c.status != STATUS_ACTIVE) revert CustodianRegistryNotActive(custodian);
        c.status = STATUS_REMOVED;
        emit CustodianRemoved(custodian);
    }

    /// @inheritdoc ICustodianRegistry
    function setCustodianPolicy(
        uint64 patientId,
        address[] calldata custodians,
        uint8 threshold,
        uint16 categories,
        bytes calldata umbralKeys
    ) external {
        _checkController(patientId);
        uint256 len = custodians.length;
        if (len == 0 || len > MAX_CUSTODIANS) revert CustodianRegistryInvalidList(len);
        if (threshold == 0 || threshold > len) revert CustodianRegistryInvalidThreshold(threshold, len);
        if (categories == 0 || categories & ~ALL_CATEGORIES != 0) {
            revert CustodianRegistryInvalidCategories(categories);
        }
        if (umbralKeys.length != 66 || !_isPointPrefix(umbralKeys[0]) || !_isPointPrefix(umbralKeys[33])) {
            revert CustodianRegistryInvalidUmbralKeys();
        }
        address previous = address(0);
        for (uint256 i = 0; i < len; ++i) {
            address a = custodians[i];
            // Strictly ascending rules out duplicates (and zero) without a second loop.
            if (a <= previous) revert CustodianRegistryInvalidList(len);
            Custodian storage c = _custodians[a];
            if (c.status != STATUS_ACTIVE) revert CustodianRegistryNotActive(a);
            if (c.encryptionKey == bytes32(0)) revert CustodianRegistryKeyNotSet(a);
            previous = a;
        }
        _policies[patientId] = Policy(threshold, categories, uint40(block.timestamp), custodians, umbralKeys);
        emit CustodianPolicySet(patientId, custodians, threshold, categories, umbralKeys);
    }

    /// @inheritdoc ICustodianRegistry
    function clearCustodianPolicy(uint64 patientId) external {
        _checkController(patientId);
        delete _policies[patientId];
        emit CustodianPolicySet(patientId, new address[](0), 0, 0, "");
    }

    /// @inheritdoc ICustodianRegistry
    function getCustodian(address custodian) external view returns (Custodian memory) {
        return _custodians[custodian];
    }

    /// @inheritdoc ICustodianRegistry
    function getCustodianPolicy(uint64 patientId) external view returns (Policy memory) {
        return _policies[patientId];
    }

    /// @inheritdoc ICustodianRegistry
    function medLedger() external view returns (address) {
        return address(_medLedger);
    }

    /// @notice Disabled: the consortium must always have an owner (use the two-step transfer).
    /// @dev Non-view so that it overrides Ownable's state-changing function faithfully; always reverts.
    function renounceOwnership() public override onlyOwner {
        revert CustodianRegistryRenounceDisabled();
    }

    function _isPointPrefix(bytes1 prefix) private pure returns (bool) {
        return prefix == 0x02 || prefix == 0x03;
    }

    function _checkController(uint64 patientId) private view {
        // patientOf is 0 for a non-controller; patient ids start at 1, so 0 never matches.
        if (patientId == 0 || _medLedger.patientOf(msg.sender) != patientId) {
            revert CustodianRegistryNotController(patientId, msg.sender);
        }
    }
}
