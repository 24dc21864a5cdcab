"""The confidentiality property of grants: a former grantee who kept every key they were ever given
cannot decrypt any record created after their access ended (revocation at R, or expiry at T), and
can still decrypt the records created before.

"Cannot decrypt" is checked two ways: the key lookup by (patient, category, epoch) finds nothing in
any bundle the grantee ever received (KeyNotAvailable), and brute force -- trying every private key
from every one of those bundles on the record -- fails authentication (DecryptionFailed).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.crypto import AUTHOR, GRANTEE, IMAGING, LABS, NOTES, OTHER, PATIENT
from medledger.crypto import (
    IdentityKey,
    Keyring,
    KeySet,
    Suite,
    open_key_bundle,
    open_record,
    open_record_with_key,
    seal_key_bundle,
    seal_record,
)
from medledger.errors import DecryptionFailed, KeyNotAvailable

GRANTED = [LABS, NOTES]
GRANT_AT = 1_000


def _record(keyring: Keyring, t: int, category: int = LABS) -> bytes:
    """A record created at ``t`` by a writer using the directory published at that time."""
    return seal_record(
        f"{category}@{t}".encode(),
        keyring.directory(),
        category=category,
        author=AUTHOR,
        created_at=t,
    )


def _grant(keyring: Keyring, grantee: IdentityKey, until: int | None) -> KeySet:
    """What the patient does on grant (split at the end, seal a bundle) and the grantee opens."""
    if until is not None:
        keyring.split_at(GRANTED, until)
    bundle = seal_key_bundle(
        keyring,
        categories=GRANTED,
        valid_until=until,
        grantee=GRANTEE,
        grantee_key=grantee.public_key,
    )
    return open_key_bundle(bundle, grantee, patient_id=PATIENT, grantee=GRANTEE)


def _readable(blob: bytes, kept: list[KeySet]) -> bool:
    return any(_opens(blob, keys) for keys in kept)


def _opens(blob: bytes, keys: KeySet) -> bool:
    try:
        header, plaintext = open_record(blob, keys)
    except KeyNotAvailable:
        return False
    assert plaintext == f"{header.category}@{header.created_at}".encode()
    return True


def _assert_unreadable(blob: bytes, kept: list[KeySet]) -> None:
    for keys in kept:
        with pytest.raises(KeyNotAvailable):
            open_record(blob, keys)
    every_key = [e.private_key for keys in kept for e in keys]
    assert every_key
    for key in every_key:
        with pytest.raises(DecryptionFailed):
            open_record_with_key(blob, key)


def test_expiry(keyring: Keyring, suite: Suite) -> None:
    grantee = IdentityKey.generate(suite)
    history = [_record(keyring, t, c) for t in (0, 500, 999) for c in GRANTED]
    expires = 5_000
    keys = _grant(keyring, grantee, until=expires)
    during = [_record(keyring, t, c) for t in (GRANT_AT, 3_000, expires - 1) for c in GRANTED]
    after = [_record(keyring, t, c) for t in (expires, expires + 1, 10**9) for c in GRANTED]
    keyring.rotate(GRANTED, 7_000)  # later epochs for other reasons change nothing
    after += [_record(keyring, t, c) for t in (7_000, 8_000) for c in GRANTED]

    for blob in history + during:
        assert _readable(blob, [keys])
    for blob in after:
        _assert_unreadable(blob, [keys])
    # Categories never granted stay closed whatever the time.
    _assert_unreadable(_record(keyring, 2_000, IMAGING), [keys])


@pytest.mark.parametrize("until", [None, 5_000], ids=["no-expiry", "expiry-after-revocation"])
def test_revocation(keyring: Keyring, suite: Suite, until: int | None) -> None:
    grantee = IdentityKey.generate(suite)
    first = _grant(keyring, grantee, until=until)
    before = [_record(keyring, t, c) for t in (GRANT_AT, 1_500) for c in GRANTED]

    # Another grantee is revoked at 2000: new epochs start; our grantee, still active, gets a
    # refreshed bundle (the first one cannot open records of the new epochs).
    keyring.rotate(GRANTED, 2_000)
    middle = [_record(keyring, t, c) for t in (2_000, 2_500) for c in GRANTED]
    assert not _readable(middle[0], [first])
    refreshed = _grant(keyring, grantee, until=until)
    kept = [first, refreshed]

    revoked_at = 3_000
    keyring.rotate(GRANTED, revoked_at)
    after = [_record(keyring, t, c) for t in (revoked_at, 3_001, 4_999, 6_000) for c in GRANTED]
    # Epochs the patient creates later (more grants, more revocations) are just as closed.
    keyring.split_at(GRANTED, 9_000)
    after += [_record(keyring, t, c) for t in (9_000, 10**9) for c in GRANTED]

    for blob in before + middle:
        assert _readable(blob, kept)
    for blob in after:
        _assert_unreadable(blob, kept)


@settings(max_examples=40, deadline=None)
@given(
    grant_end=st.one_of(st.none(), st.integers(GRANT_AT + 1, 6_000)),
    revoke_at=st.one_of(st.none(), st.integers(GRANT_AT + 1, 6_000)),
    times=st.lists(st.integers(0, 8_000), min_size=1, max_size=6),
)
def test_property_readable_exactly_when_created_before_access_ended(
    grant_end: int | None, revoke_at: int | None, times: list[int]
) -> None:
    keyring = Keyring.create(PATIENT, suite=Suite.X25519, categories=GRANTED)
    grantee = IdentityKey.generate(Suite.X25519)
    # Replay a timeline: records are sealed at their creation time with the directory of that
    # moment; the grant happens at GRANT_AT and the revocation (a rotation) at revoke_at.
    events = [(t, 1, "record") for t in times] + [(GRANT_AT, 0, "grant")]
    if revoke_at is not None:
        events.append((revoke_at, 0, "revoke"))
    keys: KeySet | None = None
    records: list[tuple[int, bytes]] = []
    for t, _, kind in sorted(events):
        if kind == "grant":
            keys = _grant(keyring, grantee, until=grant_end)
        elif kind == "revoke":
            keyring.rotate(GRANTED, t)
        else:
            records.append((t, _record(keyring, t, GRANTED[t % 2])))
    assert keys is not None
    ends = [x for x in (grant_end, revoke_at) if x is not None]
    access_end = min(ends) if ends else None
    for t, blob in records:
        if access_end is None or t < access_end:
            assert _readable(blob, [keys]), t
        else:
            _assert_unreadable(blob, [keys])


def test_bundle_of_another_grantee_is_useless(keyring: Keyring, suite: Suite) -> None:
    grantee, other = IdentityKey.generate(suite), IdentityKey.generate(suite)
    keyring.split_at(GRANTED, 5_000)
    bundle = seal_key_bundle(
        keyring, categories=GRANTED, valid_until=5_000, grantee=OTHER, grantee_key=other.public_key
    )
    with pytest.raises(DecryptionFailed):
        open_key_bundle(bundle, grantee, patient_id=PATIENT, grantee=OTHER)
