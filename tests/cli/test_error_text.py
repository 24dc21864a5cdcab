"""13.15: every contract custom error reads as a sentence with a hint, never a Solidity name."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import medledger
from medledger.chain.error_text import ERROR_TEXT, describe
from medledger.chain.errors import decode_revert, default_registry

ARTIFACTS = Path(medledger.__file__).parent / "artifacts"


def contract_errors() -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for path in sorted(ARTIFACTS.glob("*.json")):
        data = json.loads(path.read_text())
        abi = data.get("abi") or data.get("contractType", {}).get("abi") or []
        for entry in abi:
            if entry.get("type") == "error":
                found[entry["name"]] = entry["inputs"]
    return found


ERRORS = contract_errors()


def test_artifacts_have_errors() -> None:
    assert len(ERRORS) > 50


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_each_contract_error_has_a_sentence(name: str) -> None:
    assert name in ERROR_TEXT, f"{name}: add it to medledger.chain.error_text.ERROR_TEXT"
    args = {i["name"]: 7 for i in ERRORS[name]}
    text = describe(name, args)
    assert text is not None
    sentence, _hint = text
    assert "{" not in sentence, sentence
    assert name not in sentence
    assert not re.search(r"\b[A-Z][a-z]+[A-Z][A-Za-z]+\(", sentence), sentence


def test_a_decoded_revert_speaks_words() -> None:
    """The raw revert of ProviderInvalidName() (what `register provider` printed before)."""
    registry = default_registry()
    from eth_utils import keccak

    data = keccak(text="ProviderInvalidName()")[:4]
    err = decode_revert(data, registry)
    assert err.name == "ProviderInvalidName"  # type: ignore[attr-defined]
    assert "ProviderInvalidName" not in str(err)
    assert str(err) == "the provider name must be 1 to 64 bytes"
    assert err.hint == "use a shorter --name"
