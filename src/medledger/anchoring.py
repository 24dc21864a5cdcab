"""Merkle batches of high-volume off-chain items, anchored on-chain in ``AnchorRegistry``.

A day of vitals readings would cost a transaction each; instead the SDK batches them: the items'
32-byte digests become the leaves of a Merkle tree, one ``anchor(streamId, root, count)``
transaction commits the whole batch, and any single item is later proven with ``log2(n)`` hashes.

The tree is exactly OpenZeppelin's (``MerkleProof`` and ``@openzeppelin/merkle-tree``'s array
layout, leaves kept in the caller's order):

* leaf = ``keccak256(bytes.concat(keccak256(abi.encode(bytes32 itemDigest))))`` — double hashing,
  so a leaf can never be confused with an inner node;
* inner node = ``keccak256`` of the two children sorted as byte strings (commutative, so a proof is
  just the sibling hashes);
* the tree is an array of ``2n - 1`` nodes, root at 0, children of ``i`` at ``2i+1`` and ``2i+2``,
  leaf ``k`` at index ``2n - 2 - k``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3

from medledger.chain.types import bytes32
from medledger.errors import ChainError, IntegrityError, InvalidInput, TransactionFailed
from medledger.hashing import keccak

MANIFEST_VERSION = 1
LEAF_ENCODING = "keccak256(keccak256(abi.encode(bytes32)))"

#: The AnchorRegistry functions and event used here (docs/architecture.md).
ANCHOR_REGISTRY_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "anchor",
        "stateMutability": "nonpayable",
        "inputs": [
            {"name": "streamId", "type": "bytes32"},
            {"name": "root", "type": "bytes32"},
            {"name": "count", "type": "uint64"},
        ],
        "outputs": [],
    },
    {
        "type": "function",
        "name": "getAnchor",
        "stateMutability": "view",
        "inputs": [{"name": "streamId", "type": "bytes32"}, {"name": "root", "type": "bytes32"}],
        "outputs": [
            {"name": "submitter", "type": "address"},
            {"name": "count", "type": "uint64"},
            {"name": "anchoredAt", "type": "uint32"},
        ],
    },
    {
        "type": "function",
        "name": "verify",
        "stateMutability": "view",
        "inputs": [
            {"name": "streamId", "type": "bytes32"},
            {"name": "root", "type": "bytes32"},
            {"name": "leaf", "type": "bytes32"},
            {"name": "proof", "type": "bytes32[]"},
        ],
        "outputs": [{"name": "", "type": "bool"}],
    },
    {
        "type": "event",
        "name": "BatchAnchored",
        "anonymous": False,
        "inputs": [
            {"name": "streamId", "type": "bytes32", "indexed": True},
            {"name": "root", "type": "bytes32", "indexed": True},
            {"name": "submitter", "type": "address", "indexed": True},
            {"name": "count", "type": "uint64", "indexed": False},
        ],
    },
]


def item_digest(data: bytes) -> bytes:
    """The 32-byte digest of an item's bytes (keccak256); use it when items are not digests yet."""
    return keccak(data)


def leaf_hash(digest: bytes) -> bytes:
    """OpenZeppelin's double-hashed leaf of a 32-byte item digest (``abi.encode(bytes32)`` is the
    32 bytes themselves)."""
    return keccak(keccak(bytes32(digest, "item digest")))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """Commutative inner node, as ``MerkleProof``'s ``_hashPair``."""
    return keccak(a + b) if a < b else keccak(b + a)


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a proof leads to from ``leaf`` (``MerkleProof.processProof``)."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node


def verify_proof(root: bytes | str, item: bytes | str, proof: Sequence[bytes | str]) -> bool:
    """True iff ``proof`` shows that the item with 32-byte digest ``item`` is in the batch with
    Merkle root ``root``. Malformed input raises :class:`InvalidInput`."""
    r = bytes32(root, "root")
    steps = [bytes32(p, "proof element") for p in proof]
    return process_proof(leaf_hash(bytes32(item, "item digest")), steps) == r


