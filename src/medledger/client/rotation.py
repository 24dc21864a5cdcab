"""Cut-offs and the key rotations they need, read from the chain.

A *cut* is an event after which a party must not read records written later: a consent revoked
or narrowed (the dropped categories), a grantee or emergency responder suspended, a responder
removed from the emergency kit (or the patient opting out). The party keeps every key it was
given, so a cut holds only once every key epoch that covers a time from now on in the cut
categories is one the party was never given. What each party was given is reconstructed from
the chain: each key bundle (``ConsentGranted``, ``KeyBundleRefreshed``) holds the epochs of its
categories that start before the grant's end in the keyring on-chain at that block; each
emergency kit holds every epoch of the emergency categories in that keyring.

:class:`RotationCheck` finds cuts whose rotation is still pending (a relayer withheld it, a flow
died between transactions, the consortium suspended a responder) and the bundles and kit that
miss epochs (a refresh that did not land). Writers and grants refuse to go on while a rotation
is pending (:class:`~medledger.errors.RotationPending`); ``session.keys.complete_rotation()``
completes it. The check needs only public data (public directories of keyring documents, the
responder lists of kits), so a provider writing a record runs it too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from eth_utils.address import to_checksum_address

from medledger import codes
from medledger.chain.suite import MedLedgerContract
from medledger.chain.types import ZERO32, DecodedEvent
from medledger.client.documents import DocumentStore
from medledger.crypto import PublicDirectory, emergency_kit_responders
from medledger.errors import RotationPending

#: (category, public key bytes): one epoch key as a party could have been given it
KeyId = tuple[int, bytes]


@dataclass(frozen=True)
class Cut:
    """``party`` must not read records of ``categories`` written after block ``block``."""

    party: str
    reason: str
    categories: frozenset[int]
    block: int
    via: str  # "grant" or "kit": which key channel the cut closes


@dataclass
class KeyState:
    """A patient's key distribution as the chain shows it, at the head block."""

    pending: dict[Cut, frozenset[int]] = field(default_factory=dict)
    #: active grantees whose newest bundle misses an epoch of their window
    stale_grantees: tuple[str, ...] = ()
    #: the kit misses an epoch, or holds a responder that is suspended or no longer registered
    stale_kit: bool = False

    @property
    def pending_categories(self) -> frozenset[int]:
        return frozenset().union(*self.pending.values()) if self.pending else frozenset()

    @property
    def clean(self) -> bool:
        return not self.pending and not self.stale_grantees and not self.stale_kit


