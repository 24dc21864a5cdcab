"""Gas estimation for the embedded py-evm chain in two or three executions instead of a dozen.

py-evm's default estimator bisects between the intrinsic gas and the block gas limit, executing
the transaction about 13 times; a 128-record ``addRecordBatch`` takes about a second per
execution in Python, so estimating cost ten times more than running it (issue 17: 80% of an
embedded FHIR import). This one executes once with the block's gas, takes the gas that run
consumed, adds what a tighter limit can cost (1/64 withheld by each call, the 2,300 gas an
SSTORE needs left over) and checks that limit with a second execution; only if that fails does
it fall back to the bisection. Like the bisection it returns a limit that was seen to succeed.
"""

from __future__ import annotations

from typing import cast

from eth.abc import SignedTransactionAPI, StateAPI
from eth.estimators.gas import binary_gas_search_intrinsic_tolerance
from eth.vm.spoof import SpoofTransaction

#: headroom above the measured consumption: an SSTORE needs 2,300 gas left (EIP-2200), and the
#: one the bisection leaves (its tolerance is 21,000) costs more than this
_HEADROOM = 10_000


def _run(state: StateAPI, transaction: SignedTransactionAPI, gas: int) -> int | None:
    """Gas consumed by ``transaction`` with a ``gas`` limit (state untouched); None if it
    failed."""
    spoof = cast(SignedTransactionAPI, SpoofTransaction(transaction, gas=gas, gas_price=0))
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(spoof)
        if computation.is_error:
            return None
        return int(computation.get_gas_used())
    finally:
        state.revert(snapshot)


def measured_gas_search(state: StateAPI, transaction: SignedTransactionAPI) -> int:
    """A gas limit ``transaction`` succeeds with (see the module docstring)."""
    used = _run(state, transaction, state.gas_limit)
    if used is None:
        # fails even with the block's gas: let the bisection raise the error as it always did
        return int(binary_gas_search_intrinsic_tolerance(state, transaction))
    intrinsic = int(transaction.intrinsic_gas)
    candidate = min(intrinsic + used + used // 63 + _HEADROOM, state.gas_limit)
    if _run(state, transaction, candidate) is not None:
        return candidate
    return int(binary_gas_search_intrinsic_tolerance(state, transaction))
