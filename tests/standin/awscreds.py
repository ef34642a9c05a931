#!/usr/bin/env python3
"""awscreds.py — stand-ins for the AWS credential sources, on loopback.

One HTTP server plays three services, as astrofs's tests need them:
  * the EC2 instance metadata service, v2 only: PUT /latest/api/token (with
    X-aws-ec2-metadata-token-ttl-seconds) gives a session token; the
    credential paths answer 401 without it (v1 is refused), as IMDS with
    HttpTokens=required does;
  * a container credentials endpoint (ECS/EKS): GET /container/creds with
    Authorization equal to --container-token, else 401;
  * STS: POST / Action=AssumeRoleWithWebIdentity, the WebIdentityToken must
    equal --web-token and RoleArn --role-arn, else 403 AccessDenied /
    InvalidIdentityToken, as STS answers.
Every credential issued is fresh (ASIA... key, secret, session token) and is
appended as a JSON line {ak, sk, token, expires_ms, source} to --issued,
which the verifying S3 front (s3/front.js, S3_TEMP_CREDS) reads: S3 then
accepts exactly these keys with their token until they expire.
--ttl is the lifetime announced in Expiration; --s3-ttl (default: --ttl) the
one the S3 front enforces (shorter: the S3 side says ExpiredToken first).
--stall: accept connections and never answer (a black hole for IMDS).
Prints "listening on 127.0.0.1:PORT"; each request is logged to --log as
"METHOD PATH STATUS".
"""
import argparse
import json
import os
import secrets
import socket
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLE = "astrofs-test-role"


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.imds_tokens = set()

    def issue(self, source):
        now = int(time.time() * 1000)
        c = {
            "ak": "ASIA" + secrets.token_hex(8).upper(),
            "sk": secrets.token_urlsafe(30),
            "token": "FQoG/" + secrets.token_urlsafe(60) + "+x=",
            "expires_ms": now + int(self.a.s3_ttl * 1000),
            "announced_ms": now + int(self.a.ttl * 1000),
            "source": source,
        }
        with self.lock, open(self.a.issued, "a") as f:
            f.write(json.dumps({k: c[k] for k in ("ak", "sk", "token", "expires_ms", "source")}) + "\n")
        return c


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/json"):
        b = body.encode()
        # Logged before the answer goes out: once a client has its answer,
        # its line is in the log, ahead of any later request's (tests read
        # the order; written after, a quick next request could come first).
        if self.server.a.log:
            with open(self.server.a.log, "a") as f:
                f.write(f"{self.command} {self.path.split('?')[0]} {status}\n")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode() if n else ""

    def do_PUT(self):
        st = self.server.st
        if self.path == "/latest/api/token":
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return self.reply(400, "", "text/plain")
            t = secrets.token_urlsafe(32)
            st.imds_tokens.add(t)
            return self.reply(200, t, "text/plain")
        self.reply(404, "", "text/plain")

    def do_GET(self):
        st, a = self.server.st, self.server.a
        path = self.path.split("?")[0]
        if path.startswith("/latest/"):
            if self.headers.get("X-aws-ec2-metadata-token") not in st.imds_tokens:
                return self.reply(401, "", "text/plain")	# IMDSv1 refused
            base = "/latest/meta-data/iam/security-credentials/"
            if path == base:
                return self.reply(200, ROLE, "text/plain")
            if path == base + ROLE:
                c = st.issue("imds")
                return self.reply(200, json.dumps({
                    "Code": "Success", "LastUpdated": iso(time.time() * 1000),
                    "Type": "AWS-HMAC", "AccessKeyId": c["ak"],
                    "SecretAccessKey": c["sk"], "Token": c["token"],
                    "Expiration": iso(c["announced_ms"])}, indent=2))
            return self.reply(404, "", "text/plain")
        if path == "/container/creds":
            if self.headers.get("Authorization") != a.container_token:
                return self.reply(401, json.dumps({"Message": "bad token"}))
            c = st.issue("container")
            return self.reply(200, json.dumps({
                "AccessKeyId": c["ak"], "SecretAccessKey": c["sk"], "Token": c["token"],
                "Expiration": iso(c["announced_ms"]), "RoleArn": a.role_arn}))
        self.reply(404, "", "text/plain")

    def do_POST(self):
        st, a = self.server.st, self.server.a
        q = dict(urllib.parse.parse_qsl(self.body(), keep_blank_values=True))
        if self.path != "/" or q.get("Action") != "AssumeRoleWithWebIdentity" or \
                q.get("Version") != "2011-06-15" or not q.get("RoleSessionName"):
            return self.reply(400, sts_error("InvalidAction", "bad request"), "text/xml")
        if q.get("WebIdentityToken") != a.web_token:
            return self.reply(400, sts_error("InvalidIdentityToken",
                                             "Couldn't retrieve verification key from your identity provider"),
                              "text/xml")
        if q.get("RoleArn") != a.role_arn:
            return self.reply(403, sts_error("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"),
                              "text/xml")
        c = st.issue("web_identity")
        self.reply(200, f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <SessionToken>{c["token"]}</SessionToken>
      <SecretAccessKey>{c["sk"]}</SecretAccessKey>
      <Expiration>{iso(c["announced_ms"])}</Expiration>
      <AccessKeyId>{c["ak"]}</AccessKeyId>
    </Credentials>
    <AssumedRoleUser><Arn>{a.role_arn}/{q["RoleSessionName"]}</Arn></AssumedRoleUser>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>
""", "text/xml")


def sts_error(code, msg):
    return (f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
            f'<Type>Sender</Type><Code>{code}</Code><Message>{msg}</Message></Error>'
            f'<RequestId>0</RequestId></ErrorResponse>')


def stall():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    print(f"listening on 127.0.0.1:{s.getsockname()[1]}", flush=True)
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)	# never read, never answer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--issued", default="/dev/null")
    p.add_argument("--log", default="")
    p.add_argument("--ttl", type=float, default=3600)
    p.add_argument("--s3-ttl", type=float)
    p.add_argument("--web-token", default="")
    p.add_argument("--container-token", default="")
    p.add_argument("--role-arn", default="arn:aws:iam::123456789012:role/astrofs")
    p.add_argument("--stall", action="store_true")
    a = p.parse_args()
    if a.s3_ttl is None:
        a.s3_ttl = a.ttl
    if a.stall:
        return stall()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    srv.a, srv.st = a, State(a)
    print(f"listening on 127.0.0.1:{srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
