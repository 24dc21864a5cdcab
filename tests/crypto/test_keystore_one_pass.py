"""Issue 13.17: the keystore password is stretched once per unlock (v2), not twice (v1).

Before, every unlock ran scrypt twice (eth-account's v3 part, then the identity key's own salt):
about 1.2 s and 256 MB per signing command. The counter wraps the two scrypt entry points the
keystore can reach (eth-keyfile's and medledger's own) and calls through to them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from helpers.crypto import count_scrypt_passes
from medledger.crypto import IdentityKey, Keystore, ScryptParams, Suite
from medledger.errors import KeystoreError

PASSWORD = "correct horse battery staple"
V1 = json.loads((Path(__file__).parent / "fixtures" / "keystore_v1.json").read_text())


@pytest.fixture
def scrypt_passes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return count_scrypt_passes(monkeypatch)


def test_create_and_unlock_stretch_the_password_once(
    suite: Suite, scrypt_passes: list[str]
) -> None:
    account, identity = Account.create(), IdentityKey.generate(suite)
    store = Keystore.create(PASSWORD, account, identity_key=identity, scrypt=ScryptParams.LIGHT)
    assert len(scrypt_passes) == 1
    scrypt_passes.clear()
    got_account, got_identity = Keystore.from_json(store.to_json()).unlock(PASSWORD)
    assert len(scrypt_passes) == 1
    assert got_account.key == account.key
    assert got_identity.private_bytes() == identity.private_bytes()


def test_v2_files_stay_readable_by_v3_tools() -> None:
    account = Account.create()
    doc = json.loads(Keystore.create(PASSWORD, account, scrypt=ScryptParams.LIGHT).to_json())
    assert doc["medledger"]["version"] == 2
    assert "salt" not in json.dumps(doc["medledger"])  # no second stretch to pay for
    assert Account.decrypt(doc, PASSWORD) == account.key


@pytest.mark.parametrize("label", ["x25519", "mlkem768-x25519"])
def test_v1_files_written_by_the_old_code_still_unlock(label: str) -> None:
    case = V1[label]
    account, identity = Keystore.load(case["keystore"], PASSWORD)
    assert account.key.hex() == case["private_key"]
    assert identity.private_bytes().hex() == case["identity_private"]
    with pytest.raises(KeystoreError):
        Keystore.load(case["keystore"], "wrong")


def test_a_v2_identity_part_is_bound_to_its_own_v3_part() -> None:
    """The identity key's wrap key comes from the v3 part's scrypt output: grafting another
    account's v3 part (same password) onto it does not open it."""
    mine = json.loads(Keystore.create(PASSWORD, scrypt=ScryptParams.LIGHT).to_json())
    theirs = json.loads(Keystore.create(PASSWORD, scrypt=ScryptParams.LIGHT).to_json())
    mine["crypto"], mine["address"] = theirs["crypto"], theirs["address"]
    with pytest.raises(KeystoreError):
        Keystore.load(mine, PASSWORD)
