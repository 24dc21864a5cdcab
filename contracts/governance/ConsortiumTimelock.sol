// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title ConsortiumTimelock
/// @notice OpenZeppelin's TimelockController, unchanged: owns the provider registry so that every
///         registry change the consortium Safe proposes waits `getMinDelay()` seconds, visible to
///         patients as `CallScheduled` events. Declared here only so the build emits its artifact.
contract ConsortiumTimelock is TimelockController {
    /// @param minDelay Seconds every scheduled operation waits (48 h by default in the SDK).
    /// @param proposers Accounts that schedule and cancel (the consortium Safe).
    /// @param executors Accounts that execute ready operations (the consortium Safe).
    /// @param admin Optional bootstrap admin; the SDK passes zero so only the timelock itself
    ///        can change roles (through a delayed operation).
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
