"""Points the observatory simulator's own boto3 code (obs.py, client.py, run
unmodified from a checkout named by ASTRO_PYTHONBITS_DIR) at the local AWS
stand-ins: every botocore client for sqs, dynamodb or s3 gets its endpoint
from SQS_ENDPOINT / DDB_ENDPOINT / S3_ENDPOINT, and s3 path-style addressing
(the stand-in serves no virtual-hosted names).  Loaded only by putting this
directory first on PYTHONPATH; without those variables it changes nothing.
"""
import os

try:
    import botocore.session
    from botocore.config import Config
except ImportError:  # not a boto process: nothing to redirect
    botocore = None

_ENDPOINTS = {"sqs": "SQS_ENDPOINT", "dynamodb": "DDB_ENDPOINT", "s3": "S3_ENDPOINT"}

if botocore is not None:
    _create_client = botocore.session.Session.create_client

    def _redirected(self, service_name, *args, **kwargs):
        ep = os.environ.get(_ENDPOINTS.get(service_name, ""), "")
        if ep and not kwargs.get("endpoint_url"):
            kwargs["endpoint_url"] = ep
            if service_name == "s3":
                path = Config(s3={"addressing_style": "path"})
                cfg = kwargs.get("config")
                kwargs["config"] = cfg.merge(path) if cfg else path
        return _create_client(self, service_name, *args, **kwargs)

    botocore.session.Session.create_client = _redirected

    # obs.py (written for Python 3.6) returns from its main thread once its
    # site threads run; since Python 3.9 concurrent.futures then refuses new
    # work ("cannot schedule new futures after interpreter shutdown"), which
    # is what boto3's threaded upload_file uses.  Uploading in the calling
    # thread keeps its image uploads working, as they did on 3.6.
    try:
        from boto3.s3.transfer import TransferConfig
    except ImportError:
        TransferConfig = None
    if TransferConfig is not None and os.environ.get(_ENDPOINTS["s3"]):
        _tc_init = TransferConfig.__init__

        def _tc_unthreaded(self, *args, **kwargs):
            kwargs.setdefault("use_threads", False)
            _tc_init(self, *args, **kwargs)

        TransferConfig.__init__ = _tc_unthreaded
