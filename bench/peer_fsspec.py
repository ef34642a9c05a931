#!/usr/bin/env python3
"""Benchmark peers: every header of each target read by astropy, the way an
astronomer does it today without astrofs.

Usage: peer_fsspec.py TARGET...   (run with Debian's /usr/bin/python3)
A TARGET starting with http:// is opened with
astropy.io.fits.open(url, use_fsspec=True): astropy's defaults
(lazy_load_hdus) and fsspec's (HTTP, 5 MB read blocks).  Any other TARGET is
a local path (e.g. on an s3fs-fuse mount), opened with fits.open(path) and
its defaults (memmap).  Then every HDU's header is touched.
Prints "hdus=N cards=N hdr_bytes=N ms=N": what was read (so the caller can
check the peer saw the same headers), the headers' size on the wire by
astropy's fileinfo() (the least any reader must fetch), and the wall time
of the reads alone, without interpreter start and imports.
Exits 77 when astropy, fsspec or aiohttp is missing.
"""
import sys
import time

try:
    import aiohttp  # noqa: F401  (fsspec's HTTP filesystem needs it)
    import fsspec  # noqa: F401
    from astropy.io import fits
except ImportError as e:
    print("peer_fsspec: %s" % e, file=sys.stderr)
    sys.exit(77)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    hdus = cards = hdr_bytes = 0
    t0 = time.monotonic()
    for target in sys.argv[1:]:
        remote = target.startswith("http://")
        with fits.open(target, use_fsspec=True if remote else None) as hdul:
            for i, h in enumerate(hdul):
                hdus += 1
                cards += len(h.header)
                info = hdul.fileinfo(i)
                hdr_bytes += info["datLoc"] - info["hdrLoc"]
    ms = (time.monotonic() - t0) * 1000
    print("hdus=%d cards=%d hdr_bytes=%d ms=%d" % (hdus, cards, hdr_bytes, ms))


if __name__ == "__main__":
    main()
