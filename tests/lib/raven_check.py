#!/usr/bin/python3
"""RAVEN's v1 API of the telemetry listener, on a synthetic MSID whose true
means, spikes and row counts are known (python3-requests as the client).

usage: raven_check.py write CSV        the fixture
       raven_check.py check URL MOUNT   the checks; MOUNT is the mount's /telemetry
"""
import os
import sys

import requests

BASE = 328 * 2501400          # CXC secs, a 5-minute bin boundary in 2024
N = 60000                     # 1 Hz samples: more than RAVEN's 50,000 points
SPIKE = 100                   # the sample of each bin that spikes
LEAPS = 6                     # leap seconds between 1998.0 and 2017+


def utc(secs):
    import datetime
    unix = secs + 883612736.816 - LEAPS
    ms = round(unix * 1000)
    d = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return d.strftime('%Y:%j:%H:%M:%S') + '.%03d' % (ms % 1000), d.strftime('%Y-%m-%d %H:%M:%S') + '.%03d' % (ms % 1000)


def value(j):
    return 1000.0 if j % 328 == SPIKE else float((j // 328) % 7)


def write(path):
    with open(path, 'w') as f:
        f.write('msid,time,value\n')
        for j in range(N):
            f.write('TRAVEN,%s,%r\n' % (utc(BASE + j)[0], value(j)))
        for j in range(0, 3000, 10):
            f.write('TMODE,%s,%s\n' % (utc(BASE + j)[0], 'NPNT' if j % 20 else 'NMAN'))


def expect(cond, what):
    if not cond:
        print('FAILED:', what)
        sys.exit(1)


def check(url, mount):
    s = requests.Session()
    if os.environ.get('TOKEN'):
        s.headers['Authorization'] = 'Token ' + os.environ['TOKEN']
    api = url + '/api/v1/'
    t0, t0iso = utc(BASE)
    t1, _ = utc(BASE + N)
    # fetch: reduced by min/max per bucket, every spike kept
    r = s.get(api + 'fetch', params={'mnemonic': 'traven', 'start_of_ydoy': t0, 'end_of_ydoy': t1})
    expect(r.status_code == 200, 'fetch %d %s' % (r.status_code, r.text[:200]))
    d = r.json()
    expect(isinstance(d, list) and len(d) == 1, 'fetch shape')
    d = d[0]
    for k in ('levelOfDetail', 'mnemonic', 'length', 'minValue', 'maxValue', 'startTime', 'endTime', 'x', 'y'):
        expect(k in d, 'fetch lacks ' + k)
    expect(d['mnemonic'] == 'TRAVEN' and d['samples'] == N, 'fetch mnemonic/samples %r %r' % (d['mnemonic'], d['samples']))
    expect(d['length'] == len(d['y']) == len(d['x']) <= 50000, 'fetch length %d' % d['length'])
    spikes = (N - SPIKE - 1) // 328 + 1
    expect(d['y'].count(1000.0) == spikes, 'spikes kept: %d of %d' % (d['y'].count(1000.0), spikes))
    expect(d['minValue'] == 0 and d['maxValue'] == 1000, 'min/max %r %r' % (d['minValue'], d['maxValue']))
    expect(d['x'] == sorted(d['x']) and d['startTime'] == t0iso and d['x'][0] == t0iso, 'times %r' % d['x'][:2])
    expect(d['levelOfDetail'] == 3, 'levelOfDetail %r' % d['levelOfDetail'])
    # a short range: every sample, as they are
    r = s.get(api + 'fetch', params={'mnemonic': 'TRAVEN', 'start_of_ydoy': t0, 'end_of_ydoy': utc(BASE + 400)[0]}).json()[0]
    expect(r['length'] == 400 and r['y'] == [value(j) for j in range(400)] and r['levelOfDetail'] == 1, 'short fetch')
    # missing dates default to everything (RAVEN errors on a missing start)
    r = s.get(api + 'fetch', params={'mnemonic': 'TRAVEN'})
    expect(r.status_code == 200 and r.json()[0]['samples'] == N, 'default dates')
    # date-range
    r = s.get(api + 'fetch/date-range', params={'mnemonic': 'TRAVEN'}).json()
    expect(r == {'date_range': [t0iso, utc(BASE + N - 1)[1]]}, 'date-range %r' % r)
    # stats: means are means (RAVEN sends maxes); values = means; known per bin
    r = s.get(api + 'fetch/stats', params={'msid': 'TRAVEN', 'tstart': t0, 'tstop': t1, 'interval': '5min'})
    expect(r.status_code == 200, 'stats %d' % r.status_code)
    st = r.json()['stats']
    for k in ('indexes', 'times', 'values', 'mins', 'maxes', 'means', 'midvals'):
        expect(len(st[k]) == (N + 327) // 328, 'stats %s: %d rows' % (k, len(st[k])))
    for i, idx in enumerate(st['indexes']):
        k = idx - BASE // 328
        n = min(328, N - 328 * k)
        want = ((n - 1) * (k % 7) + 1000.0) / n
        expect(abs(st['means'][i] - want) < 1e-9 and st['values'][i] == st['means'][i], 'mean of bin %d: %r, want %r' % (k, st['means'][i], want))
        expect(st['maxes'][i] == 1000 and st['mins'][i] == k % 7 and st['means'][i] != st['maxes'][i], 'min/max bin %d' % k)
        expect(st['midvals'][i] == k % 7, 'midval bin %d' % k)
    r = s.get(api + 'fetch/stats', params={'msid': 'TRAVEN', 'interval': 'daily'}).json()['stats']
    expect(len(r['means']) >= 1 and all(m < 1000 for m in r['means']), 'daily means')
    r = s.get(api + 'fetch/stats', params={'msid': 'TMODE', 'interval': '5min'}).json()['stats']
    expect(r['means'][0] is None and r['midvals'][0] in ('NPNT', 'NMAN'), 'state stats %r' % r['means'][:1])
    # download: any length, the tree's bytes, RAVEN's file name
    r = s.get(api + 'fetch/msid/download', params={'msid': 'TRAVEN', 'interval': 'full', 'tstart': t0, 'tstop': t1},
              headers={'Accept-Encoding': 'identity'})
    expect(r.status_code == 200, 'download %d' % r.status_code)
    with open(os.path.join(mount, 'TRAVEN@%s..%s.csv' % (t0, t1)), 'rb') as f:
        expect(r.content == f.read(), 'download bytes differ from the mount')
    expect(r.content.count(b'\n') == N + 1, 'download rows %d' % r.content.count(b'\n'))
    cd = r.headers.get('Content-Disposition', '')
    expect(cd.startswith('attachment; filename="traven_') and cd.endswith('_full.csv"'), cd)
    r = s.get(api + 'fetch/msid/download', params={'msid': 'TRAVEN', 'interval': 'daily'}, headers={'Accept-Encoding': 'identity'})
    with open(os.path.join(mount, 'TRAVEN.daily.csv'), 'rb') as f:
        expect(r.status_code == 200 and r.content == f.read(), 'daily download')
    # status and info
    expect(s.get(api + 'archive/status/msid/count').json() == {'count': 2}, 'count')
    expect(s.get(api + 'archive/status/msid/names').json() == {'msids': ['TMODE', 'TRAVEN']}, 'names')
    h = s.get(api + 'archive/status/ingest/history').json()['ingest_history']
    expect(len(h) == 1 and h[0]['rows'] == N + 300 and h[0]['name'] == 'raven.csv', 'history %r' % h)
    i = s.get(api + 'info').json()
    expect(i['status'] == 'UP' and i['info']['msids'] == 2, 'info %r' % i)
    # errors
    expect(s.get(api + 'fetch', params={'mnemonic': 'NOPE'}).status_code == 404, 'unknown 404')
    expect(s.get(api + 'fetch', params={'mnemonic': 'TRAVEN', 'start_of_ydoy': 'soon'}).status_code == 400, 'bad time 400')
    expect(s.get(api + 'fetch/stats', params={'msid': 'TRAVEN', 'interval': 'hourly'}).status_code == 400, 'bad interval')
    expect(s.get(api + 'fetch/msid/download', params={'msid': 'TRAVEN/../x'}).status_code == 400, 'download path')
    expect(s.get(api + 'nope').status_code == 404, 'route 404')
    print('raven: all checks passed')


if __name__ == '__main__':
    if sys.argv[1] == 'write':
        write(sys.argv[2])
    else:
        check(sys.argv[2], sys.argv[3])
