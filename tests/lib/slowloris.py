#!/usr/bin/env python3
"""Slowloris against the satfilter HTTP listener, bounded in time.

Usage: slowloris.py PORT VISIT_JSON SOURCES_JSON

Opens 64 connections that send a request's headers a byte every 2 s (never
idle long enough for an idle timeout), then, with them all open, sends 189
concurrent PUT /diasource_allow_list requests (one per detector) and
expects every one to be answered 200.  Then waits for the slow connections
and expects each to be closed by the server within 20 s of opening.
Prints one "key value" line per finding; exit 0 when all hold.
"""
import json
import socket
import sys
import threading
import time

from detectors import detector_requests

PORT = int(sys.argv[1])
VISIT, SOURCES = sys.argv[2], json.loads(sys.argv[3])
SLOW, DETECTORS, CLOSE_BY = 64, 189, 20.0

slow = []
for _ in range(SLOW):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(b"PUT /visit_cache HTTP/1.1\r\nHost: x\r\n")
    s.setblocking(False)
    slow.append(s)
t0 = time.monotonic()
trickle = b"X-Slow: " + b"a" * 200
stop = threading.Event()
closed_at = {}


def trickler():
    i = 0
    while not stop.is_set() and i < len(trickle):
        for k, s in enumerate(slow):
            if k in closed_at:
                continue
            try:
                s.send(trickle[i:i + 1])
            except OSError:
                closed_at[k] = time.monotonic() - t0
        i += 1
        stop.wait(2.0)


threading.Thread(target=trickler, daemon=True).start()
time.sleep(0.5)

codes = detector_requests(PORT, SOURCES, DETECTORS, timeout=20)
burst = time.monotonic() - t0
served = sum(1 for c in codes if c == 200)
print("served", served, "of", DETECTORS, "in %.1fs" % burst)
bad = [c for c in codes if c != 200]
if bad:
    print("failures", bad[:5])

# the slow ones: the server must close them (recv gives b"" or an error)
deadline = t0 + CLOSE_BY
while time.monotonic() < deadline and len(closed_at) < SLOW:
    for k, s in enumerate(slow):
        if k in closed_at:
            continue
        try:
            if s.recv(4096) == b"":
                closed_at[k] = time.monotonic() - t0
        except BlockingIOError:
            pass
        except OSError:
            closed_at[k] = time.monotonic() - t0
    time.sleep(0.2)
stop.set()
print("slow_closed", len(closed_at), "of", SLOW)
if closed_at:
    print("slow_closed_after %.1f..%.1f s" % (min(closed_at.values()), max(closed_at.values())))
for s in slow:
    s.close()
sys.exit(0 if served == DETECTORS and len(closed_at) == SLOW else 1)
