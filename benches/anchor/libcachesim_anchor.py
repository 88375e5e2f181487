#!/usr/bin/env python3
"""The anchor: libCacheSim (PyPI package `libcachesim`, its C core) on the same trace and sizes.

Prints the same CSV columns as `cdnlab simulate`, so the two can be compared row by row:
miss counts for agreement, requests_per_second for speed. Run it and cdnlab one after the
other on an idle machine, single-threaded, e.g.

    python3 -m venv /tmp/lcs && /tmp/lcs/bin/pip install libcachesim==0.3.5
    /tmp/lcs/bin/python benches/anchor/libcachesim_anchor.py TRACE.oracleGeneral.bin 0.001,0.01,0.1 > anchor.csv
    cdnlab simulate --trace TRACE.oracleGeneral.bin --policies all --sizes 0.1%,1%,10% --threads 1 > ours.csv
"""
import sys
import time

import libcachesim as lcs

# cdnlab name -> (libCacheSim class, constructor keyword arguments)
POLICIES = {
    "fifo": (lcs.FIFO, {}),
    "lru": (lcs.LRU, {}),
    "clock": (lcs.Clock, {}),
    "lfu": (lcs.LFU, {}),
    "arc": (lcs.ARC, {}),
    "twoq": (lcs.TwoQ, {}),
    "s3fifo": (lcs.S3FIFO, {}),
    "sieve": (lcs.Sieve, {}),
    "wtinylfu": (lcs.WTinyLFU, {}),
    "gdsf": (lcs.GDSF, {}),
    "belady": (lcs.Belady, {}),
}


def working_set(path):
    import struct

    seen, wss, n, total = set(), 0, 0, 0
    with open(path, "rb") as f:
        data = f.read()
    for _t, oid, size, _nxt in struct.iter_unpack("<IQIq", data):
        n += 1
        total += size
        if oid not in seen:
            seen.add(oid)
            wss += size
    return wss, n, total


def main():
    path, fractions = sys.argv[1], [float(x) for x in sys.argv[2].split(",")]
    names = sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else list(POLICIES)
    # The hash table's initial size: libCacheSim's own tests use 2^20; its default 2^24 costs
    # a 128 MiB allocation per cache, which would dominate a small trace and flatter cdnlab.
    hashpower = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    wss, n, total = working_set(path)
    print("policy,capacity,requests,misses,requested_bytes,missed_bytes,miss_ratio,byte_miss_ratio,seconds,requests_per_second")
    for name in names:
        cls, kw = POLICIES[name]
        for frac in fractions:
            cap = int(wss * frac)
            reader = lcs.TraceReader(path, lcs.TraceType.ORACLE_GENERAL_TRACE)
            cache = cls(cap, hashpower=hashpower, **kw)
            start = time.perf_counter()
            mr, bmr = cache.process_trace(reader)
            secs = time.perf_counter() - start
            print(f"{name},{cap},{n},{round(mr * n)},{total},{round(bmr * total)},{mr:.6f},{bmr:.6f},{secs:.3f},{n / secs:.0f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
