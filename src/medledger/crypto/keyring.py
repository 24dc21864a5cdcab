"""The per-patient keyring: category epoch key pairs, epoch splitting, and the keyring document.

For each category the epochs partition time: sorted by ``valid_from``, each epoch ends where the
next begins and the last one is open-ended. ``split_at(t)`` makes sure a boundary exists at ``t``
(a grant expiring at ``t``); ``rotate(now)`` is ``split_at(now)`` (a revocation). A boundary gives
every later record a fresh key pair, which is what stops a former grantee from reading them.

Keyring document (stored on IPFS, its CID digest on-chain as ``keyring``)::

    directory = "MLKR" | version u8 | suite u8 | patient_id u64 | count u16
                | count * (category u8 | epoch u32 | valid_from u64 | valid_until u64
                           | public key bytes16)
    document  = directory | private_len u32 | HPKE(identity key, private part,
                                                 info = "medledger/v1/keyring" 0x00 directory)
    private   = ["MLUS" | umbral seed 32] | epoch key list

The private part starts with the patient's Umbral seed (custodian mode, :mod:`medledger.crypto.pre`)
when the keyring has one; keyrings written before it start with the epoch key list directly (its
u32 count can never read "MLUS": that many entries would be over 30 GB). Writers need only the
directory (:class:`PublicDirectory`); the patient restores the whole keyring, seed included, from
the document and the identity private key alone (:meth:`Keyring.load`), which is why identity
rotation and guardian recovery carry the seed over by re-sealing the keyring.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from typing import ClassVar, Generic, TypeVar

from medledger.codes import Category
from medledger.crypto._wire import Reader, Writer, check_uint
from medledger.crypto.epochs import (
    EpochKey,
    EpochPublicKey,
    KeySet,
    decode_epoch_keys,
    decode_epoch_public,
    encode_epoch_keys,
    encode_epoch_public,
)
from medledger.crypto.hpke import hpke_open, hpke_seal
from medledger.crypto.keys import PrivateKey, PublicKey, Suite
from medledger.errors import (
    DecryptionFailed,
    InvalidInput,
    KeyMismatch,
    KeyNotAvailable,
    RecordTimeMismatch,
)

MAGIC = b"MLKR"
FORMAT_VERSION = 1
_LABEL = b"keyring"
#: tag of the Umbral seed at the start of the private part, and the seed's length
_SEED_TAG, SEED_LEN = b"MLUS", 32


def _check_partition(category: int, epochs: Sequence[EpochPublicKey | EpochKey]) -> None:
    """Epochs of one category must tile time from the first start with no gap or overlap."""
    for a, b in itertools.pairwise(epochs):
        if a.valid_until != b.valid_from:
            raise InvalidInput(f"epochs of category {category} leave a gap or overlap")
    if epochs and epochs[-1].valid_until is not None:
        raise InvalidInput(f"the last epoch of category {category} must be open-ended")
    numbers = [e.epoch for e in epochs]
    if len(set(numbers)) != len(numbers):
        raise InvalidInput(f"duplicate epoch numbers in category {category}")


def _covering(epochs: Sequence[EpochPublicKey | EpochKey], category: int, t: int) -> int:
    for i, e in enumerate(epochs):
        if e.covers(t):
            return i
    raise KeyNotAvailable(f"no epoch of category {category} covers time {t}")


E = TypeVar("E", EpochPublicKey, EpochKey)


class _EpochTable(Generic[E]):
    """One patient's epochs per category, in time order: what the public directory and the
    private keyring share."""

    __slots__ = ("_epochs", "_patient_id", "_suite")
    #: KeyNotAvailable message for an unknown category
    _MISSING: ClassVar[str]
    _epochs: dict[int, list[E]]
    _patient_id: int
    _suite: Suite

    def __init__(self, patient_id: int, suite: Suite, entries: Iterable[E]) -> None:
        check_uint("patient id", patient_id, 64)
        self._patient_id = patient_id
        self._suite = Suite.parse(suite)
        by_cat: dict[int, list[E]] = {}
        for e in entries:
            if self._suite_of(e) is not self._suite:
                raise InvalidInput("all category keys of a patient must use the patient's suite")
            by_cat.setdefault(e.category, []).append(e)
        for cat, eps in by_cat.items():
            eps.sort(key=lambda e: e.valid_from)
            _check_partition(cat, eps)
        self._epochs = by_cat

    @staticmethod
    def _suite_of(entry: E) -> Suite:
        raise NotImplementedError

    @property
    def patient_id(self) -> int:
        return self._patient_id

    @property
    def suite(self) -> Suite:
        return self._suite

    @property
    def categories(self) -> tuple[int, ...]:
        return tuple(sorted(self._epochs))

    def epochs(self, category: int) -> list[E]:
        """The category's epochs in time order (``KeyNotAvailable`` for an unknown category)."""
        try:
            return list(self._epochs[category])
        except KeyError:
            raise KeyNotAvailable(self._MISSING.format(category=category)) from None

    def _covering_epoch(self, category: int, at: int) -> E:
        eps = self.epochs(category)
        return eps[_covering(eps, category, at)]


