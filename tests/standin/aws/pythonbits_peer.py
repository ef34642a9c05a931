#!/usr/bin/env python3
"""The observatory simulator's side of the `pythonbits` layout, written for
these tests from its documented wire format (botocore, like its boto3 code):

  pythonbits_peer.py client SITE [JSON]   send one command as its client.py
                                          does (default: expose 1 s, the
                                          duration a number, as float(inp)
                                          makes it; goto's ra/dec are the
                                          typed strings); waits
                                          (bounded) for the site's queue
  pythonbits_peer.py status SITE          print the status item (JSON)
  pythonbits_peer.py site SITE N          as its obs.py: receive N messages
                                          (bounded), print each body, delete
                                          it, then publish a status item

Endpoints from SQS_ENDPOINT / DDB_ENDPOINT; credentials from AWS_*.
"""
import json
import os
import sys
import time

import botocore.session


def client(svc):
    ep = os.environ["SQS_ENDPOINT" if svc == "sqs" else "DDB_ENDPOINT"]
    return botocore.session.get_session().create_client(
        svc, endpoint_url=ep, region_name="us-east-1")


def queue_url(sqs, site, create):
    name = f"{site}_from_aws_pythonbits.fifo"
    for _ in range(100):
        try:
            return sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            if create:
                return sqs.create_queue(QueueName=name, Attributes={
                    "FifoQueue": "true", "ContentBasedDeduplication": "true",
                    "MessageRetentionPeriod": "180"})["QueueUrl"]
            time.sleep(0.2)
    sys.exit(f"queue {name} never appeared")


def main():
    mode, site = sys.argv[1], sys.argv[2]
    if mode == "client":
        body = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {
            "device": "camera_1", "command": "expose", "duration": 1.0}
        body["timestamp"] = int(time.time())
        sqs = client("sqs")
        # As client.py: the one message group, no deduplication id.
        sqs.send_message(QueueUrl=queue_url(sqs, site, False), MessageBody=json.dumps(body),
                         MessageGroupId="LandOfSunshine")
    elif mode == "status":
        item = client("dynamodb").get_item(TableName=f"{site}_state_pythonbits",
                                           Key={"State": {"S": "State"}}, ConsistentRead=True)
        print(json.dumps({k: v["S"] for k, v in item["Item"].items()}, sort_keys=True))
    elif mode == "site":
        sqs, n, got = client("sqs"), int(sys.argv[3]), 0
        url = queue_url(sqs, site, True)
        end = time.time() + 30
        while got < n and time.time() < end:
            r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1,
                                    VisibilityTimeout=10)
            for m in r.get("Messages", []):
                print(m["Body"], flush=True)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                got += 1
        ddb = client("dynamodb")
        table = f"{site}_state_pythonbits"
        try:
            ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                             AttributeDefinitions=[{"AttributeName": "State", "AttributeType": "S"}],
                             KeySchema=[{"AttributeName": "State", "KeyType": "HASH"}])
        except ddb.exceptions.ResourceInUseException:
            pass
        for _ in range(100):
            if ddb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE":
                break
            time.sleep(0.1)
        item = {"State": "State", "site": site, "timestamp": str(int(time.time())),
                "mnt1_ra": "5.5", "mnt1_dec": "-5.4", "mnt1_is_parked": "False",
                "mnt1_is_tracking": "True", "mnt1_tracking_ra_rate": "0.0",
                "mnt1_tracking_dec_rate": "0.0", "cam1_binX": "1", "cam1_binY": "1",
                "cam1_last_exposure_time": "empty", "cam1_last_image_name": "empty"}
        ddb.put_item(TableName=table, Item={k: {"S": v} for k, v in item.items()})
        if got < n:
            sys.exit(f"received {got} of {n} messages")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
