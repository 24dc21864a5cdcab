"""JSON-RPC round trips per SDK operation on Anvil, counted at a recording proxy.

    python benchmarks/rpc_round_trips.py [--json]

Lists, in order, the JSON-RPC requests the client sends (a batch request is one round trip) for
one plain transaction (``consent.grant``), one ``records.add``, one direct logged read
(``access.read``) and one read through 2 of 3 custodians (``custodians.read``; the custodian
processes' own requests are counted at a second proxy). Each operation runs once to warm up
(first-call probes such as the fee-market check) and the second run is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))

from helpers.custodian_procs import CustodianProc, start_custodians  # noqa: E402
from helpers.rpc_proxy import rpc_proxy  # noqa: E402
from medledger import Medledger, Party  # noqa: E402
from medledger.chain.transactions import TxSender  # noqa: E402
from medledger.nodes import start_anvil  # noqa: E402

CUSTODIAN_ARGS = ("--finality", "1", "--max-age", "300", "--max-lag", "0", "--rate", "1000",
                  "--burst", "2000")  # fmt: skip


def measure() -> dict[str, Any]:
    out: dict[str, Any] = {}
    workdir = Path(tempfile.mkdtemp(prefix="medledger-rpc-counts-"))
    procs: list[CustodianProc] = []
    with (
        start_anvil() as node,
        rpc_proxy(node.url) as (url, rec),
        rpc_proxy(node.url) as (
            curl,
            crec,
        ),
    ):
        ml = Medledger.open(rpc=url, store=str(workdir / "store"), deploy=True)
        try:
            consortium = ml.session(ml.dev_party(0))

            def party() -> Any:
                p = Party.generate()
                ml.chain.fund(p.address, 10**20)
                return ml.session(p)

            clinic, other = party(), party()
            consortium.providers.register(clinic.party, name="Clinic")
            consortium.providers.register(other.party, name="Other")
            patient = party()
            pid = patient.identity.register().patient_id
            args = (["labs"], ["treatment"], ["read", "write"])
            patient.consent.grant(clinic.address, *args, duration=86_400)
            with rec.recording() as calls:
                patient.consent.grant(other.address, *args, duration=86_400)
            out["consent.grant"] = calls
            rid0 = clinic.records.add(pid, os.urandom(1024), "labs").record_id
            with rec.recording() as calls:
                rid = clinic.records.add(pid, os.urandom(1024), "labs").record_id
            out["records.add"] = calls
            clinic.access.read(rid0, "treatment", patient_id=pid)
            with rec.recording() as calls:
                clinic.access.read(rid, "treatment", patient_id=pid)
            out["access.read"] = calls

            medledger = ml.contracts.medledger.address
            procs = [
                CustodianProc(workdir / f"c{i}", curl, medledger, *CUSTODIAN_ARGS) for i in range(3)
            ]
            start_custodians(procs)
            registry = ml.contracts.custodians
            assert registry is not None
            for i, c in enumerate(procs):
                consortium.consortium.register_custodian(c.keys.address, f"c{i}", c.url)
                ml.fund(c.keys.address, 10**18)
                registry.connect_as(TxSender(ml.chain, c.keys.account)).set_custodian_key(
                    c.keys.encryption_key
                )
            cpatient = party()
            cpid = cpatient.identity.register().patient_id
            cpatient.consent.grant(clinic.address, *args, duration=86_400)
            cpatient.custodians.configure([c.keys.address for c in procs], 2, ["labs"])
            cpatient.custodians.delegate(clinic.address)
            crids = [clinic.records.add(cpid, os.urandom(1024), "labs").record_id for _ in "ab"]
            clinic.custodians.read(crids[0], "treatment", patient_id=cpid)
            time.sleep(0.5)  # let the warm-up's slower custodian finish its requests
            with rec.recording() as calls, crec.recording() as ccalls:
                clinic.custodians.read(crids[1], "treatment", patient_id=cpid)
                time.sleep(0.5)  # the third custodian answers after the client has k
            out["custodians.read"] = calls
            out["custodians.read (custodian processes, all 3)"] = ccalls
        finally:
            for c in procs:
                c.stop()
            ml.close()
            shutil.rmtree(workdir, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    r = measure()
    if args.json:
        print(json.dumps(r, indent=2))
        return
    for op, calls in r.items():
        counts = ", ".join(f"{m} x{n}" for m, n in Counter(calls).items())
        print(
            f"{op}: {len(calls)} round trips\n  sequence: {' -> '.join(calls)}\n  counts: {counts}"
        )


if __name__ == "__main__":
    main()
