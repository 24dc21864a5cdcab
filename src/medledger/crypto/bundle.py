"""Key bundles: the epoch keys a grant gives a grantee, sealed to the grantee's public key.

A grant of categories C until time T carries, for every category in C, the private key of every
epoch that starts before T (history included). Because the keyring has an epoch boundary at T
(:meth:`Keyring.split_at`) and at every revocation (:meth:`Keyring.rotate`), no key for a record
created after the grantee's access ended is ever in a bundle. The bundle's size depends on the
number of epochs, never on the number of records.

Layout::

    header = "MLKB" | version u8 | patient_id u64 | grantee 20 | categories u16 (bit mask)
             | valid_until u64 (0xFFFF_FFFF_FFFF_FFFF = no expiry)
             [v2: | chain_id u64 | contract 20]
    bundle = header | sealed_len u32 | HPKE(grantee key, epoch key list,
                                            info = "medledger/vN/key-bundle" 0x00 header)

Version 2 (written since issue 14) binds the bundle to its deployment; version 1 still opens.
"""

from __future__ import annotations

from collections.abc import Iterable

from eth_utils.address import to_checksum_address

from medledger.codes import unmask_categories
from medledger.crypto._wire import (
    UNBOUND,
    Domain,
    Reader,
    Writer,
    check_uint,
    decode_until,
    encode_until,
    parse_address,
)
from medledger.crypto.epochs import KeySet, category_mask, decode_epoch_keys, encode_epoch_keys
from medledger.crypto.hpke import hpke_open, hpke_seal
from medledger.crypto.keyring import Keyring
from medledger.crypto.keys import PrivateKey, PublicKey, refuse_downgrade
from medledger.errors import DecryptionFailed, InvalidInput

MAGIC = b"MLKB"
FORMAT_VERSION = 2  # written; 1 is still read
_LABEL = b"key-bundle"


def _header(
    patient_id: int, grantee: bytes, categories: int, valid_until: int | None, domain: Domain
) -> bytes:
    w = Writer().raw(MAGIC).u8(FORMAT_VERSION).u64(patient_id).raw(grantee)
    w.u16(categories).u64(encode_until(valid_until))
    return w.raw(domain.encode()).getvalue()


def seal_key_bundle(
    keyring: Keyring,
    *,
    categories: Iterable[int],
    valid_until: int | None,
    grantee: str,
    grantee_key: PublicKey,
    allow_classical: bool = False,
    domain: Domain = UNBOUND,
) -> bytes:
    """Seal the epoch keys a grant of ``categories`` until ``valid_until`` covers.

    The caller must have called ``keyring.split_at(categories, valid_until)`` first (and publish
    the updated keyring) -- otherwise the epoch covering ``valid_until`` would also cover records
    created after the grant expires; this is checked and refused with ``InvalidInput``.
    A post-quantum (hybrid) patient's keys are sealed to a classical X25519 ``grantee_key`` only
    with ``allow_classical=True`` (else :class:`~medledger.errors.PostQuantumDowngrade`).
    """
    refuse_downgrade(keyring.suite, {grantee: grantee_key}, allow_classical, "grantee")
    cat_mask = category_mask(categories)
    cats = [int(c) for c in unmask_categories(cat_mask)]
    if valid_until is not None:
        check_uint("valid_until", valid_until, 64)
        for c in cats:
            if keyring.current_epoch(c, valid_until).valid_from != valid_until:
                raise InvalidInput(
                    f"no epoch boundary at the grant's end {valid_until} for category {c}",
                    hint="call keyring.split_at(categories, valid_until) first",
                )
    keys = keyring.key_set(cats, before=valid_until)
    header = _header(keyring.patient_id, parse_address(grantee), cat_mask, valid_until, domain)
    sealed = hpke_seal(
        grantee_key,
        encode_epoch_keys(keys),
        label=_LABEL,
        context=header,
        version=FORMAT_VERSION,
    )
    return header + Writer().bytes32(sealed).getvalue()


def open_key_bundle(
    bundle: bytes,
    grantee_key: PrivateKey,
    *,
    patient_id: int,
    grantee: str,
    domain: Domain | None = None,
) -> KeySet:
    """Open a key bundle as the grantee; returns the epoch keys it holds.

    ``patient_id`` and ``grantee`` are what the caller expects (e.g. from the on-chain grant); a
    bundle made for another patient or grantee raises ``DecryptionFailed``, as does a wrong key
    or any tampering; so does a v2 bundle of another deployment than ``domain`` (when given).
    """
    b_domain = None
    try:
        r = Reader(bundle, "key bundle")
        version = r.header(MAGIC, (1, 2))
        b_patient, b_grantee, b_mask = r.u64(), r.raw(20), r.u16()
        b_until = decode_until(r.u64())
        if version >= 2:
            b_domain = Domain(r.u64(), r.raw(20))
        header = bytes(memoryview(bundle)[: r.position])
        sealed = r.bytes32()
        r.end()
    except InvalidInput as exc:
        raise DecryptionFailed(f"malformed key bundle: {exc}") from None
    if b_patient != patient_id:
        raise DecryptionFailed(f"key bundle is for patient {b_patient}, not {patient_id}")
    if b_grantee != parse_address(grantee):
        raise DecryptionFailed(
            f"key bundle is for grantee {to_checksum_address(b_grantee)}, not {grantee}"
        )
    if domain is not None and b_domain is not None and b_domain != domain:
        raise DecryptionFailed(
            f"key bundle is for chain {b_domain.chain_id}, contract 0x{b_domain.contract.hex()}, "
            "not this deployment"
        )
    plain = hpke_open(grantee_key, sealed, label=_LABEL, context=header, version=version)
    try:
        epochs = decode_epoch_keys(plain)
    except InvalidInput as exc:
        raise DecryptionFailed(f"key bundle contents are malformed: {exc}") from None
    for e in epochs:
        if not b_mask & (1 << e.category) or (b_until is not None and e.valid_from >= b_until):
            raise DecryptionFailed("key bundle holds a key outside the grant it claims")
    return KeySet(b_patient, epochs)
