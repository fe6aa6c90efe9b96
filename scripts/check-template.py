#!/usr/bin/env python3
"""Checks template.yaml for what cfn-lint cannot know: that it matches this code base.

- every environment variable a function sets is one the Rust code reads, and every webhook function gets
  the table, the topic and its provider's secret parameter;
- every function's binary exists as a workspace package, every provider has its POST route (Airalo also
  HEAD) on a function of that provider;
- no secret value is in the template: secrets only by SSM parameter name, none of the fixture secrets;
- each function reads only its own secret parameters and touches only the events table and alerts topic;
- the partner callbacks API has its routes on its own function, which alone may manage subscriptions, and
  docs/callbacks.md's route table lists exactly those routes with their shape;
- the customer directory's route is on its own function and takes only IAM-signed requests.
Exits non-zero with a line per failed check."""
import json, pathlib, re, sys, tomllib
import yaml

root = pathlib.Path(__file__).resolve().parent.parent

class Loader(yaml.SafeLoader):
    pass

def tagged(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else "Fn::" + suffix
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}

Loader.add_multi_constructor("!", tagged)
template = yaml.load((root / "template.yaml").read_text(), Loader=Loader)
resources, parameters = template["Resources"], template.get("Parameters", {})
globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
source = "\n".join(p.read_text() for p in (root / "shared/src").rglob("*.rs"))
failures, checks = [], 0

def check(ok, message):
    global checks
    checks += 1
    if not ok:
        failures.append(message)

