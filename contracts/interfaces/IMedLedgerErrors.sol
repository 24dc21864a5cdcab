// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title IMedLedgerErrors
/// @notice Errors shared by several MedLedger components.
interface IMedLedgerErrors {
    /// @notice The caller is not the current controller of a patient (or not of the patient concerned).
    error MedLedgerNotController();
    /// @notice No patient is registered under `patientId`.
    error MedLedgerUnknownPatient(uint64 patientId);
    /// @notice An EIP-712 signature does not come from the required signer (or was already used).
    error MedLedgerInvalidSignature();
    /// @notice An EIP-712 signature's deadline has passed.
    error MedLedgerSignatureExpired(uint256 deadline);
    /// @notice An array argument is longer than its documented maximum.
    error MedLedgerBatchTooLarge(uint256 length, uint256 max);
}