class RotationCheck:
    """Reads cuts and key distribution of patients (results cached per head block)."""

    def __init__(self, contract: MedLedgerContract, documents: DocumentStore) -> None:
        self._contract = contract
        self._documents = documents
        self._cache: dict[int, tuple[int, KeyState]] = {}
        #: patient -> (last block scanned, its events up to there)
        self._logs: dict[int, tuple[int, list[DecodedEvent]]] = {}

    def state(self, pid: int, now: int) -> KeyState:
        head = self._contract.chain.block_number()
        cached = self._cache.get(pid)
        if cached is not None and cached[0] == head:
            return cached[1]
        st = self._compute(pid, now, head)
        self._cache[pid] = (head, st)
        return st

    def require_complete(self, pid: int, now: int) -> None:
        """Raise :class:`RotationPending` if a cut-off party still holds future keys."""
        st = self.state(pid, now)
        if not st.pending:
            return
        parties = tuple(sorted({c.party for c in st.pending}))
        why = "; ".join(
            f"{c.party} ({c.reason}, {_names(cats)})" for c, cats in sorted(
                st.pending.items(), key=lambda kv: (kv[0].block, kv[0].party)
            )
        )  # fmt: skip
        raise RotationPending(
            f"patient {pid} has a pending key rotation: {why} still hold the keys of records "
            "written from now on; nothing is sealed or granted until the rotation is completed",
            parties=parties,
            hint="the patient runs session.keys.complete_rotation() (CLI: medledger rotate, or "
            "medledger revoke GRANTEE again)",
        )

    # --- internals ---------------------------------------------------------------------------

    def _events(self, pid: int, head: int) -> list[DecodedEvent]:
        """The patient's key-distribution events and every provider suspension, up to ``head``.

        Scanned incrementally: the logs of mined blocks do not change, so a later call only asks
        for the blocks since the last one (an import checks before every batch, and each batch
        adds a block: rescanning the whole history every time grew with the chain). A head
        below the one scanned (a chain reset to a snapshot) rescans from the deployment.
        """
        c = self._contract
        scanned, known = self._logs.get(pid, (-1, []))
        if head == scanned:
            return known
        start = None if head < scanned or scanned < 0 else scanned + 1
        kept = [] if start is None else known
        own = c.get_events(
            ("ConsentGranted", "ConsentRevoked", "KeyBundleRefreshed",
             "EmergencyAccessConfigured", "KeyringUpdated"),
            from_block=start, to_block=head, argument_filters={"patientId": pid},
        )  # fmt: skip
        providers = c.get_events(
            ("ProviderSuspended", "ProviderReinstated"), from_block=start, to_block=head
        )
        events = sorted([*kept, *own, *providers], key=lambda e: (e.block_number, e.log_index))
        self._logs[pid] = (head, events)
        return events

    def _directory(self, digest: bytes) -> PublicDirectory:
        return PublicDirectory.from_document(self._documents.get(digest))

    def _compute(self, pid: int, now: int, head: int) -> KeyState:
        given: dict[str, set[KeyId]] = {}
        cuts: list[Cut] = []
        grants: dict[str, tuple[frozenset[int], int]] = {}  # grantee -> (categories, until)
        last_bundle: dict[str, int] = {}  # grantee -> keyring digest index at its newest bundle
        kit_cats: frozenset[int] = frozenset()
        kit_responders: set[str] = set()
        kit_at = -1
        suspended: set[str] = set()
        keyrings: list[bytes] = []

        def directory() -> PublicDirectory | None:
            return self._directory(keyrings[-1]) if keyrings else None

        def give(party: str, cats: Iterable[int], until: int | None) -> None:
            d = directory()
            if d is None:
                return
            got = given.setdefault(party, set())
            for cat in cats:
                for e in d.epochs(cat):
                    if until is None or e.valid_from < until:
                        got.add((cat, e.public_key.encode()))

        def void(party: str, via: str, cats: frozenset[int]) -> None:
            for i, cut in enumerate(cuts):
                if cut.party == party and cut.via == via:
                    cuts[i] = Cut(party, cut.reason, cut.categories - cats, cut.block, via)

        for e in self._events(pid, head):
            a, b = e.args, e.block_number
            if e.name == "KeyringUpdated":
                keyrings.append(bytes(a["keyring"]))
            elif e.name in ("ConsentGranted", "KeyBundleRefreshed"):
                g = to_checksum_address(a["grantee"])
                if e.name == "ConsentGranted":
                    cats = _cats(int(a["categories"]))
                    old = grants.get(g)
                    if old is not None and old[0] - cats:
                        cuts.append(Cut(g, "consent narrowed", old[0] - cats, b, "grant"))
                    void(g, "grant", cats)
                    grants[g] = (cats, int(a["validUntil"]))
                if g in grants:
                    give(g, grants[g][0], grants[g][1])
                    last_bundle[g] = len(keyrings)
            elif e.name == "ConsentRevoked":
                g = to_checksum_address(a["grantee"])
                old = grants.pop(g, None)
                if old is not None:
                    cuts.append(Cut(g, "consent revoked", old[0], b, "grant"))
            elif e.name == "EmergencyAccessConfigured":
                kit = bytes(a["emergencyKit"])
                new_cats = _cats(int(a["categories"]))
                new: set[str] = set()
                if kit != ZERO32 and not a["optOut"]:
                    new = set(emergency_kit_responders(self._documents.get(kit))[1])
                for r in kit_responders:
                    dropped = kit_cats if r not in new else kit_cats - new_cats
                    if dropped:
                        reason = "opted out" if a["optOut"] else "removed from the emergency kit"
                        cuts.append(Cut(r, reason, dropped, b, "kit"))
                for r in new:
                    if r in suspended:
                        cuts.append(Cut(r, "suspended, yet sealed a kit", new_cats, b, "kit"))
                    else:
                        void(r, "kit", new_cats)
                    give(r, new_cats, None)
                kit_cats, kit_responders, kit_at = new_cats, new, len(keyrings)
            elif e.name == "ProviderSuspended":
                p = to_checksum_address(a["provider"])
                suspended.add(p)
                if p in grants:
                    cuts.append(Cut(p, "provider suspended", grants[p][0], b, "grant"))
                if p in kit_responders:
                    cuts.append(Cut(p, "responder suspended", kit_cats, b, "kit"))
            elif e.name == "ProviderReinstated":
                p = to_checksum_address(a["provider"])
                suspended.discard(p)
                # reinstated: its consent and kit place are legitimate again
                if p in grants:
                    void(p, "grant", grants[p][0])
                if p in kit_responders:
                    void(p, "kit", kit_cats)

        current = directory()
        if current is None:
            return KeyState()
        pending: dict[Cut, frozenset[int]] = {}
        for cut in cuts:
            got = given.get(cut.party, set())
            exposed = frozenset(
                cat
                for cat in cut.categories
                for ep in current.epochs(cat)
                if (ep.valid_until is None or ep.valid_until > now)
                and (cat, ep.public_key.encode()) in got
            )
            if exposed:
                pending[cut] = pending.get(cut, frozenset()) | exposed
        # Stale: an active grantee (or the kit) lacks an epoch the current keyring has.
        newest = len(keyrings)
        stale: list[str] = []
        for grantee, (gcats, until) in sorted(grants.items()):
            if until <= now or grantee in suspended or last_bundle.get(grantee) == newest:
                continue
            have = given.get(grantee, set())
            if any(
                (cat, ep.public_key.encode()) not in have
                for cat in gcats
                for ep in current.epochs(cat)
                if ep.valid_from < until and (ep.valid_until is None or ep.valid_until > now)
            ):
                stale.append(grantee)
        stale_kit = bool(kit_responders) and (
            bool(kit_responders & suspended)
            or (
                kit_at != newest
                and any(
                    (cat, ep.public_key.encode()) not in given.get(r, set())
                    for r in kit_responders
                    for cat in kit_cats
                    for ep in current.epochs(cat)
                )
            )
        )
        return KeyState(pending, tuple(stale), stale_kit)


def _cats(mask: int) -> frozenset[int]:
    return frozenset(c.value for c in codes.unmask_categories(mask))


def _names(cats: Iterable[int]) -> str:
    return ", ".join(codes.Category(c).name.lower() for c in sorted(cats))
