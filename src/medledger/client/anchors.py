"""``session.anchors``: batches of off-chain items stored as one record, their Merkle root
anchored in ``AnchorRegistry`` (the Merkle math is :mod:`medledger.anchoring`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from eth_utils.address import to_checksum_address

from medledger.anchoring import Batch, verify_proof
from medledger.chain.types import Anchor
from medledger.client._base import Context, Namespace
from medledger.client._inputs import record_id
from medledger.client.access import AccessNamespace
from medledger.client.records import RecordsNamespace
from medledger.client.types import BATCH_FORMAT, AnchoredBatch, InclusionProof, stream_id_of
from medledger.codes import Category, Purpose
from medledger.errors import IntegrityError, InvalidInput
from medledger.storage import CID


class AnchorsNamespace(Namespace):
    """Builds on the session's records (a batch is stored as one) and access (reads are logged)."""

    def __init__(self, ctx: Context, records: RecordsNamespace, access: AccessNamespace) -> None:
        super().__init__(ctx)
        self._records = records
        self._access = access

    def anchor_batch(
        self,
        patient_id: int,
        stream: str | bytes,
        items: Sequence[bytes],
        category: str | int | Category = Category.VITALS,
    ) -> AnchoredBatch:
        """Store a batch of items (e.g. a day of vitals readings) encrypted as one record and
        anchor the Merkle root of their digests on-chain: one transaction for the record, one for
        the root, whatever the batch size. Items can later be proven with :meth:`prove_item`.
        """
        if not items:
            raise InvalidInput("a batch needs at least one item")
        sid = stream_id_of(stream)
        batch = Batch.from_items(sid, list(items))
        payload = json.dumps(
            {
                "format": BATCH_FORMAT,
                "manifest": batch.manifest(),
                "items": [base64.b64encode(i).decode() for i in items],
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        record = self._records.add(patient_id, payload, category)
        tx = self._anchor_registry.anchor(sid, batch.root, len(batch))
        return AnchoredBatch(batch, record, tx)

    def read_batch(
        self, record: bytes | str | CID, purpose: str | int | Purpose
    ) -> tuple[Batch, list[bytes]]:
        """Read (logged, like any record) a stored batch: its tree and items, checked against
        the root."""
        rid = record_id(record)
        not_batch = f"record 0x{rid.hex()} is not an anchored batch"
        try:
            doc = json.loads(self._access.read(rid, purpose))
            if not isinstance(doc, dict) or doc.get("format") != BATCH_FORMAT:
                raise InvalidInput(not_batch, hint="batches are stored with anchor_batch()")
            items = [base64.b64decode(i, validate=True) for i in doc["items"]]
            batch = Batch.from_manifest(doc["manifest"])
        except InvalidInput:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"{not_batch}: {exc}") from None
        if Batch.from_items(batch.stream_id, items).root != batch.root:
            raise IntegrityError(f"the items of batch 0x{rid.hex()} do not match its Merkle root")
        return batch, items

    def open_batch(self, record: bytes | str | CID, purpose: str | int | Purpose) -> list[bytes]:
        """The items of a stored batch (a logged read), checked against the root."""
        return self.read_batch(record, purpose)[1]

    @staticmethod
    def prove_item(batch: Batch, item: bytes, submitter: str | None = None) -> InclusionProof:
        """The inclusion proof of ``item`` (raw bytes) in ``batch``, optionally naming who
        anchored it."""
        return InclusionProof.of(batch, item, submitter)

    def verify_item(
        self, proof: InclusionProof, *, submitter: str | None = None, onchain: bool = True
    ) -> bool:
        """Check a proof in Python and (by default) with the contract's ``verifyItem``: true only
        if the proof leads from the item to the root and the root is anchored in the stream by
        the expected submitter (``submitter``, else the proof's). With neither, the submitter
        is taken from the ``BatchAnchored`` events: exactly one account must have anchored that
        root in that stream (several: ``InvalidInput``, name the one you trust)."""
        local = verify_proof(proof.root, proof.item_digest, list(proof.proof))
        if not onchain or not local:
            return local
        who = submitter or proof.submitter
        if who is None:
            found = self.submitters(proof.stream_id, proof.root)
            if not found:
                return False
            if len(found) > 1:
                raise InvalidInput(
                    f"{len(found)} accounts anchored this root in this stream",
                    hint="pass submitter= (the anchoring party you trust)",
                )
            who = found[0]
        # the chain also rejects a valid tree whose root this submitter never anchored here
        return self._anchor_registry.verify_item(
            who, proof.stream_id, proof.root, proof.item_digest, list(proof.proof)
        )

    def submitters(self, stream: str | bytes, root: bytes) -> list[str]:
        """The accounts that anchored ``root`` in their stream ``stream`` (from events)."""
        events = self._anchor_registry.get_events(
            "BatchAnchored", argument_filters={"streamId": stream_id_of(stream), "root": root}
        )
        return sorted({to_checksum_address(e.args["submitter"]) for e in events})

    def get_anchor(self, stream: str | bytes, root: bytes, submitter: str | None = None) -> Anchor:
        """The anchor of ``root`` in ``submitter``'s stream ``stream`` (default: this party's;
        count 0 if never anchored)."""
        who = self._address if submitter is None else submitter
        return self._anchor_registry.get_anchor(who, stream_id_of(stream), root)


def prove_item(batch: Batch, item: bytes, submitter: str | None = None) -> InclusionProof:
    """The inclusion proof of ``item`` (raw bytes) in ``batch`` (no chain needed)."""
    return InclusionProof.of(batch, item, submitter)
