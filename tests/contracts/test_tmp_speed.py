import time
from conftest import *  # noqa

def test_speed(world, patient, doctor, chain):
    world.addRecord(1, b32("r"), 3, RAW, sender=patient)
    grant_now(world, patient, doctor, chain)
    for kw in ({}, {"gas": 300000}, {"gas": 300000, "required_confirmations": 0}):
        t = time.perf_counter()
        for _ in range(20):
            world.recordAccess(1, b32("r"), 0, sender=doctor, **kw)
        print(kw, (time.perf_counter() - t) / 20)
    t = time.perf_counter()
    for _ in range(20):
        world.logHead(1)
    print("call", (time.perf_counter() - t) / 20)
    t = time.perf_counter()
    for _ in range(5):
        s = chain.snapshot(); chain.restore(s)
    print("snap", (time.perf_counter() - t) / 5)
    t = time.perf_counter()
    for _ in range(5):
        chain.pending_timestamp = chain.pending_timestamp + 5
    print("ts", (time.perf_counter() - t) / 5)
