#!/usr/bin/env python3
"""Writes events/<provider>/<fixture>.json: API Gateway HTTP API (v2) events built from fixtures/, for
`cargo lambda invoke --data-file`. Deterministic, so re-running it changes nothing unless fixtures change."""
import json, pathlib, sys

root = pathlib.Path(__file__).resolve().parent.parent
providers = sys.argv[1:] or [p.name for p in (root / "fixtures").iterdir() if p.is_dir()]
for provider in providers:
    out_dir = root / "events" / provider
    out_dir.mkdir(parents=True, exist_ok=True)
    for fixture_path in sorted((root / "fixtures" / provider).glob("*.json")):
        fixture = json.loads(fixture_path.read_text())
        req = fixture["request"]
        token = (fixture.get("auth") or {}).get("url_token")
        query = f"token={token}" if token else ""
        path = f"/webhooks/{provider}"
        event = {
            "version": "2.0",
            "routeKey": f"{req['method']} {path}",
            "rawPath": path,
            "rawQueryString": query,
            "headers": {**req["headers"], "host": "abc123.execute-api.eu-west-1.amazonaws.com"},
            "queryStringParameters": {"token": token} if token else None,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
                "domainPrefix": "abc123",
                "http": {
                    "method": req["method"],
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": req["source_ip"],
                    "userAgent": "provider-webhook/1.0",
                },
                "requestId": f"sample-{fixture_path.stem}",
                "routeKey": f"{req['method']} {path}",
                "stage": "$default",
                "time": "22/Apr/2026:17:16:34 +0000",
                "timeEpoch": 1776878194000,
            },
            "body": req["body"],
            "isBase64Encoded": False,
        }
        if event["queryStringParameters"] is None:
            del event["queryStringParameters"]
        (out_dir / fixture_path.name).write_text(json.dumps(event, indent=2) + "\n")
        print(out_dir / fixture_path.name)
