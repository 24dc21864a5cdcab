"""``session.relay``: submit someone's signed consent steps, paying the gas."""

from __future__ import annotations

import warnings

from medledger.chain.types import TxResult
from medledger.client._base import Namespace
from medledger.client.documents import amend_message
from medledger.client.types import SignedConsent
from medledger.errors import MedledgerError


class RelayNamespace(Namespace):
    def submit(self, signed: SignedConsent) -> list[TxResult]:
        """Submit a signed grant or revocation (all its steps, in order), paying the gas.

        A resealed emergency kit (``signed.kit``) is not submitted: only the patient can publish
        it (``session.emergency.apply_kit(signed)``). If a step fails, the error names the steps
        that landed before it; the patient signs the rest again (``sign_grant`` plans on the
        keyring on-chain, so a landed keyring step is not repeated).
        """
        results: list[TxResult] = []
        try:
            return self._submit(signed, results)
        except MedledgerError as exc:
            if results:
                done = ", ".join(
                    f"{st.op} {tx.tx_hash}" for st, tx in zip(signed.steps, results, strict=False)
                )
                amend_message(
                    exc, f"; landed before the failure: {done}; the later steps did not land"
                )
            raise

    def _submit(self, signed: SignedConsent, results: list[TxResult]) -> list[TxResult]:
        c = self._contract
        pid, epoch, dl = signed.patient_id, signed.epoch, signed.deadline
        for st in signed.steps:
            if st.op == "setKeyring":
                assert st.keyring is not None
                assert st.expected is not None
                tx = c.set_keyring_by_sig(pid, st.expected, st.keyring, st.nonce, dl, st.signature)
            elif st.op == "grant":
                assert st.grant is not None
                tx = c.grant_by_sig(pid, st.grant, epoch, st.nonce, dl, st.signature)
            elif st.op == "revokeAndRekey":
                assert st.grantee is not None
                assert st.keyring is not None
                assert st.expected is not None
                tx = c.revoke_and_rekey_by_sig(
                    pid,
                    st.grantee,
                    st.expected,
                    st.keyring,
                    st.bundles,
                    epoch,
                    st.nonce,
                    dl,
                    st.signature,
                )
            else:
                assert st.grantee is not None
                tx = c.revoke_by_sig(pid, st.grantee, epoch, st.nonce, dl, st.signature)
            results.append(tx)
        return results

    def __call__(self, signed: SignedConsent) -> list[TxResult]:
        """Deprecated: ``session.relay(signed)`` is ``session.relay.submit(signed)``."""
        warnings.warn(
            "Session.relay(signed) is deprecated; use session.relay.submit(signed)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.submit(signed)
