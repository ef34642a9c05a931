#!/usr/bin/python3
"""Debian python3-sgp4 peer for bench/sgp4.sh: same TLEs and instants as
astrofs-sgp4-bench, through SatrecArray (split-JD UTC in, km TEME out).
usage: sgp4_python.py FILE TIMES STEP_MIN JD0 SECONDS"""
import math
import sys
import time

from sgp4.api import SatrecArray, Satrec, accelerated

try:
    import numpy as np
except ImportError:
    sys.exit('numpy is needed for SatrecArray')


def main():
    path, times, step, jd0, seconds = sys.argv[1:6]
    times, step, jd0, seconds = int(times), float(step), float(jd0), float(seconds)
    with open(path, encoding='latin-1') as f:
        lines = [l.rstrip('\r\n') for l in f]
    sats = [Satrec.twoline2rv(a, b) for a, b in zip(lines, lines[1:])
            if a.startswith('1 ') and b.startswith('2 ')]
    arr = SatrecArray(sats)
    whole = math.floor(jd0)
    jd = np.full(times, whole)
    fr = (jd0 - whole) + np.arange(times) * step / 1440.0
    props, start = 0, time.perf_counter()
    while True:
        e, r, v = arr.sgp4(jd, fr)
        props += len(sats) * times
        el = time.perf_counter() - start
        if el >= seconds:
            break
    print('RESULT props_per_s=%d sats=%d errors=%d accelerated=%s'
          % (props / el, len(sats), int((e != 0).sum()), accelerated))


main()
