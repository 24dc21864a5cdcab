"""keccak-256 for the hot off-chain paths (hash-chain verification, Merkle trees).

safe-pysha3 (a runtime dependency) is about ten times faster than pycryptodome, eth-hash's
default backend here, on the short inputs hashed here; eth-hash remains the fallback.
"""

from __future__ import annotations

from collections.abc import Callable

from eth_hash.auto import keccak as eth_hash_keccak


def _pick_keccak() -> Callable[[bytes], bytes]:
    try:
        import sha3  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return eth_hash_keccak

    def keccak(data: bytes) -> bytes:
        return bytes(sha3.keccak_256(data).digest())

    return keccak


keccak = _pick_keccak()