class PublicDirectory(_EpochTable[EpochPublicKey]):
    """The public half of a keyring: what any writer needs to seal records for a patient."""

    __slots__ = ("_encoded",)
    _MISSING = "patient has no keys for category {category}"

    def __init__(self, patient_id: int, suite: Suite, entries: Iterable[EpochPublicKey]) -> None:
        super().__init__(patient_id, suite, entries)
        self._epochs = dict(sorted(self._epochs.items()))
        w = Writer().raw(MAGIC).u8(FORMAT_VERSION).u8(suite).u64(patient_id)
        flat = [e for eps in self._epochs.values() for e in eps]
        w.u16(check_uint("epoch count", len(flat), 16))
        for e in flat:
            encode_epoch_public(w, e)
        self._encoded = w.getvalue()

    @staticmethod
    def _suite_of(entry: EpochPublicKey) -> Suite:
        return entry.public_key.suite

    def recipient(self, category: int, at: int) -> EpochPublicKey:
        """The epoch public key a record of ``category`` created at ``at`` must be sealed to."""
        return self._covering_epoch(category, at)

    def published(self, category: int, epoch: int) -> EpochPublicKey:
        """The published entry of (category, epoch); ``KeyMismatch`` if there is none."""
        for e in self._epochs.get(category, ()):
            if e.epoch == epoch:
                return e
        raise KeyMismatch(
            f"patient {self._patient_id} published no epoch {epoch} of category {category}"
        )

    def check_keys(self, keys: KeySet) -> None:
        """Every key of ``keys`` (a bundle's or kit's) must be the one the patient published:
        same patient, same (category, epoch), same start and same public key. A patient who
        hands a grantee other keys than the published ones is caught here, before any record
        is opened with them (``KeyMismatch``)."""
        if keys.patient_id != self._patient_id:
            raise KeyMismatch(
                f"keys of patient {keys.patient_id} checked against patient {self._patient_id}"
            )
        for k in keys:
            entry = self.published(k.category, k.epoch)
            if entry.valid_from != k.valid_from or entry.public_key != k.private_key.public_key:
                raise KeyMismatch(
                    f"the key given for category {k.category}, epoch {k.epoch} is not the one "
                    f"patient {self._patient_id} published (published "
                    f"{entry.public_key.fingerprint()}, given "
                    f"{k.private_key.public_key.fingerprint()})"
                )

    def check_created_at(self, category: int, epoch: int, created_at: int) -> None:
        """A record's sealed ``created_at`` must lie in its epoch's published validity window
        (``RecordTimeMismatch`` otherwise: back-dated into an epoch former grantees hold, or
        sealed under an epoch that had already ended)."""
        entry = self.published(category, epoch)
        if not entry.covers(created_at):
            until = "open" if entry.valid_until is None else str(entry.valid_until)
            raise RecordTimeMismatch(
                f"record claims creation at {created_at}, outside its epoch {epoch} of "
                f"category {category} (valid {entry.valid_from}..{until})"
            )

    def encode(self) -> bytes:
        """The directory bytes (the first part of the keyring document)."""
        return self._encoded

    @classmethod
    def _read(cls, r: Reader) -> PublicDirectory:
        r.magic(MAGIC)
        version = r.u8()
        if version != FORMAT_VERSION:
            raise InvalidInput(f"unsupported keyring version {version}")
        suite = Suite.parse(r.u8())
        patient_id = r.u64()
        entries = [decode_epoch_public(r) for _ in range(r.u16())]
        return cls(patient_id, suite, entries)

    @classmethod
    def from_document(cls, document: bytes) -> PublicDirectory:
        """Read the directory from a keyring document (no key needed).

        Authenticity comes from where the document was found: its CID digest is set on-chain by
        the patient's controller, and the storage layer verifies content against the CID.
        """
        r = Reader(document, "keyring document")
        directory = cls._read(r)
        r.bytes32()
        r.end()
        return directory

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicDirectory) and other._encoded == self._encoded

    def __hash__(self) -> int:
        return hash(self._encoded)

    def __repr__(self) -> str:
        n = sum(len(v) for v in self._epochs.values())
        return f"PublicDirectory(patient={self._patient_id}, {self._suite.label}, epochs={n})"


