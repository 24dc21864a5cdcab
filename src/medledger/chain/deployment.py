"""Deploying the suite and the deployment manifest that records where it lives.

Manifest JSON (also written by the ape deploy script)::

    {"format": "medledger-deployment/1", "chainId": int, "network": str, "deployBlock": int,
     "artifactsHash": str, "owner": "0x..", "deployedAt": "<ISO-8601 UTC>",
     "contracts": {"MedLedger": {"address", "block", "txHash"}, "AnchorRegistry": {...},
                   "CustodianRegistry": {...}}}

``CustodianRegistry`` (issue 16) is optional when loading: manifests written before it bind
with ``Deployment.custodians`` None.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address

from medledger.chain.artifacts import CUSTODIANS, SUITE, Artifact, artifacts_hash, load_artifact
from medledger.chain.connection import Chain
from medledger.chain.custodians import CustodianRegistryContract
from medledger.chain.suite import AnchorRegistryContract, MedLedgerContract
from medledger.chain.transactions import TxSender
from medledger.errors import DeploymentNotFound, IntegrityError, InvalidInput
from medledger.fsutil import atomic_write

MANIFEST_FORMAT = "medledger-deployment/1"


@dataclass(frozen=True)
class DeployedContract:
    """Where one contract of the suite was deployed."""

    address: str
    block: int
    tx_hash: str

    def to_json(self) -> dict[str, Any]:
        """Manifest JSON shape."""
        return {"address": self.address, "block": self.block, "txHash": self.tx_hash}


@dataclass(frozen=True)
class Manifest:
    """A deployment manifest (see module docstring for the JSON shape)."""

    chain_id: int
    network: str
    deploy_block: int
    artifacts_hash: str
    owner: str
    deployed_at: str
    contracts: dict[str, DeployedContract] = field(default_factory=dict)
    format: str = MANIFEST_FORMAT

    def to_json(self) -> dict[str, Any]:
        """The manifest as a JSON-ready dict (key order as documented)."""
        return {
            "format": self.format,
            "chainId": self.chain_id,
            "network": self.network,
            "deployBlock": self.deploy_block,
            "artifactsHash": self.artifacts_hash,
            "owner": self.owner,
            "deployedAt": self.deployed_at,
            "contracts": {name: c.to_json() for name, c in self.contracts.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """Parse and validate; raises InvalidInput on a malformed manifest."""
        try:
            if data["format"] != MANIFEST_FORMAT:
                raise InvalidInput(
                    f"unsupported manifest format {data['format']!r} (expected {MANIFEST_FORMAT})"
                )
            contracts = {}
            for name, c in data["contracts"].items():
                if not is_address(c["address"]):
                    raise InvalidInput(f"manifest: {name} address {c['address']!r} is invalid")
                contracts[name] = DeployedContract(
                    to_checksum_address(c["address"]), int(c["block"]), str(c["txHash"])
                )
            missing = [n for n in SUITE if n not in contracts]
            if missing:
                raise InvalidInput(f"manifest lacks contract(s) {missing}")
            return cls(
                chain_id=int(data["chainId"]),
                network=str(data["network"]),
                deploy_block=int(data["deployBlock"]),
                artifacts_hash=str(data["artifactsHash"]),
                owner=to_checksum_address(data["owner"]),
                deployed_at=str(data["deployedAt"]),
                contracts=contracts,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, InvalidInput):
                raise
            raise InvalidInput(f"malformed deployment manifest: {exc!r}") from exc

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        """Read a manifest file; DeploymentNotFound if it does not exist."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise DeploymentNotFound(
                f"no deployment manifest at {p}", hint="deploy first (medledger deploy)"
            ) from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"{p} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInput(f"{p} is not a JSON object")
        return cls.from_json(data)

    def save(self, path: str | Path) -> None:
        """Write atomically (temp file + rename): a reader never sees a partial manifest."""
        text = json.dumps(self.to_json(), indent=2) + "\n"
        atomic_write(path, text, mode=0o600, make_parents=True)

    def address_of(self, name: str) -> str:
        """Address of one contract of the suite."""
        try:
            return self.contracts[name].address
        except KeyError as exc:
            raise DeploymentNotFound(f"manifest has no {name}") from exc


@dataclass
class Deployment:
    """A deployed suite on a connected chain."""

    chain: Chain
    manifest: Manifest
    medledger: MedLedgerContract
    anchors: AnchorRegistryContract
    custodians: CustodianRegistryContract | None = None

    def connect_as(self, sender: TxSender) -> Deployment:
        """The same deployment with every contract sending from ``sender``."""
        return Deployment(
            self.chain,
            self.manifest,
            self.medledger.connect_as(sender),
            self.anchors.connect_as(sender),
            self.custodians.connect_as(sender) if self.custodians is not None else None,
        )


