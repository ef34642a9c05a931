#!/usr/bin/env python3
"""Compare /fits/<bucket>/<prefix>/<file>/ on a mount with the corpus ground truth.

Usage: check_corpus.py MOUNTDIR DATADIR
MOUNTDIR is the mounted directory holding the uploaded tree (…/fits/astro/d),
DATADIR the corpus (../shared/data/fits) with groundtruth.json.  For every
file in groundtruth.json whose name the tree shows as an object:
  - headers/N == the file's bytes [header_offset, end_card_offset+80) cut
    into 80-byte cards, each followed by "\n";
  - hdus.csv rows: header_offset, header_bytes, data_offset, data_bytes
    equal to the independent walker's values;
  - a header the ground truth calls damaged (a "kind" entry) reads as EIO,
    and N past the last HDU is ENOENT;
  - raw has the file's sha256.
Prints one line per failure and a summary; exit 1 on any failure.
"""
import csv
import errno
import hashlib
import json
import os
import sys

FITS_EXT = (".fits", ".fit", ".fts", ".fz")


def main():
    mnt, data = sys.argv[1], sys.argv[2]
    gt = json.load(open(os.path.join(data, "groundtruth.json")))["files"]
    fails = checked = 0

    def fail(msg):
        nonlocal fails
        fails += 1
        print("FAIL", msg)

    for rel, g in sorted(gt.items()):
        if not rel.lower().endswith(FITS_EXT):
            continue            # e.g. lzw.fits.Z is not shown as an object
        obj = os.path.join(mnt, rel)
        src = open(os.path.join(data, rel), "rb").read()
        checked += 1
        hdus = [w for w in g["walker"] if "header_offset" in w]
        bad = [w for w in g["walker"] if "kind" in w and w["kind"].endswith("header")]
        for i, w in enumerate(hdus):
            want = src[w["header_offset"]:w["end_card_offset"] + 80]
            want = b"".join(want[k:k + 80] + b"\n" for k in range(0, len(want), 80))
            try:
                got = open(os.path.join(obj, "headers", str(i)), "rb").read()
            except OSError as e:
                fail("%s headers/%d: %s" % (rel, i, e))
                continue
            if got != want:
                fail("%s headers/%d: %d bytes differ from the file's cards (%d)" % (rel, i, len(got), len(want)))
        n = len(hdus)
        try:
            open(os.path.join(obj, "headers", str(n)), "rb").read()
            fail("%s headers/%d: readable past the last HDU" % (rel, n))
        except OSError as e:
            want_err = errno.EIO if bad else errno.ENOENT
            if e.errno != want_err:
                fail("%s headers/%d: %s, want %s" % (rel, n, e, errno.errorcode[want_err]))
        try:
            rows = list(csv.DictReader(open(os.path.join(obj, "hdus.csv"), newline="")))
        except OSError as e:
            fail("%s hdus.csv: %s" % (rel, e))
            rows = []
        if len(rows) != n:
            fail("%s hdus.csv: %d rows, want %d" % (rel, len(rows), n))
        for r, w in zip(rows, hdus):
            for f, gf in (("header_offset", "header_offset"), ("header_bytes", "header_bytes"),
                          ("data_offset", "data_offset"), ("data_bytes", "data_size")):
                if int(r[f]) != w[gf]:
                    fail("%s hdus.csv row %s: %s=%s, want %d" % (rel, r["index"], f, r[f], w[gf]))
        raw = open(os.path.join(obj, "raw"), "rb").read()
        if hashlib.sha256(raw).hexdigest() != g["sha256"]:
            fail("%s raw: sha256 differs (%d bytes, want %d)" % (rel, len(raw), g["size"]))
    print("checked %d files, %d failures" % (checked, fails))
    sys.exit(1 if fails or checked == 0 else 0)


if __name__ == "__main__":
    main()
