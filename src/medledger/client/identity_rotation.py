"""Identity rotation: the last step of a guardian recovery, and ``medledger keys rotate``.

From an old identity key (recovered from guardian shares, or the current one suspected leaked) to
a new one, in three idempotent steps, each detected as done from the chain itself so that a rerun
after a crash continues where it stopped:

1. **keyring**: every category gets a fresh key epoch from now on, the keyring is re-sealed to
   the new identity key and published (compare-and-swap), the active grantees get refreshed key
   bundles (re-grants) and the emergency kit is resealed. The keyring's Umbral seed (custodian
   mode) is carried over unchanged, so custodial records and delegations survive the new key.
   Done when the on-chain keyring opens with the new key.
2. **encryption key**: ``setEncryptionKey`` publishes the new public key. Done when the on-chain
   key is the new one.
3. **guardian shares**: a fresh split of a new recovery secret for the same guardians (same paper /
   sealed kinds), the new key escrowed. Done when the on-chain shares document escrows the new key
   (or the patient has no shares).

Whoever holds the old identity key afterwards opens only the keyring documents of before the
rotation: epochs that end now. Records added later are sealed to epochs it never saw.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from medledger.chain.types import ZERO32, GrantRequest, TxResult
from medledger.client._base import Context
from medledger.client.documents import pinned
from medledger.client.keys import KeyManager
from medledger.client.planner import ConsentPlanner
from medledger.client.types import MAX_GRANT_BATCH, Party
from medledger.crypto import Domain, IdentityKey, Keyring, PrivateKey, Suite
from medledger.crypto.epochs import EpochKey
from medledger.crypto.pre import PatientUmbralKeys
from medledger.errors import DecryptionFailed, InvalidInput


@dataclass(frozen=True)
class RotationInfo:
    """What a rotation did. ``paper_shares`` (guardian -> mnemonic) exist nowhere else: hand
    them to the paper guardians once and drop them."""

    patient_id: int
    #: transactions sent by this run (a resumed run sends only what was missing)
    txs: tuple[TxResult, ...]
    #: categories rotated to new epochs (empty if an earlier run did it)
    rotated: tuple[int, ...]
    #: grantees that received refreshed key bundles
    refreshed: tuple[str, ...]
    paper_shares: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)
    #: grantees (and responders) given fresh custodian key fragments: their receiving keys
    #: follow the patient's encryption key (custodian mode)
    redelegated: tuple[str, ...] = ()
    #: who could not get fresh fragments (too few custodians answered), with why: retry with
    #: ``session.custodians.delegate`` (docs/crypto.md section 12)
    redelegation_failed: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def gas_used(self) -> int:
        return sum(t.gas_used for t in self.txs)


def successor(ctx: Context, identity: IdentityKey) -> Context:
    """``ctx`` acting with ``identity`` (same account): the keyring is sealed to it."""
    if identity is ctx.party.identity:
        return ctx
    keys = KeyManager(ctx.chain, ctx.contract, ctx.documents, identity, ctx.address)
    return dataclasses.replace(ctx, keys=keys, party=Party(ctx.party.account, identity))


def keyring_opens(ctx: Context, pid: int, identity: IdentityKey) -> bool:
    digest = ctx.contract.get_patient(pid).keyring
    try:
        Keyring.load(ctx.documents.get(digest), identity)
    except DecryptionFailed:
        return False
    return True


def fresh_epochs(keyring: Keyring, now: int) -> tuple[Keyring, tuple[int, ...], int]:
    """The keyring with every key that can seal a record from the rotation time on replaced.

    Returns (new keyring, categories that got new epochs, rotation time ``t``). ``t`` is ``now``,
    or ``now + 1`` when an epoch already starts at ``now`` (another rotation in this second: its
    key is in the keyring document of the previous identity, and records of this second may be
    sealed to it, so it is kept and the boundary moves one second on). Every category is split at
    ``t``, and every epoch starting after ``t`` that already existed (the future epochs of a grant's
    end) gets a fresh key under a new epoch number: the old identity key saw those keys too.
    """
    cats = keyring.categories
    t = now + 1 if any(keyring.current_epoch(c, now).valid_from == now for c in cats) else now
    created = {(e.category, e.epoch) for e in keyring.rotate(cats, t)}
    entries: list[EpochKey] = []
    for c in cats:
        eps = keyring.epochs(c)
        number = max(e.epoch for e in eps) + 1
        for e in eps:
            if e.valid_from >= t and (c, e.epoch) not in created:
                e = EpochKey(
                    c, number, e.valid_from, e.valid_until, PrivateKey.generate(e.private_key.suite)
                )
                number += 1
            entries.append(e)
    fresh = keyring.with_entries(entries)  # the Umbral seed carries over
    return fresh, tuple(sorted(cats)), t


def rotate_keyring(ctx: Context, pid: int, old: IdentityKey) -> tuple[TxResult, tuple[int, ...]]:
    """Step 1a on ``ctx`` (acting with the NEW identity): fresh keys for every category from now
    on (:func:`fresh_epochs`), the keyring re-sealed to the new identity key and published
    (compare-and-swap)."""
    digest = ctx.contract.get_patient(pid).keyring
    current = Keyring.load(ctx.documents.get(digest), old)
    if current.umbral_seed is None:
        # a keyring of before Umbral seeds: keep the Umbral keys the old identity key derived
        # (the ones the custodian policy names) instead of letting them follow the new key
        current.adopt_umbral_seed(PatientUmbralKeys.legacy_seed(old, _domain(ctx), pid))
    keyring, rotated, _ = fresh_epochs(current, ctx.chain.now())
    with pinned(ctx.store) as pins:
        cid = pins.put(ctx.keys.keyring_document(keyring))
        tx = ctx.contract.set_keyring(digest, cid.digest)
        pins.referenced(cid)
    ctx.keys.keyring_published(cid.digest, keyring)
    return tx, rotated


def adopt_legacy_umbral_seed(ctx: Context, pid: int) -> TxResult | None:
    """Write the identity-derived Umbral seed into a keyring that has none (compare-and-swap
    publish); None when the keyring has a seed already. From then on the patient's Umbral keys
    no longer depend on the identity key."""
    if ctx.keys.keyring(pid).umbral_seed is not None:
        return None
    keyring = ctx.keys.keyring_copy(pid)
    expected = ctx.keys.keyring_digest(pid)
    keyring.adopt_umbral_seed(PatientUmbralKeys.legacy_seed(ctx.party.identity, _domain(ctx), pid))
    with pinned(ctx.store) as pins:
        cid = pins.put(ctx.keys.keyring_document(keyring))
        tx = ctx.contract.set_keyring(expected, cid.digest)
        pins.referenced(cid)
    ctx.keys.keyring_published(cid.digest, keyring)
    return tx


def _domain(ctx: Context) -> Domain:
    return Domain.of(ctx.chain.chain_id, ctx.contract.address)


def refresh_holders(ctx: Context, pid: int) -> tuple[list[TxResult], tuple[str, ...]]:
    """Step 1b: the active grantees and the emergency kit get the keyring's newest epochs.

    Resumable: a grantee is refreshed when its newest key bundle (grant or refresh) is older than
    the newest keyring update; the kit when it is older than that update. So a rerun after a
    crash sends exactly what is missing.
    """
    c = ctx.contract
    planner = ConsentPlanner(ctx.contract, ctx.keys, ctx.directory, ctx.documents)
    keyring = ctx.keys.keyring(pid)
    updates = c.get_events("KeyringUpdated", argument_filters={"patientId": pid})
    if not updates:
        return [], ()
    since = max((e.block_number, e.log_index) for e in updates)
    now = ctx.chain.now()
    requests: list[GrantRequest] = []
    txs: list[TxResult] = []
    with pinned(ctx.store) as pins:
        for grantee, consent in planner._active_grants(pid, now).items():
            filters = {"patientId": pid, "grantee": grantee}
            newest = max(
                (
                    (e.block_number, e.log_index)
                    for e in c.get_events(
                        ("ConsentGranted", "KeyBundleRefreshed"), argument_filters=filters
                    )
                ),
                default=(0, 0),
            )
            if newest > since:
                continue  # already refreshed on this keyring
            # the planner's refresh: skips suspended grantees, seals to the grantee's key
            request = planner._refresh(pid, grantee, keyring, now, pins, consent)
            if request is not None:
                requests.append(request)
        for i in range(0, len(requests), MAX_GRANT_BATCH):
            chunk = sorted(requests[i : i + MAX_GRANT_BATCH], key=lambda g: int(g.grantee, 16))
            txs.append(c.grant_batch(chunk))
            sent = {g.key_bundle for g in chunk}
            pins.referenced(*(cid for cid in pins.cids if cid.digest in sent))
        patient = c.get_patient(pid)
        kits = c.get_events("EmergencyAccessConfigured", argument_filters={"patientId": pid})
        kit_at = max(((e.block_number, e.log_index) for e in kits), default=(0, 0))
        if patient.emergency_kit != ZERO32 and kit_at < since:
            k = planner.kit(keyring, patient, None, pins, allow_classical=True)
            txs.append(
                c.set_emergency_access(
                    k.categories,
                    k.max_duration,
                    k.opt_out,
                    k.emergency_kit,
                    patient.break_glass_cooldown,
                )
            )
            pins.referenced(*(cid for cid in pins.cids if cid.digest == k.emergency_kit))
    return txs, tuple(g.grantee for g in requests)


def publish_encryption_key(ctx: Context, identity: IdentityKey) -> TxResult:
    """Step 2: ``setEncryptionKey`` with the new key (its key document pinned for hybrids)."""
    with pinned(ctx.store) as pins:
        key_doc = ZERO32
        if identity.suite is not Suite.X25519:
            cid = pins.put(identity.key_document())
            key_doc = cid.digest
        tx = ctx.contract.set_encryption_key(identity.x25519_public_bytes(), key_doc)
        pins.referenced(*pins.cids)
    return tx


def check_new_identity(old: IdentityKey, new: IdentityKey) -> None:
    if new.public_key == old.public_key:
        raise InvalidInput("the new identity key is the old one", hint="generate a fresh key")
    if new.suite is not old.suite:
        raise InvalidInput(
            f"the new identity key is {new.suite.label}, the keyring is {old.suite.label}",
            hint="rotate to a key of the same suite",
        )
