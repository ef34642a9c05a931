#!/usr/bin/env python3
"""Check the verifying front (front.js) with requests signed by botocore.

Usage: front_check.py GROUP...   (groups: auth anon range list log fast)
Reads S3_ENDPOINT S3_AK S3_SK S3_REGION S3_LOG from the environment (the
env file s3server.sh writes); the group "fast" also S3_SLOW_ENDPOINT, a
second front over the same data with S3_FAST=0, to which every answer of
the first is compared.  Prints one line per check, exits 1 if any
failed, 77 if botocore is missing.

botocore signs (S3SigV4Auth / S3SigV4QueryAuth), so the front is checked
against an implementation it shares no code with; negative cases alter a
request after signing, or sign with a wrong secret/region/time.
"""
import datetime
import http.client
import os
import re
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET

try:
    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
    from botocore.utils import percent_encode
except ImportError as e:
    print(f"botocore not available: {e}", file=sys.stderr)
    sys.exit(77)

EP = urllib.parse.urlsplit(os.environ["S3_ENDPOINT"])
AK, SK = os.environ["S3_AK"], os.environ["S3_SK"]
REGION = os.environ.get("S3_REGION", "us-east-1")
LOG = os.environ.get("S3_LOG", "")
HOST = EP.netloc
failures = 0
OBJ = bytes((i * 7 + 3) % 256 for i in range(1000))
ODD_KEYS = ["odd/a b.fits", "odd/a+b.fits", "odd/\u00fc.fits", "odd/()~=.fits"]


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


def sign(method, key, query=(), headers=None, body=b"", ak=AK, sk=SK, region=REGION,
         when=None, presign=False, expires=300, unsigned=True, host=HOST):
    """Return (path?query, headers) of a request signed by botocore."""
    url = "%s://%s%s" % (EP.scheme, host, percent_encode(key, safe="/~"))
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    req.params = dict(query)
    when = when or datetime.datetime.now(datetime.timezone.utc)
    req.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    req.context["client_config"] = Config(s3={"payload_signing_enabled": not unsigned})
    creds = Credentials(ak, sk)
    auth = (S3SigV4QueryAuth(creds, "s3", region, expires=expires) if presign
            else S3SigV4Auth(creds, "s3", region))
    auth._modify_request_before_signing(req)
    sig = auth.signature(auth.string_to_sign(req, auth.canonical_request(req)), req)
    auth._inject_signature_to_request(req, sig)
    p = req.prepare()
    u = urllib.parse.urlsplit(p.url)
    hdrs = {k: v for k, v in p.headers.items()}
    return u.path + ("?" + u.query if u.query else ""), hdrs


