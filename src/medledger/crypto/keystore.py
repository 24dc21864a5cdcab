"""Keys at rest: one password-protected JSON file with the signing key and the identity key.

The document is a standard eth-account (Web3 Secret Storage v3, scrypt) keystore for the EVM
signing key, extended with a ``"medledger"`` member that holds the X25519 / hybrid identity
private key encrypted under the same password with its own scrypt salt and AES-256-GCM nonce::

    "medledger": {
      "version": 1, "suite": "x25519" | "mlkem768-x25519",
      "public_key": hex(PublicKey.encode()),
      "kdf": "scrypt", "kdfparams": {"n": .., "r": .., "p": .., "dklen": 32, "salt": hex(16)},
      "cipher": "aes-256-gcm", "nonce": hex(12),
      "ciphertext": hex(AES-GCM(identity private key bytes) || tag)
    }

The AES-GCM associated data is ``"medledger-keystore/v1" 0x00 || address (20) || public_key``,
where the address is derived from the decrypted signing key: the identity part cannot be moved
into another account's keystore. Tools that only know v3 keystores still read the signing key.

Version 2 (written since issue 13.17) stretches the password ONCE per unlock instead of twice:
the identity key's AES-256-GCM key is derived with HKDF-SHA256 from the 32-byte scrypt output
of the v3 part (``info`` = ``"medledger-keystore/v2 identity key"``), so its member carries no
salt or scrypt parameters of its own::

    "medledger": {"version": 2, ..., "kdf": "hkdf-sha256",
                  "kdfparams": {"source": "crypto", "info": "...", "dklen": 32}, ...}

HKDF with its own label keeps the two keys independent (the v3 part uses the scrypt output's
halves as its AES-128-CTR and MAC keys). Unlocking checks the v3 MAC first, so a wrong password
fails before any decryption. Version 1 files still unlock (with their two passes).
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from medledger.crypto.keys import IdentityKey, PublicKey, Suite
from medledger.errors import InvalidInput, KeystoreError, MedledgerError
from medledger.fsutil import atomic_write

MEMBER = "medledger"
FORMAT_VERSION = 2  # written; 1 is still read
#: the v2 identity-key derivation, exactly (any other kdfparams is refused)
_V2_KDFPARAMS = {"source": "crypto", "info": "medledger-keystore/v2 identity key", "dklen": 32}
_AAD_LABEL = b"medledger-keystore/v1\x00"
_MAX_SCRYPT_MEMORY = 1 << 30  # refuse files that would make us allocate more than 1 GiB
_MAX_PBKDF2_ROUNDS = 10_000_000  # a v3 file made elsewhere with pbkdf2: bound the work too
#: scrypt cost floor for every keystore medledger writes or unlocks (2**17: ~128 MiB per guess)
MIN_SCRYPT_N = 1 << 17

# The only way below the floor: test code calls ``weak_kdf_for_tests(True)`` in-process. There is
# deliberately no environment variable or CLI flag that reaches it.
_weak_kdf_for_tests = False


def weak_kdf_for_tests(allowed: bool) -> bool:
    """TEST-ONLY: allow scrypt ``n`` below :data:`MIN_SCRYPT_N` in this process; returns the
    previous setting. Production code never calls this (a keystore made under it is crackable)."""
    global _weak_kdf_for_tests
    previous, _weak_kdf_for_tests = _weak_kdf_for_tests, bool(allowed)
    return previous


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost parameters. ``DEFAULT`` for real keystores; ``n`` below
    :data:`MIN_SCRYPT_N` is refused unless test code enabled :func:`weak_kdf_for_tests`
    (``LIGHT`` is only usable then)."""

    n: int
    r: int = 8
    p: int = 1

    DEFAULT: ClassVar[ScryptParams]
    LIGHT: ClassVar[ScryptParams]

    def check(self) -> None:
        """Raise ``KeystoreError`` for parameters that are invalid or too expensive to run."""
        if not all(
            isinstance(v, int) and not isinstance(v, bool) for v in (self.n, self.r, self.p)
        ):
            raise KeystoreError("scrypt parameters must be integers")
        if self.n < 2 or self.n & (self.n - 1):
            raise KeystoreError("scrypt n must be a power of two >= 2")
        if self.n < MIN_SCRYPT_N and not _weak_kdf_for_tests:
            raise KeystoreError(
                f"scrypt n={self.n} is below the floor 2**17 ({MIN_SCRYPT_N}): "
                "the password would be cheap to brute-force",
                hint="re-create the keystore with the default parameters",
            )
        if not (1 <= self.r <= 32 and 1 <= self.p <= 16):
            raise KeystoreError("scrypt r/p out of range")
        if 128 * self.r * self.n > _MAX_SCRYPT_MEMORY:
            raise KeystoreError("scrypt parameters need more than 1 GiB of memory")


