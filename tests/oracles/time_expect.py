#!/usr/bin/env python3
"""Ground truth for tests/unit/test_tlm_time.c.

Reads commands on stdin, one per line:
  u2t <UTC ISO, seconds may be 60>   -> CXC seconds (TT s since 1998.0 TT), 6 decimals
  t2u <CXC seconds>                  -> UTC ISO with 6 decimals (23:59:60 inside a leap second)
The first output line names the source.  astropy.time is used when installed;
otherwise the IERS leap-second list shipped by tzdata
(/usr/share/zoneinfo/leap-seconds.list) with exact rational arithmetic, so
the expected values never come from the C table under test.  Exit 77 when
neither is available.
"""
import calendar
import sys
from fractions import Fraction

TT_TAI = Fraction(32184, 1000)
EPOCH_UNIX = 883612800  # 1998-01-01T00:00:00 on a leap-free scale


def with_astropy():
    from astropy.time import Time, TimeDelta
    epoch = Time('1998-01-01T00:00:00', scale='tt')

    def u2t(s):
        t = Time(s, scale='utc', format='isot', precision=6)
        return '%.6f' % (t.tt - epoch).sec

    def t2u(s):
        t = (epoch + TimeDelta(float(s), format='sec')).utc
        t.precision = 6
        return t.isot

    return 'astropy ' + __import__('astropy').__version__, u2t, t2u


def with_leap_list(path='/usr/share/zoneinfo/leap-seconds.list'):
    table = []  # (unix day start, TAI-UTC)
    with open(path) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            ntp, off = line.split()[:2]
            table.append(((int(ntp) - 2208988800), int(off)))

    def offset(unix_day_start):
        n = None
        for start, off in table:
            if start <= unix_day_start:
                n = off
        return n

    def u2t(s):
        date, clock = s.split('T')
        y, mo, d = map(int, date.split('-'))
        hh, mm, ss = clock.split(':')
        day0 = calendar.timegm((y, mo, d, 0, 0, 0))
        sec = Fraction(ss)
        unix = day0 + int(hh) * 3600 + int(mm) * 60 + sec
        cxc = unix + offset(day0) + TT_TAI - EPOCH_UNIX
        return '%.6f' % float(cxc) if cxc.denominator > 10**6 else fmt6(cxc)

    def t2u(s):
        cxc = Fraction(s)
        for i in range(len(table) - 1, -1, -1):
            start, off = table[i]
            unix = cxc - off - TT_TAI + EPOCH_UNIX
            if unix >= start:
                break
        else:
            raise SystemExit('before the table')
        # With the older offset the inserted second lands on the next row's
        # first second: that is 23:59:60 of the day before.
        if i + 1 < len(table) and unix >= table[i + 1][0]:
            nxt = table[i + 1][0]
            return stamp(nxt - 86400, 86340, 60 + (unix - nxt))
        day0 = int(unix // 86400) * 86400
        sod = unix - day0
        return stamp(day0, int(sod // 60) * 60, sod - int(sod // 60) * 60)

    return 'leap-seconds.list (' + path + ')', u2t, t2u


def fmt6(x):
    neg = x < 0
    x = abs(x)
    us = x * 10**6
    assert us.denominator == 1
    w, f = divmod(int(us), 10**6)
    return ('-' if neg else '') + '%d.%06d' % (w, f)


def stamp(day0, sod_min, sec):
    import time
    tm = time.gmtime(day0 + sod_min)
    us = sec * 10**6
    assert us.denominator == 1, sec
    si, sf = divmod(int(us), 10**6)
    return '%04d-%02d-%02dT%02d:%02d:%02d.%06d' % (tm.tm_year, tm.tm_mon, tm.tm_mday,
                                                 tm.tm_hour, tm.tm_min, si, sf)


def main():
    try:
        name, u2t, t2u = with_astropy()
    except ImportError:
        try:
            name, u2t, t2u = with_leap_list()
        except OSError:
            print('SKIP: neither astropy nor /usr/share/zoneinfo/leap-seconds.list available')
            return 77
    print('source:', name)
    for line in sys.stdin:
        cmd, arg = line.split()
        print(u2t(arg) if cmd == 'u2t' else t2u(arg))
    sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
