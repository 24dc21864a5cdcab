"""The Safe 1.4.1 multisig, deployed from the build artifacts of the npm package
``@safe-global/safe-contracts`` (no multisig code of ours): deployment, Safe transaction
EIP-712 hashing and owner signatures, and ERC-1271 signatures of the Safe itself.

Hashes are computed locally (the Safe's own formulas, 1.4.1) so that owners sign offline; tests
compare them with the Safe's ``getTransactionHash`` on chain.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.datastructures import SignedMessage, SignedTransaction
from eth_account.messages import SignableMessage
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes

from medledger.chain.artifacts import Artifact
from medledger.chain.connection import Chain
from medledger.chain.contracts import BoundContract
from medledger.chain.transactions import TxSender
from medledger.chain.types import TxResult
from medledger.errors import InvalidInput, NotAuthorized, SignatureError, ToolNotFound

SAFE_VERSION = "1.4.1"
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

_DOMAIN_TYPEHASH = keccak(text="EIP712Domain(uint256 chainId,address verifyingContract)")
_SAFE_TX_TYPEHASH = keccak(
    text="SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,"
    "uint256 baseGas,uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)"
)
_SAFE_MSG_TYPEHASH = keccak(text="SafeMessage(bytes message)")

#: artifact name -> path under build/artifacts of the npm package
_ARTIFACTS = {
    "Safe": "contracts/Safe.sol/Safe.json",
    "SafeProxyFactory": "contracts/proxies/SafeProxyFactory.sol/SafeProxyFactory.json",
    "CompatibilityFallbackHandler": (
        "contracts/handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json"
    ),
}
_PACKAGE = Path("node_modules/@safe-global/safe-contracts")


def _package_dir() -> Path:
    """The npm package: ``$MEDLEDGER_SAFE_CONTRACTS`` or a ``node_modules`` above the working
    directory or above this source file (the repository checkout)."""
    env = os.environ.get("MEDLEDGER_SAFE_CONTRACTS")
    candidates = [Path(env)] if env else []
    for start in (Path.cwd(), Path(__file__).resolve()):
        candidates += [parent / _PACKAGE for parent in (start, *start.parents)]
    for path in candidates:
        if (path / "package.json").is_file():
            return path
    raise ToolNotFound(
        f"npm package @safe-global/safe-contracts@{SAFE_VERSION} not found",
        hint="run `npm ci` in the repository, or set MEDLEDGER_SAFE_CONTRACTS to the package",
    )


@lru_cache(maxsize=4)
def safe_artifact(name: str) -> Artifact:
    """One Safe build artifact from the npm package (version checked)."""
    pkg = _package_dir()
    version = json.loads((pkg / "package.json").read_text(encoding="utf-8")).get("version")
    if version != SAFE_VERSION:
        raise ToolNotFound(f"@safe-global/safe-contracts is {version}, need {SAFE_VERSION}")
    if name not in _ARTIFACTS:
        raise InvalidInput(f"unknown Safe artifact {name!r}")
    data = json.loads((pkg / "build/artifacts" / _ARTIFACTS[name]).read_text(encoding="utf-8"))
    return Artifact.from_dict(data)


class SafeContract(BoundContract):
    """A Safe proxy (its ABI is the singleton's)."""

    def __init__(self, chain: Chain, address: str, *, sender: TxSender | None = None) -> None:
        super().__init__(chain, address, safe_artifact("Safe"), sender=sender)

    def owners(self) -> list[str]:
        return [to_checksum_address(a) for a in self.call("getOwners")]

    def threshold(self) -> int:
        return int(self.call("getThreshold"))

    def nonce(self) -> int:
        return int(self.call("nonce"))

    def exec_transaction(self, tx: SafeTx, signatures: bytes) -> TxResult:
        """Submit ``tx`` with the packed owner signatures (any account may submit)."""
        return self._tx("execTransaction", *tx.exec_args(), signatures)


@dataclass(frozen=True)
class SafeDeployment:
    """The Safe singleton, proxy factory and fallback handler on one chain."""

    singleton: str
    factory: str
    handler: str


def deploy_safe_infrastructure(sender: TxSender) -> tuple[SafeDeployment, int]:
    """Deploy the Safe singleton, proxy factory and compatibility fallback handler (and the
    gas of the three deployments)."""
    addresses, gas = [], 0
    for name in ("Safe", "SafeProxyFactory", "CompatibilityFallbackHandler"):
        art = safe_artifact(name)
        factory = sender.chain.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        result = sender.deploy(factory.constructor())
        assert result.contract_address is not None  # deploy() guarantees it
        addresses.append(to_checksum_address(result.contract_address))
        gas += result.gas_used
    return SafeDeployment(*addresses), gas


def create_safe(
    sender: TxSender,
    infra: SafeDeployment,
    owners: Iterable[str],
    threshold: int,
    *,
    salt_nonce: int = 0,
) -> tuple[SafeContract, TxResult]:
    """A new Safe proxy with ``owners`` and ``threshold`` (fallback handler set for ERC-1271)."""
    owner_list = [to_checksum_address(o) for o in owners]
    if len(set(owner_list)) != len(owner_list) or not owner_list:
        raise InvalidInput("a Safe needs one or more distinct owners")
    if not 1 <= threshold <= len(owner_list):
        raise InvalidInput(f"threshold must be 1..{len(owner_list)}, got {threshold}")
    singleton = BoundContract(sender.chain, infra.singleton, safe_artifact("Safe"))
    setup = singleton._encode(
        "setup",
        owner_list,
        threshold,
        ZERO_ADDRESS,
        b"",
        infra.handler,
        ZERO_ADDRESS,
        0,
        ZERO_ADDRESS,
    )[1]
    factory = BoundContract(
        sender.chain, infra.factory, safe_artifact("SafeProxyFactory"), sender=sender
    )
    result = factory._tx(
        "createProxyWithNonce", infra.singleton, bytes.fromhex(setup[2:]), salt_nonce
    )
    created = [e for e in result.events if e.name == "ProxyCreation"]
    if not created:
        raise InvalidInput("the proxy factory emitted no ProxyCreation event")
    proxy = to_checksum_address(created[0].args["proxy"])
    return SafeContract(sender.chain, proxy, sender=sender), result


# --- Safe transactions -------------------------------------------------------------------------


@dataclass(frozen=True)
class SafeTx:
    """A Safe transaction (1.4.1 ``SafeTx`` struct); only CALL, no refunds."""

    to: str
    value: int
    data: bytes
    nonce: int
    operation: int = 0
    safe_tx_gas: int = 0
    base_gas: int = 0
    gas_price: int = 0
    gas_token: str = ZERO_ADDRESS
    refund_receiver: str = ZERO_ADDRESS

    def exec_args(self) -> tuple[Any, ...]:
        return (
            self.to,
            self.value,
            self.data,
            self.operation,
            self.safe_tx_gas,
            self.base_gas,
            self.gas_price,
            self.gas_token,
            self.refund_receiver,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "to": self.to,
            "value": str(self.value),
            "data": "0x" + self.data.hex(),
            "operation": self.operation,
            "safeTxGas": str(self.safe_tx_gas),
            "baseGas": str(self.base_gas),
            "gasPrice": str(self.gas_price),
            "gasToken": self.gas_token,
            "refundReceiver": self.refund_receiver,
            "nonce": self.nonce,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> SafeTx:
        try:
            tx = cls(
                to=to_checksum_address(d["to"]),
                value=int(d["value"]),
                data=bytes.fromhex(str(d["data"]).removeprefix("0x")),
                nonce=int(d["nonce"]),
                operation=int(d["operation"]),
                safe_tx_gas=int(d["safeTxGas"]),
                base_gas=int(d["baseGas"]),
                gas_price=int(d["gasPrice"]),
                gas_token=to_checksum_address(d["gasToken"]),
                refund_receiver=to_checksum_address(d["refundReceiver"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed Safe transaction: {exc!r}") from exc
        if tx.operation != 0:
            # DELEGATECALL would run foreign code in the Safe's storage: never proposed here.
            raise InvalidInput("only CALL Safe transactions (operation 0) are supported")
        return tx


def domain_separator(chain_id: int, safe: str) -> bytes:
    """The Safe's EIP-712 domain separator (1.4.1: chainId + verifyingContract)."""
    return keccak(abi_encode(["bytes32", "uint256", "address"], [_DOMAIN_TYPEHASH, chain_id, safe]))


def safe_tx_hash(chain_id: int, safe: str, tx: SafeTx) -> bytes:
    """The EIP-712 hash owners sign (equals ``Safe.getTransactionHash``)."""
    struct = keccak(
        abi_encode(
            [
                "bytes32",
                "address",
                "uint256",
                "bytes32",
                "uint8",
                "uint256",
                "uint256",
                "uint256",
                "address",
                "address",
                "uint256",
            ],
            [
                _SAFE_TX_TYPEHASH,
                tx.to,
                tx.value,
                keccak(tx.data),
                tx.operation,
                tx.safe_tx_gas,
                tx.base_gas,
                tx.gas_price,
                tx.gas_token,
                tx.refund_receiver,
                tx.nonce,
            ],
        )
    )
    return keccak(b"\x19\x01" + domain_separator(chain_id, safe) + struct)


def safe_message_hash(chain_id: int, safe: str, digest: bytes) -> bytes:
    """What owners sign for the Safe to pass ERC-1271 ``isValidSignature(digest, sig)`` (the
    CompatibilityFallbackHandler's ``SafeMessage`` over ``abi.encode(digest)``)."""
    message = abi_encode(["bytes32"], [digest])
    struct = keccak(abi_encode(["bytes32", "bytes32"], [_SAFE_MSG_TYPEHASH, keccak(message)]))
    return keccak(b"\x19\x01" + domain_separator(chain_id, safe) + struct)


def sign_hash(account: LocalAccount, digest: bytes) -> bytes:
    """An owner's ECDSA signature ``r || s || v`` (v 27/28: the Safe's plain ECDSA type)."""
    signed = Account.unsafe_sign_hash(digest, account.key)
    return bytes(signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v]))


def recover(digest: bytes, signature: bytes) -> str:
    """The owner that made ``signature`` over ``digest`` (SignatureError if malformed)."""
    if len(signature) != 65 or signature[64] not in (27, 28):
        raise SignatureError("an owner signature is 65 bytes r||s||v with v 27 or 28")
    try:
        return to_checksum_address(Account._recover_hash(digest, signature=signature))
    except Exception as exc:  # eth_keys raises several types for a bad point
        raise SignatureError(f"unrecoverable owner signature: {exc}") from exc


def pack_signatures(signatures: Mapping[str, bytes]) -> bytes:
    """Owner signatures in the order the Safe requires (ascending owner address)."""
    ordered = sorted(signatures.items(), key=lambda item: int(item[0], 16))
    return b"".join(sig for _, sig in ordered)


@dataclass(frozen=True)
class SafeSigner:
    """Makes ERC-1271 signatures of a Safe from owners' keys (all held here, e.g. a family's
    devices collected for one signing): each owner signs the Safe's ``SafeMessage`` for the
    EIP-712 digest; the packed signatures are what ``isValidSignature`` checks."""

    safe: str
    chain_id: int
    owners: tuple[LocalAccount, ...]

    def sign_digest(self, digest: bytes) -> bytes:
        h = safe_message_hash(self.chain_id, self.safe, digest)
        return pack_signatures({o.address: sign_hash(o, h) for o in self.owners})


class SafeAccount(LocalAccount):
    """A Safe as the signing account of a :class:`~medledger.client.types.Party`: its address is
    the Safe's and ``sign_message`` returns the owners' ERC-1271 signature for the EIP-712 digest,
    so the relayed consent flows (``session.consent.sign_grant`` / ``sign_revoke``) work unchanged
    for a Safe-controlled patient. It cannot send transactions (a Safe acts through
    ``execTransaction``): use a relayer (``session.relay.submit``)."""

    def __init__(self, safe: str, chain_id: int, owners: Sequence[LocalAccount]) -> None:
        if not owners:
            raise InvalidInput("a SafeAccount needs the signing owners")
        first = owners[0]
        super().__init__(first._key_obj, first._publicapi)
        self._address = to_checksum_address(safe)
        self._signer = SafeSigner(self._address, chain_id, tuple(owners))

    def __repr__(self) -> str:
        return f"SafeAccount({self._address})"

    def sign_message(self, signable_message: SignableMessage) -> SignedMessage:
        m = signable_message
        digest = keccak(b"\x19" + m.version + m.header + m.body)
        sig = self._signer.sign_digest(digest)
        return SignedMessage(HexBytes(digest), 0, 0, 0, HexBytes(sig))

    def sign_transaction(self, transaction_dict: Any, blobs: Any = None) -> SignedTransaction:
        raise NotAuthorized(
            f"the Safe {self._address} cannot sign a transaction",
            hint="relay its signed consent (session.relay.submit) or send a Safe transaction",
        )
