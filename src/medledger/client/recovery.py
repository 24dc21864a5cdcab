"""``session.recovery``: guardians, guardian key shares, recovery of a patient who lost every key,
and identity rotation.

The whole flow (docs/sdk.md "Recovery", docs/crypto.md "Guardian key shares"):

1. patient: :meth:`RecoveryNamespace.setup` splits a recovery secret among the guardians
   (SLIP-39, M of N), seals each share to its guardian (or returns it as a paper mnemonic), stores
   the shares document and records its digest on-chain with the guardian set;
2. new device (fresh account and identity key): :meth:`~RecoveryNamespace.request` publishes a
   signed recovery request (its address and public key) and prints its id;
3. each guardian: :meth:`~RecoveryNamespace.approve_request` (on-chain approval of the candidate)
   and :meth:`~RecoveryNamespace.reshare` (its share re-sealed to the candidate's key, the digest
   relayed by ``postRecoveryShare``); a paper guardian approves and types its words in on the new
   device instead;
4. new device: :meth:`~RecoveryNamespace.complete` checks M shares, rebuilds the old identity key,
   accepts the controller change once the delay has passed, then rotates the identity
   (:mod:`medledger.client.rotation_flow`). Every step is detected as done from the chain,
   so a rerun continues where an interrupted run stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address

from medledger.chain.types import ZERO32, TxResult
from medledger.client._base import Namespace
from medledger.client._inputs import seconds
from medledger.client.documents import pinned
from medledger.client.guardian_shares import SetupInfo, check_guardian_set, setup_shares
from medledger.client.identity_rotation import RotationInfo, check_new_identity, keyring_opens
from medledger.client.rotation_flow import rotate_identity
from medledger.crypto import IdentityKey, PublicKey
from medledger.crypto.shares import (
    NotEnoughShares,
    ShareError,
    ShareSet,
    open_reshare,
    reseal_share,
)
from medledger.errors import InvalidInput, MedledgerError, NotAuthorized, SignatureError

_REQUEST_HEAD = "medledger recovery request v1"


class RecoveryNotReady(MedledgerError):
    """The recovery cannot go on yet (approvals missing, delay running); nothing was changed."""


@dataclass(frozen=True)
class RecoveryRequest:
    """A new device's signed request: "make ``candidate`` (with this public key) the controller
    of ``patient_id``". Its id is the digest of the stored request document."""

    patient_id: int
    candidate: str
    public_key: PublicKey
    request_id: str

    @property
    def digest(self) -> bytes:
        return bytes.fromhex(self.request_id[2:])


@dataclass(frozen=True)
class RecoveryStatus:
    patient_id: int
    guardians: tuple[str, ...]
    threshold: int
    delay: int
    shares_digest: bytes
    paper_guardians: tuple[str, ...]
    round: int
    candidate: str
    executable_at: int
    expires_at: int
    #: guardians that posted a share in the current round
    shared: tuple[str, ...]


@dataclass(frozen=True)
class CompleteInfo:
    patient_id: int
    accept_tx: TxResult | None
    rotation: RotationInfo
    #: guardians whose posted share was rejected (named; the others sufficed)
    rejected: dict[str, str]

    @property
    def gas_used(self) -> int:
        return (self.accept_tx.gas_used if self.accept_tx else 0) + self.rotation.gas_used


