"""The consortium timelock (OpenZeppelin ``TimelockController``, shipped as
``ConsortiumTimelock``): operation ids, schedule/execute calldata, and the scheduled operations
decoded for patients ("provider X becomes an emergency responder at T")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_typing import ABIFunction
from eth_utils.abi import function_abi_to_4byte_selector
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from medledger.chain.artifacts import load_artifact
from medledger.chain.codec import decode_values
from medledger.chain.connection import Chain
from medledger.chain.contracts import BoundContract
from medledger.chain.transactions import TxSender
from medledger.chain.types import TxResult
from medledger.errors import InvalidInput

#: default minimum delay of registry changes: 48 hours
DEFAULT_MIN_DELAY = 48 * 3600
ZERO32 = b"\x00" * 32

_PROPOSER = keccak(text="PROPOSER_ROLE")
_EXECUTOR = keccak(text="EXECUTOR_ROLE")
_CANCELLER = keccak(text="CANCELLER_ROLE")
_ADMIN = ZERO32  # DEFAULT_ADMIN_ROLE


class TimelockContract(BoundContract):
    """A deployed ``ConsortiumTimelock``."""

    #: gas of the deployment when this object deployed it (0 when bound to an existing one)
    deploy_gas: int = 0

    def __init__(
        self, chain: Chain, address: str, *, sender: TxSender | None = None, deploy_block: int = 0
    ) -> None:
        super().__init__(
            chain,
            address,
            load_artifact("ConsortiumTimelock"),
            sender=sender,
            deploy_block=deploy_block,
        )

    def min_delay(self) -> int:
        return int(self.call("getMinDelay"))

    def timestamp_of(self, op_id: bytes) -> int:
        """When the operation becomes executable (0 unknown, 1 done)."""
        return int(self.call("getTimestamp", op_id))

    def is_ready(self, op_id: bytes) -> bool:
        return bool(self.call("isOperationReady", op_id))

    def is_done(self, op_id: bytes) -> bool:
        return bool(self.call("isOperationDone", op_id))

    def has_role(self, role: str, account: str) -> bool:
        roles = {
            "proposer": _PROPOSER,
            "executor": _EXECUTOR,
            "canceller": _CANCELLER,
            "admin": _ADMIN,
        }
        return bool(self.call("hasRole", roles[role], to_checksum_address(account)))

    def send(self, name: str, *args: Any) -> TxResult:
        return self._tx(name, *args)


def deploy_timelock(
    sender: TxSender, min_delay: int, proposers: Sequence[str], executors: Sequence[str], admin: str
) -> TimelockContract:
    art = load_artifact("ConsortiumTimelock")
    factory = sender.chain.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    result = sender.deploy(factory.constructor(min_delay, list(proposers), list(executors), admin))
    assert result.contract_address is not None  # deploy() guarantees it
    contract = TimelockContract(
        sender.chain, result.contract_address, sender=sender, deploy_block=result.block_number
    )
    contract.deploy_gas = result.gas_used
    return contract


@dataclass(frozen=True)
class TimelockCall:
    """One call the timelock makes once the delay has passed."""

    timelock: str
    target: str
    data: bytes
    salt: bytes
    delay: int
    value: int = 0
    predecessor: bytes = ZERO32

    @property
    def operation_id(self) -> bytes:
        """``TimelockController.hashOperation(target, value, data, predecessor, salt)``."""
        return keccak(
            abi_encode(
                ["address", "uint256", "bytes", "bytes32", "bytes32"],
                [self.target, self.value, self.data, self.predecessor, self.salt],
            )
        )

    def schedule_data(self, timelock: TimelockContract) -> bytes:
        return timelock.calldata(
            "schedule", self.target, self.value, self.data, self.predecessor, self.salt, self.delay
        )

    def execute_data(self, timelock: TimelockContract) -> bytes:
        return timelock.calldata(
            "execute", self.target, self.value, self.data, self.predecessor, self.salt
        )

    def cancel_data(self, timelock: TimelockContract) -> bytes:
        return timelock.calldata("cancel", self.operation_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "timelock": self.timelock,
            "target": self.target,
            "value": str(self.value),
            "data": "0x" + self.data.hex(),
            "predecessor": "0x" + self.predecessor.hex(),
            "salt": "0x" + self.salt.hex(),
            "delay": self.delay,
            "operationId": "0x" + self.operation_id.hex(),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TimelockCall:
        try:
            call = cls(
                timelock=to_checksum_address(d["timelock"]),
                target=to_checksum_address(d["target"]),
                data=bytes.fromhex(str(d["data"]).removeprefix("0x")),
                salt=bytes.fromhex(str(d["salt"]).removeprefix("0x")),
                delay=int(d["delay"]),
                value=int(d["value"]),
                predecessor=bytes.fromhex(str(d["predecessor"]).removeprefix("0x")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed timelock call: {exc!r}") from exc
        if len(call.salt) != 32 or len(call.predecessor) != 32:
            raise InvalidInput("timelock salt and predecessor are 32 bytes")
        return call


@dataclass(frozen=True)
class ScheduledChange:
    """A registry change waiting in (or done by) the timelock, as a patient reads it."""

    operation_id: str
    function: str
    args: dict[str, Any]
    ready_at: int
    state: str  # "pending" | "ready" | "done" | "cancelled"
    summary: str
    #: the governed contract it changes: "MedLedger" (providers) or "CustodianRegistry"
    contract: str = "MedLedger"


def decode_registry_call(data: bytes, contract: str = "MedLedger") -> tuple[str, dict[str, Any]]:
    """The ``contract`` function and named arguments of ``data`` (InvalidInput if unknown).
    Decoded against the target's own ABI: both registries have ``transferOwnership``."""
    for entry in load_artifact(contract).abi_entries("function"):
        if function_abi_to_4byte_selector(cast(ABIFunction, entry)) == data[:4]:
            try:
                return str(entry["name"]), decode_values(entry.get("inputs", []), data[4:])
            except (DecodingError, ValueError, TypeError) as exc:
                raise InvalidInput(f"undecodable {entry['name']} calldata") from exc
    raise InvalidInput(f"calldata 0x{data[:4].hex()} is not a {contract} function")


