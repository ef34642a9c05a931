#!/usr/bin/python3
"""Checks of the telemetry listener with python3-requests as the client.

usage: tlm_http_check.py files URL MOUNT PATH...   every PATH byte-identical over HTTP
       tlm_http_check.py proto URL MOUNT PATH      Range/ETag/304/gzip/headers on one file
URL is the listener's base (http://127.0.0.1:PORT); MOUNT the mount's
/telemetry; TOKEN in the environment is sent as "Authorization: Token".
Prints what failed and exits 1.
"""
import gzip
import os
import sys

import requests

S = requests.Session()
if os.environ.get('TOKEN'):
    S.headers['Authorization'] = 'Token ' + os.environ['TOKEN']
# per request: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's verify
VERIFY = os.environ.get('CACERT') or True
_get, _head = S.get, S.head
S.get = lambda *a, **k: _get(*a, verify=VERIFY, **k)
S.head = lambda *a, **k: _head(*a, verify=VERIFY, **k)


def local(mount, path):
    with open(os.path.join(mount, path), 'rb') as f:
        return f.read()


def check_files(url, mount, paths):
    bad = 0
    for p in paths:
        want = local(mount, p)
        # identity, so the bytes compared are the bytes sent
        r = S.get(url + '/telemetry/' + p, headers={'Accept-Encoding': 'identity'}, timeout=60)
        if r.status_code != 200 or r.content != want:
            print('%s: status %d, %d bytes, mount has %d' % (p, r.status_code, len(r.content), len(want)))
            bad += 1
            continue
        if int(r.headers['Content-Length']) != len(want) or len(want) != os.stat(os.path.join(mount, p)).st_size:
            print('%s: Content-Length %s, st_size %d' % (p, r.headers['Content-Length'], len(want)))
            bad += 1
        et = r.headers.get('ETag', '')
        if not (et.startswith('"') and et.endswith('"')):
            print('%s: no strong ETag (%r)' % (p, et))
            bad += 1
    print('%d files compared, %d bad' % (len(paths), bad))
    return bad == 0


def expect(cond, what):
    if not cond:
        print('FAILED:', what)
    return cond


def check_proto(url, mount, p):
    want = local(mount, p)
    u = url + '/telemetry/' + p
    n = len(want)
    ok = True
    r = S.get(u, headers={'Accept-Encoding': 'identity'})
    et, lm = r.headers.get('ETag'), r.headers.get('Last-Modified')
    ok &= expect(r.status_code == 200 and et and lm and r.headers.get('Accept-Ranges') == 'bytes', 'headers %r' % dict(r.headers))
    # ranges: middle, open-ended, suffix, past the end
    for rng, lo, hi in (('bytes=10-99', 10, 99), ('bytes=%d-' % (n - 7), n - 7, n - 1),
                        ('bytes=-5', n - 5, n - 1), ('bytes=%d-%d' % (n - 3, n + 100), n - 3, n - 1)):
        r = S.get(u, headers={'Range': rng, 'Accept-Encoding': 'identity'})
        ok &= expect(r.status_code == 206 and r.content == want[lo:hi + 1] and
                     r.headers.get('Content-Range') == 'bytes %d-%d/%d' % (lo, hi, n) and
                     r.headers.get('ETag') == et, 'range %s: %d %r' % (rng, r.status_code, r.headers.get('Content-Range')))
    r = S.get(u, headers={'Range': 'bytes=%d-' % n})
    ok &= expect(r.status_code == 416 and r.headers.get('Content-Range') == 'bytes */%d' % n, '416: %d' % r.status_code)
    # a stale If-Range gets the whole file
    r = S.get(u, headers={'Range': 'bytes=0-9', 'If-Range': '"stale"', 'Accept-Encoding': 'identity'})
    ok &= expect(r.status_code == 200 and r.content == want, 'If-Range stale: %d' % r.status_code)
    # conditional
    r = S.get(u, headers={'If-None-Match': et, 'Accept-Encoding': 'identity'})
    ok &= expect(r.status_code == 304 and not r.content and r.headers.get('ETag') == et, '304: %d' % r.status_code)
    r = S.get(u, headers={'If-None-Match': '"other", ' + et, 'Accept-Encoding': 'identity'})
    ok &= expect(r.status_code == 304, 'list If-None-Match: %d' % r.status_code)
    r = S.get(u, headers={'If-None-Match': '"other"', 'Accept-Encoding': 'identity'})
    ok &= expect(r.status_code == 200 and r.content == want, 'other ETag: %d' % r.status_code)
    # HEAD: headers only
    r = S.head(u, headers={'Accept-Encoding': 'identity'})
    ok &= expect(r.status_code == 200 and int(r.headers['Content-Length']) == n and not r.content, 'HEAD')
    # gzip when asked: its own ETag, same bytes once decoded
    r = S.get(u, headers={'Accept-Encoding': 'gzip'}, stream=True)
    raw = r.raw.read(decode_content=False)
    ok &= expect(r.headers.get('Content-Encoding') == 'gzip' and gzip.decompress(raw) == want and
                 r.headers.get('ETag') not in (None, et) and 'Accept-Encoding' in r.headers.get('Vary', ''),
                 'gzip: %r' % dict(r.headers))
    r2 = S.get(u, headers={'Accept-Encoding': 'gzip', 'If-None-Match': r.headers.get('ETag', 'x')})
    ok &= expect(r2.status_code == 304, 'gzip 304: %d' % r2.status_code)
    r = S.get(u, headers={'Accept-Encoding': 'gzip;q=0'})
    ok &= expect('Content-Encoding' not in r.headers, 'gzip;q=0 still gzip')
    print('ETag', et)
    return ok


def main():
    mode, url, mount = sys.argv[1:4]
    if mode == 'files':
        ok = check_files(url, mount, sys.argv[4:])
    else:
        ok = check_proto(url, mount, sys.argv[4])
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
