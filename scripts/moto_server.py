"""moto_server, with SNS's HTTP(S) deliveries written to a file instead of sent, and DynamoDB's writes atomic.

The test machine has no internet, and moto would POST every message that matches an HTTPS subscription to
the subscriber's real URL (a failed POST fails the Publish call). Partner callback tests need to see exactly
those deliveries: this records each one (URL, headers, the envelope moto built) as a JSON line in
$MOTO_HTTP_CAPTURE and answers it with 200, the way a healthy partner endpoint would.

DynamoDB applies each write (a conditional put, an update's ADD, a transaction) atomically; moto's threaded
server checks a condition and writes in two steps, so concurrent writes can both pass or lose an update. The
tests of concurrent deliveries rely on DynamoDB's guarantee, so moto's writes are made one at a time.
"""
import json
import os
import sys
import threading
import types

import moto.dynamodb.models as dynamodb_models
import moto.sns.models as sns_models
from moto.server import main

_capture_path = os.environ["MOTO_HTTP_CAPTURE"]
_lock = threading.Lock()


class _Accepted:
    status_code = 200
    ok = True
    text = ""


def _post(url, json=None, headers=None, **_kwargs):
    line = _json.dumps({"url": url, "headers": headers or {}, "body": json})
    with _lock, open(_capture_path, "a", encoding="utf-8") as capture:
        capture.write(line + "\n")
    return _Accepted()


_json = json
sns_models.requests = types.SimpleNamespace(post=_post)

_dynamodb_writes = threading.RLock()  # a transaction writes through put_item and delete_item


def _atomic(write):
    def one_at_a_time(*args, **kwargs):
        with _dynamodb_writes:
            return write(*args, **kwargs)

    return one_at_a_time


for _name in ("put_item", "update_item", "delete_item", "transact_write_items"):
    setattr(dynamodb_models.DynamoDBBackend, _name, _atomic(getattr(dynamodb_models.DynamoDBBackend, _name)))

if __name__ == "__main__":
    sys.exit(main())