def _constructor_args(
    artifact: Artifact, owner: str, deployed: dict[str, DeployedContract]
) -> list[Any]:
    ctor = artifact.abi_entries("constructor")
    inputs = ctor[0].get("inputs", []) if ctor else []
    args: list[Any] = []
    for i in inputs:
        if i["type"] == "address" and i["name"] == "medLedger_":
            args.append(deployed["MedLedger"].address)  # CustodianRegistry(medLedger, owner)
        elif i["type"] == "address":
            args.append(owner)  # MedLedger(consortium): the initial provider-registry owner
        else:
            raise InvalidInput(
                f"{artifact.name} constructor argument {i['name']}: {i['type']} is not supported"
            )
    return args


def deploy_suite(
    chain: Chain,
    deployer: LocalAccount,
    owner: str | None = None,
    *,
    network: str | None = None,
) -> Deployment:
    """Deploy MedLedger, AnchorRegistry, then CustodianRegistry from the shipped artifacts.

    ``owner`` (default: the deployer) becomes the consortium owner of the provider registry.
    The returned contracts send from ``deployer``; :meth:`Deployment.connect_as` rebinds them.
    """
    owner_addr = to_checksum_address(owner or deployer.address)
    sender = TxSender(chain, deployer)
    deployed: dict[str, DeployedContract] = {}
    for name in SUITE + CUSTODIANS:
        artifact = load_artifact(name)
        factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        args = _constructor_args(artifact, owner_addr, deployed)
        result = sender.deploy(factory.constructor(*args))
        assert result.contract_address is not None  # deploy() guarantees it
        deployed[name] = DeployedContract(
            to_checksum_address(result.contract_address), result.block_number, result.tx_hash
        )
    manifest = Manifest(
        chain_id=chain.chain_id,
        network=network or chain.network,
        deploy_block=deployed[SUITE[0]].block,
        artifacts_hash=artifacts_hash(),
        owner=owner_addr,
        deployed_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        contracts=deployed,
    )
    return _bind(chain, manifest, sender)


def _bind(chain: Chain, manifest: Manifest, sender: TxSender | None) -> Deployment:
    ml = manifest.contracts["MedLedger"]
    ar = manifest.contracts["AnchorRegistry"]
    cr = manifest.contracts.get("CustodianRegistry")
    return Deployment(
        chain,
        manifest,
        MedLedgerContract(chain, ml.address, sender=sender, deploy_block=ml.block),
        AnchorRegistryContract(chain, ar.address, sender=sender, deploy_block=ar.block),
        CustodianRegistryContract(chain, cr.address, sender=sender, deploy_block=cr.block)
        if cr is not None
        else None,
    )


def load_deployment(
    chain: Chain,
    manifest: Manifest | str | Path,
    *,
    sender: TxSender | None = None,
    allow_mismatch: bool = False,
) -> Deployment:
    """Bind to a deployed suite after checking the manifest against the chain.

    DeploymentNotFound if the chain id differs or no code is at an address (e.g. a restarted
    dev node). IntegrityError if the manifest's ``artifactsHash`` differs from this SDK's
    artifacts (the deployed ABI may differ from the bindings); with ``allow_mismatch=True`` that
    is a ``UserWarning`` instead.
    """
    m = manifest if isinstance(manifest, Manifest) else Manifest.load(manifest)
    if m.chain_id != chain.chain_id:
        raise DeploymentNotFound(
            f"manifest is for chain {m.chain_id} ({m.network}), connected to {chain.chain_id}",
            hint="connect to the chain the manifest was deployed on, or deploy again",
        )
    for name, c in m.contracts.items():
        if len(chain.w3.eth.get_code(to_checksum_address(c.address))) == 0:
            raise DeploymentNotFound(
                f"no contract code for {name} at {c.address} on chain {chain.chain_id}",
                hint="the node was probably reset: deploy again",
            )
    if m.artifacts_hash != artifacts_hash():
        message = (
            f"deployment was built from other contract artifacts ({m.artifacts_hash[:12]}...) "
            f"than this SDK ships ({artifacts_hash()[:12]}...)"
        )
        if not allow_mismatch:
            raise IntegrityError(
                message, hint="upgrade the SDK or redeploy; allow_mismatch=True to use it anyway"
            )
        warnings.warn(message, UserWarning, stacklevel=2)
    return _bind(chain, m, sender)
