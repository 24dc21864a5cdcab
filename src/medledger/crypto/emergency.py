"""Emergency kits: the emergency categories' keys sealed to each chosen responder organisation.

The kit holds every epoch of the patient's emergency categories. Each responder gets its own
HPKE-sealed part and opens it with its own private key; no responder can open another's part.
Trust assumption (docs/crypto.md): a responder holding the kit can decrypt without opening
break-glass on-chain; the on-chain access log and consortium governance are the control.

Layout::

    header = "MLEK" | version u8 | patient_id u64 | categories u16 (bit mask)
             [v2: | chain_id u64 | contract 20] | count u8
    part   = responder 20 | sealed_len u32
             | HPKE(responder key, epoch key list,
                    info = "medledger/vN/emergency-kit" 0x00 "MLEK" | version | patient_id
                           | categories [v2: | chain_id | contract] | responder)
    kit    = header | count * part

Version 2 (written since issue 14) binds the kit to its deployment; version 1 still opens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from eth_utils.address import to_checksum_address

from medledger.codes import unmask_categories
from medledger.crypto._wire import UNBOUND, Domain, Reader, Writer, parse_address
from medledger.crypto.epochs import KeySet, category_mask, decode_epoch_keys, encode_epoch_keys
from medledger.crypto.hpke import hpke_open, hpke_seal
from medledger.crypto.keyring import Keyring
from medledger.crypto.keys import PrivateKey, PublicKey, refuse_downgrade
from medledger.errors import DecryptionFailed, InvalidInput, KeyNotAvailable

MAGIC = b"MLEK"
FORMAT_VERSION = 2  # written; 1 is still read
MAX_RESPONDERS = 255
_LABEL = b"emergency-kit"


def _context(
    version: int, patient_id: int, cat_mask: int, domain: Domain | None, responder: bytes
) -> bytes:
    w = Writer().raw(MAGIC).u8(version).u64(patient_id).u16(cat_mask)
    if domain is not None:
        w.raw(domain.encode())
    return w.raw(responder).getvalue()


def seal_emergency_kit(
    keyring: Keyring,
    *,
    categories: Iterable[int],
    responders: Mapping[str, PublicKey],
    allow_classical: bool = False,
    domain: Domain = UNBOUND,
) -> bytes:
    """Seal all epochs of ``categories`` separately to each responder (address -> public key).

    A post-quantum (hybrid) patient's kit is sealed to classical X25519 responder keys only with
    ``allow_classical=True`` (else :class:`~medledger.errors.PostQuantumDowngrade` naming them).

    Rebuild and republish the kit whenever an emergency category gets a new epoch.
    """
    cat_mask = category_mask(categories)
    refuse_downgrade(keyring.suite, responders, allow_classical, "responder")
    parsed = {parse_address(a): k for a, k in responders.items()}
    if not parsed:
        raise InvalidInput("an emergency kit needs at least one responder")
    if len(parsed) != len(responders):
        raise InvalidInput("duplicate responder address")
    if len(parsed) > MAX_RESPONDERS:
        raise InvalidInput(f"at most {MAX_RESPONDERS} responders")
    plain = encode_epoch_keys(keyring.key_set([int(c) for c in unmask_categories(cat_mask)]))
    w = Writer().raw(MAGIC).u8(FORMAT_VERSION).u64(keyring.patient_id).u16(cat_mask)
    w.raw(domain.encode()).u8(len(parsed))
    for addr, key in sorted(parsed.items()):
        ctx = _context(FORMAT_VERSION, keyring.patient_id, cat_mask, domain, addr)
        sealed = hpke_seal(key, plain, label=_LABEL, context=ctx, version=FORMAT_VERSION)
        w.raw(addr).bytes32(sealed)
    return w.getvalue()


def emergency_kit_responders(kit: bytes) -> tuple[int, list[str]]:
    """(patient id, responder addresses) of a kit, without opening any part."""
    patient_id, _, parts, _, _ = _parse(kit)
    return patient_id, [to_checksum_address(a) for a in parts]


def _parse(kit: bytes) -> tuple[int, int, dict[bytes, bytes], int, Domain | None]:
    kit_domain = None
    try:
        r = Reader(kit, "emergency kit")
        version = r.header(MAGIC, (1, 2))
        patient_id, cat_mask = r.u64(), r.u16()
        if version >= 2:
            kit_domain = Domain(r.u64(), r.raw(20))
        count = r.u8()
        parts: dict[bytes, bytes] = {}
        for _ in range(count):
            addr = r.raw(20)
            if addr in parts:
                raise InvalidInput("duplicate responder")
            parts[addr] = r.bytes32()
        r.end()
    except InvalidInput as exc:
        raise DecryptionFailed(f"malformed emergency kit: {exc}") from None
    return patient_id, cat_mask, parts, version, kit_domain


def open_emergency_kit(
    kit: bytes,
    responder_key: PrivateKey,
    *,
    patient_id: int,
    responder: str,
    domain: Domain | None = None,
) -> KeySet:
    """Open the responder's own part of a kit with the responder's private key.

    ``KeyNotAvailable`` if the kit has no part for ``responder``; ``DecryptionFailed`` for a
    kit of another patient (or, v2, of another deployment than ``domain``), a wrong key or any
    tampering.
    """
    kit_patient, cat_mask, parts, version, kit_domain = _parse(kit)
    if domain is not None and kit_domain is not None and kit_domain != domain:
        raise DecryptionFailed(
            f"emergency kit is for chain {kit_domain.chain_id}, contract "
            f"0x{kit_domain.contract.hex()}, not this deployment"
        )
    if kit_patient != patient_id:
        raise DecryptionFailed(f"emergency kit is for patient {kit_patient}, not {patient_id}")
    addr = parse_address(responder)
    sealed = parts.get(addr)
    if sealed is None:
        raise KeyNotAvailable(f"the emergency kit has no part for responder {responder}")
    ctx = _context(version, kit_patient, cat_mask, kit_domain, addr)
    plain = hpke_open(responder_key, sealed, label=_LABEL, context=ctx, version=version)
    try:
        epochs = decode_epoch_keys(plain)
    except InvalidInput as exc:
        raise DecryptionFailed(f"emergency kit contents are malformed: {exc}") from None
    if any(not cat_mask & (1 << e.category) for e in epochs):
        raise DecryptionFailed("emergency kit holds a key outside its categories")
    return KeySet(kit_patient, epochs)