def raw_send(ep, method, pathq, headers=None, body=None):
    """(status, [(name, value)...] in wire order and case, body) from ep."""
    u = urllib.parse.urlsplit(ep)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        c.request(method, pathq, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        c.close()


def send(method, pathq, headers=None, body=None):
    st, hdrs, data = raw_send(os.environ["S3_ENDPOINT"], method, pathq, headers, body)
    return st, {k.lower(): v for k, v in hdrs}, data


def parse(body):
    """The document with namespaces dropped (s3rver uses its own xmlns)."""
    doc = ET.fromstring(body)
    for el in doc.iter():
        el.tag = el.tag.rsplit("}", 1)[-1]
    return doc


def code_of(body):
    try:
        return ET.fromstring(body).findtext("Code")
    except ET.ParseError:
        return None


def put(bucket_key, data):
    pq, h = sign("PUT", bucket_key, body=data, unsigned=False)
    return send("PUT", pq, h, data)[0]


def setup():
    ok = put("/astro/obj.bin", OBJ) == 200 and put("/pub/open.bin", OBJ[:100]) == 200
    for k in ODD_KEYS:
        ok = ok and put("/astro/" + k, k.encode()) == 200
    check(ok, "setup: signed PUTs (signed payload) accepted")


def expect(status, code, method, pq, h, what):
    st, _, body = send(method, pq, h)
    got = code_of(body) if body else None
    check(st == status and (code is None or got == code),
          f"{what}: {status} {code or ''} (got {st} {got or ''})")


def group_auth():
    pq, h = sign("GET", "/astro/obj.bin", headers={"Range": "bytes=0-9"})
    expect(206, None, "GET", pq, h, "good ranged GET")
    pq, h = sign("HEAD", "/astro/obj.bin")
    expect(200, None, "HEAD", pq, h, "good HEAD")
    pq, h = sign("GET", "/astro/obj.bin", headers={"Range": "bytes=0-9"}, unsigned=False)
    expect(206, None, "GET", pq, h, "good GET with signed empty payload hash")

    pq, h = sign("GET", "/astro/obj.bin", headers={"Range": "bytes=0-9"}, sk=SK + "x")
    expect(403, "SignatureDoesNotMatch", "GET", pq, h, "wrong secret")
    pq, h = sign("GET", "/astro/obj.bin", headers={"Range": "bytes=0-9"})
    h["Range"] = "bytes=0-99"
    expect(403, "SignatureDoesNotMatch", "GET", pq, h, "Range changed after signing")
    pq, h = sign("GET", "/astro/obj.bin")
    expect(403, "SignatureDoesNotMatch", "GET", pq.replace("obj", "obJ"), h, "path changed after signing")
    pq, h = sign("GET", "/astro", query=[("list-type", "2"), ("prefix", "odd/")])
    expect(403, "SignatureDoesNotMatch", "GET", pq.replace("odd", "ODD"), h, "query changed after signing")
    pq, h = sign("GET", "/astro/obj.bin")
    h["x-amz-request-payer"] = "requester"
    expect(403, "AccessDenied", "GET", pq, h, "x-amz-request-payer added unsigned")
    pq, h = sign("GET", "/astro/obj.bin", headers={"x-amz-request-payer": "requester"})
    expect(200, None, "GET", pq, h, "x-amz-request-payer signed")
    wrong = "eu-west-1" if REGION != "eu-west-1" else "us-east-1"
    pq, h = sign("GET", "/astro/obj.bin", region=wrong)
    expect(400, "AuthorizationHeaderMalformed", "GET", pq, h, "scope with the wrong region")
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    pq, h = sign("GET", "/astro/obj.bin", when=old)
    expect(403, "RequestTimeTooSkewed", "GET", pq, h, "x-amz-date 20 min old")
    pq, h = sign("GET", "/astro/obj.bin", ak="AKIDUNKNOWN0000000000")
    expect(403, "InvalidAccessKeyId", "GET", pq, h, "unknown access key")
    pq, h = sign("GET", "/astro/obj.bin")
    del h["X-Amz-Content-SHA256"]
    expect(400, "InvalidRequest", "GET", pq, h, "x-amz-content-sha256 missing")

    pq, h = sign("GET", "/astro/obj.bin", presign=True)
    expect(200, None, "GET", pq, h, "presigned GET")
    expect(403, "SignatureDoesNotMatch", "GET", pq.replace("obj.bin", "obj.bin2"), h,
           "presigned URL with another path")
    pq, h = sign("GET", "/astro/obj.bin", presign=True, expires=60,
                 when=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5))
    expect(403, "AccessDenied", "GET", pq, h, "presigned URL expired")
    pq, h = sign("GET", "/astro/obj.bin", presign=True, sk="nope")
    expect(403, "SignatureDoesNotMatch", "GET", pq, h, "presigned URL with a wrong secret")


def group_anon():
    expect(200, None, "GET", "/pub/open.bin", {}, "anonymous GET, public bucket")
    expect(200, None, "GET", "/pub?list-type=2", {}, "anonymous list, public bucket")
    expect(403, "AccessDenied", "GET", "/astro/obj.bin", {}, "anonymous GET, private bucket")
    expect(403, "AccessDenied", "GET", "/astro?list-type=2", {}, "anonymous list, private bucket")
    st, _, _ = send("PUT", "/pub/evil.bin", {}, b"x")
    check(st == 403, f"anonymous PUT, public bucket: 403 (got {st})")
    expect(403, "AccessDenied", "GET", "/", {}, "anonymous ListBuckets")


