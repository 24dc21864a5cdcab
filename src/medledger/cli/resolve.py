"""Turn what users type into SDK arguments: addresses or key names, patient ids, record ids."""

from __future__ import annotations

import json
import re

from medledger.cli.state import key_path
from medledger.errors import InvalidInput

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_RECORD_ID = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


def address(text: str, *, irreversible: bool = False) -> str:
    """A 0x address, or the address of a local key name (read from the keystore, no password).

    A mixed-case address must carry a valid EIP-55 checksum (a typo in it is caught here, not
    after ETH or a patient's identity went to an address nobody holds). A single-case address
    has no checksum to check: it is accepted, with a warning on stderr when ``irreversible``.
    """
    text = text.strip()
    if _ADDRESS.match(text):
        digits = text[2:]
        checksummed = to_checksum(text)
        if digits.lower() != digits and digits.upper() != digits and text != checksummed:
            raise InvalidInput(
                f"address {text} fails its EIP-55 checksum (a mistyped character?)",
                hint="copy the address again; mixed-case addresses must match their checksum",
            )
        if irreversible and text != checksummed:
            from medledger.cli.output import note

            note(
                f"warning: {text} has no checksum (single case), so a typo cannot be detected; "
                f"its checksummed form is {checksummed}"
            )
        return checksummed
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", text):
        path = key_path(text)
        if path.exists():
            try:
                raw = json.loads(path.read_text())
            except (OSError, ValueError):
                raise InvalidInput(f"keystore {path} is unreadable") from None
            found = _find_address(raw)
            if found:
                return to_checksum(found)
    raise InvalidInput(
        f"{text!r} is neither an address (0x + 40 hex digits) nor a local key name",
        hint="see `medledger keys list`",
    )


def _find_address(raw: object) -> str | None:
    if not isinstance(raw, dict):
        return None
    for key in ("address", "account"):
        value = raw.get(key)
        if isinstance(value, str):
            value = value if value.startswith("0x") else "0x" + value
            if _ADDRESS.match(value):
                return value
        if isinstance(value, dict):
            nested = _find_address(value)
            if nested:
                return nested
    return None


def to_checksum(addr: str) -> str:
    from eth_utils.address import to_checksum_address

    return str(to_checksum_address(addr))


def record_id(text: str) -> bytes:
    """A record id: 32 bytes as 64 hex digits, with or without 0x."""
    text = text.strip()
    if not _RECORD_ID.match(text):
        raise InvalidInput(
            f"invalid record id {text!r}",
            hint="a record id is 0x + 64 hex digits, as shown by `medledger record list`",
        )
    return bytes.fromhex(text[2:] if text.startswith("0x") else text)
