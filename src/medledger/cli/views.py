"""Plain-data views the commands share: transaction facts, audit rows, contract addresses, and
the public half of a stored key. Commands import these from here, never from each other."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from medledger.cli.profiles import check_name
from medledger.cli.state import existing_key_path

if TYPE_CHECKING:
    from medledger.client import Medledger
    from medledger.crypto import Keystore, PublicKey


def tx_facts(result: Any) -> dict[str, Any]:
    """Transaction facts of a TxResult, or of a result object carrying ``tx`` (+ extra_txs)."""
    if result is None:
        return {}
    tx = getattr(result, "tx", result)
    extra = tuple(getattr(result, "extra_txs", ()))
    out: dict[str, Any] = {
        "tx_hash": str(tx.tx_hash),
        "block": int(tx.block_number),
        "gas_used": int(tx.gas_used) + sum(int(t.gas_used) for t in extra),
    }
    if extra:
        out["transactions"] = 1 + len(extra)
    return out


def entry_row(entry: Any) -> dict[str, Any]:
    """One audit entry as plain data (names for codes, so scripts need no code table)."""
    from medledger.codes import Outcome, Purpose

    outcome = Outcome(int(entry.outcome))
    rid = bytes(entry.record_id)
    return {
        "seq": int(entry.seq),
        "time": int(entry.timestamp),
        "accessor": str(entry.accessor),
        "accessor_name": getattr(entry, "accessor_name", None),
        "record_id": None if not any(rid) else "0x" + rid.hex(),
        "purpose": Purpose(int(entry.purpose)).name.lower(),
        "outcome": outcome.name.lower(),
        "allowed": outcome.allowed,
        "tx_hash": str(entry.tx_hash),
    }


def contract_addresses(ml: Medledger) -> dict[str, str]:
    """Contract name -> address, from the deployment manifest."""
    return {name: c.address for name, c in ml.manifest.contracts.items()}


def open_keystore(name: str) -> Keystore:
    from medledger.crypto import Keystore

    return Keystore.from_json(existing_key_path(name))


def public_keys(name_or_file: str) -> tuple[str, PublicKey]:
    """Address and identity public key from a key name or a keystore file (no password).

    Enough to register someone as a provider: the public parts are stored in clear.
    """
    from medledger.crypto import Keystore

    path = Path(name_or_file)
    if path.suffix == ".json" and path.is_file():
        ks = Keystore.from_json(path)
    else:
        ks = open_keystore(check_name("key", name_or_file))
    return ks.address, ks.public_key
