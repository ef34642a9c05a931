#!/usr/bin/env python3
"""A visit's burst against the satfilter listener, as the pipeline makes it.

Usage: burst.py PORT VISIT_JSON SOURCES_JSON [ROUNDS]

Each round holds 40 idle connections (connected, one request answered,
kept alive and silent), then releases 189 DIASource requests at once, one
new connection per detector (a barrier lines up the connects), and expects
every one answered 200 with its own detector id.  Rounds run back to back
(the idle ones are reopened each round, well inside the 10 s idle limit).
Prints "served N of M" and "idle_held K"; exit 0 when all were served.
"""
import http.client
import json
import sys

from detectors import detector_requests

PORT = int(sys.argv[1])
VISIT, SOURCES = sys.argv[2], json.loads(sys.argv[3])
ROUNDS = int(sys.argv[4]) if len(sys.argv) > 4 else 5
IDLE, DETECTORS = 40, 189


def one_round():
    idle = []
    for _ in range(IDLE):
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=20)
        c.request("PUT", "/visit_cache", VISIT)
        r = c.getresponse()
        r.read()
        if r.status == 200:
            idle.append(c)
    codes = detector_requests(PORT, SOURCES, DETECTORS, timeout=30, line_up=True)
    held = len(idle)
    for c in idle:
        c.close()
    return codes, held


served = total = 0
held_min = IDLE
bad = []
for _ in range(ROUNDS):
    codes, held = one_round()
    served += sum(1 for c in codes if c == 200)
    total += DETECTORS
    held_min = min(held_min, held)
    bad += [c for c in codes if c != 200]
print("served", served, "of", total)
print("idle_held", held_min)
if bad:
    print("failures", bad[:5])
sys.exit(0 if served == total and held_min == IDLE else 1)
