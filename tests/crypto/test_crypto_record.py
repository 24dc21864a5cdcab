"""The sealed record format: round trips, header binding, segment integrity, streaming."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.crypto import AUTHOR, LABS, NOTES, OTHER, PATIENT
from medledger.crypto import (
    Keyring,
    PrivateKey,
    Suite,
    open_file,
    open_record,
    open_record_with_key,
    open_stream,
    read_header,
    seal_file,
    seal_record,
    seal_stream,
)
from medledger.crypto.record import FIXED_HEADER_LENS, TAG_LEN
from medledger.errors import DecryptionFailed, IntegrityError, InvalidInput, KeyNotAvailable

SEG = 256  # small segments so that multi-segment records stay tiny


def _seal(keyring: Keyring, data: bytes, *, category: int = LABS, created_at: int = 1_000) -> bytes:
    return seal_record(
        data,
        keyring.directory(),
        category=category,
        author=AUTHOR,
        created_at=created_at,
        segment_size=SEG,
    )


def _epoch_key(keyring: Keyring, blob: bytes) -> PrivateKey:
    h = read_header(blob)
    return keyring.private_key(h.patient_id, h.category, h.epoch)


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG, 3 * SEG + 17])
def test_round_trip_and_header_fields(keyring: Keyring, size: int) -> None:
    data = os.urandom(size)
    blob = _seal(keyring, data, created_at=1_700_000_000)
    segments = max(1, -(-size // SEG))
    assert len(blob) == read_header(blob).size + size + segments * TAG_LEN
    opened = open_record(blob, keyring)
    assert opened.plaintext == data
    h = opened.header
    assert (h.version, h.patient_id, h.category, h.created_at, h.epoch) == (
        2,
        PATIENT,
        LABS,
        1_700_000_000,
        0,
    )
    assert h.author == AUTHOR  # checksummed form of an all-digit address is itself
    assert h.suite is keyring.suite
    assert h.segment_size == SEG


def test_records_get_fresh_keys_and_nonces(keyring: Keyring) -> None:
    a, b = _seal(keyring, b"same"), _seal(keyring, b"same")
    assert a != b
    assert read_header(a).wrapped_key != read_header(b).wrapped_key
    assert read_header(a).nonce_prefix != read_header(b).nonce_prefix


# Byte ranges of the header fields (docs/crypto.md, "Sealed record").
HEADER_FIELDS = {
    "magic": 0,
    "version": 4,
    "suite": 5,
    "category": 6,
    "patient_id": 14,
    "author": 34,
    "created_at": 42,
    "epoch": 46,
    "segment_size": 50,
    "nonce_prefix": 57,
    "chain_id": 65,  # format v2 from here
    "contract": 85,
    "key_commitment": 117,
    "wrapped_len": 119,
    "wrapped_key_enc": 120,
    "wrapped_key_tag": FIXED_HEADER_LENS[2] + 79,  # last byte of an X25519 envelope
}


@pytest.mark.parametrize("field", list(HEADER_FIELDS))
def test_changing_any_header_field_fails(keyring: Keyring, field: str) -> None:
    blob = _seal(keyring, os.urandom(2 * SEG + 5))
    key = _epoch_key(keyring, blob)
    tampered = bytearray(blob)
    tampered[HEADER_FIELDS[field]] ^= 0x01
    with pytest.raises(DecryptionFailed):
        open_record_with_key(bytes(tampered), key)


def test_changed_category_or_epoch_never_decrypts_through_the_keyring(keyring: Keyring) -> None:
    keyring.split_at([LABS], 500)  # LABS now has epochs 0 [0, 500) and 1 [500, ...)
    blob = _seal(keyring, b"lab result", created_at=1_000)
    assert read_header(blob).epoch == 1
    for offset, value in ((6, NOTES), (46, 0), (46, 7)):
        tampered = bytearray(blob)
        tampered[offset] = value
        # The keyring holds a key for NOTES and for LABS epoch 0, but not epoch 7.
        with pytest.raises((DecryptionFailed, KeyNotAvailable)):
            open_record(bytes(tampered), keyring)
    # Relabelled as NOTES epoch 0, a key the keyring does hold: the key opens nothing.
    tampered = bytearray(blob)
    tampered[6], tampered[46] = NOTES, 0
    with pytest.raises(DecryptionFailed):
        open_record(bytes(tampered), keyring)


def test_body_moved_under_another_header_fails(keyring: Keyring) -> None:
    a = _seal(keyring, os.urandom(3 * SEG))
    b = _seal(keyring, os.urandom(3 * SEG))
    ha, hb = read_header(a).size, read_header(b).size
    with pytest.raises(DecryptionFailed):
        open_record(a[:ha] + b[hb:], keyring)
    # A single segment of b spliced into a fails too.
    seg = SEG + TAG_LEN
    spliced = a[: ha + seg] + b[hb + seg : hb + 2 * seg] + a[ha + 2 * seg :]
    with pytest.raises(DecryptionFailed):
        open_record(spliced, keyring)


_CUTS: dict[str, Callable[[bytes, list[bytes], bytes], bytes]] = {
    "drop last segment": lambda head, s, blob: head + s[0] + s[1],
    "drop first segment": lambda head, s, blob: head + s[1] + s[2],
    "swap segments": lambda head, s, blob: head + s[1] + s[0] + s[2],
    "duplicate segment": lambda head, s, blob: head + s[0] + s[0] + s[1] + s[2],
    "append bytes": lambda head, s, blob: blob + b"\x00",
    "cut inside tag": lambda head, s, blob: blob[:-1],
    "header only": lambda head, s, blob: head,
    "cut inside header": lambda head, s, blob: head[:-1],
    "empty": lambda head, s, blob: b"",
}


@pytest.mark.parametrize("case", list(_CUTS))
def test_truncation_reordering_and_extension_fail(keyring: Keyring, case: str) -> None:
    # Exactly three full segments: dropping the last leaves a valid-looking record of two.
    blob = _seal(keyring, os.urandom(3 * SEG))
    h = read_header(blob).size
    seg = SEG + TAG_LEN
    segments = [blob[h + i * seg : h + (i + 1) * seg] for i in range(3)]
    data = _CUTS[case](blob[:h], segments, blob)
    with pytest.raises(DecryptionFailed):
        open_record(data, keyring)
    with pytest.raises(DecryptionFailed):
        open_stream(io.BytesIO(data), io.BytesIO(), keyring)


def test_wrong_key_fails(keyring: Keyring, suite: Suite) -> None:
    blob = _seal(keyring, b"x")
    with pytest.raises(DecryptionFailed):
        open_record_with_key(blob, PrivateKey.generate(suite))
    other = Keyring.create(PATIENT, suite=suite)
    with pytest.raises(DecryptionFailed):
        open_record(blob, other)


def test_key_lookup_is_by_patient(keyring: Keyring, suite: Suite) -> None:
    blob = _seal(keyring, b"x")
    with pytest.raises(KeyNotAvailable):
        open_record(blob, Keyring.create(PATIENT + 1, suite=suite))


def test_header_expect_checks_the_on_chain_facts(keyring: Keyring) -> None:
    header = open_record(_seal(keyring, b"x"), keyring).header
    header.expect(patient_id=PATIENT, category=LABS, author=AUTHOR.upper().replace("0X", "0x"))
    with pytest.raises(IntegrityError):
        header.expect(patient_id=PATIENT + 1)
    with pytest.raises(IntegrityError):
        header.expect(category=NOTES)
    with pytest.raises(IntegrityError):
        header.expect(author=OTHER)


def test_sealing_uses_the_epoch_covering_creation_time(keyring: Keyring) -> None:
    keyring.split_at([LABS], 2_000)
    early, late = _seal(keyring, b"a", created_at=1_999), _seal(keyring, b"b", created_at=2_000)
    assert read_header(early).epoch == keyring.current_epoch(LABS, 1_999).epoch == 0
    assert read_header(late).epoch == keyring.current_epoch(LABS, 2_000).epoch == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"author": "0x1234"}, InvalidInput),
        ({"author": "not an address at all, forty characters.."}, InvalidInput),
        ({"created_at": -1}, InvalidInput),
        ({"category": 300}, InvalidInput),
        ({"segment_size": 16}, InvalidInput),
        ({"segment_size": 1 << 25}, InvalidInput),
        ({"category": 12}, KeyNotAvailable),  # the keyring has no category 12
    ],
)
def test_bad_seal_arguments_are_typed_errors(
    keyring: Keyring, kwargs: dict[str, object], error: type[Exception]
) -> None:
    args: dict[str, object] = {"category": LABS, "author": AUTHOR, "created_at": 1}
    args.update(kwargs)
    with pytest.raises(error):
        seal_record(b"x", keyring.directory(), **args)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, SEG, 5 * SEG + 3])
def test_streaming_and_in_memory_forms_are_interchangeable(keyring: Keyring, size: int) -> None:
    data = os.urandom(size)
    sealed = io.BytesIO()
    header = seal_stream(
        io.BytesIO(data),
        sealed,
        keyring.directory(),
        category=LABS,
        author=AUTHOR,
        created_at=5,
        segment_size=SEG,
    )
    assert read_header(sealed.getvalue()) == header
    assert open_record(sealed.getvalue(), keyring).plaintext == data
    out = io.BytesIO()
    assert open_stream(io.BytesIO(_seal(keyring, data)), out, keyring).patient_id == PATIENT
    assert out.getvalue() == data


def test_open_stream_detects_truncation_at_a_segment_boundary(keyring: Keyring) -> None:
    blob = _seal(keyring, os.urandom(4 * SEG))
    cut = read_header(blob).size + 3 * (SEG + TAG_LEN)
    with pytest.raises(DecryptionFailed):
        open_stream(io.BytesIO(blob[:cut]), io.BytesIO(), keyring)


def test_files_are_written_whole_or_not_at_all(keyring: Keyring, tmp_path: Path) -> None:
    data = os.urandom(3 * SEG + 1)
    (tmp_path / "plain").write_bytes(data)
    seal_file(
        tmp_path / "plain",
        tmp_path / "sealed",
        keyring.directory(),
        category=LABS,
        author=AUTHOR,
        created_at=9,
        segment_size=SEG,
    )
    open_file(tmp_path / "sealed", tmp_path / "out", keyring)
    assert (tmp_path / "out").read_bytes() == data
    blob = (tmp_path / "sealed").read_bytes()
    (tmp_path / "truncated").write_bytes(blob[: -(TAG_LEN + 2)])
    with pytest.raises(DecryptionFailed):
        open_file(tmp_path / "truncated", tmp_path / "out2", keyring)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "plain", "sealed", "truncated"]


_SIZES = st.integers(0, 4).flatmap(lambda k: st.integers(max(0, k * SEG - 2), k * SEG + 2))
_QUICK = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_QUICK
@given(size=_SIZES, data=st.data())
def test_property_round_trip_around_segment_boundaries(size: int, data: st.DataObject) -> None:
    keyring = _KEYRING
    plain = data.draw(st.binary(min_size=size, max_size=size))
    blob = _seal(keyring, plain)
    assert open_record(blob, keyring).plaintext == plain
    out = io.BytesIO()
    open_stream(io.BytesIO(blob), out, keyring)
    assert out.getvalue() == plain


@_QUICK
@given(size=_SIZES, data=st.data())
def test_property_flipping_any_bit_fails(size: int, data: st.DataObject) -> None:
    keyring = _KEYRING
    blob = _seal(keyring, os.urandom(size))
    pos = data.draw(st.integers(0, len(blob) - 1))
    bit = data.draw(st.integers(0, 7))
    tampered = bytearray(blob)
    tampered[pos] ^= 1 << bit
    with pytest.raises(DecryptionFailed):
        open_record_with_key(bytes(tampered), _epoch_key(keyring, blob))
    with pytest.raises(DecryptionFailed):
        open_stream(io.BytesIO(bytes(tampered)), io.BytesIO(), _KEYRING_KEYS)


_KEYRING = Keyring.create(PATIENT, suite=Suite.X25519)


class _OnlyLabsEpoch0:
    """A key source that returns the one key regardless of the (possibly tampered) header."""

    def private_key(self, patient_id: int, category: int, epoch: int) -> PrivateKey:
        return _KEYRING.private_key(PATIENT, LABS, 0)


_KEYRING_KEYS = _OnlyLabsEpoch0()
