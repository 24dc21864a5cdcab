"""Helpers shared by the storage tests (a uniquely named module: conftest names collide)."""

from __future__ import annotations

import random


def payload(name: str, size: int) -> bytes:
    """Deterministic test content (the IPFS.md reference-vector recipe)."""
    return random.Random("probe-ipfs-" + name).randbytes(size)
