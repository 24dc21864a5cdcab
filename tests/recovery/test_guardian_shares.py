"""crypto.shares: the SLIP-39 split, the identity key escrow, sealing and resealing of shares."""

from __future__ import annotations

import pytest
import shamir_mnemonic

from medledger.crypto import IdentityKey, Suite
from medledger.crypto.shares import (
    NotEnoughShares,
    ShareError,
    ShareSet,
    open_reshare,
    reseal_share,
    split_identity,
)
from medledger.errors import InvalidInput

A, B, C = ("0x" + c * 40 for c in "abc")
CANDIDATE = "0x" + "d" * 40


@pytest.fixture
def keys() -> dict[str, IdentityKey]:
    return {a: IdentityKey.generate() for a in (A, B)}


def _split(
    identity: IdentityKey, keys: dict[str, IdentityKey], threshold: int = 2
) -> tuple[ShareSet, dict[str, str]]:
    return split_identity(
        identity, 7, threshold, [(A, keys[A].public_key), (B, keys[B].public_key), (C, None)]
    )


def test_any_m_shares_rebuild_the_identity_and_fewer_do_not(keys: dict[str, IdentityKey]) -> None:
    identity = IdentityKey.generate()
    shares, paper = _split(identity, keys)
    doc = ShareSet.from_document(shares.to_document())
    assert doc == shares
    a, b, c = doc.guardians
    assert list(paper) == [c]  # only the guardian without a key got words
    opened = {a: doc.open_share(a, keys[A]), b: doc.open_share(b, keys[B]), c: paper[c]}
    for pair in ((a, b), (a, c), (b, c)):
        got = doc.recover({g: opened[g] for g in pair})
        assert got.private_bytes() == identity.private_bytes()
    with pytest.raises(NotEnoughShares) as err:
        doc.recover({a: opened[a]})
    assert (err.value.have, err.value.missing) == (1, 1)
    # a share presented as another guardian's is refused, not counted twice
    with pytest.raises(ShareError) as named:
        doc.recover({a: opened[a], b: opened[a]})
    assert named.value.guardian == b


def test_hybrid_identity_gets_33_word_shares() -> None:
    identity = IdentityKey.generate(Suite.MLKEM768_X25519)
    shares, paper = split_identity(identity, 1, 1, [(A, None), (B, None)])
    assert {len(w.split()) for w in paper.values()} == {33}
    for words in paper.values():  # threshold 1: each share alone
        assert shares.recover({shares.verify(words): words}).public_key == identity.public_key


def test_a_share_is_sealed_to_its_guardian_only(keys: dict[str, IdentityKey]) -> None:
    shares, _ = _split(IdentityKey.generate(), keys)
    a, _b = shares.guardians[:2]
    with pytest.raises(ShareError) as err:
        shares.open_share(a, keys[B])
    assert err.value.guardian == a
    with pytest.raises(ShareError, match="paper"):
        shares.open_share(shares.guardians[2], keys[A])


def test_tampered_document_is_detected(keys: dict[str, IdentityKey]) -> None:
    identity = IdentityKey.generate()
    shares, _paper = _split(identity, keys)
    doc = bytearray(shares.to_document())
    # flip a byte of guardian B's sealed share (the document ends with B's, then C's empty one)
    tampered = ShareSet.from_document(bytes(doc[:-40]) + bytes([doc[-40] ^ 1]) + bytes(doc[-39:]))
    with pytest.raises(ShareError):
        tampered.open_share(tampered.guardians[1], keys[B])
    # a swapped escrow (another split's) does not open with these shares
    other, _ = _split(identity, keys)
    swapped = ShareSet(shares.patient_id, 2, identity.public_key, shares.entries, other.escrow)
    a, b, _ = swapped.guardians
    words = {a: swapped.open_share(a, keys[A]), b: swapped.open_share(b, keys[B])}
    with pytest.raises(ShareError, match="escrow"):
        swapped.recover(words)
    with pytest.raises(InvalidInput):
        ShareSet.from_document(bytes(doc[:-1]))


def test_reshare_is_bound_to_candidate_and_round(keys: dict[str, IdentityKey]) -> None:
    shares, _ = _split(IdentityKey.generate(), keys)
    a = shares.guardians[0]
    words = shares.open_share(a, keys[A])
    device = IdentityKey.generate()
    doc = reseal_share(
        words, patient_id=7, guardian=a, candidate=CANDIDATE, round_=3,
        candidate_key=device.public_key,
    )  # fmt: skip
    assert open_reshare(doc, device, patient_id=7, candidate=CANDIDATE, round_=3) == (a, words)
    with pytest.raises(ShareError, match="round 3"):
        open_reshare(doc, device, patient_id=7, candidate=CANDIDATE, round_=4)
    with pytest.raises(ShareError, match="does not open"):
        open_reshare(doc, IdentityKey.generate(), patient_id=7, candidate=CANDIDATE, round_=3)
    with pytest.raises(ShareError, match="does not open"):
        open_reshare(
            doc[:-1] + bytes([doc[-1] ^ 1]), device, patient_id=7, candidate=CANDIDATE, round_=3
        )


def test_share_errors_never_quote_the_words() -> None:
    secret = bytes(range(16))
    words = shamir_mnemonic.generate_mnemonics(1, [(1, 1)], secret)[0][0].split()
    typo = [*words[:4], "notaword", *words[5:]]
    shares, _ = split_identity(IdentityKey.generate(), 1, 1, [(A, None)])
    for bad in (" ".join(typo), " ".join([*words[:4], words[5], words[4], *words[6:]])):
        with pytest.raises(ShareError) as err:
            shares.verify(bad)
        assert not any(f" {w} " in f" {err.value} " for w in words if len(w) > 3)
