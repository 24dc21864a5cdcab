"""Rebuild Probe.json from Probe.sol with the project's offline solc (tools/solc/solc.js)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def main() -> None:
    oz = ROOT / "node_modules" / "@openzeppelin" / "contracts"
    source = (HERE / "Probe.sol").read_text()
    request = {
        "language": "Solidity",
        "sources": {"Probe.sol": {"content": source}},
        "settings": {
            "evmVersion": "cancun",
            "optimizer": {"enabled": True, "runs": 200},
            "remappings": [f"@openzeppelin/contracts={oz}"],
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }
    out = subprocess.run(
        ["node", str(ROOT / "tools/solc/solc.js"), "--standard-json", "--allow-paths", str(oz)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE,
    )
    result = json.loads(out.stdout)
    errors = [e for e in result.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise SystemExit("\n".join(e["formattedMessage"] for e in errors))
    c = result["contracts"]["Probe.sol"]["Probe"]
    artifact = {
        "contractName": "Probe",
        "abi": c["abi"],
        "bytecode": "0x" + c["evm"]["bytecode"]["object"],
        "deployedBytecode": "0x" + c["evm"]["deployedBytecode"]["object"],
    }
    (HERE / "Probe.json").write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
