"""Custodial reads (``session.custodians.read``): the record's header checked against the chain,
then ``k`` of the custodians' capsule fragments, each verified, open it for the reader."""

from __future__ import annotations

from typing import TYPE_CHECKING

import umbral_pre as umbral
from eth_utils.address import to_checksum_address

from medledger.chain.types import Record
from medledger.client.custodial_types import CustodialRead
from medledger.client.types import AccessResult
from medledger.crypto.pre import (
    CustodialHeader,
    open_custodial_reencrypted,
    parse_public_key,
    read_custodial_header,
    receiving_key,
    verify_cfrag,
)
from medledger.custodian import protocol as p
from medledger.custodian.client import CustodianClient
from medledger.errors import CustodiansUnavailable, DecryptionFailed, ForgedFragment, IntegrityError

if TYPE_CHECKING:
    from medledger.client.custodians import CustodiansNamespace


def checked_header(ns: CustodiansNamespace, rec: Record, blob: bytes) -> CustodialHeader:
    """The custodial record's header, checked against its on-chain entry."""
    header = read_custodial_header(blob)
    if (header.patient_id, header.category, header.domain) != (
        rec.patient_id, rec.category, ns._domain(),
    ) or header.author != to_checksum_address(rec.author):  # fmt: skip
        raise IntegrityError("custodial record header differs from its on-chain entry")
    return header


def _receiving_key(ns: CustodiansNamespace, pid: int) -> umbral.SecretKey:
    patient_key = ns._contract.get_patient(pid).encryption_key
    return receiving_key(ns._party.identity, patient_key, ns._domain(), pid, ns._address)


def through_custodians(
    ns: CustodiansNamespace,
    blob: bytes,
    result: AccessResult,
    capsule_bytes: bytes,
    fresh: bool = False,
) -> CustodialRead:
    """Ask every custodian of the patient's policy to re-encrypt ``capsule_bytes`` for the
    logged access ``result`` and open the record with ``k`` verified fragments. All ``n`` are
    asked at once and every answer is awaited (each within the timeout), so that a custodian
    returning a forged fragment is named even when ``k`` others already served."""
    pid, rid = result.patient_id, result.record_id
    policy = ns._require_policy(pid)
    rk = ns._cached(("receiving", pid), lambda: _receiving_key(ns, pid))
    capsule = umbral.Capsule.from_bytes(capsule_bytes)
    checks = {
        "verifying_pk": parse_public_key(policy.verifying_key),
        "delegating_pk": parse_public_key(policy.delegating_key),
        "receiving_pk": rk.public_key(),
    }
    access_tx = bytes.fromhex(result.tx.tx_hash.removeprefix("0x"))
    # a fresh access's block time is the chain's "now", just read: no request for it
    stamp = result.tx.events_named("AccessRecorded")[-1].args["timestamp"] if fresh else None
    digest, deadline = p.capsule_digest(capsule_bytes), ns._deadline(stamp)

    def ask(addr: str, client: CustodianClient) -> umbral.VerifiedCapsuleFrag:
        req = p.Reencryption(ns._address, pid, rid, access_tx, digest, p.new_nonce(),
                             deadline)  # fmt: skip
        cfrag, signed = client.reencrypt(req, capsule_bytes, ns._sign(req))
        ns._verified(addr, signed, req, p.ACTION_SERVED)
        try:
            return verify_cfrag(cfrag, capsule, **checks)
        except DecryptionFailed as exc:
            raise ForgedFragment(
                f"custodian {addr} returned a capsule fragment that does not verify: {exc}",
                custodian=addr,
                code="forged_fragment",
            ) from None

    # Ask all n at once: k answers are enough, and asking only k would make a read wait a
    # full timeout for every custodian that is down before asking the next one.
    frags, failed = ns._fanout(policy.custodians, ask)
    forged = {a: why for a, why in failed.items() if why.startswith("forged_fragment")}
    unavailable = {a: why for a, why in failed.items() if a not in forged}
    if len(frags) < policy.threshold:
        raise CustodiansUnavailable(
            f"{len(frags)} of {len(policy.custodians)} custodians returned a valid fragment "
            f"for record 0x{rid.hex()}; {policy.threshold} are needed (failed: "
            + ", ".join(f"{a} ({why.split(':')[0]})" for a, why in failed.items())
            + ")",
            unavailable=failed,
        )
    chosen = sorted(frags)[: policy.threshold]
    plaintext = open_custodial_reencrypted(blob, rk, [frags[a] for a in chosen])
    used = tuple(bytes(frags[a]) for a in chosen)
    return CustodialRead(plaintext, result, tuple(chosen), forged, unavailable, used)
