#!/usr/bin/python3
"""Reference annual aberration from Debian's python3-astropy for
tests/unit/test_frames.c (no downloads: built-in ERFA ephemeris).

stdin, one case per line:  jd_tt  ra_deg  dec_deg   (an ICRS catalogue place)
stdout, one line per case: vx vy vz (Earth's barycentric velocity, km/s, ICRS)
                           ra_gcrs dec_gcrs (that place seen from the geocentre:
                           astropy's ICRS->GCRS, i.e. with annual aberration)
Exit status 77 when astropy is not installed.
"""
import sys
import warnings

try:
    import astropy.units as u
    from astropy.coordinates import GCRS, SkyCoord, get_body_barycentric_posvel
    from astropy.time import Time
    from astropy.utils import iers
except ImportError:
    sys.exit(77)

iers.conf.auto_download = False
warnings.simplefilter('ignore')


def main():
    for raw in sys.stdin:
        f = raw.split()
        if len(f) != 3:
            continue
        t = Time(float(f[0]), format='jd', scale='tt')
        _, v = get_body_barycentric_posvel('earth', t, ephemeris='builtin')
        vx, vy, vz = v.xyz.to(u.km / u.s).value
        star = SkyCoord(ra=float(f[1]) * u.deg, dec=float(f[2]) * u.deg,
                        frame='icrs')
        g = star.transform_to(GCRS(obstime=t))
        print('%.9f %.9f %.9f %.12f %.12f' % (vx, vy, vz, g.ra.deg, g.dec.deg))


main()