@dataclass(frozen=True)
class Batch:
    """A batch of item digests with its Merkle tree (build with :meth:`from_digests`)."""

    stream_id: bytes
    digests: tuple[bytes, ...]
    tree: tuple[bytes, ...]

    @classmethod
    def from_digests(cls, stream_id: bytes | str, digests: Sequence[bytes | str]) -> Batch:
        """Build the tree over 32-byte item digests, kept in the given order."""
        sid = bytes32(stream_id, "stream id")
        ds = tuple(bytes32(d, f"item digest {i}") for i, d in enumerate(digests))
        if not ds:
            raise InvalidInput("a batch needs at least one item")
        n = len(ds)
        tree: list[bytes] = [b""] * (2 * n - 1)
        for k, d in enumerate(ds):
            tree[2 * n - 2 - k] = leaf_hash(d)
        for i in range(n - 2, -1, -1):
            tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2])
        return cls(sid, ds, tuple(tree))

    @classmethod
    def from_items(cls, stream_id: bytes | str, items: Sequence[bytes]) -> Batch:
        """Build from raw item bytes, digesting each with :func:`item_digest`."""
        return cls.from_digests(stream_id, [item_digest(i) for i in items])

    @property
    def root(self) -> bytes:
        """The Merkle root."""
        return self.tree[0]

    def __len__(self) -> int:
        return len(self.digests)

    def leaf(self, i: int) -> bytes:
        """Leaf hash of item ``i``."""
        return self.tree[self._tree_index(i)]

    def _tree_index(self, i: int) -> int:
        n = len(self.digests)
        if not 0 <= i < n:
            raise InvalidInput(f"item index {i} out of range 0..{n - 1}")
        return 2 * n - 2 - i

    def proof(self, i: int) -> list[bytes]:
        """Sibling hashes from item ``i``'s leaf up to the root."""
        j = self._tree_index(i)
        out = []
        while j > 0:
            out.append(self.tree[j + 1 if j % 2 else j - 1])
            j = (j - 1) // 2
        return out

    def index_of(self, digest: bytes | str) -> int:
        """Position of an item digest in the batch (first occurrence)."""
        d = bytes32(digest, "item digest")
        try:
            return self.digests.index(d)
        except ValueError:
            raise InvalidInput("item is not in this batch") from None

    def manifest(self) -> dict[str, Any]:
        """JSON-able manifest: enough to rebuild the tree and every proof."""
        return {
            "version": MANIFEST_VERSION,
            "leaf_encoding": LEAF_ENCODING,
            "stream_id": "0x" + self.stream_id.hex(),
            "root": "0x" + self.root.hex(),
            "count": len(self.digests),
            "items": ["0x" + d.hex() for d in self.digests],
        }

    def to_json(self) -> bytes:
        """The manifest as canonical JSON bytes (what the SDK encrypts and stores)."""
        return json.dumps(self.manifest(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any] | bytes | str) -> Batch:
        """Rebuild a batch from :meth:`manifest` / :meth:`to_json` output, checking its root and
        count (:class:`IntegrityError` if the items do not produce them)."""
        try:
            data = json.loads(manifest) if isinstance(manifest, bytes | str) else manifest
            if (
                data.get("version") != MANIFEST_VERSION
                or data.get("leaf_encoding") != LEAF_ENCODING
            ):
                raise InvalidInput("unsupported batch manifest version or leaf encoding")
            batch = cls.from_digests(data["stream_id"], data["items"])
            root, count = bytes32(data["root"], "root"), int(data["count"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            if isinstance(exc, InvalidInput):
                raise
            raise InvalidInput(f"malformed batch manifest: {exc}") from exc
        if batch.root != root or len(batch) != count:
            raise IntegrityError("batch manifest items do not match its root/count")
        return batch


@dataclass(frozen=True)
class AnchorReceipt:
    """The on-chain anchoring of a batch."""

    stream_id: bytes
    root: bytes
    count: int
    tx_hash: str
    block_number: int
    submitter: str


@dataclass(frozen=True)
class AnchorInfo:
    """``getAnchor`` result for an anchored root."""

    submitter: str
    count: int
    anchored_at: int


#: Sends a transaction ``{"to": address, "data": calldata}`` and returns its hash. The SDK plugs
#: in its own sender (nonce manager, fee policy); :func:`local_account_sender` is a plain one.
SendTransaction = Callable[[dict[str, Any]], bytes]


def local_account_sender(w3: Web3, account: LocalAccount) -> SendTransaction:
    """A :data:`SendTransaction` signing with ``account`` and sending through ``w3``."""

    def send(tx: dict[str, Any]) -> bytes:
        full: dict[str, Any] = {
            **tx,
            "from": account.address,
            "chainId": w3.eth.chain_id,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        }
        full["gas"] = w3.eth.estimate_gas(full)  # type: ignore[arg-type]
        base = w3.eth.get_block("latest").get("baseFeePerGas")
        if base is not None:
            tip = w3.eth.max_priority_fee
            full["maxPriorityFeePerGas"] = tip
            full["maxFeePerGas"] = 2 * int(base) + tip
        else:
            full["gasPrice"] = w3.eth.gas_price
        signed = account.sign_transaction(full)
        return bytes(w3.eth.send_raw_transaction(signed.raw_transaction))

    return send


def _registry(w3: Web3, address: str) -> Any:
    if not is_address(address):
        raise InvalidInput(f"not an address: {address!r}")
    return w3.eth.contract(address=to_checksum_address(address), abi=ANCHOR_REGISTRY_ABI)


def anchor_batch(
    w3: Web3,
    registry: str,
    batch: Batch,
    send: SendTransaction,
    *,
    timeout: float = 120.0,
) -> AnchorReceipt:
    """Anchor ``batch``'s root with one ``AnchorRegistry.anchor`` transaction sent by ``send``;
    waits for the receipt and checks the ``BatchAnchored`` event."""
    contract = _registry(w3, registry)
    data = contract.encode_abi("anchor", args=[batch.stream_id, batch.root, len(batch)])
    try:
        tx_hash = send({"to": contract.address, "data": data})
        receipt = w3.eth.wait_for_transaction_receipt(HexBytes(tx_hash), timeout=timeout)
    except (ConnectionError, OSError) as exc:
        raise ChainError(f"anchoring failed: {exc}") from exc
    except ChainError:
        raise
    except Exception as exc:  # web3 raises ContractLogicError, TimeExhausted, RPC errors, ...
        raise TransactionFailed(f"anchor transaction failed: {exc}") from exc
    txh = "0x" + bytes(receipt["transactionHash"]).hex()
    if receipt["status"] != 1:
        raise TransactionFailed("anchor transaction reverted", tx_hash=txh)
    for ev in contract.events.BatchAnchored().process_receipt(receipt):
        a = ev["args"]
        if bytes(a["root"]) == batch.root and bytes(a["streamId"]) == batch.stream_id:
            return AnchorReceipt(
                batch.stream_id, batch.root, int(a["count"]), txh,
                int(receipt["blockNumber"]), str(a["submitter"]),
            )  # fmt: skip
    raise IntegrityError(
        "anchor transaction succeeded but emitted no matching BatchAnchored", hint=txh
    )


def verify_onchain(
    w3: Web3,
    registry: str,
    stream_id: bytes | str,
    root: bytes | str,
    item: bytes | str,
    proof: Sequence[bytes | str],
) -> bool:
    """``AnchorRegistry.verify`` for the item with digest ``item``: true iff the root is anchored
    in the stream and the proof is valid. The leaf is double-hashed here, as ``verify`` expects."""
    contract = _registry(w3, registry)
    args = (
        bytes32(stream_id, "stream id"),
        bytes32(root, "root"),
        leaf_hash(bytes32(item, "item digest")),
        [bytes32(p, "proof element") for p in proof],
    )
    try:
        return bool(contract.functions.verify(*args).call())
    except (ConnectionError, OSError) as exc:
        raise ChainError(f"cannot reach the chain: {exc}") from exc
    except Exception as exc:
        raise ChainError(f"AnchorRegistry.verify failed: {exc}") from exc


def get_anchor(
    w3: Web3, registry: str, stream_id: bytes | str, root: bytes | str
) -> AnchorInfo | None:
    """The anchor of (stream, root), or ``None`` if it was never anchored."""
    contract = _registry(w3, registry)
    try:
        submitter, count, at = contract.functions.getAnchor(
            bytes32(stream_id, "stream id"), bytes32(root, "root")
        ).call()
    except (ConnectionError, OSError) as exc:
        raise ChainError(f"cannot reach the chain: {exc}") from exc
    if int(count) == 0:
        return None
    return AnchorInfo(str(submitter), int(count), int(at))