class RecoveryNamespace(Namespace):
    # --- guardian set ----------------------------------------------------------------------------

    def set_guardians(
        self, guardians: Sequence[str], threshold: int, delay: timedelta | int
    ) -> TxResult:
        """Guardians without key shares (they can move the controller, not restore the keys:
        prefer :meth:`setup`)."""
        addrs = check_guardian_set(guardians, threshold, delay)
        self._patient_id()
        return self._contract.set_guardians(addrs, threshold, seconds(delay))

    def setup(
        self,
        guardians: Sequence[str],
        threshold: int,
        delay: timedelta | int = 7 * 86_400,
        *,
        paper: Iterable[str] = (),
        keys: Mapping[str, PublicKey] | None = None,
    ) -> SetupInfo:
        """Set guardians with fresh M-of-N key shares of a new recovery secret.

        Each share is sealed to its guardian's public key: ``keys[guardian]``, else the key the
        guardian registered on-chain (as a provider or a patient). Guardians in ``paper`` get a
        printed mnemonic instead (returned once in :attr:`SetupInfo.paper_shares`). A new setup
        (guardian added or removed, new threshold) replaces every share: old shares no longer
        combine with the new ones.
        """
        pid = self._patient_id()
        identity = self._party.identity
        return setup_shares(self._ctx, pid, identity, guardians, threshold, delay, paper, keys)

    def shares(self, patient_id: int | None = None) -> ShareSet:
        """The patient's current guardian shares document (``InvalidInput`` if none)."""
        pid = self._patient_id() if patient_id is None else patient_id
        digest = self._contract.get_guardians(pid).shares
        if digest == ZERO32:
            raise InvalidInput(
                f"patient {pid} has no guardian key shares",
                hint="the patient runs `medledger recovery setup --guardians ... --threshold M`",
            )
        return ShareSet.from_document(self._documents.get(digest))

    def status(self, patient_id: int | None = None) -> RecoveryStatus:
        pid = self._patient_id() if patient_id is None else patient_id
        self._require_patient(pid)
        g = self._contract.get_guardians(pid)
        paper: tuple[str, ...] = ()
        if g.shares != ZERO32:
            paper = tuple(e.guardian for e in self.shares(pid).entries if e.paper)
        r = self._contract.get_recovery(pid)
        posted = self._posted(pid, r.round) if r.started_at else {}
        return RecoveryStatus(
            pid,
            g.guardians,
            g.threshold,
            g.delay,
            g.shares,
            paper,
            r.round,
            r.candidate,
            r.executable_at,
            r.expires_at,
            tuple(sorted(posted)),
        )

    # --- new device ------------------------------------------------------------------------------

    def request(self, patient_id: int) -> RecoveryRequest:
        """Publish this party's signed request to become ``patient_id``'s controller (its
        address and identity public key); guardians approve and reshare to it by its id."""
        self._require_patient(patient_id)
        if self._contract.patient_of(self._address) != 0:
            raise InvalidInput(f"{self._address} already controls a patient; use a fresh account")
        text = self._request_text(patient_id, self._address, self._party.identity.public_key)
        sig = self._party.account.sign_message(encode_defunct(text=text)).signature
        doc = (text + "\nsignature 0x" + bytes(sig).hex()).encode()
        cid = self._documents.put(doc)
        return RecoveryRequest(
            patient_id, self._address, self._party.identity.public_key, "0x" + cid.digest.hex()
        )

    def _request_text(self, pid: int, candidate: str, key: PublicKey) -> str:
        return "\n".join(
            [
                _REQUEST_HEAD,
                f"chain {self._chain.chain_id}",
                f"contract {self._contract.address}",
                f"patient {pid}",
                f"candidate {candidate}",
                f"key 0x{key.encode().hex()}",
            ]
        )

    def load_request(self, request_id: str | bytes) -> RecoveryRequest:
        """A recovery request by id, its signature checked (``SignatureError`` if forged)."""
        digest = _digest(request_id)
        try:
            text = self._documents.get(digest).decode()
            body, sig_line = text.rsplit("\n", 1)
            fields = dict(line.split(" ", 1) for line in body.split("\n")[1:])
            pid, candidate = int(fields["patient"]), to_checksum_address(fields["candidate"])
            key = PublicKey.decode(bytes.fromhex(fields["key"][2:]))
            signature = bytes.fromhex(sig_line.removeprefix("signature 0x"))
        except (UnicodeDecodeError, ValueError, KeyError):
            raise InvalidInput(f"{request_id!r} is not a recovery request") from None
        if body != self._request_text(pid, candidate, key):
            raise InvalidInput("the recovery request is for another deployment")
        signer = Account.recover_message(encode_defunct(text=body), signature=signature)
        if signer != candidate:
            raise SignatureError("the recovery request is not signed by its candidate")
        return RecoveryRequest(pid, candidate, key, "0x" + digest.hex())

    # --- guardians -------------------------------------------------------------------------------

    def approve(self, patient_id: int, candidate: str) -> TxResult:
        """A guardian's approval of ``candidate`` (approving another candidate moves it)."""
        self._require_patient(patient_id)
        return self._contract.approve_recovery(patient_id, to_checksum_address(candidate))

    def approve_request(self, request_id: str | bytes) -> TxResult:
        """A guardian approves the candidate of a (signature-checked) recovery request."""
        req = self.load_request(request_id)
        return self.approve(req.patient_id, req.candidate)

    def reshare(self, request_id: str | bytes) -> TxResult:
        """A guardian re-seals its share to the request's candidate key and posts its digest.

        Only to the candidate of the current round that this guardian approved: a share never
        goes to a key the guardian did not vouch for.
        """
        req = self.load_request(request_id)
        pid = req.patient_id
        voted = self._contract.get_events(
            "RecoveryApproved", argument_filters={"patientId": pid, "guardian": self._address}
        )
        r = self._contract.get_recovery(pid)
        mine = [e for e in voted if int(e.args["round"]) == r.round]
        if not mine or to_checksum_address(mine[-1].args["candidate"]) != req.candidate:
            raise NotAuthorized(
                f"{self._address} has not approved {req.candidate} in the current round",
                hint="approve the request first (`medledger recovery approve`)",
            )
        share = self.shares(pid).open_share(self._address, self._party.identity)
        doc = reseal_share(
            share,
            patient_id=pid,
            guardian=self._address,
            candidate=req.candidate,
            round_=r.round,
            candidate_key=req.public_key,
        )
        with pinned(self._store) as pins:
            cid = pins.put(doc)
            tx = self._contract.post_recovery_share(pid, cid.digest)
            pins.referenced(cid)
        return tx

    def accept(self, patient_id: int) -> TxResult:
        """The scheduled candidate (this party) takes over ``patient_id`` once the delay has
        passed and before the round expires (controller only; see :meth:`complete`)."""
        self._require_patient(patient_id)
        return self._contract.accept_recovery(patient_id)

    def execute(self, patient_id: int) -> TxResult:
        """v1 name of :meth:`accept` (v2: only the candidate itself can complete a recovery)."""
        return self.accept(patient_id)

    def vote_cancel(self, patient_id: int) -> TxResult:
        """A guardian's vote to cancel the current round (threshold votes cancel it)."""
        self._require_patient(patient_id)
        return self._contract.vote_cancel_recovery(patient_id)

    def cancel(self) -> TxResult:
        self._patient_id()
        return self._contract.cancel_recovery()

    # --- completing a recovery -------------------------------------------------------------------

    def _posted(self, pid: int, round_: int) -> dict[str, bytes]:
        """guardian -> digest of its newest share posted in ``round_``."""
        out: dict[str, bytes] = {}
        for e in self._contract.get_events(
            "RecoveryShareSent", argument_filters={"patientId": pid}
        ):
            if int(e.args["round"]) == round_:
                out[to_checksum_address(e.args["guardian"])] = bytes(e.args["sealedShare"])
        return out

    def collect_shares(
        self, pid: int, round_: int, shares: ShareSet, paper: Iterable[str] = ()
    ) -> tuple[dict[str, str], dict[str, str]]:
        """(guardian -> verified share, guardian -> why its posted share was rejected).

        A typed-in paper share that is malformed or foreign raises :class:`ShareError` at once
        (the person typing can fix it); a bad posted share is set aside and named.
        """
        good: dict[str, str] = {}
        rejected: dict[str, str] = {}
        for words in paper:
            good[shares.verify(words)] = words
        for guardian, digest in self._posted(pid, round_).items():
            if guardian in good:
                continue
            try:
                sender, words = open_reshare(
                    self._documents.get(digest),
                    self._party.identity,
                    patient_id=pid,
                    candidate=self._address,
                    round_=round_,
                )
                if sender != guardian:
                    raise ShareError(f"{guardian} posted {sender}'s share", guardian=guardian)
                shares.verify(words, guardian=guardian)
            except (ShareError, InvalidInput) as exc:
                rejected[guardian] = str(exc)
                continue
            good[guardian] = words
        return good, rejected

    def complete(self, patient_id: int, *, paper_shares: Iterable[str] = ()) -> CompleteInfo:
        """Finish a recovery on the new device (this party: the candidate of a request).

        Before anything changes: M valid shares (posted ones and ``paper_shares``), else
        :class:`NotEnoughShares` naming how many are missing (and :class:`ShareError` naming a
        rejected guardian); the old identity key rebuilt and checked against the chain; the
        round scheduled for this party and its delay passed (else :class:`RecoveryNotReady`).
        Then: ``acceptRecovery``, and the identity rotation to this party's key. Rerun after an
        interruption: every step already on-chain is skipped.
        """
        pid = patient_id
        patient = self._require_patient(pid)
        controller = to_checksum_address(patient.controller) == self._address
        if controller:
            executed = self._contract.get_events(
                "RecoveryExecuted",
                argument_filters={"patientId": pid, "newController": self._address},
            )
            if not executed:
                raise InvalidInput(f"{self._address} controls patient {pid} without a recovery")
            round_ = int(executed[-1].args["round"])
            if keyring_opens(self._ctx, pid, self._party.identity):
                return self._finish(pid, None, None, {})
        else:
            round_ = self._contract.get_recovery(pid).round
        shares = self._shares_for(pid)
        good, rejected = self.collect_shares(pid, round_, shares, paper_shares)
        if len(good) < shares.threshold:
            if rejected:
                g, why = next(iter(rejected.items()))
                raise ShareError(
                    f"{why}; {len(good)} of {shares.threshold} valid shares", guardian=g
                )
            raise NotEnoughShares(len(good), shares.threshold)
        old = shares.recover(good)
        check_new_identity(old, self._party.identity)
        accept_tx = None
        if not controller:
            self._check_ready(pid)
            accept_tx = self._contract.accept_recovery(pid)
        return self._finish(pid, old, accept_tx, rejected)

    def _shares_for(self, pid: int) -> ShareSet:
        shares = self.shares(pid)
        # after acceptance the setGuardians of step 3 may already have replaced the document
        if shares.identity_key == self._party.identity.public_key:
            raise InvalidInput("the guardian shares already escrow this device's key")
        return shares

    def _check_ready(self, pid: int) -> None:
        r = self._contract.get_recovery(pid)
        threshold = self._contract.get_guardians(pid).threshold
        if r.candidate != self._address:
            have = self._contract.recovery_approvals(pid, self._address)
            raise RecoveryNotReady(
                f"{have} of {threshold} guardian approvals for {self._address}",
                hint="guardians approve with `medledger recovery approve --request <id>`",
            )
        now = self._chain.now()
        if now < r.executable_at:
            raise RecoveryNotReady(
                f"the recovery delay runs until {r.executable_at} ({r.executable_at - now} s left)",
                hint="run `medledger recovery complete` again after that time",
            )

    def _finish(
        self,
        pid: int,
        old: IdentityKey | None,
        accept_tx: TxResult | None,
        rejected: dict[str, str],
    ) -> CompleteInfo:
        rotation = rotate_identity(self._ctx, pid, old, self._party.identity, self.custodians)
        return CompleteInfo(pid, accept_tx, rotation, rejected)

    # --- identity rotation -----------------------------------------------------------------------

    def rotate(self, new_identity: IdentityKey) -> RotationInfo:
        """Rotate this patient's identity key to ``new_identity`` (the key is suspected leaked):
        new epochs for every category, the keyring re-sealed to the new key, refreshed bundles
        and kit, ``setEncryptionKey``, fresh guardian shares. Persist ``new_identity`` (keystore)
        BEFORE calling; rerun with the same two keys after an interruption. Afterwards act with
        a session of the new key."""
        pid = self._patient_id()
        old = self._party.identity
        if keyring_opens(self._ctx, pid, old):
            check_new_identity(old, new_identity)
            return rotate_identity(self._ctx, pid, old, new_identity, self.custodians)
        return rotate_identity(self._ctx, pid, None, new_identity, self.custodians)


def _digest(request_id: str | bytes) -> bytes:
    if isinstance(request_id, bytes):
        digest = request_id
    else:
        try:
            digest = bytes.fromhex(request_id.removeprefix("0x"))
        except ValueError:
            raise InvalidInput(f"not a recovery request id: {request_id!r}") from None
    if len(digest) != 32:
        raise InvalidInput("a recovery request id is a 32-byte digest (0x + 64 hex digits)")
    return digest
