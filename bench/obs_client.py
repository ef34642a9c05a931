#!/usr/bin/env python3
"""Drive /obs/<site>/command of a mounted astrofs for bench/obs.sh.

  obs_client.py rate MNT SITE N      N 'tracking on' lines on one handle, one
                                     write + one reply read each; prints the
                                     commands per second of each of 5 rounds
  obs_client.py latency MNT SITE N [LINE]
                                     N times: write LINE (default 'park' and
                                     'unpark' in turn), poll jobs/<id> until
                                     COMPLETE; prints ms each

Only measures; the medians are taken by the caller.  Every wait is bounded.
"""
import json
import os
import sys
import time


def session(mnt, site):
    return os.open(os.path.join(mnt, "obs", site, "command"), os.O_RDWR)


def submit(fd, line):
    """One write, one reply line (replies are queued per handle)."""
    os.write(fd, (line + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = os.read(fd, 4096)
        if not chunk:
            raise SystemExit("command file: end of replies before a newline")
        buf += chunk
    reply = buf.decode().strip()
    if not reply.startswith("ok "):
        raise SystemExit(f"command refused: {reply}")
    return reply.split()[1]


def rate(mnt, site, n):
    fd = session(mnt, site)
    try:
        for _ in range(5):
            t0 = time.monotonic()
            for _ in range(n):
                submit(fd, "tracking on")
            print(f"{n / (time.monotonic() - t0):.1f}")
    finally:
        os.close(fd)


def latency(mnt, site, n, line=None):
    fd = session(mnt, site)
    jobs = os.path.join(mnt, "obs", site, "jobs")
    try:
        for i in range(n):
            t0 = time.monotonic()
            job = submit(fd, line or ("unpark" if i % 2 == 0 else "park"))
            deadline = t0 + 30
            while True:
                try:
                    with open(os.path.join(jobs, job)) as f:
                        state = json.load(f).get("state")
                except (OSError, ValueError):
                    state = None
                if state == "COMPLETE":
                    break
                if state in ("REJECTED", "FAILED", "EXPIRED", "CANCELED"):
                    raise SystemExit(f"job {job} ended {state}")
                if time.monotonic() > deadline:
                    raise SystemExit(f"job {job} still {state} after 30 s")
                time.sleep(0.002)
            print(f"{(time.monotonic() - t0) * 1000:.1f}")
    finally:
        os.close(fd)


def main():
    if len(sys.argv) not in (5, 6) or sys.argv[1] not in ("rate", "latency"):
        raise SystemExit(__doc__)
    mode, mnt, site, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if mode == "rate":
        rate(mnt, site, n)
    else:
        latency(mnt, site, n, sys.argv[5] if len(sys.argv) == 6 else None)


if __name__ == "__main__":
    main()
