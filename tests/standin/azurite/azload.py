#!/usr/bin/python3
"""azload.py — load Azurite for the /fits Azure tests with Microsoft's own
SDK (Debian's python3-azure), an implementation independent of astrofs.

  azload.py ENV_FILE container NAME [public]   create a container (public: blob+container read)
  azload.py ENV_FILE put NAME BLOB FILE         upload FILE as BLOB
  azload.py ENV_FILE tree NAME PREFIX DIR       every file under DIR as PREFIX/<relative path>
  azload.py ENV_FILE many NAME PREFIX N         N small FITS blobs PREFIX00000.fits ...
  azload.py ENV_FILE sas NAME                   print a read+list SAS for the container (1 h)
  azload.py ENV_FILE sign METHOD PATH DATE [H=V ...]
      the Shared Key signature the SDK computes for a GET/HEAD of PATH
      (a path under the account, query included) with x-ms-date DATE

ENV_FILE is azurite.sh's DIR/env.  Exit 77 when the SDK is not installed.
"""
import concurrent.futures
import datetime
import os
import sys

try:
    from azure.storage.blob import (BlobServiceClient, ContainerSasPermissions,
                                    PublicAccess, generate_container_sas)
except ImportError:
    sys.stderr.write("azload: python3-azure is not installed\n")
    sys.exit(77)


def env(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            out[k] = v
    return out


def small_fits(i):
    """A minimal valid FITS file: one primary header, no data."""
    cards = ["SIMPLE  =                    T", "BITPIX  =                    8",
             "NAXIS   =                    0", "OBJECT  = 'blob%05d'" % i, "END"]
    return "".join(c.ljust(80) for c in cards).ljust(2880).encode("ascii")


def main(argv):
    e = env(argv[1])
    svc = BlobServiceClient(account_url=e["AZ_URL"],
                            credential={"account_name": e["AZ_ACCOUNT"],
                                        "account_key": e["AZ_KEY"]})
    cmd = argv[2]
    if cmd == "container":
        public = len(argv) > 4 and argv[4] == "public"
        svc.create_container(argv[3], public_access=PublicAccess.Container if public else None)
    elif cmd == "put":
        with open(argv[5], "rb") as f:
            svc.get_blob_client(argv[3], argv[4]).upload_blob(f, overwrite=True)
    elif cmd == "tree":
        c = svc.get_container_client(argv[3])
        files = []
        for root, _, names in os.walk(argv[5], followlinks=True):
            for n in names:
                full = os.path.join(root, n)
                files.append((argv[4] + "/" + os.path.relpath(full, argv[5]), full))

        def up(kv):
            with open(kv[1], "rb") as f:
                c.upload_blob(kv[0], f, overwrite=True)
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(up, files))
    elif cmd == "many":
        c = svc.get_container_client(argv[3])
        n = int(argv[5])
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda i: c.upload_blob("%s%05d.fits" % (argv[4], i), small_fits(i),
                                                overwrite=True), range(n)))
    elif cmd == "sas":
        print(generate_container_sas(
            e["AZ_ACCOUNT"], argv[3], account_key=e["AZ_KEY"],
            permission=ContainerSasPermissions(read=True, list=True),
            expiry=datetime.datetime.utcnow() + datetime.timedelta(hours=1)))
    elif cmd == "sign":
        sign(e, argv[3], argv[4], argv[5], argv[6:])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


def sign(e, method, path, date, extra):
    """The SDK's Shared Key policy applied to a request we describe."""
    from azure.core.pipeline import PipelineRequest, PipelineContext
    from azure.core.rest import HttpRequest
    from azure.storage.blob._shared.authentication import SharedKeyCredentialPolicy
    headers = {"x-ms-date": date, "x-ms-version": "2021-08-06"}
    for h in extra:
        k, _, v = h.partition("=")
        headers[k] = v
    req = HttpRequest(method, "http://127.0.0.1" + path, headers=headers)
    pol = SharedKeyCredentialPolicy(e["AZ_ACCOUNT"], e["AZ_KEY"])
    pol.on_request(PipelineRequest(req, PipelineContext(None)))
    print(req.headers["Authorization"])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