def group_range():
    n = len(OBJ)
    cases = [("bytes=0-9", 206, 0, 9), ("bytes=0-0", 206, 0, 0), ("bytes=-5", 206, n - 5, n - 1),
             ("bytes=990-", 206, 990, n - 1), ("bytes=995-2000", 206, 995, n - 1),
             ("bytes=-2000", 206, 0, n - 1), ("bytes=%d-" % n, 416, None, None),
             ("bytes=5000-6000", 416, None, None), (None, 200, 0, n - 1)]
    for rng, status, a, b in cases:
        pq, h = sign("GET", "/astro/obj.bin", headers={"Range": rng} if rng else {})
        st, hd, body = send("GET", pq, h)
        if status == 206:
            ok = (st == 206 and body == OBJ[a:b + 1] and
                  hd.get("content-range") == f"bytes {a}-{b}/{n}")
        elif status == 416:
            ok = st == 416 and code_of(body) == "InvalidRange"
        else:
            ok = st == 200 and body == OBJ
        check(ok, f"Range {rng}: {status} bytes {a}-{b} (got {st} {hd.get('content-range')} len {len(body)})")


def group_list():
    pq, h = sign("GET", "/astro", query=[("list-type", "2"), ("prefix", "odd/"), ("delimiter", "/")])
    st, _, body = send("GET", pq, h)
    keys = [c.findtext("Key") for c in parse(body).iter("Contents")] if st == 200 else []
    check(st == 200 and sorted(keys) == sorted(ODD_KEYS), f"list odd keys (got {st} {keys})")
    pq, h = sign("GET", "/astro", query=[("list-type", "2"), ("delimiter", "/")])
    st, _, body = send("GET", pq, h)
    pre = [p.findtext("Prefix") for p in parse(body).iter("CommonPrefixes")] if st == 200 else []
    check(st == 200 and pre == ["odd/"], f"list with delimiter gives prefix odd/ (got {pre})")
    got, token, pages = [], None, 0
    while pages < 10:
        q = [("list-type", "2"), ("prefix", "odd/"), ("max-keys", "1")]
        if token:
            q.append(("continuation-token", token))
        pq, h = sign("GET", "/astro", query=q)
        st, _, body = send("GET", pq, h)
        if st != 200:
            break
        doc = parse(body)
        got += [c.findtext("Key") for c in doc.iter("Contents")]
        pages += 1
        token = doc.findtext("NextContinuationToken")
        if doc.findtext("IsTruncated") != "true":
            break
    check(st == 200 and sorted(got) == sorted(ODD_KEYS) and pages == len(ODD_KEYS),
          f"paging with max-keys=1 and continuation tokens (status {st}, {pages} pages, {got})")
    for k in ODD_KEYS:
        pq, h = sign("GET", "/astro/" + k)
        st, _, body = send("GET", pq, h)
        check(st == 200 and body == k.encode(), f"GET odd key {k!r} (got {st})")


def comparable(resp):
    st, hdrs, body = resp
    drop = {"date", "connection", "keep-alive"}
    body = re.sub(rb"<RequestId>[0-9A-F]*</RequestId>", b"", body)
    return st, [(k, v) for k, v in hdrs if k.lower() not in drop], body


