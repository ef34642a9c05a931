#!/usr/bin/env python3
"""A misbehaving S3 ListObjectsV2 endpoint (anonymous, path style), for the
listing bounds of /fits.  Buckets (the first path component):

  loop     1000 keys, IsTruncated=true and the same continuation token forever
  fresh    the same 1000 keys under a new token on every page, forever
  overlap  two pages that overlap by 200 keys, then the end; the second
           also has a key of 300 bytes and one of exactly 255 bytes (.fits)

Every page is 1000 keys k0000.fits..k0999.fits of the bucket.  Prints
"listening on 127.0.0.1:PORT" when ready; GET /count gives the number of
LIST requests answered.
"""
import itertools
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

count = itertools.count(1)
served = [0]
lock = threading.Lock()
LONG = "x" * 295 + ".fits"      # 300 bytes
EDGE = "y" * 250 + ".fits"      # 255 bytes


def page(keys, token):
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">']
    out.append("<IsTruncated>%s</IsTruncated>" % ("true" if token else "false"))
    if token:
        out.append("<NextContinuationToken>%s</NextContinuationToken>" % token)
    out.append("<KeyCount>%d</KeyCount>" % len(keys))
    for k in keys:
        out.append("<Contents><Key>%s</Key><Size>2880</Size>"
                   "<ETag>&quot;e&quot;</ETag></Contents>" % k)
    out.append("</ListBucketResult>")
    return "\n".join(out).encode()


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.send(404, b"")

    def do_GET(self):
        u = urlsplit(self.path)
        if u.path == "/count":
            self.send(200, str(served[0]).encode())
            return
        q = parse_qs(u.query)
        bucket = u.path.strip("/").split("/")[0]
        if q.get("list-type") != ["2"]:
            self.send(404, b"<Error><Code>NoSuchKey</Code></Error>")
            return
        with lock:
            served[0] += 1
        token = q.get("continuation-token", [""])[0]
        keys = ["k%04d.fits" % i for i in range(1000)]
        if bucket == "loop":
            self.send(200, page(keys, "T"))
        elif bucket == "fresh":
            self.send(200, page(keys, "F%d" % next(count)))
        elif bucket == "overlap":
            if not token:
                self.send(200, page(keys[:600], "P2"))
            else:
                self.send(200, page(sorted(keys[400:] + [EDGE, LONG]), None))
        else:
            self.send(404, b"<Error><Code>NoSuchBucket</Code></Error>")


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
