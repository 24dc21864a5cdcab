"""Off-chain record storage, addressed by CID.

- :mod:`~medledger.storage.cid` — the :class:`CID` value type, :func:`cid_from_digest`
- :mod:`~medledger.storage.unixfs` / :mod:`~medledger.storage.compute` — Kubo-identical UnixFS
  CIDs (:func:`cid_of_bytes`, :func:`cid_of_stream`, :func:`cid_of_file`)
- :class:`BlockStore` with two backends: :class:`EmbeddedStore` (local directory, the default)
  and :class:`IpfsNodeStore` (Kubo RPC API); :func:`open_store` picks one from a spec string.

See docs/storage.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from medledger.errors import InvalidInput
from medledger.storage.base import BlockStore, ContentStat, GcResult
from medledger.storage.cid import CID, DAG_PB, RAW, cid_from_digest
from medledger.storage.compute import cid_of_bytes, cid_of_file, cid_of_stream
from medledger.storage.embedded import EmbeddedStore
from medledger.storage.unixfs import CHUNK_SIZE, MAX_LINKS

if TYPE_CHECKING:
    from medledger.storage.ipfs_node import IpfsNodeStore

__all__ = [
    "CHUNK_SIZE",
    "CID",
    "DAG_PB",
    "MAX_LINKS",
    "RAW",
    "BlockStore",
    "ContentStat",
    "EmbeddedStore",
    "GcResult",
    "IpfsNodeStore",
    "cid_from_digest",
    "cid_of_bytes",
    "cid_of_file",
    "cid_of_stream",
    "default_store_path",
    "open_store",
]

_NODE_PREFIXES = ("http://", "https://", "/ip4/", "/ip6/", "/dns/", "/dns4/", "/dns6/")


def default_store_path() -> Path:
    """``$MEDLEDGER_HOME/store``, ``~/.medledger/store`` when MEDLEDGER_HOME is unset."""
    home = os.environ.get("MEDLEDGER_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".medledger"
    return base / "store"


def open_store(spec: str | os.PathLike[str] | None = None, **options: float) -> BlockStore:
    """Open the store named by ``spec``.

    - ``None`` or ``"embedded"``: the embedded store at :func:`default_store_path`;
    - ``"http://host:port"`` or an API multiaddr (``"/ip4/127.0.0.1/tcp/5001/http"``): an IPFS
      node (``options`` are passed on: ``timeout``, ``rpc_timeout``, ``has_timeout``);
    - anything else: an embedded store in that directory (``"embedded:/path"`` also accepted).
    """
    text = "embedded" if spec is None else os.fspath(spec)
    if not text.strip():
        raise InvalidInput("empty store spec")
    if text.startswith(_NODE_PREFIXES):
        from medledger.storage.ipfs_node import IpfsNodeStore

        return IpfsNodeStore(text, **options)
    if text.startswith("ipfs:"):
        return open_store(text[len("ipfs:") :], **options)
    if options:
        raise InvalidInput(f"options {sorted(options)} apply to IPFS node stores only")
    if text == "embedded":
        return EmbeddedStore(default_store_path())
    if text.startswith("embedded:"):
        text = text[len("embedded:") :]
    return EmbeddedStore(text)


def __getattr__(name: str) -> object:
    # The node backend pulls in ipfshttpclient/requests; load it only when asked for.
    if name == "IpfsNodeStore":
        from medledger.storage.ipfs_node import IpfsNodeStore

        return IpfsNodeStore
    raise AttributeError(name)
