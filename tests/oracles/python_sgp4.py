#!/usr/bin/python3
"""Reference SGP4 states from Debian's python3-sgp4 for tests/unit/test_sgp4.c.

stdin: first line "jd_whole jd_fraction [jd_whole jd_fraction ...]" (UTC
instants), then TLE line pairs.  stdout, one line per pair and instant:
    catnum error x y z xdot ydot zdot      (km, km/s, TEME; nan on error)
Exit status 77 when python3-sgp4 is not installed.
"""
import sys

try:
    from sgp4.api import Satrec, WGS72
except ImportError:
    sys.exit(77)


def main():
    lines = [l.rstrip('\r\n') for l in sys.stdin]
    f = [float(x) for x in lines[0].split()]
    times = list(zip(f[0::2], f[1::2]))
    rest = lines[1:]
    for l1, l2 in zip(rest[0::2], rest[1::2]):
        sat = Satrec.twoline2rv(l1, l2, WGS72)
        for jd, fr in times:
            e, r, v = sat.sgp4(jd, fr)
            print('%d %d %.9f %.9f %.9f %.12f %.12f %.12f'
                  % ((sat.satnum, e) + tuple(r) + tuple(v)))


main()
