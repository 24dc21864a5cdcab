"""The flat Session methods of 0.1 still work for one release, and warn."""

from __future__ import annotations

import pytest

from helpers.client import World
from medledger import Session
from medledger.anchoring import Batch
from medledger.client._deprecated import MOVED


def test_every_flat_name_delegates_to_a_namespace_method(world: World) -> None:
    for flat, (namespace, attr) in MOVED.items():
        assert callable(getattr(getattr(world.patient, namespace), attr)), flat
        assert callable(getattr(Session, flat)), flat


def test_flat_calls_warn_and_work(world: World) -> None:
    newcomer = world.session(9)
    with pytest.deprecated_call(match=r"session\.identity\.register"):
        pid = newcomer.register_patient().patient_id  # type: ignore[attr-defined]
    with pytest.deprecated_call(match=r"session\.records\.add"):
        rec = world.clinic.add_record(world.pid, b"flat", "labs")  # type: ignore[attr-defined]
    with pytest.deprecated_call(match=r"session\.consent\.sign_grant"):
        signed = newcomer.sign_grant(world.clinic.address, ["labs"], duration=60)  # type: ignore[attr-defined]
    with pytest.deprecated_call(match=r"session\.relay\.submit"):
        world.er.relay(signed)
    assert newcomer.contract.get_consent(pid, world.clinic.address).exists
    with pytest.deprecated_call(match=r"session\.access\.read"):
        assert world.clinic.read(rec.record_id, "treatment") == b"flat"  # type: ignore[attr-defined]
    with pytest.deprecated_call(match=r"session\.access\.last_gas"):
        assert world.clinic.last_access_gas == world.clinic.access.last_gas
    with pytest.deprecated_call(match=r"session\.audit\.trail"):
        assert world.patient.audit_trail().verified  # type: ignore[attr-defined]
    batch = Batch.from_items(b"\x07" * 32, [b"a", b"b"])
    with pytest.deprecated_call(match=r"session\.anchors\.prove_item"):
        assert Session.prove_item(batch, b"b").index == 1
