#!/usr/bin/env python3
"""Create objects directly in s3rver's store (the server-side trick for big
or numerous objects; docs/reference/s3-testing.md §2: <dir>/<bucket>/<key>
._S3rver_object + ._S3rver_object.md5 + ._S3rver_metadata.json).

Usage: mkstore.py cube  STOREDIR BUCKET KEY   sparse ~44 GB TESS-like cube;
                                             prints its layout as JSON
       mkstore.py many  STOREDIR BUCKET PREFIX N   N tiny FITS objects
       mkstore.py hstlike STOREDIR BUCKET KEY  sparse ~168 MB file laid out
                                             like an ACS/WFC _flt: 7 HDUs
                                             (PRIMARY, then SCI, ERR, DQ
                                             per chip); prints its layout
The cube's layout is computed here from FITS 4.0 Eq. 2 by hand (independent
of astrofs): a primary with NAXIS=0, an IMAGE with BITPIX=-32 and axes
(2, 1239, 2136, 2078) — 43,995,482,496 data bytes — and a BINTABLE with a
~40 KB header and one row per frame.
"""
import hashlib
import json
import os
import sys

BLOCK = 2880


def card(key, value=None, comment=""):
    if key == "END":
        return "END".ljust(80)
    if value is None:
        return ("%-8s%s" % (key, comment)).ljust(80)[:80]
    if isinstance(value, bool):
        v = "T" if value else "F"
    elif isinstance(value, str):
        v = "'%-8s'" % value
    else:
        v = str(value)
    s = "%-8s= %20s" % (key, v) if not isinstance(value, str) else "%-8s= %-20s" % (key, v)
    if comment:
        s += " / " + comment
    return s.ljust(80)[:80]


def header(cards):
    text = "".join(cards) + card("END")
    pad = (-len(text)) % BLOCK
    return (text + " " * pad).encode("ascii")


def put(store, bucket, key, chunks, size):
    """chunks: [(offset, bytes)] written into a sparse file of `size`."""
    base = os.path.join(store, bucket, key)
    os.makedirs(os.path.dirname(base), exist_ok=True)
    md5 = hashlib.md5()
    with open(base + "._S3rver_object", "wb") as f:
        f.truncate(size)
        for off, data in chunks:
            f.seek(off)
            f.write(data)
            md5.update(data)
    with open(base + "._S3rver_object.md5", "w") as f:
        f.write(md5.hexdigest())
    with open(base + "._S3rver_metadata.json", "w") as f:
        f.write('{\n  "content-type": "binary/octet-stream"\n}')


def cube(store, bucket, key):
    nffi, ny, nx = 1239, 2136, 2078
    h0 = header([card("SIMPLE", True), card("BITPIX", 8), card("NAXIS", 0),
                 card("EXTEND", True), card("ORIGIN", "astrofs test")])
    h1 = header([card("XTENSION", "IMAGE"), card("BITPIX", -32), card("NAXIS", 4),
                 card("NAXIS1", 2), card("NAXIS2", nffi), card("NAXIS3", ny), card("NAXIS4", nx),
                 card("PCOUNT", 0), card("GCOUNT", 1), card("EXTNAME", "CUBE")])
    rowlen = 120
    cards = [card("XTENSION", "BINTABLE"), card("BITPIX", 8), card("NAXIS", 2),
             card("NAXIS1", rowlen), card("NAXIS2", nffi), card("PCOUNT", 0), card("GCOUNT", 1),
             card("TFIELDS", 1), card("TTYPE1", "FFI_META"), card("TFORM1", "120A"),
             card("EXTNAME", "FFI_TABLE")]
    cards += [card("COMMENT", None, " frame metadata %05d" % i) for i in range(480)]
    h2 = header(cards)
    data1 = 4 * 2 * nffi * ny * nx
    span1 = -(-data1 // BLOCK) * BLOCK
    data2 = rowlen * nffi
    span2 = -(-data2 // BLOCK) * BLOCK
    off1 = len(h0)
    off2 = off1 + len(h1) + span1
    size = off2 + len(h2) + span2
    put(store, bucket, key, [(0, h0), (off1, h1), (off2, h2)], size)
    hdus = [
        {"header_offset": 0, "header_bytes": len(h0), "data_offset": len(h0), "data_bytes": 0},
        {"header_offset": off1, "header_bytes": len(h1), "data_offset": off1 + len(h1), "data_bytes": data1},
        {"header_offset": off2, "header_bytes": len(h2), "data_offset": off2 + len(h2), "data_bytes": data2},
    ]
    print(json.dumps({"size": size, "hdus": hdus}))


def hstlike(store, bucket, key):
    """A primary of ~300 cards, then per chip SCI and ERR (float32) and DQ
    (int16) of 4096 x 2048 with ~120-card headers, as calibrated ACS/WFC
    images are; the data blocks are holes."""
    nx, ny = 4096, 2048
    prim = [card("SIMPLE", True), card("BITPIX", 16), card("NAXIS", 0), card("EXTEND", True),
            card("NEXTEND", 6), card("TELESCOP", "HST"), card("INSTRUME", "ACS")]
    prim += [card("HISTORY", None, " calibration step %03d" % i) for i in range(300)]
    chunks, hdus, off = [], [], 0
    h = header(prim)
    chunks.append((0, h))
    hdus.append({"header_offset": 0, "header_bytes": len(h), "data_offset": len(h), "data_bytes": 0})
    off = len(h)
    for chip in (1, 2):
        for name, bitpix in (("SCI", -32), ("ERR", -32), ("DQ", 16)):
            cards = [card("XTENSION", "IMAGE"), card("BITPIX", bitpix), card("NAXIS", 2),
                     card("NAXIS1", nx), card("NAXIS2", ny), card("PCOUNT", 0), card("GCOUNT", 1),
                     card("EXTNAME", name), card("EXTVER", chip)]
            cards += [card("COMMENT", None, " WCS and photometry card %03d" % i) for i in range(110)]
            h = header(cards)
            data = abs(bitpix) // 8 * nx * ny
            span = -(-data // BLOCK) * BLOCK
            chunks.append((off, h))
            hdus.append({"header_offset": off, "header_bytes": len(h),
                         "data_offset": off + len(h), "data_bytes": data})
            off += len(h) + span
    put(store, bucket, key, chunks, off)
    print(json.dumps({"size": off, "hdus": hdus}))


def many(store, bucket, prefix, n):
    h = header([card("SIMPLE", True), card("BITPIX", 8), card("NAXIS", 0)])
    for i in range(n):
        put(store, bucket, "%s/f%05d.fits" % (prefix, i), [(0, h)], len(h))


if __name__ == "__main__":
    if sys.argv[1:2] == ["cube"] and len(sys.argv) == 5:
        cube(*sys.argv[2:5])
    elif sys.argv[1:2] == ["hstlike"] and len(sys.argv) == 5:
        hstlike(*sys.argv[2:5])
    elif sys.argv[1:2] == ["many"] and len(sys.argv) == 6:
        many(*sys.argv[2:5], int(sys.argv[5]))
    else:
        sys.exit(__doc__)
