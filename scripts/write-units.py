#!/usr/bin/env python3
"""What a delivery costs on AWS, measured through the real Lambda bootstraps against moto.

Every sample API Gateway event in events/<provider>/ is handed twice (the delivery, then its exact copy) to the
provider's release bootstrap through a stand-in for the Lambda Runtime API. The bootstrap's AWS calls go through
a counting proxy in front of moto, which prices every DynamoDB write by DynamoDB's sizing rules: attribute names
and values, each write rounded up per KB, an update charged on the larger of the item before and after, a failed
conditional write charged too, transactions twice, and every global secondary index written as well (its
projected item plus 100 bytes; a changed index key is a delete and an insert; a write that changes neither an
index's keys nor an attribute it projects does not write it). Prints, per delivery and in
summary: AWS calls, sequential round trips (calls in waves: a call that starts after every earlier call ended
opens a new wave), write units (table and indexes), read units, SNS publishes, the handling latency, and what a
million deliveries cost on AWS at list prices (the cost model of docs/benchmarks.md).

  scripts/with-moto.sh .venv/bin/python3 scripts/write-units.py [FUNCTIONS_DIR] [--json FILE] [--name TABLE]

Needs ESIMHOOKS_TEST_ENDPOINT (moto, set by with-moto.sh), boto3 (moto's), and the release bootstraps
(`cargo build --release -p webhooks`; FUNCTIONS_DIR defaults to target/release). A measurement, not a test.
"""
import base64, http.client, http.server, json, math, os, subprocess, sys, threading, time, urllib.parse

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOTO = os.environ["ESIMHOOKS_TEST_ENDPOINT"]
moto = urllib.parse.urlsplit(MOTO)
args = [a for a in sys.argv[1:]]
json_out = None
if "--json" in args:
    json_out = args[args.index("--json") + 1]
    del args[args.index("--json"):args.index("--json") + 2]
# The table and topic name: two runs on one moto (before and after a change) each get their own.
name = "units"
if "--name" in args:
    name = args[args.index("--name") + 1]
    del args[args.index("--name"):args.index("--name") + 2]
functions = args[0] if args else os.path.join(ROOT, "target/release")
REGION = "us-east-1"
creds = dict(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
dynamodb = boto3.client("dynamodb", endpoint_url=MOTO, **creds)
aws_env = dict(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION=REGION)

# The table and topic, made as operators make them (`esimhooks init`), named in the bootstraps' environment.
cli = next(p for p in (os.path.join(functions, "esimhooks"), os.path.join(ROOT, "target/debug/esimhooks")) if os.path.exists(p))
cli_env = dict(os.environ, AWS_ENDPOINT_URL=MOTO, ESIMHOOKS_EMAIL_FROM="alerts@example.com", **aws_env)
made = subprocess.run([cli, "init", "--table", name, "--topic", name], env=cli_env, capture_output=True, text=True, check=True)
for line in made.stdout.splitlines():
    if line.startswith("export ") and "=" in line:
        variable, value = line[len("export "):].split("=", 1)
        os.environ[variable] = value.strip("'\"")

# The one sample contact (events/customers/00-put-contact.json: the eSIM Access eSIM that runs low in
# events/esimaccess/05-data-usage-low.json), in a zone where it is midday now, so its SMS and email go out at once.
sample = json.load(open(os.path.join(ROOT, "events/customers/00-put-contact.json")))
fields = json.loads(sample["body"])
offset = (12 - time.gmtime().tm_hour + 12) % 24 - 12  # local hour 12 = UTC hour + offset, offset in -12..11
zone = f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"  # Etc/GMT-3 is three hours east of UTC
subprocess.run([cli, "customers", "set", "--backend", "aws", "--provider", "esimaccess",
                "--esim-ref", sample["rawPath"].rsplit("/", 1)[1], "--phone", fields["phone"], "--email", fields["email"],
                "--locale", fields["locale"], "--time-zone", zone, "--customer-id", fields["customer_id"], "--channels", "sms|email"],
               env=dict(cli_env, **{k: v for k, v in os.environ.items() if k.startswith("ESIMHOOKS_")}),
               capture_output=True, text=True, check=True)


def value_size(v):
    """DynamoDB's size of one attribute value (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html)."""
    (kind, x), = v.items()
    if kind == "S":
        return len(x.encode())
    if kind == "N":
        digits = x.lstrip("-").replace(".", "").lstrip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        # Base64 text in a request, bytes when boto3 read the item back.
        return len(x) if isinstance(x, (bytes, bytearray)) else len(base64.b64decode(x))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in x)
    if kind == "NS":
        return sum(value_size({"N": n}) for n in x)
    if kind == "BS":
        return sum(len(b) if isinstance(b, (bytes, bytearray)) else len(base64.b64decode(b)) for b in x)
    if kind == "L":
        return 3 + sum(1 + value_size(e) for e in x)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(e) for k, e in x.items())
    raise ValueError(kind)


