"""An identity rotation run end to end (``session.recovery.rotate`` and the last step of
``session.recovery.complete``): the idempotent steps of :mod:`medledger.client.identity_rotation`
in order, then, in custodian mode, fresh key fragments for everyone the custodians serve."""

from __future__ import annotations

from eth_utils.address import to_checksum_address

from medledger.chain.types import ZERO32, TxResult
from medledger.client._base import Context
from medledger.client.access import AccessNamespace
from medledger.client.custodians import CustodiansNamespace
from medledger.client.guardian_shares import setup_shares
from medledger.client.identity_rotation import (
    RotationInfo,
    keyring_opens,
    publish_encryption_key,
    refresh_holders,
    rotate_keyring,
    successor,
)
from medledger.client.planner import ConsentPlanner
from medledger.crypto import IdentityKey
from medledger.crypto.emergency import emergency_kit_responders
from medledger.crypto.shares import ShareSet
from medledger.errors import DeploymentNotFound, InvalidInput, MedledgerError


def rotate_identity(
    ctx: Context,
    pid: int,
    old: IdentityKey | None,
    new: IdentityKey,
    custodians: CustodiansNamespace | None,
) -> RotationInfo:
    """Rotate patient ``pid`` from ``old`` (``None``: the keyring already opens with ``new``)
    to ``new``; each step already on-chain is skipped."""
    ctx = successor(ctx, new)
    txs: list[TxResult] = []
    rotated: tuple[int, ...] = ()
    if not keyring_opens(ctx, pid, new):
        if old is None:
            raise InvalidInput("the keyring opens with neither key")
        tx, rotated = rotate_keyring(ctx, pid, old)
        txs.append(tx)
    more, refreshed = refresh_holders(ctx, pid)
    txs += more
    if ctx.contract.get_patient(pid).encryption_key != new.x25519_public_bytes():
        txs.append(publish_encryption_key(ctx, new))
    paper: dict[str, str] = {}
    g = ctx.contract.get_guardians(pid)
    if g.shares != ZERO32:
        current = ShareSet.from_document(ctx.documents.get(g.shares))
        if current.identity_key != new.public_key:
            paper_guardians = [e.guardian for e in current.entries if e.paper]
            info = setup_shares(
                ctx, pid, new, g.guardians, g.threshold, g.delay, paper_guardians, None
            )
            txs.append(info.tx)
            paper = info.paper_shares
    # last: custodians being down must not stop the steps above (they are reported)
    redelegated, failed = redelegate(ctx, pid, custodians)
    return RotationInfo(
        pid, tuple(txs), rotated, refreshed, paper, redelegated, redelegation_failed=failed
    )


def redelegate(
    ctx: Context, pid: int, custodians: CustodiansNamespace | None
) -> tuple[tuple[str, ...], dict[str, str]]:
    """Custodian mode, after the new encryption key is on-chain: a grantee's receiving key
    is an X25519 agreement with the patient's encryption key, so the fragments the
    custodians hold were made for receiving keys nobody has any more. The active grantees
    of custodial categories, and the emergency kit's responders, get fresh ones from the
    same Umbral keys (the keyring's seed). Who could not be delegated (too few custodians
    answering) is reported, not raised; ``session.custodians.delegate`` retries. A rerun
    delegates again (it replaces)."""
    if custodians is None:
        return (), {}
    try:
        registry = custodians.registry
    except DeploymentNotFound:  # a deployment of before custodian mode
        return (), {}
    ns = CustodiansNamespace(ctx, registry, AccessNamespace(ctx))
    try:
        policy = ns.policy(pid)
        if not policy.active:
            return (), {}
        now = ctx.chain.now()
        planner = ConsentPlanner(ctx.contract, ctx.keys, ctx.directory, ctx.documents)
        todo = [
            (grantee, False)
            for grantee, consent in planner._active_grants(pid, now).items()
            if consent.categories & policy.categories
        ]
        patient = ctx.contract.get_patient(pid)
        if patient.emergency_kit != ZERO32:
            _, responders = emergency_kit_responders(ctx.documents.get(patient.emergency_kit))
            todo += [
                (to_checksum_address(r), True)
                for r in responders
                if ctx.contract.get_provider(r).status == 1
            ]
        done: list[str] = []
        failed: dict[str, str] = {}
        for who, emergency in todo:
            try:
                ns.delegate(who, emergency=emergency)
                done.append(who)
            except MedledgerError as exc:
                failed[who] = f"{type(exc).__name__}: {exc}"
        return tuple(done), failed
    finally:
        ns.close()