#: One line a patient understands per governed (contract, function), filled with the call's
#: named arguments, ``when``, and ``role`` / ``becomes`` (from ``emergencyResponder``).
_DESCRIPTIONS: dict[tuple[str, str], str] = {
    (
        "MedLedger",
        "registerProvider",
    ): "provider {provider} ({name}) will be registered{role} {when}",
    (
        "MedLedger",
        "updateProvider",
    ): "provider {provider} will {becomes} an emergency responder {when}",
    ("MedLedger", "reinstateProvider"): "provider {provider} will be reinstated {when}",
    ("MedLedger", "suspendProvider"): "provider {provider} will be suspended {when}",
    ("MedLedger", "transferOwnership"): "registry ownership will be offered to {newOwner} {when}",
    ("MedLedger", "setSuspenderAccount"): "{suspender} will be the registry's suspender {when}",
    ("CustodianRegistry", "registerCustodian"): (
        "custodian {custodian} ({name}, {endpoint}) will be registered {when}"
    ),
    ("CustodianRegistry", "removeCustodian"): "custodian {custodian} will be removed {when}",
    ("CustodianRegistry", "transferOwnership"): (
        "custodian registry ownership will be offered to {newOwner} {when}"
    ),
    ("CustodianRegistry", "acceptOwnership"): (
        "the timelock will accept ownership of the custodian registry {when}"
    ),
}


def describe(function: str, args: dict[str, Any], when: str, contract: str = "MedLedger") -> str:
    """One line a patient understands."""
    template = _DESCRIPTIONS.get((contract, function))
    if template is None:
        prefix = "custodian registry: " if contract == "CustodianRegistry" else ""
        return f"{prefix}{function}({', '.join(f'{k}={v}' for k, v in args.items())}) {when}"
    responder = bool(args.get("emergencyResponder"))
    return template.format(
        **args,
        when=when,
        role=" as an emergency responder" if responder else "",
        becomes="become" if responder else "no longer be",
    )


def scheduled_changes(
    timelock: TimelockContract,
    targets: Mapping[str, str],
    *,
    include_done: bool = False,
) -> list[ScheduledChange]:
    """Changes scheduled in the timelock (``CallScheduled`` events) for ``targets`` (address ->
    contract name, e.g. MedLedger and CustodianRegistry), oldest first."""
    named = {to_checksum_address(a): c for a, c in targets.items()}
    events = timelock.get_events(
        ["CallScheduled", "CallExecuted", "Cancelled"], from_block=timelock.deploy_block
    )
    executed = {bytes(e.args["id"]) for e in events if e.name == "CallExecuted"}
    cancelled = {bytes(e.args["id"]) for e in events if e.name == "Cancelled"}
    now = timelock.chain.now()
    out: list[ScheduledChange] = []
    for e in events:
        if e.name != "CallScheduled":
            continue
        contract = named.get(to_checksum_address(e.args["target"]))
        if contract is None:
            continue
        op = bytes(e.args["id"])
        if op in cancelled:
            state = "cancelled"
        elif op in executed:
            state = "done"
        else:
            ts = timelock.timestamp_of(op)
            state = "ready" if ts <= now else "pending"
        if state in ("done", "cancelled") and not include_done:
            continue
        try:
            function, args = decode_registry_call(bytes(e.args["data"]), contract)
        except InvalidInput:
            function, args = "unknown", {"data": "0x" + bytes(e.args["data"]).hex()}
        ready_at = _ready_at(timelock, e.block_number, int(e.args["delay"]))
        when = f"at {ready_at} (unix)" if state == "pending" else f"(ready since {ready_at})"
        out.append(
            ScheduledChange(
                "0x" + op.hex(),
                function,
                args,
                ready_at,
                state,
                describe(function, args, when, contract),
                contract,
            )
        )
    return out


def _ready_at(timelock: TimelockContract, block_number: int, delay: int) -> int:
    return int(timelock.chain.w3.eth.get_block(block_number)["timestamp"]) + delay