ScryptParams.DEFAULT = ScryptParams(1 << 18, 8, 1)  # ~0.9 s and 256 MiB per derivation here
ScryptParams.LIGHT = ScryptParams(1 << 10, 8, 1)  # refused unless weak_kdf_for_tests(True)


def _derive(password: str, salt: bytes, params: ScryptParams) -> bytes:
    kdf = Scrypt(salt=salt, length=32, n=params.n, r=params.r, p=params.p)
    return kdf.derive(password.encode("utf-8"))


def _aad(address: bytes, public_key: PublicKey) -> bytes:
    return _AAD_LABEL + address + public_key.encode()


def _identity_wrap_key(stretched: bytes) -> bytes:
    """The v2 identity key's AES-256-GCM key, from the v3 part's scrypt output."""
    info = _V2_KDFPARAMS["info"]
    assert isinstance(info, str)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(
        stretched
    )


def _aes128_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return cipher.update(data) + cipher.finalize()


def _encrypt_v3(
    private_key: bytes, password: str, params: ScryptParams
) -> tuple[dict[str, Any], bytes]:
    """A Web3 Secret Storage v3 document of ``private_key`` (what ``Account.encrypt`` writes),
    and the scrypt output it was made with (stretched once, reused for the identity key)."""
    salt, iv = secrets.token_bytes(16), secrets.token_bytes(16)
    stretched = _derive(password, salt, params)
    ciphertext = _aes128_ctr(stretched[:16], iv, private_key)
    doc = {
        "address": Account.from_key(private_key).address[2:].lower(),
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": {"iv": iv.hex()},
            "ciphertext": ciphertext.hex(),
            "kdf": "scrypt",
            "kdfparams": {"dklen": 32, "n": params.n, "p": params.p, "r": params.r,
                          "salt": salt.hex()},
            "mac": keccak(stretched[16:32] + ciphertext).hex(),
        },
        "id": str(uuid.uuid4()),
        "version": 3,
    }  # fmt: skip
    return doc, stretched


def _decrypt_v3(doc: Mapping[str, Any], password: str) -> tuple[LocalAccount, bytes]:
    """The signing account of a scrypt v3 document and the scrypt output (one stretch)."""
    crypto = doc["crypto"]
    kp = crypto["kdfparams"]
    if crypto.get("kdf") != "scrypt" or crypto.get("cipher") != "aes-128-ctr" or kp["dklen"] != 32:
        raise KeystoreError("a v2 medledger keystore needs a scrypt, aes-128-ctr v3 part")
    params = ScryptParams(kp["n"], kp["r"], kp["p"])
    params.check()
    ciphertext = bytes.fromhex(crypto["ciphertext"])
    stretched = _derive(password, bytes.fromhex(kp["salt"]), params)
    mac = bytes.fromhex(str(crypto["mac"]).removeprefix("0x"))
    if not secrets.compare_digest(keccak(stretched[16:32] + ciphertext), mac):
        raise KeystoreError("wrong password (or the keystore was modified)")
    private = _aes128_ctr(stretched[:16], bytes.fromhex(crypto["cipherparams"]["iv"]), ciphertext)
    account: LocalAccount = Account.from_key(private)
    return account, stretched


