#!/usr/bin/env python3
"""An Azure Blob endpoint that misbehaves on purpose, for the Azure
client's unit tests (tests/unit/test_azblob.c).  Path style, any account:

  HEAD .../denied.fits   403, no body, x-ms-error-code: AuthenticationFailed
  HEAD .../gone.fits     404, no body, x-ms-error-code: BlobNotFound
  GET  .../norange.fits  200 with 200000 bytes: the Range header ignored
  GET  .../short.fits    206 whose Content-Range does not match the range asked
  GET  .../err.fits      403 with Azure's <Error> document (AuthorizationFailure)
  GET  ...?comp=list...  a List Blobs page echoing the request: one Blob
                         named by the raw query string, one BlobPrefix named
                         by the Authorization header (or "none")

Prints "listening on 127.0.0.1:PORT" when ready.
"""
import sys
from http.server import ThreadingHTTPServer
from xml.sax.saxutils import escape

from quiet_http import QuietHandler


class H(QuietHandler):

    def do_HEAD(self):
        if self.path.endswith("/denied.fits"):
            self.send(403, extra=[("x-ms-error-code", "AuthenticationFailed")])
        elif self.path.endswith("/gone.fits"):
            self.send(404, extra=[("x-ms-error-code", "BlobNotFound")])
        else:
            self.send(200, extra=[("ETag", '"0x1"')])

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if "comp=list" in query:
            auth = self.headers.get("Authorization", "none")
            doc = ("<EnumerationResults><Blobs><Blob><Name>%s</Name><Properties>"
                   "<Content-Length>1</Content-Length></Properties></Blob>"
                   "<BlobPrefix><Name>%s</Name></BlobPrefix></Blobs><NextMarker/>"
                   "</EnumerationResults>" % (escape(query), escape(auth)))
            self.send(200, doc.encode())
        elif path.endswith("/norange.fits"):
            self.send(200, b"x" * 200000)
        elif path.endswith("/short.fits"):
            self.send(206, b"abc", [("Content-Range", "bytes 5-7/100")])
        elif path.endswith("/err.fits"):
            self.send(403, b"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>"
                      b"AuthorizationFailure</Code><Message>no.\nRequestId:1</Message></Error>")
        else:
            self.send(404)


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass	# the client hangs up on /norange.fits on purpose


srv = Server(("127.0.0.1", 0), H)
print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
