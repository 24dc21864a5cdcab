"""Reference Merkle tree for the AnchorRegistry tests.

OpenZeppelin conventions: double-hashed leaves, inner nodes hash sorted pairs.
"""

from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak


def leaf_of(item_digest: bytes) -> bytes:
    """keccak256(bytes.concat(keccak256(abi.encode(itemDigest))))."""
    return keccak(keccak(encode(["bytes32"], [item_digest])))


def _parent(a: bytes, b: bytes) -> bytes:
    return keccak(min(a, b) + max(a, b))


def build(leaves: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """Root and proof per leaf (an odd node is promoted to the next level unchanged)."""
    proofs: list[list[bytes]] = [[] for _ in leaves]
    level = [(leaf, [i]) for i, leaf in enumerate(leaves)]
    while len(level) > 1:
        nxt = []
        for k in range(0, len(level) - 1, 2):
            (left, li), (right, ri) = level[k], level[k + 1]
            for i in li:
                proofs[i].append(right)
            for i in ri:
                proofs[i].append(left)
            nxt.append((_parent(left, right), li + ri))
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0][0], proofs
