"""The guardian set and its key shares: checking a set, finding each guardian's public key, and
splitting a fresh recovery secret among the guardians. Used by ``session.recovery.setup`` and by
an identity rotation's last step (the shares then escrow the new key)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from eth_utils.address import to_checksum_address

from medledger.chain.types import ZERO32, TxResult
from medledger.client._base import Context
from medledger.client._inputs import seconds
from medledger.client.documents import pinned
from medledger.crypto import IdentityKey, PublicKey
from medledger.crypto.shares import split_identity
from medledger.errors import InvalidInput, NotAuthorized

#: the contract's bounds on the recovery delay (``RecoveryInvalidDelay`` outside them)
MIN_RECOVERY_DELAY = 86_400
MAX_RECOVERY_DELAY = 7_776_000


@dataclass(frozen=True)
class SetupInfo:
    """A guardian set with fresh shares. ``paper_shares`` exist nowhere else: print once."""

    patient_id: int
    guardians: tuple[str, ...]
    threshold: int
    shares_digest: bytes
    tx: TxResult
    paper_shares: dict[str, str] = field(default_factory=dict, repr=False)


def check_guardian_set(
    guardians: Sequence[str], threshold: int, delay: timedelta | int
) -> list[str]:
    """The guardians' checksummed addresses, or ``InvalidInput`` for a set the contract
    refuses (1 <= threshold <= guardians <= 10, no duplicate, delay of 1 to 90 days)."""
    addrs: list[str] = [to_checksum_address(g) for g in guardians]
    if not 1 <= threshold <= len(addrs) <= 10:
        raise InvalidInput("need 1 <= threshold <= number of guardians <= 10")
    if len(set(addrs)) != len(addrs):
        raise InvalidInput("duplicate guardian")
    if not MIN_RECOVERY_DELAY <= seconds(delay) <= MAX_RECOVERY_DELAY:
        raise InvalidInput("the recovery delay must be between 1 and 90 days")
    return addrs


def setup_shares(
    ctx: Context,
    pid: int,
    identity: IdentityKey,
    guardians: Sequence[str],
    threshold: int,
    delay: timedelta | int,
    paper: Iterable[str],
    keys: Mapping[str, PublicKey] | None,
) -> SetupInfo:
    """Split ``identity`` among ``guardians`` (M of N), seal each share to its guardian (or
    return it as a paper mnemonic), store the shares document and record it on-chain with the
    guardian set (see ``session.recovery.setup``)."""
    addrs = check_guardian_set(guardians, threshold, delay)
    paper_set = {to_checksum_address(p) for p in paper}
    if not paper_set <= set(addrs):
        raise InvalidInput("a paper guardian must be one of the guardians")
    given: dict[str, PublicKey] = {to_checksum_address(a): k for a, k in (keys or {}).items()}
    if ctx.contract.get_patient(pid).encryption_key != identity.x25519_public_bytes():
        raise NotAuthorized(
            "this identity key is not the patient's published encryption key",
            hint="shares escrow the current identity key: use the patient's keystore",
        )
    plan: list[tuple[str, PublicKey | None]] = []
    for a in addrs:
        plan.append((a, None if a in paper_set else given.get(a) or guardian_key(ctx, a)))
    shares, paper_shares = split_identity(identity, pid, threshold, plan)
    with pinned(ctx.store) as pins:
        cid = pins.put(shares.to_document())
        tx = ctx.contract.set_guardians(addrs, threshold, seconds(delay), cid.digest)
        pins.referenced(cid)
    return SetupInfo(pid, tuple(addrs), threshold, cid.digest, tx, paper_shares)


def guardian_key(ctx: Context, guardian: str) -> PublicKey:
    """The key a guardian registered on-chain, as a provider or as a patient."""
    provider = ctx.contract.get_provider(guardian)
    if provider.status != 0:
        return ctx.directory.public_key(provider)
    gpid = ctx.contract.patient_of(guardian)
    if gpid:
        p = ctx.contract.get_patient(gpid)
        if p.key_document != ZERO32:
            return PublicKey.decode(ctx.documents.get(p.key_document))
        return PublicKey.from_x25519_bytes(p.encryption_key)
    raise InvalidInput(
        f"guardian {guardian} has no published encryption key",
        hint="give its public key (keys={...}) or make it a paper guardian (paper=[...])",
    )