class Keystore:
    """An encrypted keystore document (signing key + identity key), not yet unlocked."""

    __slots__ = ("_doc", "_public_key", "_suite")

    def __init__(self, document: Mapping[str, Any]) -> None:
        """Wrap a parsed keystore JSON object; structural problems raise ``KeystoreError``."""
        try:
            member = document[MEMBER]
            if member["version"] not in (1, FORMAT_VERSION):
                raise KeystoreError(f"unsupported medledger keystore version {member['version']}")
            self._suite = Suite.parse(member["suite"])
            self._public_key = PublicKey.decode(bytes.fromhex(member["public_key"]))
            if (
                not isinstance(document["crypto"]["kdfparams"], Mapping)
                or "address" not in document
            ):
                raise KeystoreError("not an eth-account v3 keystore")
        except KeystoreError:
            raise
        except (KeyError, TypeError, ValueError, MedledgerError) as exc:
            raise KeystoreError(f"not a medledger keystore: {exc!r}") from None
        if self._public_key.suite is not self._suite:
            raise KeystoreError("keystore suite does not match its public key")
        self._doc = json.loads(json.dumps(document))  # private deep copy, JSON-clean

    @classmethod
    def create(
        cls,
        password: str,
        account: LocalAccount | None = None,
        *,
        identity_key: IdentityKey | None = None,
        suite: Suite | int | str = Suite.MLKEM768_X25519,
        scrypt: ScryptParams = ScryptParams.DEFAULT,
    ) -> Keystore:
        """Encrypt ``account`` (new if ``None``) and ``identity_key`` (new of ``suite`` if
        ``None``) under ``password``. Pass ``scrypt=ScryptParams.LIGHT`` only in tests."""
        if not isinstance(password, str) or not password:
            raise InvalidInput("the keystore password must be a non-empty string")
        scrypt.check()
        if (scrypt.r, scrypt.p) != (8, 1):
            # eth-account sets only n (r=8, p=1); both halves of the file share one cost.
            raise InvalidInput("keystore scrypt parameters must use r=8, p=1")
        if account is None:
            account = Account.create()
        if identity_key is None:
            identity_key = IdentityKey.generate(suite)
        doc, stretched = _encrypt_v3(bytes(account.key), password, scrypt)
        nonce = secrets.token_bytes(12)
        public = identity_key.public_key
        ct = AESGCM(_identity_wrap_key(stretched)).encrypt(
            nonce,
            identity_key.private_bytes(),
            _aad(bytes.fromhex(account.address[2:]), public),
        )
        doc[MEMBER] = {
            "version": FORMAT_VERSION,
            "suite": public.suite.label,
            "public_key": public.encode().hex(),
            "kdf": "hkdf-sha256",
            "kdfparams": dict(_V2_KDFPARAMS),
            "cipher": "aes-256-gcm",
            "nonce": nonce.hex(),
            "ciphertext": ct.hex(),
        }
        return cls(doc)

    @classmethod
    def from_json(cls, path_or_json: str | os.PathLike[str] | Mapping[str, Any]) -> Keystore:
        """Read a keystore from a path, a JSON text (starting with ``{``) or a parsed object."""
        if isinstance(path_or_json, Mapping):
            return cls(path_or_json)
        text: str
        if isinstance(path_or_json, str) and path_or_json.lstrip().startswith("{"):
            text = path_or_json
        else:
            try:
                text = Path(path_or_json).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise KeystoreError(f"cannot read keystore {path_or_json}: {exc}") from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise KeystoreError(f"keystore is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise KeystoreError("keystore JSON must be an object")
        return cls(doc)

    @classmethod
    def load(
        cls, path_or_json: str | os.PathLike[str] | Mapping[str, Any], password: str
    ) -> tuple[LocalAccount, IdentityKey]:
        """Read and unlock a keystore in one step: ``(signing account, identity key)``."""
        return cls.from_json(path_or_json).unlock(password)

    @property
    def address(self) -> str:
        """The signing account's address as stored (checksummed)."""
        try:
            return to_checksum_address("0x" + str(self._doc["address"]).removeprefix("0x"))
        except ValueError:
            raise KeystoreError("keystore address is malformed") from None

    @property
    def suite(self) -> Suite:
        return self._suite

    @property
    def public_key(self) -> PublicKey:
        """The identity public key (stored in clear; it is public)."""
        return self._public_key

    def unlock(self, password: str) -> tuple[LocalAccount, IdentityKey]:
        """Decrypt both keys; a wrong password or a tampered file raises ``KeystoreError``.

        A version 2 file costs one scrypt pass, a version 1 file two (see the module doc)."""
        try:
            member = self._doc[MEMBER]
            nonce = bytes.fromhex(member["nonce"])
            ct = bytes.fromhex(member["ciphertext"])
            if member["cipher"] != "aes-256-gcm" or len(nonce) != 12:
                raise KeystoreError("unsupported medledger keystore cipher or nonce")
            if member["version"] == 1:
                account, wrap_key = self._unlock_v1(member, password)
            else:
                if member["kdf"] != "hkdf-sha256" or member["kdfparams"] != _V2_KDFPARAMS:
                    raise KeystoreError("unsupported medledger keystore key derivation")
                account, stretched = _decrypt_v3(self._doc, password)
                wrap_key = _identity_wrap_key(stretched)
        except KeystoreError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise KeystoreError(f"malformed keystore: {exc!r}") from None
        if account.address != self.address:
            raise KeystoreError("the signing key does not match the keystore's address")
        try:
            plain = AESGCM(wrap_key).decrypt(
                nonce, ct, _aad(bytes.fromhex(account.address[2:]), self._public_key)
            )
        except InvalidTag:
            raise KeystoreError(
                "the identity key does not open with this password for this account"
            ) from None
        try:
            identity = IdentityKey.from_private_bytes(plain)
        except InvalidInput:
            raise KeystoreError("the stored identity key is malformed") from None
        if identity.public_key != self._public_key:
            raise KeystoreError("the stored identity key does not match its public key")
        return account, identity

    def _unlock_v1(self, member: Mapping[str, Any], password: str) -> tuple[LocalAccount, bytes]:
        """A version 1 file: the v3 part through eth-account, the identity key with its own
        scrypt salt (two password stretches)."""
        eth = self._doc["crypto"]["kdfparams"]
        if self._doc["crypto"].get("kdf") == "scrypt":
            ScryptParams(eth["n"], eth["r"], eth["p"]).check()
        elif int(eth.get("c", 0)) > _MAX_PBKDF2_ROUNDS:
            raise KeystoreError("keystore pbkdf2 round count is unreasonably high")
        kp = member["kdfparams"]
        params = ScryptParams(kp["n"], kp["r"], kp["p"])
        salt = bytes.fromhex(kp["salt"])
        if member["kdf"] != "scrypt" or kp["dklen"] != 32 or len(salt) < 16:
            raise KeystoreError("unsupported medledger keystore algorithms")
        params.check()
        try:
            account: LocalAccount = Account.from_key(Account.decrypt(self._doc, password))
        except ValueError:
            raise KeystoreError("wrong password (or the keystore was modified)") from None
        return account, _derive(password, salt, params)

    def to_json(self) -> str:
        """The keystore document as JSON text (contains only encrypted secrets)."""
        return json.dumps(self._doc, indent=2, sort_keys=True)

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write atomically with mode 0600. Refuses to replace a file unless ``overwrite``."""
        target = Path(path)
        data = (self.to_json() + "\n").encode("utf-8")
        try:
            atomic_write(target, data, mode=0o600, overwrite=overwrite)
        except FileExistsError:
            raise KeystoreError(
                f"{target} already exists", hint="pass overwrite=True to replace it"
            ) from None
        except OSError as exc:
            raise KeystoreError(f"cannot write keystore {target}: {exc}") from None
        return target

    def __repr__(self) -> str:
        return f"Keystore(address={self.address}, {self._suite.label})"
