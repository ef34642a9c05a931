#!/usr/bin/env python3
"""A static HTTP server that honours single byte ranges, for /fits tests.

Usage: rangesrv.py ROOT [--log FILE] [--latency-ms N]
Prints "listening on 127.0.0.1:PORT" when ready (binds loopback only).
Paths (REL is a file under ROOT):
  /files/REL     RFC 7233 single ranges (a-b, a-, -n), 416 past the end,
                 ETag (size+mtime) and Last-Modified, HEAD, If-Match (412)
  /noetag/REL    the same without ETag (Last-Modified only)
  /nohead/REL    the same, but HEAD answers 405 (presigned GET-only URLs)
  /norange/REL   ignores Range: always 200 with the whole file
  /norange-big   ignores Range: 200 announcing 8 GiB of zeros, streamed
                 until the client hangs up
  /badrange/REL  answers 206 with a Content-Range one byte off
  /s3err/STATUS/CODE  an S3 <Error> document with that code (also to
                 PUT and DELETE, whose request body is read and dropped)
The log has one line per request: METHOD PATH RANGE STATUS BYTES
payer=<x-amz-request-payer> signed=<SignedHeaders of Authorization>.
--latency-ms N sleeps N ms before each response (a remote store's round
trip, for benchmarks).  Only the requested range is read from disk, so a
sparse file of tens of GB can be served.
"""
import email.utils
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.abspath(sys.argv[1])
LOG = sys.argv[sys.argv.index("--log") + 1] if "--log" in sys.argv else None
LATENCY = (float(sys.argv[sys.argv.index("--latency-ms") + 1]) / 1000
           if "--latency-ms" in sys.argv else 0.0)
lock = threading.Lock()


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def log(self, status, nbytes):
        if not LOG:
            return
        auth = self.headers.get("Authorization", "")
        m = re.search(r"SignedHeaders=([^,\s]+)", auth)
        with lock, open(LOG, "a") as f:
            f.write("%s\t%s\t%s\t%d\t%d\tpayer=%s\tsigned=%s\n" % (
                self.command, self.path.split("?")[0], self.headers.get("Range", "-"), status,
                nbytes, self.headers.get("x-amz-request-payer", "-"), m.group(1) if m else "-"))

    def send_response(self, code, message=None):
        # every answer, whatever writes it, pays the round trip
        if LATENCY:
            time.sleep(LATENCY)
        super().send_response(code, message)

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if not any(k == "Content-Length" for k, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        n = 0
        if self.command != "HEAD":
            self.wfile.write(body)
            n = len(body)
        self.log(status, n)

    def do_HEAD(self):
        self.do_GET()

    def do_PUT(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.startswith("/s3err/"):
            return self.reply(405)
        self.do_GET()

    def do_DELETE(self):
        self.do_PUT()

    def do_GET(self):
        path = self.path.split("?")[0]
        parts = path.split("/", 2)
        mode = parts[1] if len(parts) > 1 else ""
        if mode == "s3err" and len(parts) == 3:
            status, code = (parts[2].split("/") + [""])[:2]
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
                    "<Message>test</Message><RequestId>1</RequestId></Error>" % code).encode()
            return self.reply(int(status), body, [("Content-Type", "application/xml"),
                                                  ("Content-Length", str(len(body)))])
        if mode == "norange-big":
            return self.stream_zeros()
        if mode not in ("files", "noetag", "nohead", "norange", "badrange") or len(parts) < 3:
            return self.reply(404, b"not found\n")
        from urllib.parse import unquote
        fn = os.path.normpath(os.path.join(ROOT, unquote(parts[2])))
        if not fn.startswith(ROOT + os.sep) or not os.path.isfile(fn):
            return self.reply(404, b"not found\n")
        if mode == "nohead" and self.command == "HEAD":
            return self.reply(405)
        st = os.stat(fn)
        size = st.st_size
        etag = '"%x-%x"' % (size, st.st_mtime_ns)
        hdrs = [("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True)),
                ("Accept-Ranges", "bytes")]
        if mode != "noetag":
            hdrs.append(("ETag", etag))
        im = self.headers.get("If-Match")
        if im and im != "*" and etag not in [x.strip() for x in im.split(",")]:
            return self.reply(412)
        rng = self.headers.get("Range")
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng or "")
        if mode == "norange" or not m or (not m.group(1) and not m.group(2)):
            return self.send_whole(fn, size, hdrs)
        if m.group(1):
            a = int(m.group(1))
            b = int(m.group(2)) if m.group(2) else size - 1
        else:
            a, b = max(0, size - int(m.group(2))), size - 1
        if a >= size:
            return self.reply(416, b"", hdrs + [("Content-Range", "bytes */%d" % size)])
        b = min(b, size - 1)
        off = 1 if mode == "badrange" else 0
        with open(fn, "rb") as f:
            f.seek(a)
            data = f.read(b + 1 - a) if self.command != "HEAD" else b""
        return self.reply(206, data, hdrs + [("Content-Length", str(b + 1 - a)),
            ("Content-Range", "bytes %d-%d/%d" % (a + off, b + off, size))])

    def send_whole(self, fn, size, hdrs):
        """200 with the whole file, streamed: a sparse 44 GB object is never
        held in memory, and a client that hangs up stops the read."""
        self.send_response(200)
        for k, v in hdrs:
            self.send_header(k, v)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        sent = 0
        try:
            with open(fn, "rb") as f:
                while self.command != "HEAD" and sent < size:
                    chunk = f.read(min(1 << 20, size - sent))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        self.log(200, sent)

    def stream_zeros(self):
        total = 8 << 30
        self.send_response(200)
        self.send_header("Content-Length", str(total))
        self.end_headers()
        sent = 0
        chunk = b"\0" * (1 << 16)
        try:
            while self.command != "HEAD" and sent < total:
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.log(200, sent)
        self.close_connection = True


class S(ThreadingHTTPServer):
    daemon_threads = True


def orphan_watch(parent):
    """Exit when the test that started us is gone (no stray servers)."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


threading.Thread(target=orphan_watch, args=(os.getppid(),), daemon=True).start()
srv = S(("127.0.0.1", 0), H)
print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    pass
