"""The one atomic-write helper: permissions, no symlink following, no device replaced, nothing
partial left behind."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from medledger.errors import InvalidInput, MedledgerError, NotARegularFile
from medledger.fsutil import atomic_open, atomic_write, atomic_write_stream


def _leftovers(directory: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


def test_new_file_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        target = atomic_write(tmp_path / "secret.json", "{}\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text() == "{}\n"
    assert _leftovers(tmp_path, {"secret.json"}) == []


def test_replacing_a_file_keeps_the_requested_mode(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    target.chmod(0o666)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_symlink_target_is_refused_and_its_destination_untouched(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    link = tmp_path / "link"
    link.symlink_to(victim)
    with pytest.raises(NotARegularFile):
        atomic_write(link, b"attacker")
    assert victim.read_bytes() == b"precious"
    assert link.is_symlink()
    assert _leftovers(tmp_path, {"victim", "link"}) == []


def test_dev_null_is_refused(tmp_path: Path) -> None:
    before = os.stat("/dev/null")
    with pytest.raises(NotARegularFile) as info:
        atomic_write("/dev/null", b"x")
    assert isinstance(info.value, MedledgerError)
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_a_directory_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(NotARegularFile):
        atomic_write(tmp_path / "d", b"x")


def test_stream_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_bytes(b"old")

    def chunks() -> Iterator[bytes]:
        yield b"partial "
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError):
        atomic_write_stream(target, chunks())
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path, {"out"}) == []


def test_stream_writes_every_chunk(tmp_path: Path) -> None:
    size = atomic_write_stream(tmp_path / "s", [b"ab", bytearray(b"cd"), memoryview(b"ef")])
    assert size == 6
    assert (tmp_path / "s").read_bytes() == b"abcdef"


def test_exception_inside_atomic_open_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "new"

    def write_then_fail() -> None:
        with atomic_open(target) as fh:
            fh.write(b"half")
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        write_then_fail()
    assert not target.exists()
    assert _leftovers(tmp_path, set()) == []


def test_no_overwrite_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "k"
    target.write_bytes(b"first")
    with pytest.raises(FileExistsError):
        atomic_write(target, b"second", overwrite=False)
    assert target.read_bytes() == b"first"
    assert _leftovers(tmp_path, {"k"}) == []


def test_missing_parent_fails_unless_asked(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):  # typed, names the directory
        atomic_write(tmp_path / "a" / "b" / "f", b"x")
    atomic_write(tmp_path / "a" / "b" / "f", b"x", make_parents=True)
    assert (tmp_path / "a" / "b" / "f").read_bytes() == b"x"