def refs(value):
    """Logical names a value refers to (Ref, GetAtt, ${...} in Sub)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref":
                yield inner
            elif key == "Fn::GetAtt":
                yield (inner.split(".")[0] if isinstance(inner, str) else inner[0])
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                yield from (m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
            else:
                yield from refs(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from refs(inner)

# The partner callbacks API: its routes (docs/callbacks.md) and the SNS actions managing partner subscriptions.
CALLBACK_ROUTES = [
    ("PUT", "/{partnerId}/callbacks/{notificationType}"),
    ("GET", "/{partnerId}/callbacks"),
    ("DELETE", "/{partnerId}/callbacks/{notificationType}"),
    ("POST", "/v1/callbacks/echo/{partnerId}/{notificationTypeId}"),
    ("POST", "/{partnerId}/secret/rotate"),
    ("GET", "/{partnerId}/callbacks/attempts"),
    ("POST", "/{partnerId}/callbacks/recover"),
]
CALLBACK_SNS_ACTIONS = {"sns:Publish", "sns:Unsubscribe"}

# Binaries: each package under functions/ (its own name), and each binary of functions/webhooks/src/bin.
packages = {}
for manifest in (root / "functions").glob("*/Cargo.toml"):
    data = tomllib.loads(manifest.read_text())
    packages[data["package"]["name"]] = manifest.parent.name
    for binary in (manifest.parent / "src/bin").glob("*.rs"):
        packages[binary.stem] = manifest.parent.name

# The providers, as the list in model/provider_id.rs gives them (one line each).
registry = (root / "shared/src/model/provider_id.rs").read_text()
providers = re.findall(r'^    \w+ = "(\w+)",$', registry, re.M)
check(len(providers) >= 4 and "esimgo" in providers, f"provider names read from model/provider_id.rs: {providers}")
check(sorted(providers) == sorted(p.stem for p in (root / "functions/webhooks/src/bin").glob("*.rs")),
      "every provider has its binary in functions/webhooks/src/bin, and only they")
# The optional secret lists a provider's spec names (`extra_secrets: &["ESIMGO_V2_TOKENS"]`): read by format!.
extra_secrets = {name for module in (root / "shared/src/providers").glob("*.rs")
                 for listed in re.findall(r"extra_secrets: &\[([^\]]*)\]", module.read_text())
                 for name in re.findall(r'"([A-Z0-9_]+)"', listed)}

# Providers asked about usage have an API module (`providers/<id>_api.rs`); their credentials' parameter is
# named by format! (`<PREFIX>_API_CREDENTIALS_PARAM`).
api_providers = {p for p in providers if (root / f"shared/src/providers/{p}_api.rs").exists()}
check(len(api_providers) >= 4, f"providers with a usage API module: {sorted(api_providers)}")

functions = {name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
routes = {}
for name, function in functions.items():
    props = function.get("Properties", {})
    binary = function.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
    check(binary in packages, f"{name}: binary {binary!r} is not a package under functions/")
    check(function.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda", f"{name}: BuildMethod is not rust-cargolambda")
    env = {**globals_env, **props.get("Environment", {}).get("Variables", {})}
    for var, value in env.items():
        built = {f"{p.upper()}_SECRETS_PARAM" for p in providers} | {f"{e}_PARAM" for e in extra_secrets}
        built |= {f"{p.upper()}_API_CREDENTIALS_PARAM" for p in api_providers}
        check(f'"{var}"' in source or var in built or var == "RUST_LOG",
              f"{name}: environment variable {var} is read nowhere in shared/src")
        for target in refs(value):
            check(target in resources or target in parameters or target.startswith("AWS::"),
                  f"{name}: {var} refers to {target}, which does not exist")
        check(not re.fullmatch(r"[A-Z]+_SECRETS", var) and var != "ESIMGO_V2_TOKENS",
              f"{name}: {var} would put a secret value in the template; use the _PARAM form")
    provider = next((p for p in providers if binary == p), None)
    if provider:
        for var in ("ESIMHOOKS_TABLE", "ESIMHOOKS_TOPIC_ARN", f"{provider.upper()}_SECRETS_PARAM"):
            check(var in env, f"{name}: missing {var}")
    policies = props.get("Policies", [])
    managed = [resources[p["Ref"]] for p in policies if isinstance(p, dict) and p.get("Ref") in resources]
    statements = [s for policy in policies if isinstance(policy, dict) for s in policy.get("Statement", [])]
    statements += [s for m in managed for s in m["Properties"]["PolicyDocument"]["Statement"]]
    # A statement under a condition: the statement it gives when the condition holds.
    statements = [s["Fn::If"][1] if "Fn::If" in s else s for s in statements]
    # Customers are told by the customer sender (and held messages by the scheduled run); the provider
    # functions only name the contact on the operator's alert, so they may not message anyone.
    if binary in ("customers-sender", "expiry-sweep"):
        check({"Ref": "CustomerMessagesPolicy"} in policies, f"{name}: cannot reach customers (CustomerMessagesPolicy)")
    if provider:
        check({"Ref": "CustomerMessagesPolicy"} not in policies, f"{name}: a provider function may not message customers")
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if "NotResource" in statement:
            # The one exception: SMS to customers' phones, Publish to anything that is not a topic.
            check(actions == ["sns:Publish"] and statement["NotResource"] == {"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"},
                  f"{name}: NotResource only for SMS (sns:Publish to anything but a topic)")
            continue
        if actions == ["sns:CheckIfPhoneNumberIsOptedOut"]:
            check(statement["Resource"] == "*", f"{name}: the SMS opt-out check is account-wide")
            continue
        if any(a.startswith("ses:") for a in actions):
            check(actions == ["ses:SendEmail"], f"{name}: SES access beyond SendEmail: {actions}")
            check(statement.get("Condition", {}).get("StringEquals", {}).get("ses:FromAddress") == {"Ref": "EmailFrom"},
                  f"{name}: customer email not limited to the configured sender")
            continue
        targets = set(refs(statement["Resource"]))
        if any(a.startswith("ssm:") for a in actions):
            own = {v.get("Ref") for v in env.values() if isinstance(v, dict)}
            own |= {v["Fn::If"][1]["Ref"] for v in props.get("Environment", {}).get("Variables", {}).values()
                    if isinstance(v, dict) and "Fn::If" in v}
            check({t for t in targets if not t.startswith("AWS::")} <= own,
                  f"{name}: reads secret parameters it is not configured with: {targets}")
            # Providers' API credentials: only the asking worker (the others learn from the names who is asked).
            api = {t for t in targets if t.endswith("ApiCredentialsParameter")}
            check(not api or name == "ReconcileWorkerFunction", f"{name}: reads API credentials: {sorted(api)}")
        if any(a.startswith("dynamodb:") for a in actions):
            check(targets <= {"EventsTable"}, f"{name}: DynamoDB access beyond the events table: {targets}")
            check("dynamodb:Scan" not in actions and "dynamodb:*" not in actions, f"{name}: scans or wildcard DynamoDB access")
        if any(a.startswith("sns:") for a in actions):
            allowed = CALLBACK_SNS_ACTIONS if binary == "callbacks" else {"sns:Publish"}
            check(targets <= {"AlertsTopic"} and set(actions) <= allowed, f"{name}: SNS access beyond {sorted(allowed)}")
    for event in props.get("Events", {}).values():
        if event["Type"] == "HttpApi":
            routes.setdefault(event["Properties"]["Path"], set()).add((event["Properties"]["Method"], binary))
            authorizer = event["Properties"].get("Auth", {}).get("Authorizer")
            if event["Properties"]["Path"].startswith("/customers/"):
                check(authorizer == "AWS_IAM", f"{name}: {event['Properties']['Path']} is not authorized with AWS_IAM")

for provider in providers:
    path = f"/webhooks/{provider}"
    check(("POST", provider) in routes.get(path, set()), f"no POST {path} route on the {provider} function")
check(("HEAD", "airalo") in routes.get("/webhooks/airalo", set()), "Airalo's HEAD opt-in check has no route")
for path, methods in routes.items():
    for method, binary in methods:
        if path.startswith("/webhooks/"):
            check(path.split("/")[2] == binary, f"{method} {path} is served by {binary}")
        elif path.startswith("/customers/"):
            check(binary == "customers", f"{method} {path} is not on the customers function")
        else:
            check(binary == "callbacks", f"{method} {path} is outside /webhooks/ but not on the callbacks function")
for method, path in CALLBACK_ROUTES:
    check((method, "callbacks") in routes.get(path, set()), f"no {method} {path} route on the callbacks function")
# docs/callbacks.md's route table says which shape each route has: exactly these routes, each in one row.
documented = re.findall(r"^\| `(\w+) (/\S+)` \| (your resource|test echo) \|", (root / "docs/callbacks.md").read_text(), re.M)
check(sorted((m, p) for m, p, _ in documented) == sorted(CALLBACK_ROUTES),
      f"docs/callbacks.md's route table lists {sorted((m, p) for m, p, _ in documented)}, not the template's routes")
check(all((shape == "test echo") == p.startswith("/v1/") for _, p, shape in documented),
      "docs/callbacks.md's route table gives a route the wrong shape")
check(("PUT", "customers") in routes.get("/customers/{provider}/{esim}", set()),
      "no PUT /customers/{provider}/{esim} route on the customers function")
api_auth = resources.get("WebhookApi", {}).get("Properties", {}).get("Auth", {})
check(api_auth.get("EnableIamAuthorizer") is True, "the HTTP API does not enable the IAM authorizer")
binaries = {f.get("Metadata", {}).get("BuildProperties", {}).get("Binary") for f in functions.values()}
check("expiry-sweep" in binaries, "the expiry sweep function is missing")
check("callbacks-sender" in binaries, "the partner callback sender function is missing")
sender = next((f for f in functions.values() if f.get("Metadata", {}).get("BuildProperties", {}).get("Binary") == "callbacks-sender"), {})
queue_events = [e for e in sender.get("Properties", {}).get("Events", {}).values() if e["Type"] == "SQS"]
check(len(queue_events) == 1 and queue_events[0]["Properties"].get("FunctionResponseTypes") == ["ReportBatchItemFailures"],
      "the callback sender is triggered by its queue with batch item failures")
# The customer sender: triggered by a queue subscribed to the topic's alerts a customer may be told of.
check("customers-sender" in binaries, "the customer sender function is missing")
teller = next((f for f in functions.values() if f.get("Metadata", {}).get("BuildProperties", {}).get("Binary") == "customers-sender"), {})
teller_events = [e for e in teller.get("Properties", {}).get("Events", {}).values() if e["Type"] == "SQS"]
check(len(teller_events) == 1 and teller_events[0]["Properties"].get("FunctionResponseTypes") == ["ReportBatchItemFailures"],
      "the customer sender is triggered by its queue with batch item failures")
teller_queue = teller_events[0]["Properties"].get("Queue") if teller_events else None
told = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"
        and r["Properties"].get("Endpoint") == teller_queue]
check(len(told) == 1 and told[0].get("TopicArn") == {"Ref": "AlertsTopic"} and told[0].get("Protocol") == "sqs",
      "the customer sender's queue is subscribed to the alerts topic")
check(bool(told) and sorted(told[0].get("FilterPolicy", {}).get("alert_type", [])) == ["expiry", "low_data"],
      "the customer sender's subscription takes the low-data and expiry alerts (the types with a customer message)")
# Schema drift: per provider, an alarm on the share of its deliveries stored unrecognized or incomplete.
def drift_alarm_of(provider):
    for resource in resources.values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        queries = resource["Properties"].get("Metrics", [])
        named = {q["Id"]: q.get("MetricStat", {}).get("Metric", {}) for q in queries}
        drift = named.get("drift", {})
        if drift.get("MetricName") == "SchemaDrift" and {"Name": "provider", "Value": provider} in drift.get("Dimensions", []):
            return resource
for provider in providers:
    alarm = drift_alarm_of(provider)
    check(alarm is not None, f"no schema drift alarm for {provider}")
    if alarm:
        check(alarm["Properties"].get("AlarmActions") == [{"Ref": "OpsTopic"}], f"the {provider} drift alarm tells the ops topic")
check('"SchemaDrift"' in source, "the SchemaDrift metric the alarms read is emitted by shared/src")
api = next((f for f in functions.values() if f.get("Metadata", {}).get("BuildProperties", {}).get("Binary") == "callbacks"), {})
check(api.get("Properties", {}).get("Environment", {}).get("Variables", {}).get("ESIMHOOKS_CALLBACKS_QUEUE_URL") == {"Ref": "CallbacksQueue"},
      "the callbacks API queues recovered deliveries on the sender's queue (ESIMHOOKS_CALLBACKS_QUEUE_URL)")
api_sqs = [st for policy in api.get("Properties", {}).get("Policies", []) if isinstance(policy, dict)
           for st in policy.get("Statement", []) if isinstance(st, dict) and st.get("Action") == "sqs:SendMessage"]
check(any("CallbacksQueue" in set(refs(st.get("Resource"))) for st in api_sqs),
      "the callbacks API may send to the callbacks queue (recovery)")
subscriptions = [r for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"]
check(not any(r["Properties"].get("Protocol") in ("http", "https") for r in subscriptions),
      "no HTTP(S) subscription on the topic: partner callbacks are delivered by the sender")

text = (root / "template.yaml").read_text()
secrets = json.loads((root / "fixtures/secrets.json").read_text())
for provider, values in secrets.items():
    for key, value in values.items():
        for one in (value if isinstance(value, list) else [value]):
            if "secret" in key or "key" in key or "token" in key:
                check(one not in text, f"a fixture secret ({provider}.{key}) appears in template.yaml")
for name, parameter in parameters.items():
    if "Secret" in name or "Token" in name:
        check(parameter.get("Type") == "String" and "Default" in parameter and (parameter["Default"] in ("",) or parameter["Default"].startswith("/")),
              f"parameter {name} must hold an SSM parameter name, not a secret")

for failure in failures:
    print(f"template check failed: {failure}", file=sys.stderr)
print(f"template: {checks - len(failures)} of {checks} checks hold")
sys.exit(1 if failures else 0)
