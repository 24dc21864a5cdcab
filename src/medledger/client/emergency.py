"""``session.emergency``: break-glass settings and kit (patient), break-glass (responder)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import timedelta

from eth_utils.address import to_checksum_address

from medledger import codes
from medledger.chain.types import ZERO32, TxResult
from medledger.client._base import Namespace, block_time
from medledger.client._inputs import as_categories, seconds
from medledger.client.consent import ConsentNamespace
from medledger.client.documents import amend_message, pinned
from medledger.client.planner import ConsentPlanner
from medledger.client.types import (
    BreakGlassInfo,
    BreakGlassWindow,
    EmergencySettings,
    SignedConsent,
)
from medledger.codes import Category, unmask_categories
from medledger.crypto.emergency import emergency_kit_responders
from medledger.errors import InvalidInput, MedledgerError
from medledger.storage import CID


class EmergencyNamespace(Namespace):
    def configure(
        self,
        categories: Iterable[str | int | Category] | None = None,
        max_duration: timedelta | int | None = None,
        opt_out: bool = False,
        responders: Sequence[str] = (),
        allow_classical: bool = False,
    ) -> TxResult:
        """Set break-glass: emergency categories (default allergies, medications, conditions),
        the longest emergency access (≤ 24 h), opt-out, and the responder organisations the
        emergency kit (those categories' keys) is sealed to. A post-quantum patient's kit goes
        to responders with classical X25519 keys only with ``allow_classical=True``.

        A responder that leaves the kit (removed, opt-out, a dropped category) keeps the keys it
        had, so the settings are followed by the key rotation that cuts it off
        (:meth:`ConsentNamespace.complete_rotation`: fresh epochs from now on, refreshed
        bundles, the kit resealed). If that second part fails, the writes of this patient are
        refused until it is completed (``RotationPending``).
        """
        pid = self._patient_id()
        patient = self._contract.get_patient(pid)
        cats = codes.mask(
            as_categories(categories)
            if categories is not None
            else codes.DEFAULT_EMERGENCY_CATEGORIES
        )
        max_d = codes.MAX_BREAK_GLASS_SECONDS if max_duration is None else seconds(max_duration)
        if not 0 < max_d <= codes.MAX_BREAK_GLASS_SECONDS:
            raise InvalidInput("break-glass lasts at most 24 hours")
        cooldown = patient.break_glass_cooldown
        for r in responders:  # every check before the first transaction
            provider = self._contract.get_provider(to_checksum_address(r))
            if provider.status != 0 and not provider.is_active:
                raise InvalidInput(f"responder {to_checksum_address(r)} is suspended")
        if opt_out or not responders:
            tx = self._contract.set_emergency_access(cats, max_d, opt_out, ZERO32, cooldown)
        else:
            planner = ConsentPlanner(self._contract, self._keys, self._directory, self._documents)

            def on_chain(cids: Sequence[CID]) -> set[CID]:
                # mined although this side saw an error: the chain references the kit now
                kit = self._contract.get_patient(pid).emergency_kit
                return {c for c in cids if c.digest == kit}

            with pinned(self._store, on_chain=on_chain) as pins:
                kit = planner.kit(
                    self._keys.keyring(pid),
                    patient,
                    list(responders),
                    pins,
                    cats,
                    max_d,
                    opt_out,
                    allow_classical,
                )
                tx = self._contract.set_emergency_access(
                    kit.categories, kit.max_duration, kit.opt_out, kit.emergency_kit, cooldown
                )
                pins.referenced(*pins.cids)
        try:
            ConsentNamespace(self._ctx).complete_rotation()
        except MedledgerError as exc:
            amend_message(
                exc,
                f"; the emergency settings landed ({tx.tx_hash}), the key rotation that cuts off "
                "removed responders did not: run session.consent.complete_rotation()",
            )
            raise
        if self.custodians is not None and responders:  # custodian mode (issue 16)
            self.custodians.after_emergency(pid, [to_checksum_address(r) for r in responders])
        return tx

    def settings(self, patient_id: int | None = None) -> EmergencySettings:
        """The patient's break-glass settings and the responders its emergency kit is sealed
        to (read from the kit's public header; nothing is opened)."""
        pid = self._patient_id() if patient_id is None else patient_id
        p = self._require_patient(pid)
        responders: list[str] = []
        if p.emergency_kit != ZERO32:
            _, responders = emergency_kit_responders(self._documents.get(p.emergency_kit))
        return EmergencySettings(
            tuple(unmask_categories(p.emergency_categories)),
            int(p.break_glass_max_duration),
            bool(p.break_glass_opt_out),
            int(p.break_glass_cooldown),
            tuple(responders),
        )

    def open_windows(self, patient_id: int | None = None) -> list[BreakGlassWindow]:
        """The break-glass windows open now on the patient, soonest end first (each responder's
        latest opening, if the contract still holds it open)."""
        pid = self._patient_id() if patient_id is None else patient_id
        self._require_patient(pid)
        now = self._chain.now()
        latest = {}
        for e in self._contract.get_events("BreakGlassOpened", argument_filters={"patientId": pid}):
            latest[to_checksum_address(e.args["responder"])] = e
        out = []
        for addr, e in latest.items():
            until = self._contract.break_glass_until(pid, addr)
            if until <= now:
                continue
            out.append(
                BreakGlassWindow(
                    addr,
                    self._directory.name(addr),
                    codes.BreakGlassReason(int(e.args["reason"])),
                    block_time(self._chain, e.block_number),
                    int(until),
                    bytes(e.args["justification"]),
                )
            )
        return sorted(out, key=lambda w: (w.expires_at, w.responder))

    def apply_kit(self, signed: SignedConsent) -> TxResult | None:
        """Publish the emergency kit a relayed consent change resealed (the patient's own
        transaction: the contract has no signed variant); ``None`` if it needed none."""
        kit = signed.kit
        if kit is None:
            return None
        pid = self._patient_id()
        cooldown = self._contract.get_patient(pid).break_glass_cooldown
        return self._contract.set_emergency_access(
            kit.categories, kit.max_duration, kit.opt_out, kit.emergency_kit, cooldown
        )

    def close_break_glass(self, patient_id: int, responder: str) -> TxResult:
        """End ``responder``'s open break-glass window on ``patient_id`` now (the patient's
        controller or the responder itself); the responder's cooldown starts."""
        self._require_patient(patient_id)
        addr = to_checksum_address(responder)
        if self._contract.break_glass_until(patient_id, addr) <= self._chain.now():
            raise InvalidInput(f"{addr} has no open break-glass window on patient {patient_id}")
        return self._contract.close_break_glass(patient_id, addr)

    def break_glass(
        self,
        patient_id: int,
        reason: str | int | codes.BreakGlassReason = codes.BreakGlassReason.OTHER,
        duration: timedelta | int | None = None,
        justification: str = "",
    ) -> BreakGlassInfo:
        """Open emergency read access as a registered emergency responder (logged, expires).

        The justification text stays with the responder; only its SHA-256 goes on-chain.
        """
        self._require_patient(patient_id)
        try:
            why = (
                reason
                if isinstance(reason, codes.BreakGlassReason)
                else codes.BreakGlassReason(reason)
                if isinstance(reason, int)
                else codes.BreakGlassReason[reason.strip().upper().replace("-", "_")]
            )
        except (KeyError, ValueError):
            names = ", ".join(r.name.lower() for r in codes.BreakGlassReason)
            raise InvalidInput(f"unknown break-glass reason {reason!r}", hint=names) from None
        secs = 0 if duration is None else seconds(duration)
        if not 0 <= secs <= codes.MAX_BREAK_GLASS_SECONDS:
            raise InvalidInput("break-glass lasts at most 24 hours")
        digest = hashlib.sha256(justification.encode()).digest() if justification else ZERO32
        tx = self._contract.open_break_glass(patient_id, int(why), secs, digest)
        expires = int(tx.events_named("BreakGlassOpened")[0].args["expiresAt"])
        return BreakGlassInfo(patient_id, self._address, why, expires, tx)
