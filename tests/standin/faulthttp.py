#!/usr/bin/env python3
"""A tiny HTTP server with scripted faults, for the HTTP layer's unit tests.

Paths: /ok (200 "hello"), /status/N (N with a body, counted per path),
/flaky/N (503 for the first N requests to that path, then 200),
/slow/S (sleep S seconds, then 200), /stall (headers, then no body),
/reset (close without a response), /truncate (Content-Length larger than
the body), /big/N (N bytes), /echo (request headers as the body),
/count/<path> (how many times <path> was requested).
Prints "listening on 127.0.0.1:PORT" when ready.
"""
import os
import socket
import sys
import threading
import time
from collections import Counter
from http.server import ThreadingHTTPServer

from quiet_http import QuietHandler

hits = Counter()
lock = threading.Lock()


class H(QuietHandler):

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.send(200, body)

    def do_GET(self):
        p = self.path
        if not p.startswith("/count/"):
            with lock:
                hits[p] += 1
                n = hits[p]
        parts = p.strip("/").split("/")
        if p == "/ok":
            self.send(200, b"hello", [("ETag", '"abc"'), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        elif parts[0] == "status":
            self.send(int(parts[1]), b"status body")
        elif parts[0] == "flaky":
            self.send(503 if n <= int(parts[1]) else 200, b"flaky")
        elif parts[0] == "slow":
            time.sleep(float(parts[1]))
            self.send(200, b"slow")
        elif p == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            time.sleep(60)
        elif p == "/reset":
            # Linger 0 + close of the real descriptor sends an RST; a plain
            # close() would wait for the file objects that share the socket.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            os.close(self.connection.detach())
            self.close_connection = True
        elif p == "/truncate":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"y" * 100)
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        elif parts[0] == "big":
            self.send(200, b"z" * int(parts[1]))
        elif p == "/echo":
            self.send(200, str(self.headers).encode())
        elif parts[0] == "count":
            with lock:
                c = hits["/" + "/".join(parts[1:])]
            self.send(200, str(c).encode())
        else:
            self.send(404, b"nope")


def main():
    class Srv(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # faults we inject on purpose are not worth a traceback

    srv = Srv(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    # Stop by ourselves after a while so a crashed test never leaves us behind.
    threading.Timer(float(sys.argv[1]) if len(sys.argv) > 1 else 300, srv.shutdown).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
