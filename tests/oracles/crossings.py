#!/usr/bin/python3
"""Ground truth for tests/unit/test_satfilter.c: boxes on and far from real
satellite paths, computed with Debian's python3-skyfield (its own SGP4 and
frames) and python3-astropy (Earth's velocity, built-in ERFA ephemeris: no
download).

usage: crossings.py CATALOG.3le OUTDIR [NVISITS]
Writes OUTDIR/cat.tle (a subset of the catalogue: the crossing targets plus
every 60th object as background), OUTDIR/targets.tle (the targets alone)
and OUTDIR/cases.txt:
  D dut1_s                      skyfield's UT1-UTC at the visits (one value)
  V visit_id t0 t1 ra dec       a visit (MJD TAI, degrees)
  R visit_id ra dec ×4          a box the filter must reject (its nearest
                                point is <= 25" from a true path)
  A visit_id ra dec ×4          a box the filter must allow (>= 66" from
                                every path of every object in cat.tle)
Directions are what an image WCS fitted to stars assigns: light-time
corrected topocentric GCRS direction minus Earth's barycentric v/c.
Exit status 77 when skyfield, numpy or astropy is missing.
"""
import math
import os
import random
import sys
import warnings

try:
    import numpy as np
    from skyfield.api import EarthSatellite, load, wgs84
    import astropy.units as u
    from astropy.coordinates import get_body_barycentric_posvel
    from astropy.time import Time
    from astropy.utils import iers
except ImportError:
    sys.exit(77)

iers.conf.auto_download = False
warnings.simplefilter('ignore')

LAT, LON, H = -30.2446333, -70.7494167, 2662.75
C_KMS = 299792.458
EXPOSURE_S = 30.0
AS = math.pi / 180 / 3600


def read_sets(path):
    lines = [l.rstrip('\r\n') for l in open(path, encoding='ascii', errors='replace')]
    sets, i = [], 0
    while i < len(lines):
        if lines[i].startswith('1 ') and i + 1 < len(lines) and lines[i + 1].startswith('2 '):
            sets.append((lines[i - 1] if i > 0 and lines[i - 1].startswith('0 ') else None,
                         lines[i], lines[i + 1]))
            i += 2
        else:
            i += 1
    newest = {}
    for s in sets:
        key = s[1][2:7]
        if key not in newest or s[1][18:32] > newest[key][1][18:32]:
            newest[key] = s
    return [newest[k] for k in sorted(newest)]


def unit(v):
    return v / np.linalg.norm(v, axis=0)


class Sky:
    def __init__(self):
        self.ts = load.timescale(builtin=True)
        self.site = wgs84.latlon(LAT, LON, elevation_m=H)

    def wcs_dirs(self, sat, mjd):
        """Unit vectors (3, N) at TAI MJDs: light time, minus Earth v/c."""
        t = self.ts.tai_jd(2400000.5 + mjd)
        site = self.site.at(t).position.km
        rho = sat.at(t).position.km - site
        if np.isnan(rho).any():
            return np.full((3, len(mjd)), np.nan)  # SGP4 error: no path
        for _ in range(2):
            lt = np.linalg.norm(rho, axis=0) / C_KMS
            rho = sat.at(self.ts.tai_jd(2400000.5 + mjd - lt / 86400.0)).position.km - site
        return unit(unit(rho) - self.beta(round(float(np.mean(mjd)), 2))[:, None])

    def beta(self, mjd, memo={}):
        # Earth's v/c changes by 1e-6 of itself in 15 min: per 0.01 day is plenty
        if mjd not in memo:
            tt = Time(2400000.5 + mjd + 32.184 / 86400, format='jd', scale='tt')
            _, v = get_body_barycentric_posvel('earth', tt, ephemeris='builtin')
            memo[mjd] = v.xyz.to(u.km / u.s).value / C_KMS
        return memo[mjd]

    def geo_dirs(self, sat, mjd):
        """Geometric directions: only to find what comes near a field."""
        t = self.ts.tai_jd(2400000.5 + mjd)
        return unit(sat.at(t).position.km - self.site.at(t).position.km)


def radec(v):
    return (math.degrees(math.atan2(v[1], v[0])) % 360.0,
            math.degrees(math.asin(max(-1.0, min(1.0, v[2])))))


def vec(ra, dec):
    a, d = math.radians(ra), math.radians(dec)
    return np.array([math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d)])


def angle(a, b):
    return math.atan2(np.linalg.norm(np.cross(a, b)), float(np.dot(a, b)))


def point_arc(p, a, b):
    n = np.cross(a, b)
    ln = np.linalg.norm(n)
    if ln > 1e-15:
        n = n / ln
        if np.dot(np.cross(a, p), n) >= 0 and np.dot(np.cross(p, b), n) >= 0:
            s = float(np.dot(p, n))
            return math.atan2(abs(s), np.linalg.norm(p - s * n))
    return min(angle(p, a), angle(p, b))


def path_dist(p, dirs):
    return min(point_arc(p, dirs[:, k], dirs[:, k + 1]) for k in range(dirs.shape[1] - 1))


def tangent_basis(c):
    e1 = np.cross([0.0, 0.0, 1.0], c)
    if np.linalg.norm(e1) < 1e-6:
        e1 = np.array([1.0, 0.0, 0.0])
    e1 = e1 / np.linalg.norm(e1)
    return e1, np.cross(c, e1)


def box(rng, centre, half_as):
    """Four corners of a randomly rotated square about centre, in a random
    order (sometimes 'bow-tie')."""
    e1, e2 = tangent_basis(centre)
    th = rng.uniform(0, 2 * math.pi)
    h = half_as * AS
    pts = []
    for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1)):
        x, y = sx * h, sy * h
        xr, yr = x * math.cos(th) - y * math.sin(th), x * math.sin(th) + y * math.cos(th)
        pts.append(unit(centre + xr * e1 + yr * e2))
    rng.shuffle(pts)
    return pts