def group_fast():
    """Every GET/HEAD the front answers itself equals s3rver's answer."""
    slow = os.environ["S3_SLOW_ENDPOINT"]
    big = bytes((i * 13 + 5) % 251 for i in range(3 << 20))	# past the read-at-once size
    meta = {"Content-Type": "text/plain", "Cache-Control": "no-cache",
            "Content-Disposition": "attachment; filename=m.txt", "x-amz-meta-origin": "telescope 2"}
    pq, h = sign("PUT", "/astro/meta.txt", headers=meta, body=b"hello fast path", unsigned=False)
    ok = send("PUT", pq, h, b"hello fast path")[0] == 200
    ok = ok and put("/astro/big.bin", big) == 200 and put("/astro/empty", b"") == 200
    check(ok, "fast: setup PUTs")
    n = len(OBJ)
    ranges = [None, "bytes=0-9", "bytes=0-0", "bytes=-5", "bytes=990-", "bytes=995-2000",
              "bytes=-2000", "bytes=%d-" % n, "bytes=5000-6000", "bytes=5-2", "items=0-1",
              "bytes=0-1,5-6", "bytes=-0"]
    cases = [("/astro/obj.bin", {"Range": r} if r else {}) for r in ranges]
    cases += [("/astro/big.bin", {}), ("/astro/big.bin", {"Range": "bytes=1048576-"}),
              ("/astro/big.bin", {"Range": "bytes=100-200"}),
              ("/astro/meta.txt", {}), ("/astro/meta.txt", {"Range": "bytes=2-4"}),
              ("/astro/empty", {}), ("/astro/empty", {"Range": "bytes=0-0"}),
              ("/astro/missing.bin", {}), ("/nobucket/x", {}), ("/astro/odd/", {})]
    cases += [("/astro/" + k, {}) for k in ODD_KEYS]
    pq, h = sign("HEAD", "/astro/obj.bin")
    _, hd, _ = send("HEAD", pq, h)
    etag = hd.get("etag", "")
    cases += [("/astro/obj.bin", {"If-None-Match": etag}), ("/astro/obj.bin", {"If-None-Match": '"x"'}),
              ("/astro/obj.bin", {"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}),
              ("/astro/obj.bin", {"If-Match": etag, "Range": "bytes=0-9"}),
              ("/astro/obj.bin", {"If-Match": etag.strip('"')}), ("/astro/obj.bin", {"If-Match": "*"}),
              ("/astro/obj.bin", {"If-Match": '"0123", ' + etag})]
    slow_host = urllib.parse.urlsplit(slow).netloc
    for method in ("GET", "HEAD"):
        for key, hdrs in cases:
            pq, h = sign(method, key, headers=hdrs)
            a = comparable(raw_send(os.environ["S3_ENDPOINT"], method, pq, h))
            pq, h = sign(method, key, headers=hdrs, host=slow_host)
            b = comparable(raw_send(slow, method, pq, h))
            diff = "" if a == b else f" fast {a[0]} {a[1]} {len(a[2])} B, s3rver {b[0]} {b[1]} {len(b[2])} B"
            check(a == b, f"fast: {method} {key} {hdrs} as s3rver answers it{diff}")
    check(comparable(raw_send(os.environ["S3_ENDPOINT"], "GET", "/pub/open.bin", {})) ==
          comparable(raw_send(slow, "GET", "/pub/open.bin", {})), "fast: anonymous GET as s3rver answers it")
    # s3rver ignores If-Match; S3 (and so the front, on both paths) does not.
    for ep, host in ((os.environ["S3_ENDPOINT"], HOST), (slow, slow_host)):
        pq, h = sign("GET", "/astro/obj.bin", headers={"If-Match": '"0123"', "Range": "bytes=0-9"}, host=host)
        st, _, body = raw_send(ep, "GET", pq, h)
        check(st == 412 and code_of(body) == "PreconditionFailed",
              f"fast: If-Match with another ETag: 412 PreconditionFailed (got {st} {code_of(body)})")
        pq, h = sign("HEAD", "/astro/obj.bin", headers={"If-Match": 'W/' + etag}, host=host)
        st, _, body = raw_send(ep, "HEAD", pq, h)
        check(st == 412 and body == b"", f"fast: HEAD If-Match with a weak ETag: 412, no body (got {st})")


def group_log():
    before = open(LOG).read().splitlines() if LOG else []
    for rng in ("bytes=0-99", "bytes=100-299"):
        pq, h = sign("GET", "/astro/obj.bin", headers={"Range": rng})
        send("GET", pq, h)
    # The front logs on 'finish', which may trail the response a little.
    for _ in range(40):
        lines = open(LOG).read().splitlines()[len(before):]
        rows = [line.split("\t") for line in lines]
        gets = [r for r in rows if r[0] == "GET" and r[1] == "/astro/obj.bin"]
        if len(gets) >= 2:
            break
        time.sleep(0.05)
    check(len(gets) == 2 and [g[2] for g in gets] == ["bytes=0-99", "bytes=100-299"] and
          [g[3] for g in gets] == ["206", "206"] and sum(int(g[4]) for g in gets) == 300,
          f"request log counts 2 GETs and 300 body bytes (got {rows})")


def main():
    groups = {"auth": group_auth, "anon": group_anon, "range": group_range,
              "list": group_list, "log": group_log, "fast": group_fast}
    setup()
    for g in sys.argv[1:] or [g for g in groups if g != "fast"]:
        groups[g]()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
