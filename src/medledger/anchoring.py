"""Merkle batches of high-volume off-chain items, anchored on-chain in ``AnchorRegistry``.

A day of vitals readings would cost a transaction each; instead the SDK batches them: the items'
32-byte digests become the leaves of a Merkle tree, one ``anchor(streamId, root, count)``
transaction commits the whole batch, and any single item is later proven with ``log2(n)`` hashes.
This module is the Merkle math only; storing and anchoring a batch is ``session.anchors``
(:mod:`medledger.client.anchors`).

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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from medledger.chain.types import bytes32
from medledger.errors import IntegrityError, InvalidInput
from medledger.hashing import keccak

MANIFEST_VERSION = 1
LEAF_ENCODING = "keccak256(keccak256(abi.encode(bytes32)))"


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
