"""The custodian's key fragments in memory: a stored kfrag opened (HPKE) and verified (its Umbral
signatures) once, then kept. Opening and verifying is about 1.5 ms, more than the re-encryption
itself; on disk the kfrags stay sealed, and a new delegation or a revocation drops a grantee's
from here too."""

from __future__ import annotations

from typing import Any

import umbral_pre as umbral

from medledger.crypto.keys import PrivateKey
from medledger.custodian import protocol as p
from medledger.custodian.memo import BoundedMemo
from medledger.custodian.store import KfragRow

#: Verified kfrags kept in memory (each ~300 bytes).
CACHE_SIZE = 10_000


class VerifiedKfrags:
    """Stored kfrags, opened with this custodian's key and verified, by delegation (patient,
    grantee, kind, nonce)."""

    def __init__(self, key: PrivateKey, chain_id: int, medledger: str, custodian: str) -> None:
        self._key = key
        self._chain_id = chain_id
        self._medledger = medledger
        self._custodian = custodian
        self._memo: BoundedMemo[tuple[int, str, int, int], Any] = BoundedMemo(CACHE_SIZE)

    def open(self, row: KfragRow) -> Any:
        """Open and verify ``row``'s kfrag (umbral ``VerifiedKeyFrag``); raises on a kfrag that
        does not open or verify."""
        raw = p.open_kfrag(
            self._key,
            row.sealed_kfrag,
            chain_id=self._chain_id,
            medledger=self._medledger,
            custodian=self._custodian,
            patient_id=row.patient_id,
            grantee=row.grantee,
            kind=row.kind,
        )
        return umbral.KeyFrag.from_bytes(raw).verify(
            umbral.PublicKey.from_compressed_bytes(row.verifying_pk),
            umbral.PublicKey.from_compressed_bytes(row.delegating_pk),
            umbral.PublicKey.from_compressed_bytes(row.receiving_pk),
        )

    def get(self, row: KfragRow) -> Any:
        """``open(row)``, kept for the next request."""
        key = (row.patient_id, row.grantee, row.kind, row.nonce)
        kfrag = self._memo.get(key)
        if kfrag is None:
            kfrag = self.open(row)
            self._memo.put(key, kfrag)
        return kfrag

    def forget(self, patient_id: int, grantee: str) -> None:
        """Drop the grantee's kfrags (replaced or revoked)."""
        self._memo.drop(lambda key: key[:2] == (patient_id, grantee))
