// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IPatientIdentity} from "./IPatientIdentity.sol";
import {IGuardianRecovery} from "./IGuardianRecovery.sol";
import {IProviderRegistry} from "./IProviderRegistry.sol";
import {IConsentManager} from "./IConsentManager.sol";
import {IAccessLog} from "./IAccessLog.sol";
import {IRecordRegistry} from "./IRecordRegistry.sol";

/// @title IMedLedger
/// @notice The complete external interface of the MedLedger core (docs/architecture.md).
interface IMedLedger is
    IPatientIdentity,
    IGuardianRecovery,
    IProviderRegistry,
    IConsentManager,
    IAccessLog,
    IRecordRegistry
{}