class Keyring(_EpochTable[EpochKey]):
    """All category epoch key pairs of one patient (private keys included).

    The keyring is also a :class:`~medledger.crypto.epochs.KeySource`, so the patient opens any
    of their records with it.
    """

    __slots__ = ("_umbral_seed",)
    _MISSING = "keyring has no category {category}"

    def __init__(
        self,
        patient_id: int,
        suite: Suite,
        entries: Iterable[EpochKey],
        *,
        umbral_seed: bytes | None = None,
    ) -> None:
        super().__init__(patient_id, suite, entries)
        if umbral_seed is not None and len(umbral_seed) != SEED_LEN:
            raise InvalidInput(f"an Umbral seed is {SEED_LEN} bytes")
        self._umbral_seed = None if umbral_seed is None else bytes(umbral_seed)

    @staticmethod
    def _suite_of(entry: EpochKey) -> Suite:
        return entry.private_key.suite

    @property
    def umbral_seed(self) -> bytes | None:
        """The seed of the patient's Umbral keys (custodian mode); ``None`` in a keyring written
        before seeds existed (its Umbral keys derive from the identity key)."""
        return self._umbral_seed

    def adopt_umbral_seed(self, seed: bytes) -> None:
        """Give a keyring without a seed this one (the migration of an older keyring); a
        keyring never changes the seed it has (``KeyMismatch``)."""
        if len(seed) != SEED_LEN:
            raise InvalidInput(f"an Umbral seed is {SEED_LEN} bytes")
        if self._umbral_seed is not None and self._umbral_seed != seed:
            raise KeyMismatch("this keyring already holds another Umbral seed")
        self._umbral_seed = bytes(seed)

    def with_entries(self, entries: Iterable[EpochKey]) -> Keyring:
        """A keyring of the same patient, suite and Umbral seed with these epochs."""
        return Keyring(self._patient_id, self._suite, entries, umbral_seed=self._umbral_seed)

    @classmethod
    def create(
        cls,
        patient_id: int,
        *,
        suite: Suite | int | str = Suite.X25519,
        categories: Iterable[int] = tuple(Category),
        start: int = 0,
    ) -> Keyring:
        """A new keyring: one open-ended epoch 0 per category, valid from ``start``, and a
        random Umbral seed.

        ``start`` defaults to 0 so that records back-dated to any time (imports) are covered.
        """
        suite = Suite.parse(suite)
        check_uint("start", start, 64)
        cats = sorted({int(check_uint("category", int(c), 8)) for c in categories})
        if not cats:
            raise InvalidInput("a keyring needs at least one category")
        return cls(
            patient_id,
            suite,
            [EpochKey(c, 0, start, None, PrivateKey.generate(suite)) for c in cats],
            umbral_seed=os.urandom(SEED_LEN),
        )

    def current_epoch(self, category: int, at: int) -> EpochKey:
        """The epoch covering unix time ``at`` for ``category``."""
        return self._covering_epoch(category, at)

    def split_at(self, categories: Iterable[int], t: int) -> list[EpochKey]:
        """Make sure an epoch boundary exists at ``t`` in each category; returns new epochs.

        The epoch covering ``t`` is cut to end at ``t`` and a new epoch with a fresh key pair
        starts at ``t`` (keeping the old end). Nothing changes where a boundary already exists.
        All categories are checked before any is changed.
        """
        check_uint("time", t, 64)
        cats = sorted({int(c) for c in categories})
        plans = []
        for c in cats:
            eps = self.epochs(c)
            plans.append((c, eps, _covering(eps, c, t)))
        created = []
        for c, eps, i in plans:
            old = eps[i]
            if old.valid_from == t:
                continue
            number = max(e.epoch for e in eps) + 1
            check_uint("epoch", number, 32)
            new = EpochKey(c, number, t, old.valid_until, PrivateKey.generate(self._suite))
            eps[i] = EpochKey(c, old.epoch, old.valid_from, t, old.private_key)
            eps.insert(i + 1, new)
            self._epochs[c] = eps
            created.append(new)
        return created

    def rotate(self, categories: Iterable[int], now: int) -> list[EpochKey]:
        """Start fresh epochs at ``now`` (on revocation): ``split_at(categories, now)``."""
        return self.split_at(categories, now)

    def private_key(self, patient_id: int, category: int, epoch: int) -> PrivateKey:
        """The private key of (category, epoch): the keyring as a ``KeySource``."""
        if patient_id != self._patient_id:
            raise KeyNotAvailable(f"this keyring belongs to patient {self._patient_id}")
        for e in self._epochs.get(category, ()):
            if e.epoch == epoch:
                return e.private_key
        raise KeyNotAvailable(f"keyring has no epoch {epoch} of category {category}")

    def key_set(
        self, categories: Iterable[int] | None = None, *, before: int | None = None
    ) -> KeySet:
        """Epoch keys of ``categories`` (all if ``None``) whose epoch starts before ``before``.

        ``before=None`` takes every epoch. This is what goes into key bundles and kits.
        """
        cats = self.categories if categories is None else sorted({int(c) for c in categories})
        chosen = [
            e for c in cats for e in self.epochs(c) if before is None or e.valid_from < before
        ]
        return KeySet(self._patient_id, chosen)

    def directory(self) -> PublicDirectory:
        """The public part writers use."""
        return PublicDirectory(
            self._patient_id,
            self._suite,
            [e.public for eps in self._epochs.values() for e in eps],
        )

    def to_document(self, identity_public_key: PublicKey) -> bytes:
        """Serialize: the public directory, then every private key sealed to the identity key."""
        directory = self.directory().encode()
        private = encode_epoch_keys(e for eps in self._epochs.values() for e in eps)
        if self._umbral_seed is not None:
            private = _SEED_TAG + self._umbral_seed + private
        sealed = hpke_seal(identity_public_key, private, label=_LABEL, context=directory)
        return directory + Writer().bytes32(sealed).getvalue()

    @classmethod
    def load(cls, document: bytes, identity_key: PrivateKey) -> Keyring:
        """Restore a keyring from its document with the identity private key alone.

        Raises ``DecryptionFailed`` for a wrong identity key or a tampered document and
        ``InvalidInput`` for a malformed one.
        """
        r = Reader(document, "keyring document")
        directory = PublicDirectory._read(r)
        directory_bytes = bytes(memoryview(document)[: r.position])
        sealed = r.bytes32()
        r.end()
        private = hpke_open(identity_key, sealed, label=_LABEL, context=directory_bytes)
        seed = None
        if private[: len(_SEED_TAG)] == _SEED_TAG:
            start = len(_SEED_TAG) + SEED_LEN
            seed, private = private[len(_SEED_TAG) : start], private[start:]
        try:
            if seed is not None and len(seed) != SEED_LEN:
                raise InvalidInput("truncated Umbral seed")
            epochs = decode_epoch_keys(private)
        except InvalidInput as exc:  # authenticated yet malformed: written by a broken writer
            raise DecryptionFailed(f"keyring private part is malformed: {exc}") from None
        keyring = cls(directory.patient_id, directory.suite, epochs, umbral_seed=seed)
        if keyring.directory() != directory:
            raise DecryptionFailed("keyring private keys do not match its public directory")
        return keyring

    def __repr__(self) -> str:
        n = sum(len(v) for v in self._epochs.values())
        return f"Keyring(patient={self._patient_id}, {self._suite.label}, epochs={n})"
