"""Constants shared by the crypto tests (a plain module: conftest files are not for importing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PATIENT = 42
AUTHOR = "0x1111111111111111111111111111111111111111"
GRANTEE = "0x2222222222222222222222222222222222222222"
OTHER = "0x3333333333333333333333333333333333333333"
LABS, NOTES, IMAGING = 3, 5, 4


def count_scrypt_passes(monkeypatch: Any) -> list[str]:
    """Record every scrypt pass a keystore can run from now on (eth-keyfile's for the v3 part,
    medledger's own), calling through to the real functions; returns the growing list."""
    import eth_keyfile.keyfile

    from medledger.crypto import keystore

    calls: list[str] = []

    def counted(name: str, real: Callable[..., bytes]) -> Callable[..., bytes]:
        def run(*args: Any, **kwargs: Any) -> bytes:
            calls.append(name)
            return real(*args, **kwargs)

        return run

    monkeypatch.setattr(
        eth_keyfile.keyfile, "_scrypt_hash", counted("eth", eth_keyfile.keyfile._scrypt_hash)
    )
    monkeypatch.setattr(keystore, "_derive", counted("medledger", keystore._derive))
    return calls
