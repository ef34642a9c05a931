#!/usr/bin/python3
"""Reference RA/Dec from Debian's python3-skyfield for tests/unit/test_frames.c.

stdin, one case per line, tab-separated:  mjd_tai  lat_deg  lon_deg  height_m  line1  line2
stdout, one line per case:  ra_icrs dec_icrs ra_date dec_date range_km dut1_s tai_minus_utc_s

RA/Dec are skyfield's geometric topocentric ones, (sat - site).at(t):
.radec() in ICRS and .radec(epoch=t) in the true equator and equinox of
date; no light time, no aberration (skyfield applies neither to this
difference).  Uses only the built-in timescale: no file is downloaded.
Exit status 77 when skyfield is not installed, so the caller can skip.
"""
import math
import sys

try:
    from skyfield.api import EarthSatellite, load, wgs84
except ImportError:
    sys.exit(77)


def main():
    ts = load.timescale(builtin=True)
    for raw in sys.stdin:
        raw = raw.rstrip('\n')
        if not raw:
            continue
        mjd, lat, lon, h, l1, l2 = raw.split('\t')
        mjd = float(mjd)
        day = math.floor(mjd)
        t = ts.tai_jd(2400000.5 + day, mjd - day)
        sat = EarthSatellite(l1, l2, ts=ts)
        site = wgs84.latlon(float(lat), float(lon), elevation_m=float(h))
        topo = (sat - site).at(t)
        ra, dec, dist = topo.radec()
        ra_d, dec_d, _ = topo.radec(epoch=t)
        print('%.10f %.10f %.10f %.10f %.6f %.6f %.1f' % (
            ra._degrees, dec.degrees, ra_d._degrees, dec_d.degrees,
            dist.km, float(t.dut1), float(t._leap_seconds())))


main()
