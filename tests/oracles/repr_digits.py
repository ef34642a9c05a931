#!/usr/bin/env python3
"""Ground truth for tests/unit/test_tlm_fmt.c: for each hex double (one per line,
as 16 hex digits of its IEEE bits) print the significant digits of Python's
repr() — the shortest string that round-trips (David Gay's algorithm)."""
import struct
import sys

for line in sys.stdin:
    x = struct.unpack('>d', bytes.fromhex(line.strip()))[0]
    r = repr(x).lstrip('-')
    mant = r.split('e')[0].replace('.', '').lstrip('0').rstrip('0')
    print(mant or '0')
