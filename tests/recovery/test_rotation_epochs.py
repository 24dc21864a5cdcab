"""The rotation's key epochs: no key the old identity could open seals anything from the
rotation on, and every record of before stays readable."""

from __future__ import annotations

import pytest

from medledger.client.identity_rotation import fresh_epochs
from medledger.crypto import IdentityKey, Keyring

LABS, NOTES = 3, 5


def _keys(keyring: Keyring) -> dict[tuple[int, int], bytes]:
    return {
        (c, e.valid_from): e.private_key.private_bytes()
        for c in keyring.categories
        for e in keyring.epochs(c)
    }


@pytest.mark.parametrize(("now", "expected_t"), [(600, 600), (500, 501)])
def test_every_key_from_the_rotation_on_is_new(now: int, expected_t: int) -> None:
    identity = IdentityKey.generate()
    old = Keyring.create(1, categories=[LABS, NOTES])
    old.split_at([LABS], 1_000)  # a grant ending at 1000: a future epoch already exists
    old.rotate([NOTES], 500)  # a revocation (or rotation) at 500
    seen = set(_keys(old).values())  # everything the old identity key opens
    copy = Keyring.load(old.to_document(identity.public_key), identity)
    new, rotated, t = fresh_epochs(copy, now)
    assert t == expected_t  # 500: an epoch already starts this second, so it stays in use
    assert rotated == (LABS, NOTES)
    for c in (LABS, NOTES):
        for at in (t, 999, 1_000, 10**9):
            assert new.current_epoch(c, at).private_key.private_bytes() not in seen
        for at in (0, 499, t - 1):  # records of before keep their keys
            before = old.current_epoch(c, at)
            after = new.current_epoch(c, at)
            assert (after.epoch, after.private_key.private_bytes()) == (
                before.epoch,
                before.private_key.private_bytes(),
            )
    numbers = [e.epoch for c in (LABS, NOTES) for e in new.epochs(c)]
    assert len(numbers) == len(set((c, e.epoch) for c in (LABS, NOTES) for e in new.epochs(c)))