def item_size(item):
    return sum(len(k.encode()) + value_size(v) for k, v in (item or {}).items())


def units(size):
    return max(1, math.ceil(size / 1024))


class Table:
    def __init__(self, name):
        t = dynamodb.describe_table(TableName=name)["Table"]
        self.name = name
        self.keys = [k["AttributeName"] for k in t["KeySchema"]]
        self.indexes = []
        for gsi in t.get("GlobalSecondaryIndexes", []):
            keys = [k["AttributeName"] for k in gsi["KeySchema"]]
            projection = gsi["Projection"]
            self.indexes.append((gsi["IndexName"], keys, projection["ProjectionType"], projection.get("NonKeyAttributes", [])))

    def key_of(self, item):
        return {k: item[k] for k in self.keys}

    def get(self, key):
        return dynamodb.get_item(TableName=self.name, Key=key, ConsistentRead=True).get("Item")

    def index_units(self, before, after):
        """Write units the indexes take for an item going from `before` to `after` (None: absent)."""
        total = {}
        for name, keys, kind, include in self.indexes:
            def entry(item):
                if not item or any(k not in item for k in keys):
                    return None
                if kind == "ALL":
                    projected = item
                else:
                    kept = set(self.keys) | set(keys) | (set(include) if kind == "INCLUDE" else set())
                    projected = {k: v for k, v in item.items() if k in kept}
                return (tuple(json.dumps(item[k], sort_keys=True) for k in keys), item_size(projected) + 100,
                        json.dumps(projected, sort_keys=True))
            old, new = entry(before), entry(after)
            cost = 0
            if old and new and old[2] == new[2]:
                cost = 0  # neither its keys nor a projected attribute changed: the index is not written
            elif old and new and old[0] == new[0]:
                cost = units(max(old[1], new[1]))
            else:
                cost = (units(old[1]) if old else 0) + (units(new[1]) if new else 0)
            if cost:
                total[name] = cost
        return total


tables = {}


def table(name):
    if name not in tables:
        tables[name] = Table(name)
    return tables[name]


def price_write(op, request, respond):
    """Forwards one DynamoDB write, priced: (response, {table/index: units})."""
    priced = {}

    def target(spec):
        t = table(spec["TableName"])
        return t, spec.get("Key") or t.key_of(spec["Item"])

    if op == "TransactWriteItems":
        # (table, key, item before, whether the entry only checks a condition: charged, but writes no index)
        writes = []
        for w in request["TransactItems"]:
            (kind, spec), = w.items()
            t, key = target(spec)
            writes.append((t, key, t.get(key), kind == "ConditionCheck"))
        status, headers, body = respond()
        ok = status == 200
        for t, key, before, check in writes:
            after = t.get(key) if ok and not check else before
            size = max(item_size(before), item_size(after))
            priced[t.name] = priced.get(t.name, 0) + 2 * units(size)
            if ok and not check:
                for index, n in t.index_units(before, after).items():
                    priced[index] = priced.get(index, 0) + 2 * n
        return (status, headers, body), priced
    if op == "BatchWriteItem":
        writes = []
        for name, items in request["RequestItems"].items():
            t = table(name)
            for w in items:
                (_, spec), = w.items()
                key = spec.get("Key") or t.key_of(spec["Item"])
                writes.append((t, key, t.get(key)))
        status, headers, body = respond()
        for t, key, before in writes:
            after = t.get(key)
            priced[t.name] = priced.get(t.name, 0) + units(max(item_size(before), item_size(after)))
            for index, n in t.index_units(before, after).items():
                priced[index] = priced.get(index, 0) + n
        return (status, headers, body), priced
    t, key = target(request)
    before = t.get(key)
    status, headers, body = respond()
    after = t.get(key)
    if status == 200:
        size = max(item_size(before), item_size(after))
        priced[t.name] = units(size)
        priced.update(t.index_units(before, after))
    else:
        # A failed conditional write is charged as a write of the item it was checked against (or the request's).
        attempted = request.get("Item") or before
        priced[t.name] = units(max(item_size(before), item_size(attempted)))
    return (status, headers, body), priced


WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
state = {"current": None}
lock = threading.Lock()


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def forward(self, body):
        connection = http.client.HTTPConnection(moto.hostname, moto.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")}
        connection.request(self.command, self.path, body=body, headers=headers)
        reply = connection.getresponse()
        data = reply.read()
        out = [(k, v) for k, v in reply.getheaders() if k.lower() not in ("content-length", "transfer-encoding", "connection")]
        connection.close()
        return reply.status, out, data

    def handle_any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        started = time.perf_counter()
        target = self.headers.get("X-Amz-Target", "")
        service, _, op = target.partition(".")
        priced = {}
        reads = 0
        if service.startswith("DynamoDB") and op in WRITES:
            (status, headers, data), priced = price_write(op, json.loads(body), lambda: self.forward(body))
        elif service.startswith("DynamoDB") and op in ("GetItem", "BatchGetItem"):
            # A strongly consistent read of an item up to 4 KB is one read unit, per key asked.
            request = json.loads(body)
            reads = 1 if op == "GetItem" else sum(len(v["Keys"]) for v in request["RequestItems"].values())
            status, headers, data = self.forward(body)
        else:
            status, headers, data = self.forward(body)
            if not op and self.path.startswith("/v2/email/outbound-emails"):
                service, op = "SES", "SendEmail"
            elif not op:
                form = urllib.parse.parse_qs(body.decode(errors="replace"))
                op = (form.get("Action") or ["?"])[0]
                service = "SNS" if op in ("Publish", "PublishBatch") else service or "query"
                if op == "Publish" and "PhoneNumber" in form:
                    op = "PublishSMS"
        ended = time.perf_counter()
        with lock:
            if state["current"] is not None:
                state["current"]["calls"].append({"service": service.split("_")[0], "op": op, "start": started,
                                                  "end": ended, "status": status, "units": priced,
                                                  "reads": reads})
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_GET = do_PUT = do_DELETE = handle_any


def waves(calls):
    depth, wave_end = 0, None
    for c in sorted(calls, key=lambda c: c["start"]):
        if wave_end is None or c["start"] >= wave_end:
            depth += 1
            wave_end = c["end"]
        else:
            wave_end = max(wave_end, c["end"])
    return depth


def run_provider(provider, events):
    """Serves each event twice to the provider's bootstrap; one record per invocation."""
    queue = [(name, copy, event) for name, event in events for copy in ("first", "copy")]
    records = []
    done = threading.Event()

    class RuntimeApi(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *a):
            pass

        def do_GET(self):
            if not queue:
                done.set()
                time.sleep(3600)
                return
            name, copy, event = queue.pop(0)
            record = {"provider": provider, "fixture": name, "copy": copy, "calls": [], "served": time.perf_counter()}
            with lock:
                state["current"] = record
            records.append(record)
            body = json.dumps(event).encode()
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{len(records)}")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:units")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            payload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                record = state["current"]
                state["current"] = None
            if record is not None:
                record["answered"] = time.perf_counter()
                try:
                    record["status"] = json.loads(payload).get("statusCode")
                except Exception:
                    record["status"] = "?"
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    runtime = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=runtime.serve_forever, daemon=True).start()
    secrets = json.load(open(os.path.join(ROOT, "fixtures/secrets.json")))
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{runtime.server_address[1]}", AWS_LAMBDA_FUNCTION_NAME=provider,
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128", AWS_LAMBDA_FUNCTION_VERSION="1", AWS_LAMBDA_LOG_STREAM_NAME="units",
               AWS_LAMBDA_LOG_GROUP_NAME="units", AWS_ENDPOINT_URL=f"http://127.0.0.1:{proxy.server_address[1]}", **aws_env)
    env[f"{provider.upper()}_SECRETS"] = ",".join(secrets.get(provider, {}).get("keyring", []))
    bootstrap = os.path.join(functions, provider)
    process = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done.wait(timeout=300)
    process.kill()
    runtime.shutdown()
    return [r for r in records if "answered" in r]


def summarize(r):
    calls = r["calls"]
    table_units = sum(n for c in calls for name, n in c["units"].items() if name in tables)
    index_units = sum(n for c in calls for name, n in c["units"].items() if name not in tables)
    publishes = sum(1 for c in calls if c["op"] in ("Publish", "PublishBatch"))
    messages = sum(1 for c in calls if c["op"] in ("PublishSMS", "SendEmail"))
    read_units = sum(c.get("reads", 0) for c in calls)
    return {"provider": r["provider"], "fixture": r["fixture"], "copy": r["copy"], "status": r.get("status"),
            "calls": len(calls), "sequential": waves(calls), "write_units": table_units + index_units,
            "table_units": table_units, "index_units": index_units, "publishes": publishes, "customer_messages": messages, "read_units": read_units,
            "ms": round((r["answered"] - r["served"]) * 1000, 2), "ops": [c["op"] for c in calls],
            "priced": [[c["op"], c["units"]] for c in calls]}


