#!/usr/bin/env python3
"""Independent checks of the requests the aws /obs backend sent
(tests/unit/test_obs_aws.c records them with a fake server).

  aws_oracle.py REQUESTS.json

REQUESTS.json: {"access_key", "secret_key", "region", "requests": [{"method",
"url", "headers": [[name, value]...], "query": [[name, value]...], "body"}]}.

For every request:
  - botocore recomputes the SigV4 Authorization header (SigV4Auth for SQS and
    DynamoDB, S3SigV4Auth for S3) from the method, URL, the headers the
    request says it signed, the body and its X-Amz-Date; it must equal the
    one sent;
  - the parameters are validated against botocore's service model of the
    operation (DynamoDB: the JSON body; SQS: the Query form fields).
Prints one line per problem and "checked N requests"; exit 0 if none,
1 if any, 77 if botocore is not importable.
"""
import json
import sys
import urllib.parse

try:
    import botocore.session
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.validate import ParamValidator
except ImportError as e:  # pragma: no cover
    print(f"botocore not available: {e}", file=sys.stderr)
    sys.exit(77)


def header(req, name):
    for n, v in req["headers"]:
        if n.lower() == name.lower():
            return v
    return None


def service_of(req):
    target = header(req, "X-Amz-Target") or ""
    if target.startswith("DynamoDB_20120810."):
        return "dynamodb", target.split(".", 1)[1]
    if req["method"] == "POST" and urllib.parse.urlsplit(req["url"]).path == "/":
        form = dict(urllib.parse.parse_qsl(req["body"], keep_blank_values=True))
        return "sqs", form.get("Action")
    return "s3", None


def check_signature(doc, req, service):
    auth = header(req, "Authorization") or ""
    parts = dict(p.strip().split("=", 1) for p in auth.split(" ", 1)[1].split(","))
    signed = parts["SignedHeaders"].split(";")
    scope = parts["Credential"].split("/")
    if scope[0] != doc["access_key"] or scope[2] != doc["region"] or scope[3] != service:
        return f"credential scope {parts['Credential']} is not {service}/{doc['region']}"
    # The query goes in as parameters: botocore encodes and sorts them itself.
    areq = AWSRequest(method=req["method"], url=req["url"], data=req["body"].encode())
    areq.params = {n: v for n, v in req["query"]}
    for name in signed:
        if name in ("host", "x-amz-date", "x-amz-content-sha256"):
            continue  # botocore derives these itself
        areq.headers[name] = header(req, name)
    areq.context["timestamp"] = header(req, "X-Amz-Date")
    creds = Credentials(doc["access_key"], doc["secret_key"])
    signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(creds, service, doc["region"])
    signer._modify_request_before_signing(areq)
    cr = signer.canonical_request(areq)
    sig = signer.signature(signer.string_to_sign(areq, cr), areq)
    signer._inject_signature_to_request(areq, sig)
    if areq.headers["Authorization"] != auth:
        return f"signature differs from botocore's\n  sent:     {auth}\n  botocore: {areq.headers['Authorization']}\n  canonical request:\n{cr}"
    return None


def typed(shape, form):
    """Query-protocol strings -> the member types of the shape."""
    out = {}
    for k, v in form.items():
        m = shape.members.get(k)
        if m is not None and m.type_name == "integer":
            v = int(v)
        out[k] = v
    return out


def check_model(session, req, service, op):
    model = session.get_service_model(service)
    if op not in model.operation_names:
        return f"{service}: no operation {op}"
    shape = model.operation_model(op).input_shape
    if service == "dynamodb":
        params = json.loads(req["body"])
    else:
        form = dict(urllib.parse.parse_qsl(req["body"], keep_blank_values=True))
        form.pop("Action", None)
        if form.pop("Version", None) != "2012-11-05":
            return "sqs: Version is not 2012-11-05"
        params = typed(shape, form)
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        return f"{service} {op}: {report.generate_report()}"
    return None


def main():
    doc = json.load(open(sys.argv[1]))
    session = botocore.session.get_session()
    bad = 0
    for i, req in enumerate(doc["requests"]):
        service, op = service_of(req)
        for problem in (check_signature(doc, req, service),
                        op and check_model(session, req, service, op)):
            if problem:
                bad += 1
                print(f"request {i} ({req['method']} {req['url']} {op or ''}): {problem}")
    print(f"checked {len(doc['requests'])} requests")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
