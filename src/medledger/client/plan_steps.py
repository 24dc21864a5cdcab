"""The two executions of a consent plan (:class:`~medledger.client.planner.ConsentPlan`), side
by side so that they stay in step: as the patient's own transactions (the direct path,
``session.consent.grant``) and as EIP-712 signed steps a relayer submits (the relayed path,
``session.consent.sign_grant``), in the same order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount

from medledger.chain import eip712
from medledger.chain.suite import MedLedgerContract
from medledger.chain.types import GrantRequest, TxResult
from medledger.client.documents import Pins
from medledger.client.keys import KeyManager
from medledger.client.planner import ConsentPlan
from medledger.client.types import DEFAULT_SIGNATURE_TTL, SignedConsent, SignedStep
from medledger.errors import InvalidInput


def send_plan(
    contract: MedLedgerContract,
    keys: KeyManager,
    plan: ConsentPlan,
    pins: Pins,
    landed: list[str],
) -> tuple[list[TxResult], TxResult | None]:
    """The direct path: send ``plan`` as the patient's own transactions, naming each in
    ``landed`` as it lands. A revocation: one ``revokeAndRekey`` (or a plain ``revoke`` when no
    epoch changes). Grants: the keyring first (from then on writers seal to the new
    epochs), then the grants; last the kit. Returns (other txs, main tx)."""
    c = contract
    extra: list[TxResult] = []
    main: TxResult | None = None
    digest = None if plan.keyring_cid is None else plan.keyring_cid.digest
    if plan.revoked is not None:
        if digest is not None:
            bundles = plan.refreshed_bundles
            main = c.revoke_and_rekey(plan.revoked, plan.expected_keyring, digest, bundles)
            pins.referenced(
                *(cid for cid in pins.cids if cid.digest in {b.key_bundle for b in bundles})
            )
            landed.append(f"revokeAndRekey {main.tx_hash}")
        else:
            main = c.revoke(plan.revoked)
            landed.append(f"revoke {main.tx_hash}")
    elif digest is not None:
        extra.append(c.set_keyring(plan.expected_keyring, digest))
        landed.append(f"keyring update {extra[-1].tx_hash}")
    if plan.keyring is not None and plan.keyring_cid is not None and digest is not None:
        pins.referenced(plan.keyring_cid)
        keys.keyring_published(digest, plan.keyring)
    grants = plan.batch
    if grants:
        if len(grants) == 1 and plan.kind == "grant":
            tx = _send_grant(c.grant, grants[0])
        else:
            tx = c.grant_batch(list(grants))
        pins.referenced(*(cid for cid in pins.cids if cid.digest in {g.key_bundle for g in grants}))
        landed.append(f"{len(grants)} grant(s) {tx.tx_hash}")
        if main is None:
            main = tx
        else:
            extra.append(tx)
    if plan.kit is not None:
        k = plan.kit
        cooldown = c.get_patient(plan.patient_id).break_glass_cooldown
        extra.append(
            c.set_emergency_access(
                k.categories, k.max_duration, k.opt_out, k.emergency_kit, cooldown
            )
        )
        pins.referenced(*(cid for cid in pins.cids if cid.digest == k.emergency_kit))
        landed.append(f"emergency kit {extra[-1].tx_hash}")
    return extra, main


def sign_plan(
    contract: MedLedgerContract, account: LocalAccount, plan: ConsentPlan, deadline: int | None
) -> SignedConsent:
    """The relayed path: ``plan`` as EIP-712 signed steps, in the order :func:`send_plan`
    sends: each with the keyed
    nonce of its sequence (key 0 for the keyring, the grantee for consent) and the
    patient's current signature epoch."""
    dl = deadline if deadline is not None else plan.now + DEFAULT_SIGNATURE_TTL
    if not plan.now < dl <= plan.now + eip712.MAX_DEADLINE_SECONDS:
        raise InvalidInput("a signature deadline must be in the future and within 30 days")
    c = contract
    pid, me = plan.patient_id, account.address
    epoch = c.signature_epoch(pid)
    steps: list[SignedStep] = []

    def sign(primary_type: str, message: dict[str, Any]) -> bytes:
        return eip712.sign_typed(
            account,
            primary_type,
            message,
            chain_id=contract.chain.chain_id,
            verifying_contract=contract.address,
        )

    digest = None if plan.keyring_cid is None else plan.keyring_cid.digest
    expected = plan.expected_keyring
    if plan.revoked is not None:
        nonce = c.nonces(me, eip712.nonce_key(plan.revoked))
        if digest is not None:
            bundles = plan.refreshed_bundles
            msg = eip712.revoke_and_rekey_message(
                pid, plan.revoked, expected, digest, bundles, epoch, nonce, dl
            )
            steps.append(
                SignedStep(
                    "revokeAndRekey",
                    sign("RevokeAndRekey", msg),
                    grantee=plan.revoked,
                    keyring=digest,
                    nonce=nonce,
                    expected=expected,
                    bundles=bundles,
                )
            )
        else:
            msg = eip712.revoke_message(pid, plan.revoked, epoch, nonce, dl)
            steps.append(
                SignedStep("revoke", sign("Revoke", msg), grantee=plan.revoked, nonce=nonce)
            )
    elif digest is not None:
        nonce = c.nonces(me, eip712.KEY_KEYRING)
        msg = eip712.set_keyring_message(pid, expected, digest, epoch, nonce, dl)
        steps.append(
            SignedStep(
                "setKeyring",
                sign("SetKeyring", msg),
                keyring=digest,
                nonce=nonce,
                expected=expected,
            )
        )
    # Grants that come with a keyring update take the nonces that follow the keyring step's,
    # in the same key: no relayer can land them while withholding the new key epoch (an
    # expired grantee would otherwise keep the keys of later records). Grants without a
    # keyring step keep their per-grantee key, so they never block each other.
    follows: int | None = steps[-1].nonce + 1 if steps and plan.revoked is None else None
    for g in plan.grants:
        if follows is not None:
            nonce, follows = follows, follows + 1
        else:
            nonce = c.nonces(me, eip712.nonce_key(g.grantee))
        msg = eip712.grant_message(pid, g, epoch, nonce, dl)
        steps.append(SignedStep("grant", sign("Grant", msg), grant=g, nonce=nonce))
    grantee = plan.revoked if plan.revoked is not None else plan.requests[0].grantee
    return SignedConsent(plan.kind, pid, grantee, dl, tuple(steps), epoch, plan.kit)


def _send_grant(send: Callable[..., TxResult], g: GrantRequest) -> TxResult:
    return send(
        g.grantee, g.categories, g.actions, g.purposes, g.valid_from, g.valid_until, g.key_bundle
    )
