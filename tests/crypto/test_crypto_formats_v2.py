"""Issue 14 points 7, 8 and 10 at the format level: key commitment, published-key checks, epoch
windows, the deployment binding, and format-v1 containers that still open.

``fixtures/formats_v1.json`` was sealed by the code before format v2 (git 76d7c84); it must never
be regenerated with newer code.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import pytest

from helpers.salamander import two_faced_body, two_faced_wrap
from medledger.crypto import (
    Domain,
    IdentityKey,
    Keyring,
    KeySet,
    PrivateKey,
    RecordHeader,
    Suite,
    open_emergency_kit,
    open_key_bundle,
    open_record,
    seal_emergency_kit,
    seal_key_bundle,
    seal_record,
)
from medledger.crypto.epochs import EpochKey
from medledger.crypto.record import key_commitment
from medledger.errors import DecryptionFailed, IntegrityError, KeyMismatch, RecordTimeMismatch

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "formats_v1.json").read_text())
CAT, PID = 1, 7
A = "0x" + "aa" * 20
B = "0x" + "bb" * 20
PENICILLIN = "ALLERGIES: PENICILLIN – anaphylaxis".encode()
NONE_KNOWN = b"ALLERGIES: none known"
HERE = Domain.of(31337, "0x" + "5f" * 20)


@pytest.mark.parametrize("suite", ["x25519", "mlkem768-x25519"])
def test_format_v1_containers_still_open(suite: str) -> None:
    f: dict[str, Any] = FIXTURES[suite]
    identity = IdentityKey.from_private_bytes(bytes.fromhex(f["identity_private"]))
    keyring = Keyring.load(bytes.fromhex(f["keyring_document"]), identity)
    record = bytes.fromhex(f["record"])
    opened = open_record(record, keyring)
    assert opened.header.version == 1
    assert opened.plaintext == bytes.fromhex(f["plaintext"])
    opened.header.expect(patient_id=f["patient_id"], domain=HERE)  # v1 carries no deployment
    grantee = IdentityKey.from_private_bytes(bytes.fromhex(f["grantee_private"]))
    bundle = open_key_bundle(
        bytes.fromhex(f["bundle"]), grantee, patient_id=f["patient_id"], grantee=f["grantee"]
    )
    keyring.directory().check_keys(bundle)
    assert open_record(record, bundle).plaintext == opened.plaintext
    responder = IdentityKey.from_private_bytes(bytes.fromhex(f["responder_private"]))
    kit = open_emergency_kit(
        bytes.fromhex(f["kit"]), responder, patient_id=f["patient_id"], responder=f["responder"]
    )
    assert open_record(record, kit).plaintext == opened.plaintext


def _two_faced(version: int) -> tuple[bytes, KeySet, KeySet, Keyring]:
    """A malicious patient's record: grantee A holds the published epoch key, grantee B (given
    another key under the same category and epoch) is meant to read something else."""
    keyring = Keyring.create(PID, suite=Suite.X25519, categories=[CAT])
    published = keyring.private_key(PID, CAT, 0)
    other = PrivateKey.generate(Suite.X25519)
    fake = Keyring(PID, Suite.X25519, [EpochKey(CAT, 0, 0, None, other)])
    fields = (version, Suite.X25519, CAT, PID, A, 1_700_000_000, 0, 256, os.urandom(7))
    # v2: the commitment is in the HPKE context, so it is fixed before the two-faced wrap is
    # solved for; the data keys that come out are then random -- the patient commits blindly
    commitment = key_commitment(os.urandom(32)) if version == 2 else b""
    draft = RecordHeader(*fields, b"", HERE, commitment)
    info = b"medledger/v%d/record-key\0" % version + draft.fixed_bytes()
    wrapped, d1, d2 = two_faced_wrap(published, other, info)
    header = RecordHeader(*fields, wrapped, HERE, commitment)
    aad = header.encode()
    nonce = header.nonce_prefix + struct.pack(">IB", 0, 1)
    blob = aad + two_faced_body(d1, d2, nonce, aad, PENICILLIN, NONE_KNOWN)
    ga, gb = IdentityKey.generate(Suite.X25519), IdentityKey.generate(Suite.X25519)

    def bundle(kr: Keyring, who: str, key: IdentityKey) -> KeySet:
        sealed = seal_key_bundle(
            kr, categories=[CAT], valid_until=None, grantee=who, grantee_key=key.public_key
        )
        return open_key_bundle(sealed, key, patient_id=PID, grantee=who)

    return blob, bundle(keyring, A, ga), bundle(fake, B, gb), keyring


def test_a_v1_record_read_two_ways_is_caught_by_the_published_keys() -> None:
    """Old code (verified): grantee A read "PENICILLIN – anaphylaxis" and grantee B "none known"
    from this one record, both authenticated. A v1 record has no key commitment (AES-GCM is not
    key-committing), so it still opens both ways at the format level; the defence for it is the
    published-key check every SDK read runs first: B's key is not what the patient published."""
    blob, keys_a, keys_b, keyring = _two_faced(1)
    assert PENICILLIN in open_record(blob, keys_a).plaintext
    assert NONE_KNOWN in open_record(blob, keys_b).plaintext  # what old readers got
    directory = keyring.directory()
    directory.check_keys(keys_a)
    with pytest.raises(KeyMismatch, match="not the one patient 7 published"):
        directory.check_keys(keys_b)


