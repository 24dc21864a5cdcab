"""The keystore: eth-account v3 JSON plus the identity key, one password, safe on disk."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from medledger.crypto import IdentityKey, Keystore, ScryptParams, Suite
from medledger.crypto.keystore import MIN_SCRYPT_N, weak_kdf_for_tests
from medledger.errors import InvalidInput, KeystoreError

LIGHT = ScryptParams.LIGHT
PASSWORD = "correct horse battery staple"


def test_create_save_load_round_trip(suite: Suite, tmp_path: Path) -> None:
    account = Account.create()
    identity = IdentityKey.generate(suite)
    store = Keystore.create(PASSWORD, account, identity_key=identity, scrypt=LIGHT)
    path = store.save(tmp_path / "me.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["me.json"]  # no temp file left

    loaded_account, loaded_identity = Keystore.load(path, PASSWORD)
    assert loaded_account.key == account.key
    assert loaded_account.address == account.address == store.address
    assert loaded_identity.public_key == identity.public_key
    assert loaded_identity.private_bytes() == identity.private_bytes()
    assert loaded_identity.suite is suite
    # Any v3 tool still reads the signing key from the same file.
    assert Account.decrypt(path.read_text(), PASSWORD) == account.key
    # JSON text and parsed objects load too.
    assert Keystore.load(path.read_text(), PASSWORD)[0].address == account.address
    assert Keystore.load(json.loads(path.read_text()), PASSWORD)[0].address == account.address


def test_create_generates_missing_keys(suite: Suite) -> None:
    store = Keystore.create(PASSWORD, suite=suite, scrypt=LIGHT)
    account, identity = store.unlock(PASSWORD)
    assert account.address == store.address
    assert identity.public_key == store.public_key
    assert store.suite is suite


def test_wrong_password_is_a_keystore_error() -> None:
    store = Keystore.create(PASSWORD, scrypt=LIGHT)
    with pytest.raises(KeystoreError):
        store.unlock("wrong")


def test_identity_part_cannot_be_moved_to_another_account() -> None:
    mine = json.loads(Keystore.create(PASSWORD, scrypt=LIGHT).to_json())
    theirs = json.loads(Keystore.create(PASSWORD, scrypt=LIGHT).to_json())
    theirs["medledger"] = mine["medledger"]
    with pytest.raises(KeystoreError):
        Keystore.load(theirs, PASSWORD)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["medledger"].update(ciphertext="00" + d["medledger"]["ciphertext"][2:]),
        lambda d: d["medledger"].update(public_key=IdentityKey.generate().key_document().hex()),
        lambda d: d["medledger"]["kdfparams"].update(n=1 << 30),
        lambda d: d["medledger"]["kdfparams"].update(n=1000),
        lambda d: d["medledger"].update(nonce="00"),
        lambda d: d["medledger"].update(cipher="aes-128-cbc"),
        lambda d: d["medledger"].update(suite="rsa"),
        lambda d: d["medledger"].update(version=9),
        lambda d: d.pop("medledger"),
        lambda d: d["crypto"]["kdfparams"].update(n=1 << 30),
        lambda d: d["crypto"].update(mac="00" * 32),
        lambda d: d["crypto"].pop("ciphertext"),
    ],
)
def test_modified_or_malformed_keystores_are_keystore_errors(edit: object) -> None:
    doc = json.loads(Keystore.create(PASSWORD, scrypt=LIGHT).to_json())
    edit(doc)  # type: ignore[operator]
    with pytest.raises(KeystoreError):
        Keystore.load(doc, PASSWORD)


def test_unreadable_inputs_are_keystore_errors(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError):
        Keystore.load(tmp_path / "missing.json", PASSWORD)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(KeystoreError):
        Keystore.load(tmp_path / "bad.json", PASSWORD)
    with pytest.raises(KeystoreError):
        Keystore.load("[1, 2]", PASSWORD)


def test_save_never_clobbers_unless_asked(tmp_path: Path) -> None:
    first = Keystore.create(PASSWORD, scrypt=LIGHT)
    second = Keystore.create(PASSWORD, scrypt=LIGHT)
    path = first.save(tmp_path / "k.json")
    with pytest.raises(KeystoreError):
        second.save(path)
    assert Keystore.from_json(path).address == first.address
    second.save(path, overwrite=True)
    assert Keystore.from_json(path).address == second.address
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.json"]
    with pytest.raises(InvalidInput, match="does not exist"):  # checked before writing
        first.save(tmp_path / "no" / "such" / "dir.json")


def test_bad_creation_arguments() -> None:
    with pytest.raises(InvalidInput):
        Keystore.create("", scrypt=LIGHT)
    with pytest.raises(InvalidInput):
        Keystore.create(PASSWORD, scrypt=ScryptParams(1 << 10, r=4))
    with pytest.raises(KeystoreError):
        Keystore.create(PASSWORD, scrypt=ScryptParams(1000))


def test_no_secret_in_repr_or_json(suite: Suite) -> None:
    account = Account.create()
    identity = IdentityKey.generate(suite)
    store = Keystore.create(PASSWORD, account, identity_key=identity, scrypt=LIGHT)
    secrets = [account.key.hex().removeprefix("0x"), identity.private_bytes()[1:33].hex()]
    for text in (repr(store), str(store), store.to_json(), repr(identity)):
        for secret in secrets:
            assert secret not in text
            assert secret[:16] not in text
    assert PASSWORD not in store.to_json()


@pytest.fixture
def production_kdf_rules() -> Iterator[None]:
    """The keystore as outside tests: the test-only weak-KDF switch off."""
    previous = weak_kdf_for_tests(False)
    try:
        yield
    finally:
        weak_kdf_for_tests(previous)


@pytest.mark.usefixtures("production_kdf_rules")
def test_scrypt_floor_outside_tests() -> None:
    """Issue 14 point 10: scrypt had no floor. Old code: ``Keystore.create(pw,
    scrypt=ScryptParams(2))`` succeeded silently (verified), and a file with n=2 unlocked.
    Now n < 2**17 is refused when creating and when unlocking, outside the test-only switch."""
    for n in (2, 1 << 10, MIN_SCRYPT_N >> 1):
        with pytest.raises(KeystoreError, match="below the floor"):
            Keystore.create(PASSWORD, scrypt=ScryptParams(n))
    with pytest.raises(KeystoreError, match="below the floor"):
        Keystore.create(PASSWORD, scrypt=ScryptParams.LIGHT)
    # a weak file made elsewhere (here: under the test switch) does not unlock either
    weak_kdf_for_tests(True)
    weak = Keystore.create(PASSWORD, scrypt=ScryptParams(2)).to_json()
    weak_kdf_for_tests(False)
    with pytest.raises(KeystoreError, match="below the floor"):
        Keystore.from_json(weak).unlock(PASSWORD)
    assert ScryptParams.DEFAULT.n >= MIN_SCRYPT_N
    ScryptParams(MIN_SCRYPT_N).check()  # the floor itself is allowed


def test_a_fresh_process_cannot_use_light_parameters() -> None:
    """Outside the test suite's in-process switch (a fresh interpreter, as a user's CLI run is)
    ``ScryptParams.LIGHT`` -- what the CLI's hidden light-KDF flag selects -- is refused."""
    code = (
        "from medledger.crypto import Keystore, ScryptParams\n"
        "Keystore.create('pw', scrypt=ScryptParams.LIGHT)\n"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode != 0
    assert "below the floor" in result.stderr
