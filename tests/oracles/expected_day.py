#!/usr/bin/env python3
"""Compute what /tle/YYYY/MM/DD.{tle,3le} must contain, independently of
astrofs: every element set in the given files whose epoch falls in
[day 00:00, next day 00:00) UTC, ordered by catalogue number then epoch,
lines verbatim with LF endings.  Usage: expected_day.py YYYY-MM-DD tle|3le FILE...
"""
import datetime as dt
import sys

ALPHA = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def catnum(f):
    if f[0].isalpha():
        return (ALPHA.index(f[0]) + 10) * 10000 + int(f[1:])
    return int(f)


def epoch_us(l1):
    yy = int(l1[18:20])
    year = 1900 + yy if yy >= 57 else 2000 + yy
    day = int(l1[20:23])
    frac = int((l1[24:32] + "00000000")[:8])
    start = dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc)
    return int(start.timestamp()) * 10**6 + (day - 1) * 86400 * 10**6 + frac * 864


def sets(path):
    lines = open(path, newline="").read().replace("\r\n", "\n").split("\n")
    name = None
    i = 0
    while i < len(lines):
        l = lines[i]
        if l.startswith("1 ") and i + 1 < len(lines) and lines[i + 1].startswith("2 "):
            yield name, l, lines[i + 1]
            name = None
            i += 2
            continue
        if l.startswith("0 "):
            name = l
        i += 1


def main():
    day = dt.datetime.strptime(sys.argv[1], "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    lo = int(day.timestamp()) * 10**6
    hi = lo + 86400 * 10**6
    out = []
    seen = 0
    for path in sys.argv[3:]:
        for name, l1, l2 in sets(path):
            e = epoch_us(l1)
            if lo <= e < hi:
                out.append((catnum(l1[2:7]), e, seen, name, l1, l2))
                seen += 1
    out.sort()
    w = sys.stdout.write
    for _, _, _, name, l1, l2 in out:
        if sys.argv[2] == "3le":
            w((name or "0 ") + "\n")
        w(l1 + "\n" + l2 + "\n")


if __name__ == "__main__":
    main()
