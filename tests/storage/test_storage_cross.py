"""Cross-checks against the real js-ipfs daemon: same bytes, same CID, same block files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from helpers.storage import payload
from medledger.storage import CHUNK_SIZE, MAX_LINKS, EmbeddedStore, cid_of_bytes
from medledger.storage.ipfs_node import IpfsNodeStore

pytestmark = pytest.mark.ipfs


def test_pure_embedded_and_daemon_cids_agree(ipfs_api: str, tmp_path: Path) -> None:
    """Empty, one chunk, one byte more, and more than 174 chunks (a two-level tree), v0 and v1."""
    node = IpfsNodeStore(ipfs_api, rpc_timeout=10)
    embedded = EmbeddedStore(tmp_path / "store")
    big = (MAX_LINKS + 1) * CHUNK_SIZE + 123  # > 45.6 MB
    for size in (0, CHUNK_SIZE, CHUNK_SIZE + 1, big):
        data = payload(f"cross-{size}", size)
        for version in (0, 1):
            pure = cid_of_bytes(data, version)
            assert embedded.put(data, version=version) == pure, (size, version)
            assert node.put(data, version=version) == pure, (size, version)
            assert str(pure).startswith("Qm" if version == 0 else "baf")
        node.unpin(cid_of_bytes(data, 0))
        node.unpin(cid_of_bytes(data, 1))
    node.gc()


def test_block_files_sit_where_the_daemon_puts_them(ipfs_daemon: object, tmp_path: Path) -> None:
    """Our blocks/<XY>/<KEY>.data paths equal the daemon's flatfs paths for the same content."""
    repo: Path = ipfs_daemon.repo  # type: ignore[attr-defined]
    node = IpfsNodeStore(ipfs_daemon.api)  # type: ignore[attr-defined]
    embedded = EmbeddedStore(tmp_path / "store")
    data = payload("cross-layout", 2 * CHUNK_SIZE + 10)
    cid = node.put(data)
    assert embedded.put(data) == cid
    blocks = embedded.root / "blocks"
    ours = {p.relative_to(blocks) for p in blocks.rglob("*.data")}
    assert len(ours) == 4  # root + three raw leaves
    for relative in ours:
        assert (repo / "blocks" / relative).is_file(), relative


def test_car_interop_with_the_daemon(ipfs_api: str, tmp_path: Path) -> None:
    node = IpfsNodeStore(ipfs_api, rpc_timeout=10)
    embedded = EmbeddedStore(tmp_path / "store")
    data = payload("cross-car", 4 * CHUNK_SIZE + 1)
    for version in (0, 1):
        cid = embedded.put(data, version=version)
        car = io.BytesIO()
        embedded.export_car(cid, car)
        car.seek(0)
        node.unpin(cid)
        node.gc()
        assert node.import_car(car) == (cid,)  # the daemon's own dag/import accepts our CAR
        assert node.get(cid) == data
        exported = io.BytesIO()
        node.export_car(cid, exported)
        assert exported.getvalue() == car.getvalue()  # same blocks, same order, same header
