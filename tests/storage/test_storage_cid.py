"""The CID value type: decoding, canonical text forms, equality by value, strict validation."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medledger.errors import InvalidInput
from medledger.storage import CID, DAG_PB, RAW, cid_from_digest

V0 = "QmbcxkK5cyd6f2FxCVgibHVq9kK5upbLDJFDUibZZeFt5M"
V1_DAG_PB = "bafybeihieba2mkads4ovfxehrvjwmunde4fouajidpjmesyroen64ntih4"
V1_RAW = "bafkreigrzdg472msovmvqksmazdhwyrmhmclwjzxnx7hrb24uyq4whpxhe"


def test_parse_exposes_version_codec_and_digest() -> None:
    v0, v1, raw = CID.parse(V0), CID.parse(V1_DAG_PB), CID.parse(V1_RAW)
    assert (v0.version, v0.codec) == (0, DAG_PB)
    assert (v1.version, v1.codec) == (1, DAG_PB)
    assert (raw.version, raw.codec) == (1, RAW)
    assert all(len(c.digest) == 32 for c in (v0, v1, raw))
    assert str(v0) == V0
    assert str(v1) == V1_DAG_PB
    assert str(raw) == V1_RAW


def test_equality_is_by_decoded_value_not_by_string() -> None:
    cid = CID.parse(V1_DAG_PB)
    base58 = cid.encode("base58btc")
    assert base58.startswith("z")
    assert base58 != V1_DAG_PB
    assert CID.parse(base58) == cid
    assert hash(CID.parse(base58)) == hash(cid)
    assert CID.parse(f"/ipfs/{V1_DAG_PB}") == cid


def test_v0_and_v1_differ_but_convert() -> None:
    v0 = CID.parse(V0)
    assert v0 != v0.to_v1()
    assert v0.to_v1().version == 1
    assert v0.to_v1().digest == v0.digest
    assert v0.to_v1().to_v0() == v0
    with pytest.raises(InvalidInput):
        CID.parse(V1_RAW).to_v0()


def test_cid_from_digest_rebuilds_the_chain_reference() -> None:
    cid = CID.parse(V1_DAG_PB)
    assert cid_from_digest(cid.digest, DAG_PB) == cid
    assert str(cid_from_digest(CID.parse(V1_RAW).digest, RAW)) == V1_RAW
    # The chain holds the digest of the CIDv1; a v0 record is referenced through its v1 form.
    assert cid_from_digest(CID.parse(V0).digest, DAG_PB) == CID.parse(V0).to_v1()


@pytest.mark.parametrize(
    ("digest", "codec"),
    [(b"\x00" * 31, RAW), (b"\x00" * 33, DAG_PB), (b"\x00" * 32, 0x71), ("00" * 32, RAW)],
)
def test_cid_from_digest_rejects_bad_input(digest: object, codec: int) -> None:
    with pytest.raises(InvalidInput):
        cid_from_digest(digest, codec)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not-a-cid",
        "Qm123",
        V0[:-1],
        "bafkqaaa",  # identity multihash: content would not be verifiable
        "bafyreibnoelefnzgwbcacyt4vh52ymxvzbjq7mmqhtcnwarfq4lzegsiqe",  # dag-cbor codec
        (  # sha2-512 multihash
            "bafkrgqfevpkejdcjkywyfaiv2e5b7thksj7vfngviwjjp6fuhzbnvcjdrpatmjxehxftrxnqqjeisj7ms"
            "bh3iicxiq4yh2efqulz2ucvdl7ge"
        ),
    ],
)
def test_parse_rejects_what_cannot_be_verified(text: str) -> None:
    with pytest.raises(InvalidInput):
        CID.parse(text)


def test_parse_rejects_wrong_types() -> None:
    with pytest.raises(InvalidInput):
        CID.parse(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        CID(0, RAW, b"\x00" * 32)  # a CIDv0 is always dag-pb
    with pytest.raises(InvalidInput):
        CID(2, RAW, b"\x00" * 32)


@given(
    data=st.binary(max_size=64),
    version=st.sampled_from([0, 1]),
    codec=st.sampled_from([RAW, DAG_PB]),
)
def test_text_and_binary_forms_round_trip(data: bytes, version: int, codec: int) -> None:
    if version == 0:
        codec = DAG_PB
    cid = CID(version, codec, hashlib.sha256(data).digest())
    assert CID.parse(str(cid)) == cid
    assert CID.parse(cid.encode("base58btc")) == cid
    assert CID.from_bytes(bytes(cid)) == cid
    assert CID.parse(bytes(cid)) == cid
    assert cid.multihash == b"\x12\x20" + cid.digest
