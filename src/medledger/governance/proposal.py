"""Safe transaction proposals as JSON files: written by ``propose``, signed offline by each
owner, submitted by anyone once the threshold is reached.

File (``medledger-safe-proposal/1``)::

    {"format", "chainId", "safe", "action", "summary", "tx": {SafeTx fields},
     "safeTxHash": "0x..", "timelock": {TimelockCall} | null, "signatures": {"0xOwner": "0x.."}}

Everything but ``signatures`` is re-derived on load: the hash from the tx, the tx data from the
timelock call, the summary from the calldata; a file edited after signing is refused
(:class:`ProposalTampered`) before any signature is looked at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address

from medledger.errors import (
    IntegrityError,
    InvalidInput,
    MedledgerError,
    NotAuthorized,
    SignatureError,
)
from medledger.fsutil import atomic_write
from medledger.governance.safe import SafeTx, pack_signatures, recover, safe_tx_hash, sign_hash

PROPOSAL_FORMAT = "medledger-safe-proposal/1"


class ProposalTampered(IntegrityError):
    """The proposal file no longer matches the transaction its signatures cover."""


class ThresholdNotReached(SignatureError):
    """Fewer valid owner signatures than the Safe's threshold."""


class ProposalAlreadyExecuted(InvalidInput):
    """The Safe nonce of the proposal was used: it ran already (or another tx took the nonce)."""


class OperationNotReady(MedledgerError):
    """The timelock delay of the operation has not passed (or it was never scheduled)."""


@dataclass(frozen=True)
class Proposal:
    """One Safe transaction with the owner signatures collected so far."""

    chain_id: int
    safe: str
    action: str
    summary: str
    tx: SafeTx
    timelock: dict[str, Any] | None = None
    signatures: dict[str, bytes] = field(default_factory=dict)

    @property
    def safe_tx_hash(self) -> bytes:
        return safe_tx_hash(self.chain_id, self.safe, self.tx)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": PROPOSAL_FORMAT,
            "chainId": self.chain_id,
            "safe": self.safe,
            "action": self.action,
            "summary": self.summary,
            "tx": self.tx.to_json(),
            "safeTxHash": "0x" + self.safe_tx_hash.hex(),
            "timelock": self.timelock,
            "signatures": {o: "0x" + s.hex() for o, s in sorted(self.signatures.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Proposal:
        """Parse; ProposalTampered if the recorded hash differs from the transaction's."""
        try:
            if data["format"] != PROPOSAL_FORMAT:
                raise InvalidInput(f"not a {PROPOSAL_FORMAT} file: {data['format']!r}")
            sigs: dict[str, bytes] = {}
            for owner, sig in dict(data.get("signatures") or {}).items():
                if not is_address(owner):
                    raise InvalidInput(f"signature key {owner!r} is not an address")
                sigs[to_checksum_address(owner)] = bytes.fromhex(str(sig).removeprefix("0x"))
            p = cls(
                chain_id=int(data["chainId"]),
                safe=to_checksum_address(data["safe"]),
                action=str(data["action"]),
                summary=str(data["summary"]),
                tx=SafeTx.from_json(data["tx"]),
                timelock=dict(data["timelock"]) if data.get("timelock") else None,
                signatures=sigs,
            )
            recorded = str(data["safeTxHash"]).lower()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, InvalidInput):
                raise
            raise InvalidInput(f"malformed proposal: {exc!r}") from exc
        if recorded != "0x" + p.safe_tx_hash.hex():
            raise ProposalTampered(
                "the proposal's transaction was edited: its Safe tx hash is no longer "
                f"{recorded[:18]}...",
                hint="discard the file and propose again",
            )
        return p

    @classmethod
    def load(cls, path: str | Path) -> Proposal:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise InvalidInput(f"no proposal file at {path}") from exc
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read proposal {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInput(f"{path} is not a JSON object")
        return cls.from_json(data)

    def save(self, path: str | Path) -> None:
        atomic_write(path, json.dumps(self.to_json(), indent=2) + "\n", mode=0o600)

    # --- signatures --------------------------------------------------------------------------

    def sign(self, owner: LocalAccount, owners: list[str] | None) -> Proposal:
        """This proposal with ``owner``'s signature added. ``owners`` are the Safe's current
        owners, read by the caller when it can reach the chain; ``None`` signs with no chain at
        all (air-gapped: the hash is still re-derived from the file; ownership is checked at
        execution)."""
        if owners is not None and owner.address not in owners:
            raise NotAuthorized(
                f"{owner.address} is not an owner of the Safe {self.safe}",
                hint=f"owners: {', '.join(owners)}",
            )
        sigs = dict(self.signatures)
        sigs[owner.address] = sign_hash(owner, self.safe_tx_hash)
        return replace(self, signatures=sigs)

    def verified_signatures(self, owners: list[str]) -> dict[str, bytes]:
        """The signatures, each checked: made by the owner it is filed under, over this
        transaction's hash, and that owner is an owner of the Safe."""
        digest = self.safe_tx_hash
        for claimed, sig in self.signatures.items():
            signer = recover(digest, sig)
            if signer != claimed:
                raise SignatureError(
                    f"the signature filed under {claimed} is not {claimed}'s over this "
                    f"transaction (it recovers to {signer}: another transaction or signer)",
                    hint="remove it and have the owner sign this file",
                )
            if claimed not in owners:
                raise NotAuthorized(f"{claimed} signed but is not an owner of the Safe {self.safe}")
        return dict(self.signatures)

    def packed_signatures(self, owners: list[str], threshold: int) -> bytes:
        """The signatures as the Safe takes them; ThresholdNotReached if too few."""
        sigs = self.verified_signatures(owners)
        if len(sigs) < threshold:
            raise ThresholdNotReached(
                f"{len(sigs)} of the {threshold} owner signatures needed",
                hint="collect more: medledger consortium sign FILE --as OWNER",
            )
        return pack_signatures(sigs)
