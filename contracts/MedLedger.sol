// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {AccessLog} from "./core/AccessLog.sol";
import {ConsentManager} from "./core/ConsentManager.sol";
import {GuardianRecovery} from "./core/GuardianRecovery.sol";
import {ProviderRegistry} from "./core/ProviderRegistry.sol";
import {RecordRegistry} from "./core/RecordRegistry.sol";

/// @title MedLedger
/// @notice Patient-controlled consent, tamper-evident access log and record index. No protected
///         health information is stored: only public keys, CID digests, masks and timestamps.
/// @dev EIP-712 domain: name "MedLedger", version "2".
contract MedLedger is GuardianRecovery, ProviderRegistry, ConsentManager, AccessLog, RecordRegistry {
    /// @param consortium Initial owner of the provider registry (a multisig in production).
    constructor(address consortium) EIP712("MedLedger", "2") Ownable(consortium) {}
}
