"""Gas estimation for the embedded py-evm chain in one or two executions instead of a dozen.

py-evm's default estimator bisects between the intrinsic gas and the block gas limit, executing
the transaction about 13 times; a 128-record ``addRecordBatch`` takes over a second per
execution in Python, so estimating cost ten times more than running it (issue 17: 80% of an
embedded FHIR import). This one executes once with the block's gas and takes the gas that run
consumed, plus headroom (the 2,300 gas an SSTORE needs left over, EIP-2200). Without a nested
call that is the whole need: consumption then does not depend on the limit (medledger's
contracts never read ``gasleft()``). With calls, each withholds 1/64 of what is left, so the
limit gets 1/63 more and a second execution checks it; only if that fails does it fall back to
the bisection. The sender adds its own margin on top (``TxSender.gas_multiplier``).
"""

from __future__ import annotations

from typing import cast

from eth.abc import SignedTransactionAPI, StateAPI
from eth.estimators.gas import binary_gas_search_intrinsic_tolerance
from eth.vm.spoof import SpoofTransaction

#: headroom above the measured consumption: an SSTORE needs 2,300 gas left (EIP-2200); the
#: bisection it replaces overshot by up to 21,000 (its tolerance)
_HEADROOM = 10_000


def _run(state: StateAPI, transaction: SignedTransactionAPI, gas: int) -> tuple[int, bool] | None:
    """Gas consumed by ``transaction`` with a ``gas`` limit and whether it made nested calls
    (state untouched); None if it failed."""
    spoof = cast(SignedTransactionAPI, SpoofTransaction(transaction, gas=gas, gas_price=0))
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(spoof)
        if computation.is_error:
            return None
        return int(computation.get_gas_used()), bool(computation.children)
    finally:
        state.revert(snapshot)


def measured_gas_search(state: StateAPI, transaction: SignedTransactionAPI) -> int:
    """A gas limit ``transaction`` succeeds with (see the module docstring)."""
    measured = _run(state, transaction, state.gas_limit)
    if measured is None:
        # fails even with the block's gas: let the bisection raise the error as it always did
        return int(binary_gas_search_intrinsic_tolerance(state, transaction))
    used, calls = measured
    intrinsic = int(transaction.intrinsic_gas)
    if not calls:
        return min(intrinsic + used + _HEADROOM, state.gas_limit)
    candidate = min(intrinsic + used + used // 63 + _HEADROOM, state.gas_limit)
    if _run(state, transaction, candidate) is not None:
        return candidate
    return int(binary_gas_search_intrinsic_tolerance(state, transaction))