def stats(rows, field):
    values = sorted(r[field] for r in rows)
    if not values:
        return "-"
    return f"avg {sum(values) / len(values):.2f}  max {values[-1]}"


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round((len(values) - 1) * p))] if values else float("nan")


proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
threading.Thread(target=proxy.serve_forever, daemon=True).start()
rows = []
for provider in sorted(os.listdir(os.path.join(ROOT, "events"))):
    if not os.path.exists(os.path.join(functions, provider)):
        continue
    folder = os.path.join(ROOT, "events", provider)
    events = [(name, json.load(open(os.path.join(folder, name)))) for name in sorted(os.listdir(folder)) if name.endswith(".json")]
    rows += [summarize(r) for r in run_provider(provider, events)]

print(f"{'delivery':<52} {'copy':<5} {'st':>3} {'calls':>5} {'seq':>3} {'WCU':>4} {'(idx)':>5} {'pub':>3} {'ms':>7}")
for r in rows:
    print(f"{r['provider'] + '/' + r['fixture']:<52} {r['copy']:<5} {str(r['status']):>3} {r['calls']:>5} {r['sequential']:>3} "
          f"{r['write_units']:>4} {r['index_units']:>5} {r['publishes']:>3} {r['ms']:>7}")
accepted = [r for r in rows if r["status"] == 200]
first = [r for r in accepted if r["copy"] == "first" and r["write_units"] > 0]
plain = [r for r in first if r["publishes"] == 0]
alerting = [r for r in first if r["publishes"] > 0 and r["customer_messages"] == 0]
told = [r for r in first if r["customer_messages"] > 0]
copies = [r for r in accepted if r["copy"] == "copy"]
print()
for label, group in [("stored, no alert", plain), ("stored, with an alert", alerting), ("alert, customer told", told),
                     ("exact copy (duplicate)", copies)]:
    print(f"{label:<24} n={len(group):<3} write units {stats(group, 'write_units')}  (indexes {stats(group, 'index_units')})  "
          f"calls {stats(group, 'calls')}  sequential {stats(group, 'sequential')}")
ms = [r["ms"] for r in accepted]
print(f"handling latency over {len(ms)} accepted deliveries: p50 {percentile(ms, 0.5):.2f} ms, p99 {percentile(ms, 0.99):.2f} ms")

# What a million deliveries cost on AWS: list prices (us-east-1, on-demand; change them here when AWS does) times
# the inputs measured above. Lambda runs for the handling time measured against moto (a stand-in for DynamoDB's
# and SNS's own latency) at the template's memory size, billed per millisecond.
PRICES = {
    "lambda_request": 0.20 / 1e6,           # per invocation
    "lambda_gb_second": 0.0000133334,       # arm64
    "http_api_request": 1.00 / 1e6,         # API Gateway HTTP API, first 300 million a month
    "write_unit": 0.625 / 1e6,              # DynamoDB on-demand write request unit
    "read_unit": 0.125 / 1e6,               # DynamoDB on-demand read request unit
    "sns_publish": 0.50 / 1e6,              # SNS standard topic publish (64 KB)
}
MEMORY_GB = 128 / 1024


def cost(group):
    """Dollars per delivery of a group: (total, {part: dollars})."""
    if not group:
        return 0.0, {}
    mean = lambda field: sum(r[field] for r in group) / len(group)
    parts = {
        "Lambda": PRICES["lambda_request"] + PRICES["lambda_gb_second"] * MEMORY_GB * math.ceil(mean("ms")) / 1000,
        "API Gateway": PRICES["http_api_request"],
        "DynamoDB writes": PRICES["write_unit"] * mean("write_units"),
        "DynamoDB reads": PRICES["read_unit"] * mean("read_units"),
        "SNS": PRICES["sns_publish"] * mean("publishes"),
    }
    return sum(parts.values()), parts


print()
print("$ per million deliveries (prices in PRICES; SMS and email are extra, per message):")
groups = [("stored, no alert", plain), ("stored, with an alert", alerting), ("alert, customer told", told),
          ("exact copy (duplicate)", copies)]
for label, group in groups:
    total, parts = cost(group)
    detail = "  ".join(f"{k} {v * 1e6:.3f}" for k, v in parts.items())
    print(f"{label:<24} {total * 1e6:7.3f}   ({detail})")
# A month's mix as the simulation assumes it (docs/benchmarks.md): of every 1,000 deliveries 50 are exact
# copies, and a tenth of the stored ones alert.
mix = 0.95 * 0.9 * cost(plain)[0] + 0.95 * 0.1 * cost(alerting)[0] + 0.05 * cost(copies)[0]
print(f"{'mix (5 % copies, 10 % alert)':<24} {mix * 1e6:7.3f}")
if json_out:
    json.dump(rows, open(json_out, "w"), indent=1)