def offset(centre, along_as, dir_angle):
    e1, e2 = tangent_basis(centre)
    a = along_as * AS
    return unit(centre + a * (math.cos(dir_angle) * e1 + math.sin(dir_angle) * e2))


def main():
    if len(sys.argv) < 3:
        sys.exit('usage: crossings.py CATALOG OUTDIR [NVISITS]')
    nvis = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    rng = random.Random(20191219)
    sky = Sky()
    sets = read_sets(sys.argv[1])
    sats = {}

    def sat(i):
        if i not in sats:
            sats[i] = EarthSatellite(sets[i][1], sets[i][2], None, sky.ts)
        return sats[i]

    def kind(i):
        n = float(sets[i][2][52:63])
        e = float('0.' + sets[i][2][26:33])
        return 'geo' if 0.9 < n < 1.1 else 'heo' if e > 0.5 else 'meo' if n < 8 else 'leo'

    # targets: mostly LEO (the hard case), one each of MEO, GEO, HEO
    want = ['leo', 'meo', 'geo', 'heo'] + ['leo'] * max(0, nvis - 4)
    order = list(range(len(sets)))
    rng.shuffle(order)
    targets, cases, visits = [], [], []
    epoch_mjd = None
    for i in order:
        if len(targets) >= len(want):
            break
        k = kind(i)
        if k not in want[len(targets):]:
            continue
        s = sat(i)
        mjd0 = s.model.jdsatepoch + s.model.jdsatepochF - 2400000.5
        grid = mjd0 + 0.2 + np.arange(0, 1.0, 30.0 / 86400)
        alt = (s - sky.site).at(sky.ts.tai_jd(2400000.5 + grid)).altaz()[0].degrees
        up = np.nonzero(np.nan_to_num(alt, nan=-90) > 30)[0]
        if len(up) == 0:
            continue
        want.remove(k)
        want.insert(len(targets), k)
        t_mid = float(grid[up[rng.randrange(len(up))]])
        t0 = t_mid - rng.uniform(5, 25) / 86400
        targets.append((i, t0))
        epoch_mjd = t0
    if len(targets) < 4:
        sys.exit('not enough visible targets')
    # catalogue subset: targets + every 60th object
    keep = sorted(set(i for i, _ in targets) | set(range(0, len(sets), 60)))
    os.makedirs(sys.argv[2], exist_ok=True)
    with open(os.path.join(sys.argv[2], 'cat.tle'), 'w') as f:
        for i in keep:
            if sets[i][0]:
                f.write(sets[i][0] + '\n')
            f.write(sets[i][1] + '\n' + sets[i][2] + '\n')
    # the targets alone (tests that serve them from another source)
    with open(os.path.join(sys.argv[2], 'targets.tle'), 'w') as f:
        for i, _ in targets:
            f.write((sets[i][0] or '0 TARGET') + '\n' + sets[i][1] + '\n' + sets[i][2] + '\n')
    out = [('D %.6f' % float(sky.ts.tai_jd(2400000.5 + epoch_mjd).dut1))]
    for vid, (i, t0) in enumerate(targets, start=1000):
        t1 = t0 + EXPOSURE_S / 86400
        dense = t0 + np.linspace(0, EXPOSURE_S, 301) / 86400
        path = sky.wcs_dirs(sat(i), dense)
        bore = offset(path[:, rng.randrange(60, 240)], rng.uniform(0, 3600), rng.uniform(0, 6.3))
        ra, dec = radec(bore)
        out.append('V %d %.10f %.10f %.9f %.9f' % (vid, t0, t1, ra, dec))
        # on the path: at the ends, mid-steps and random instants; the
        # near edge up to 25" off the path
        picks = [0, 300, 5, 15, 155] + [rng.randrange(301) for _ in range(10)]
        for k in picks:
            p = path[:, k]
            if angle(p, bore) > math.radians(2.05):
                continue
            half = rng.uniform(1, 10)
            c = offset(p, half * math.sqrt(2) * rng.random() + rng.uniform(0, 25) * rng.random(),
                       rng.uniform(0, 6.3))
            corners = box(rng, c, half)
            # the nearest corner's true distance is what must be <= 25"
            if min(path_dist(q, path) for q in corners) > 25 * AS:
                continue
            out.append('R %d ' % vid + ' '.join('%.10f %.10f' % radec(q) for q in corners))
        # far from every path: the dense paths of all objects that come
        # anywhere near the field (1 s samples within 10 deg)
        coarse = t0 + np.arange(0, EXPOSURE_S + 0.5, 1.0) / 86400
        near = []
        for j in keep:
            d = sky.geo_dirs(sat(j), coarse)
            if np.all(np.isnan(d)):
                continue
            ang = np.degrees(np.arccos(np.clip(bore @ d, -1, 1)))
            if np.nanmin(ang) < 10:
                near.append(sky.wcs_dirs(sat(j), dense))
        made = 0
        for _ in range(400):
            if made >= 12:
                break
            c = offset(bore, rng.uniform(0, 2.0 * 3600), rng.uniform(0, 6.3))
            half = rng.uniform(1, 10)
            if any(path_dist(c, pth) < (66 + half * 1.5) * AS for pth in near):
                continue
            corners = box(rng, c, half)
            out.append('A %d ' % vid + ' '.join('%.10f %.10f' % radec(q) for q in corners))
            made += 1
    with open(os.path.join(sys.argv[2], 'cases.txt'), 'w') as f:
        f.write('\n'.join(out) + '\n')


main()
