#!/usr/bin/python3
"""Check /telemetry .npy files against their CSVs through the mount.

npy_check.py FILE.npy...: for each, the CSV beside it (same name, .csv) must
hold the same rows; every number bit-identical to the CSV text read back as
a double (or an exact integer), state text byte-identical.  Also checks
st_size == bytes read and that numpy.load(mmap_mode='r') works.  Exits 1
naming the first difference.
"""
import csv
import os
import struct
import sys

import numpy as np


def bits(x):
    return struct.pack('<d', float(x))


def check(npy):
    path_csv = npy[:-4] + '.csv'
    st = os.stat(npy).st_size
    with open(npy, 'rb') as f:
        raw = f.read()
    if len(raw) != st:
        return f'{npy}: st_size {st} but {len(raw)} bytes read'
    a = np.load(npy, mmap_mode='r')
    if a.dtype.names is None or 'date' in a.dtype.names:
        return f'{npy}: not a structured array without date: {a.dtype}'
    if a.offset % 64 if hasattr(a, 'offset') else False:
        return f'{npy}: data not 64-byte aligned'
    if st != a.offset + a.shape[0] * a.dtype.itemsize:
        return f'{npy}: size {st} != header {a.offset} + {a.shape[0]} x {a.dtype.itemsize}'
    with open(path_csv, newline='', encoding='utf-8') as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    want = [c for c in head if c != 'date']
    if list(a.dtype.names) != want:
        return f'{npy}: columns {a.dtype.names} != CSV {want}'
    if len(body) != a.shape[0]:
        return f'{npy}: {a.shape[0]} rows, CSV {len(body)}'
    cols = {c: head.index(c) for c in want}
    for i, row in enumerate(body):
        rec = a[i]
        for c in want:
            text, got = row[cols[c]], rec[c]
            kind = a.dtype[c].kind
            if kind == 'f':
                ok = bits(got) == bits(text)
            elif kind == 'i':
                ok = int(got) == int(text)
            else:
                ok = bytes(got) == text.encode('utf-8')
            if not ok:
                return f'{npy}: row {i} column {c}: npy {got!r} != CSV {text!r}'
    return None


def main():
    bad = 0
    for p in sys.argv[1:]:
        err = check(p)
        if err:
            print(err)
            bad = 1
    return bad


if __name__ == '__main__':
    sys.exit(main())
