#!/usr/bin/env python3
"""Independent SigV4 ground truth for tests/unit/test_sigv4.c.

For each request in CASES, botocore's S3SigV4Auth (header auth) or
S3SigV4QueryAuth (presigned URL) computes the canonical request, the string
to sign and the signature at a frozen timestamp.  Prints one JSON document:
a list of {"name", "input", "expect"}; the C test signs each "input" with
astrofs's signer and compares with "expect" byte for byte.

The request path is percent-encoded here with botocore.utils.percent_encode
(the encoder botocore's S3 serializer uses for keys) and query parameters go
through request.params, which botocore encodes and sorts itself, so no
encoding rule of the C code is restated here.

Exit status 77 when botocore is not importable (the C test then skips).
"""
import datetime
import json
import sys

try:
    import botocore
    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
    from botocore.utils import percent_encode
except ImportError as e:  # pragma: no cover
    print(f"botocore not available: {e}", file=sys.stderr)
    sys.exit(77)

AK = "AKIDASTROFSTEST00001"
SK = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYastrofsKEY"
TOKEN = "FQoGZXIvYXdzEJr//////////wEaDAstrofs+session/token=="
T0 = 1440938160          # 2015-08-30T12:36:00Z
T1 = 1795132800          # 2026-11-20T00:00:00Z
LOCAL = "127.0.0.1:9000"

CASES = [
    dict(name="get-range-unsigned", method="GET", host=LOCAL,
         path="/astro/tess/cube.fits", headers=[["Range", "bytes=0-65535"]],
         unsigned_payload=True),
    dict(name="get-range-empty-body-hash", method="GET", host=LOCAL,
         path="/astro/tess/cube.fits", headers=[["Range", "bytes=65536-131071"]]),
    dict(name="head-space-plus", method="HEAD", host=LOCAL,
         path="/astro/dir with space/a+b c.fits", unsigned_payload=True),
    dict(name="list-objects-v2", method="GET", host=LOCAL, path="/astro",
         query=[["list-type", "2"], ["prefix", "dir/sub dir/"], ["delimiter", "/"],
                ["continuation-token", "1/abc+def/==x="], ["max-keys", "1000"]],
         unsigned_payload=True),
    dict(name="list-empty-values", method="GET", host=LOCAL, path="/astro/",
         query=[["list-type", "2"], ["prefix", ""], ["encoding-type", "url"]]),
    dict(name="key-utf8-reserved", method="GET", host=LOCAL,
         path="/astro/caf\u00e9/\u00fc()~=!*'$&,;@.fits",
         headers=[["Range", "bytes=0-0"]], unsigned_payload=True),
    dict(name="key-no-normalization", method="GET", host=LOCAL,
         path="/astro/a//b/./c/../d%41.fits", unsigned_payload=True),
    dict(name="request-payer-eu-west-1", method="GET",
         host="stpubdata.s3.eu-west-1.amazonaws.com", scheme="https",
         path="/tess/public/ffi/s0001.fits", region="eu-west-1",
         headers=[["Range", "bytes=2880-5759"]], request_payer=True,
         unsigned_payload=True, now=T1),
    dict(name="session-token", method="GET", host="s3.us-east-1.amazonaws.com",
         scheme="https", path="/stpubdata/hst/x.fits", token=TOKEN,
         headers=[["Range", "bytes=0-2879"]], unsigned_payload=True, now=T1),
    dict(name="if-match-and-whitespace", method="GET", host=LOCAL,
         path="/astro/k.fits",
         headers=[["If-Match", "\"9b2cf535f27731c974343645a3985328\""],
                  ["X-Custom", "  a   b \t c  "], ["Range", "bytes=100-"]],
         unsigned_payload=True),
    dict(name="repeated-header", method="GET", host=LOCAL, path="/astro/k",
         headers=[["X-Multi", "one"], ["x-multi", "two  three"]]),
    dict(name="put-signed-body", method="PUT", host=LOCAL,
         path="/cache/obj.bin", headers=[["Content-Type", "application/octet-stream"]],
         body="SIMPLE  =                    T / astrofs test body\n"),
    dict(name="all-together", method="GET",
         host="astro.s3.eu-west-1.amazonaws.com", scheme="https",
         path="/", region="eu-west-1", token=TOKEN, request_payer=True,
         query=[["list-type", "2"], ["prefix", "\u00fc ber/"], ["delimiter", "/"],
                ["start-after", "a=b&c"]], now=T1),
    dict(name="presign-get", mode="presign", method="GET", host=LOCAL,
         path="/astro/dir with space/a+b.fits", expires=3600),
    dict(name="presign-token-payer-query", mode="presign", method="GET",
         host="stpubdata.s3.eu-west-1.amazonaws.com", scheme="https",
         path="/tess/\u00fc.fits", region="eu-west-1", token=TOKEN,
         request_payer=True, query=[["versionId", "v/1=2"]], expires=600, now=T1),
]


def run(case):
    c = dict(region="us-east-1", scheme="http", query=[], headers=[], body="",
             unsigned_payload=False, request_payer=False, token=None, now=T0,
             mode="header", expires=0)
    c.update(case)
    creds = Credentials(AK, SK, c["token"])
    url = "%s://%s%s" % (c["scheme"], c["host"], percent_encode(c["path"], safe="/~"))
    req = AWSRequest(method=c["method"], url=url, data=c["body"].encode())
    for name, value in c["headers"]:
        req.headers.add_header(name, value) if hasattr(req.headers, "add_header") \
            else req.headers.__setitem__(name, value)
    if c["request_payer"]:
        req.headers["x-amz-request-payer"] = "requester"
    req.params = {k: v for k, v in c["query"]}
    req.context["timestamp"] = datetime.datetime.fromtimestamp(
        c["now"], datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    req.context["client_config"] = Config(
        s3={"payload_signing_enabled": not c["unsigned_payload"]})
    if c["mode"] == "presign":
        auth = S3SigV4QueryAuth(creds, "s3", c["region"], expires=c["expires"])
    else:
        auth = S3SigV4Auth(creds, "s3", c["region"])
    # add_auth() without its wall clock: the same steps, our timestamp.
    auth._modify_request_before_signing(req)
    cr = auth.canonical_request(req)
    sts = auth.string_to_sign(req, cr)
    sig = auth.signature(sts, req)
    auth._inject_signature_to_request(req, sig)
    expect = dict(canonical_request=cr, string_to_sign=sts, signature=sig)
    if c["mode"] == "header":
        expect["authorization"] = req.headers["Authorization"]
    inp = {k: c[k] for k in ("mode", "method", "host", "path", "query", "headers",
                             "body", "unsigned_payload", "request_payer",
                             "region", "now", "expires")}
    inp.update(access_key=AK, secret_key=SK, session_token=c["token"])
    return dict(name=c["name"], input=inp, expect=expect)


def main():
    out = [run(c) for c in CASES]
    json.dump(dict(botocore=botocore.__version__, cases=out), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
