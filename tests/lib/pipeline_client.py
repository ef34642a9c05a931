#!/usr/bin/python3
"""The Rubin pipeline's satellite-filter client, as lsst/ip_diffim does it.

Usage: pipeline_client.py BASE_URL VISITS_JSON OUT [--token FILE] [--cacert FILE]
                          [--detectors N] [--workers N] [--kill-after N --kill-pid PID]

Per visit, per detector (several detectors at once, as the pipeline's
tasks run): PUT the visit to /visit_cache (populate_sattle_visit_cache),
then PUT the detector's DIASources to /diasource_allow_list; on 404
re-send the visit once and retry once; any other non-2xx fails the
detector (getSattleDiaSourceAllowlist); the answer is set(allow_list).
Uses Debian's python3-requests, as the pipeline uses requests.

Each detector's sources are a 6 x 6 grid of 0.01 deg boxes on its own tile
of the field (189 tiles over +-2 deg), so some fall on tracks.  OUT gets one
line per detector: "visit detector id,id,..." or "visit detector FAILED
<why>", sorted.  --kill-after N --kill-pid PID (a test hook): SIGKILL that
process once N detectors have been answered, in the middle of the run.
Exit 0 when no detector failed.
"""
import argparse
import json
import math
import os
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

ap = argparse.ArgumentParser()
ap.add_argument("base")
ap.add_argument("visits")
ap.add_argument("out")
ap.add_argument("--token")
ap.add_argument("--cacert")
ap.add_argument("--detectors", type=int, default=189)
ap.add_argument("--workers", type=int, default=24)
ap.add_argument("--kill-after", type=int, default=0)
ap.add_argument("--kill-pid", type=int, default=0)
a = ap.parse_args()

headers = {}
if a.token:
    with open(a.token) as f:
        headers["Authorization"] = "Bearer " + f.readline().strip()
verify = a.cacert if a.cacert else True
visits = json.load(open(a.visits))
local = threading.local()
done = 0
done_lock = threading.Lock()


def session():
    # one keep-alive session per worker thread, as requests users do
    if not hasattr(local, "s"):
        local.s = requests.Session()
    return local.s


def put(path, payload):
    return session().put(a.base + path, json=payload, headers=headers, verify=verify,
                         timeout=60)


def sources(v, det):
    side = 14  # 14 x 14 = 196 tiles >= 189 detectors
    tile = 4.0 / side
    ty, tx = divmod(det, side)
    dec0 = v["boresight_dec"] - 2.0 + tile * (ty + 0.2)
    out = []
    for i in range(36):
        iy, ix = divmod(i, 6)
        dec = dec0 + tile * 0.1 * iy
        ra = v["boresight_ra"] + (-2.0 + tile * (tx + 0.2) + tile * 0.1 * ix) / math.cos(
            math.radians(dec))
        out.append({"diasource_id": det * 1000 + i,
                    "bbox": [[ra, dec], [ra + 0.01, dec], [ra, dec + 0.01],
                             [ra + 0.01, dec + 0.01]]})
    return out


def detector(v, det):
    global done
    try:
        r = put("/visit_cache", v)  # populate_sattle_visit_cache
        r.raise_for_status()
        body = {"visit_id": v["visit_id"], "detector_id": det, "diasources": sources(v, det),
                "historical": v.get("historical", False)}
        r = put("/diasource_allow_list", body)
        if r.status_code == 404:  # the replica that answered does not know the visit
            put("/visit_cache", v).raise_for_status()
            r = put("/diasource_allow_list", body)
        r.raise_for_status()
        line = "%d %d %s" % (v["visit_id"], det,
                             ",".join(str(i) for i in sorted(set(r.json()["allow_list"]))))
    except Exception as e:  # noqa: BLE001 - the detector fails, as in the pipeline
        line = "%d %d FAILED %s" % (v["visit_id"], det, type(e).__name__)
    with done_lock:
        done += 1
        if a.kill_after and done == a.kill_after:
            os.kill(a.kill_pid, signal.SIGKILL)
    return line


lines = []
with ThreadPoolExecutor(a.workers) as pool:
    for v in visits:
        lines += pool.map(lambda d, v=v: detector(v, d), range(a.detectors))
with open(a.out, "w") as f:
    f.write("\n".join(sorted(lines)) + "\n")
failed = [l for l in lines if " FAILED" in l]
kept = sum(len(l.split()[2].split(",")) for l in lines if " FAILED" not in l and
           len(l.split()) > 2)
print("detectors", len(lines), "failed", len(failed), "sources_allowed", kept,
      "of", 36 * len(lines))
for l in failed[:5]:
    print(l)
sys.exit(1 if failed else 0)
