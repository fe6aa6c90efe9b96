"""moto_server, with SNS's HTTP(S) deliveries written to a file instead of sent.

The test machine has no internet, and moto would POST every message that matches an HTTPS subscription to
the subscriber's real URL (a failed POST fails the Publish call). Partner callback tests need to see exactly
those deliveries: this records each one (URL, headers, the envelope moto built) as a JSON line in
$MOTO_HTTP_CAPTURE and answers it with 200, the way a healthy partner endpoint would. Nothing else changes.
"""
import json
import os
import sys
import threading
import types

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

if __name__ == "__main__":
    sys.exit(main())
