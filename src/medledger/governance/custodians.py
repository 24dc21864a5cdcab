"""The CustodianRegistry as a second governed target of the consortium (issue 16).

The registry is ``Ownable2Step`` like MedLedger's provider registry: the consortium's timelock
owns it, so registering and removing custodians are timelocked Safe proposals, and its
ownership moves by the same two steps (``transferOwnership`` scheduled through the timelock,
``acceptOwnership`` by the new owner). Every refusal the contract would make at execution time
(48 h later) is checked here when proposing, so a proposal that cannot succeed is never written.
"""

from __future__ import annotations

from eth_utils.address import to_checksum_address

from medledger.chain.custodians import CUSTODIAN_ACTIVE, CUSTODIAN_NONE, CustodianRegistryContract
from medledger.errors import InvalidInput

#: ``CustodianRegistry`` text bounds (MAX_NAME_BYTES, MAX_ENDPOINT_BYTES)
MAX_NAME_BYTES, MAX_ENDPOINT_BYTES = 64, 256
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


class GovernedCustodianRegistry(CustodianRegistryContract):
    """The registry binding as governance takes it (ownership and calldata are the binding's
    own: :class:`~medledger.chain.suite_contract.Ownable2StepCalls`)."""

    @classmethod
    def of(cls, registry: CustodianRegistryContract) -> GovernedCustodianRegistry:
        """The same deployed registry (and signer) through this binding."""
        bound = cls(registry.chain, registry.address, deploy_block=registry.deploy_block)
        return bound.connect_as(registry.sender) if registry.sender is not None else bound


def check_registration(
    registry: CustodianRegistryContract, custodian: str, name: str, endpoint: str
) -> str:
    """The checksummed custodian address, or InvalidInput for what ``registerCustodian``
    would refuse (zero address, already registered or removed, text out of bounds)."""
    try:
        address = to_checksum_address(custodian)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{custodian!r} is not an address") from exc
    if address == ZERO_ADDRESS:
        raise InvalidInput("the custodian address cannot be zero")
    n, e = len(name.encode()), len(endpoint.encode())
    if not 0 < n <= MAX_NAME_BYTES:
        raise InvalidInput(f"a custodian name is 1 .. {MAX_NAME_BYTES} bytes (got {n})")
    if not 0 < e <= MAX_ENDPOINT_BYTES:
        raise InvalidInput(f"a custodian endpoint is 1 .. {MAX_ENDPOINT_BYTES} bytes (got {e})")
    if not endpoint.startswith(("http://", "https://")):
        raise InvalidInput(f"the custodian endpoint {endpoint!r} is not an http(s) URL")
    status = registry.get_custodian(address).status
    if status != CUSTODIAN_NONE:
        raise InvalidInput(
            f"custodian {address} is already registered"
            + (" (removed addresses are never reused)" if status != CUSTODIAN_ACTIVE else "")
        )
    return address


def check_removal(registry: CustodianRegistryContract, custodian: str) -> str:
    """The checksummed address, or InvalidInput unless the custodian is active."""
    address = to_checksum_address(custodian)
    if registry.get_custodian(address).status != CUSTODIAN_ACTIVE:
        raise InvalidInput(f"custodian {address} is not an active custodian")
    return address
