#!/usr/bin/env python3
"""Upload files to the test S3 server, signed by botocore (independent of astrofs).

Usage: s3put.py BUCKET KEY=FILE...        one object per pair
       s3put.py BUCKET --tree PREFIX DIR  every file under DIR as PREFIX/<relpath>
Reads S3_ENDPOINT S3_AK S3_SK S3_REGION from the environment (s3server.sh's env).
Exits 77 when botocore is missing.
"""
import datetime
import http.client
import os
import sys
import urllib.parse

try:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.utils import percent_encode
except ImportError as e:
    print(f"botocore not available: {e}", file=sys.stderr)
    sys.exit(77)

EP = urllib.parse.urlsplit(os.environ["S3_ENDPOINT"])
CREDS = Credentials(os.environ["S3_AK"], os.environ["S3_SK"])
REGION = os.environ.get("S3_REGION", "us-east-1")


def put(conn, bucket, key, body):
    path = percent_encode("/%s/%s" % (bucket, key), safe="/~")
    req = AWSRequest(method="PUT", url="%s://%s%s" % (EP.scheme, EP.netloc, path), data=body)
    req.context["timestamp"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    S3SigV4Auth(CREDS, "s3", REGION).add_auth(req)
    p = req.prepare()
    conn.request("PUT", path, body=body, headers=dict(p.headers.items()))
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit("PUT %s/%s: HTTP %d %s" % (bucket, key, r.status, data[:300]))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    bucket = sys.argv[1]
    pairs = []
    if sys.argv[2] == "--tree":
        prefix, top = sys.argv[3], sys.argv[4]
        for d, _, files in os.walk(top):
            for f in sorted(files):
                full = os.path.join(d, f)
                pairs.append(("%s/%s" % (prefix, os.path.relpath(full, top)), full))
    else:
        for a in sys.argv[2:]:
            k, _, f = a.partition("=")
            pairs.append((k, f))
    conn = http.client.HTTPConnection(EP.hostname, EP.port, timeout=30)
    for k, f in pairs:
        with open(f, "rb") as fh:
            put(conn, bucket, k, fh.read())
    conn.close()


if __name__ == "__main__":
    main()