def test_a_v2_record_opens_to_one_plaintext_only() -> None:
    """Format v2 commits to the data key, so the attack has nothing left: the two-faced wrap
    (solved after the commitment is fixed) fails the commitment for both readers
    (``KeyMismatch``, before any segment is decrypted), and an honest v2 record gives A the
    plaintext and B, holding the unpublished key, a ``DecryptionFailed`` -- even for a reader
    that skipped the published-key check."""
    blob, keys_a, keys_b, keyring = _two_faced(2)
    for keys in (keys_a, keys_b):
        with pytest.raises(KeyMismatch, match="key commitment"):
            open_record(blob, keys)
    honest = seal_record(PENICILLIN, keyring.directory(), category=CAT, author=A, domain=HERE)
    assert open_record(honest, keys_a).plaintext == PENICILLIN
    with pytest.raises(DecryptionFailed):
        open_record(honest, keys_b)


def test_records_are_bound_to_their_deployment() -> None:
    keyring = Keyring.create(PID, suite=Suite.X25519, categories=[CAT])
    blob = seal_record(b"x", keyring.directory(), category=CAT, author=A, domain=HERE)
    header = open_record(blob, keyring).header
    assert (header.version, header.domain) == (2, HERE)
    header.expect(domain=HERE)
    for other in (Domain.of(1, "0x" + "5f" * 20), Domain.of(31337, "0x" + "60" * 20)):
        with pytest.raises(IntegrityError, match="not to this deployment"):
            header.expect(domain=other)


def test_created_at_must_lie_in_its_epoch() -> None:
    """Issue 14 point 8 at the format level: old readers never compared ``created_at`` with the
    epoch (verified: a record claiming 1_000 under an epoch starting at 5_000 opened silently)."""
    keyring = Keyring.create(PID, suite=Suite.X25519, categories=[CAT])
    keyring.split_at([CAT], 5_000)
    directory = keyring.directory()
    directory.check_created_at(CAT, 1, 5_000)
    directory.check_created_at(CAT, 0, 4_999)
    with pytest.raises(RecordTimeMismatch, match="outside its epoch 1"):
        directory.check_created_at(CAT, 1, 1_000)
    with pytest.raises(RecordTimeMismatch, match="outside its epoch 0"):
        directory.check_created_at(CAT, 0, 6_000)
    with pytest.raises(KeyMismatch):
        directory.check_created_at(CAT, 9, 6_000)


def test_bundles_and_kits_are_bound_to_their_deployment() -> None:
    """Point 10: bundle and kit format v2 carry the chain id and contract in their header and
    HPKE ``info``; opened for another deployment they fail (old code had no such field: a bundle
    of one deployment opened in any other where the patient id and grantee lined up)."""
    keyring = Keyring.create(PID, suite=Suite.X25519, categories=[CAT])
    grantee = IdentityKey.generate(Suite.X25519)
    bundle = seal_key_bundle(
        keyring,
        categories=[CAT],
        valid_until=None,
        grantee=A,
        grantee_key=grantee.public_key,
        domain=HERE,
    )
    assert bundle[4] == 2
    open_key_bundle(bundle, grantee, patient_id=PID, grantee=A, domain=HERE)
    elsewhere = Domain.of(1, "0x" + "5f" * 20)
    with pytest.raises(DecryptionFailed, match="deployment"):
        open_key_bundle(bundle, grantee, patient_id=PID, grantee=A, domain=elsewhere)
    kit = seal_emergency_kit(
        keyring, categories=[CAT], responders={B: grantee.public_key}, domain=HERE
    )
    assert kit[4] == 2
    open_emergency_kit(kit, grantee, patient_id=PID, responder=B, domain=HERE)
    with pytest.raises(DecryptionFailed, match="deployment"):
        open_emergency_kit(kit, grantee, patient_id=PID, responder=B, domain=elsewhere)
    # the domain is in the HPKE info too: relabelling the header's chain id fails to decrypt
    relabelled = bytearray(bundle)
    relabelled[4 + 1 + 8 + 20 + 2 + 8] ^= 1  # first byte of the chain id
    with pytest.raises(DecryptionFailed):
        open_key_bundle(bytes(relabelled), grantee, patient_id=PID, grantee=A)


@pytest.mark.parametrize("suite", ["x25519", "mlkem768-x25519"])
def test_format_v1_bundles_and_kits_open_for_any_deployment(suite: str) -> None:
    f: dict[str, Any] = FIXTURES[suite]
    grantee = IdentityKey.from_private_bytes(bytes.fromhex(f["grantee_private"]))
    responder = IdentityKey.from_private_bytes(bytes.fromhex(f["responder_private"]))
    pid = f["patient_id"]
    bundle = open_key_bundle(
        bytes.fromhex(f["bundle"]), grantee, patient_id=pid, grantee=f["grantee"], domain=HERE
    )
    kit = open_emergency_kit(
        bytes.fromhex(f["kit"]), responder, patient_id=pid, responder=f["responder"], domain=HERE
    )
    assert bundle.categories == kit.categories == {0}  # allergies, as sealed
