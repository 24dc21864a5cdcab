// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title IMedLedgerErrors
/// @notice Errors and events shared by several MedLedger components.
interface IMedLedgerErrors {
    /// @notice A signer consumed (cancelled) one of its keyed nonces without using it.
    event NonceCancelled(address indexed signer, uint256 keyNonce);

    /// @notice The caller is not the current controller of a patient (or not of the patient concerned).
    error MedLedgerNotController();
    /// @notice No patient is registered under `patientId`.
    error MedLedgerUnknownPatient(uint64 patientId);
    /// @notice An EIP-712 signature does not come from the required signer.
    error MedLedgerInvalidSignature();
    /// @notice An EIP-712 signature's deadline has passed.
    error MedLedgerSignatureExpired(uint256 deadline);
    /// @notice An EIP-712 deadline is further ahead than the 30-day cap.
    error MedLedgerDeadlineTooFar(uint256 deadline, uint256 maxDeadline);
    /// @notice The signed signature epoch of the patient is no longer current (a direct revoke or a
    ///         controller change happened after signing).
    error MedLedgerStaleEpoch(uint32 signed, uint32 current);
    /// @notice An array argument is longer than its documented maximum.
    error MedLedgerBatchTooLarge(uint256 length, uint256 max);
    /// @notice The block time no longer fits the stored 40-bit times (after year 36812).
    error MedLedgerTimeOverflow(uint256 timestamp);
}
