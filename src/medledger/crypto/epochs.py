"""Category epoch keys and key sets (what a reader holds to open records).

An *epoch* is one key pair for one category of one patient, valid for record creation times
``valid_from <= t < valid_until`` (``valid_until`` ``None`` = open-ended). A :class:`KeySet` is a
read-only collection of epoch private keys of one patient: the patient's whole keyring, the keys
from a grantee's key bundle, or a responder's part of an emergency kit. Record opening looks keys
up through the :class:`KeySource` protocol and raises ``KeyNotAvailable`` when none matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from medledger.codes import mask
from medledger.crypto._wire import Reader, Writer, check_uint, decode_until, encode_until
from medledger.crypto.keys import PrivateKey, PublicKey
from medledger.errors import InvalidInput, KeyNotAvailable


@dataclass(frozen=True, slots=True)
class EpochPublicKey:
    """What a writer needs: the public key of one category epoch and its validity interval."""

    category: int
    epoch: int
    valid_from: int
    valid_until: int | None
    public_key: PublicKey

    def covers(self, t: int) -> bool:
        """True if a record created at unix time ``t`` belongs to this epoch."""
        return self.valid_from <= t and (self.valid_until is None or t < self.valid_until)


@dataclass(frozen=True, slots=True)
class EpochKey:
    """One category epoch with its private key (``repr`` shows only the public fingerprint)."""

    category: int
    epoch: int
    valid_from: int
    valid_until: int | None
    private_key: PrivateKey

    @property
    def public(self) -> EpochPublicKey:
        return EpochPublicKey(
            self.category,
            self.epoch,
            self.valid_from,
            self.valid_until,
            self.private_key.public_key,
        )

    def covers(self, t: int) -> bool:
        """True if a record created at unix time ``t`` belongs to this epoch."""
        return self.valid_from <= t and (self.valid_until is None or t < self.valid_until)


class KeySource(Protocol):
    """Anything that can hand out the private key of a (patient, category, epoch)."""

    def private_key(self, patient_id: int, category: int, epoch: int) -> PrivateKey:
        """The epoch's private key; raises ``KeyNotAvailable`` if not held."""
        ...


class KeySet:
    """Epoch private keys of one patient, looked up by (category, epoch)."""

    __slots__ = ("_keys", "_patient_id")

    def __init__(self, patient_id: int, keys: Iterable[EpochKey]) -> None:
        self._patient_id = patient_id
        self._keys: dict[tuple[int, int], EpochKey] = {}
        for k in keys:
            if (k.category, k.epoch) in self._keys:
                raise InvalidInput(f"duplicate epoch {k.epoch} of category {k.category}")
            self._keys[(k.category, k.epoch)] = k

    @property
    def patient_id(self) -> int:
        return self._patient_id

    @property
    def categories(self) -> frozenset[int]:
        return frozenset(c for c, _ in self._keys)

    def epochs(self, category: int | None = None) -> list[EpochKey]:
        """Held epochs (optionally of one category), ordered by category then start time."""
        out = [k for k in self._keys.values() if category is None or k.category == category]
        return sorted(out, key=lambda k: (k.category, k.valid_from, k.epoch))

    def private_key(self, patient_id: int, category: int, epoch: int) -> PrivateKey:
        """The private key of (category, epoch); ``KeyNotAvailable`` if this set lacks it."""
        if patient_id != self._patient_id:
            raise KeyNotAvailable(
                f"these keys belong to patient {self._patient_id}, not patient {patient_id}"
            )
        found = self._keys.get((category, epoch))
        if found is None:
            raise KeyNotAvailable(f"no key for category {category}, epoch {epoch}")
        return found.private_key

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[EpochKey]:
        return iter(self.epochs())

    def __repr__(self) -> str:
        return f"KeySet(patient={self._patient_id}, epochs={len(self._keys)})"


def _check_epoch(category: int, epoch: int, valid_from: int, valid_until: int | None) -> None:
    check_uint("category", category, 8)
    check_uint("epoch", epoch, 32)
    check_uint("valid_from", valid_from, 64)
    if valid_until is not None:
        check_uint("valid_until", valid_until, 64)
        if valid_until <= valid_from:
            raise InvalidInput(f"epoch {epoch} of category {category} has an empty interval")


def encode_epoch_keys(keys: Iterable[EpochKey]) -> bytes:
    """``count u32 || (category u8, epoch u32, from u64, until u64, key bytes16)*``."""
    items = list(keys)
    w = Writer().u32(len(items))
    for k in items:
        _check_epoch(k.category, k.epoch, k.valid_from, k.valid_until)
        w.u8(k.category).u32(k.epoch).u64(k.valid_from).u64(encode_until(k.valid_until))
        w.bytes16(k.private_key.private_bytes())
    return w.getvalue()


def decode_epoch_keys(data: bytes) -> list[EpochKey]:
    """Inverse of :func:`encode_epoch_keys`; malformed input raises ``InvalidInput``."""
    r = Reader(data, "epoch key list")
    out = []
    for _ in range(r.u32()):
        category, epoch, valid_from = r.u8(), r.u32(), r.u64()
        valid_until = decode_until(r.u64())
        _check_epoch(category, epoch, valid_from, valid_until)
        out.append(
            EpochKey(
                category, epoch, valid_from, valid_until, PrivateKey.from_private_bytes(r.bytes16())
            )
        )
    r.end()
    return out


def encode_epoch_public(w: Writer, e: EpochPublicKey) -> None:
    """Append one directory entry: category, epoch, from, until, public key (bytes16)."""
    _check_epoch(e.category, e.epoch, e.valid_from, e.valid_until)
    w.u8(e.category).u32(e.epoch).u64(e.valid_from).u64(encode_until(e.valid_until))
    w.bytes16(e.public_key.encode())


def decode_epoch_public(r: Reader) -> EpochPublicKey:
    """Read one entry written by :func:`encode_epoch_public`."""
    category, epoch, valid_from = r.u8(), r.u32(), r.u64()
    valid_until = decode_until(r.u64())
    _check_epoch(category, epoch, valid_from, valid_until)
    return EpochPublicKey(category, epoch, valid_from, valid_until, PublicKey.decode(r.bytes16()))


def category_mask(categories: Iterable[int]) -> int:
    """The on-chain ``uint16`` bit mask of a non-empty set of category codes (0..15)."""
    cats = [check_uint("category", int(c), 8) for c in categories]
    if not cats:
        raise InvalidInput("at least one category is needed")
    if max(cats) > 15:
        raise InvalidInput("category codes above 15 do not fit the on-chain uint16 mask")
    return mask(cats)
