//! Test helpers shared by the integration tests: the repository's fixtures, a harness that runs the real
//! `Service` over in-memory adapters, the JSON Schemas in docs/, and the storage ports' conformance suite.
#![allow(dead_code)]

pub mod conformance;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Deserialize;
use shared::alerts::sink::MemorySink;
use shared::alerts::Alert;
use shared::auth::KeyRing;
use shared::clock::{Clock, FixedClock};
use shared::ingress::Delivery;
pub use shared::model::ProviderId;
use shared::pipeline::{Pipeline, PipelineSettings};
use shared::providers::Provider;
use shared::service::Service;
use shared::state::EsimState;
use shared::store::{DeliveryStatus, EventStore, KvStore, ListQuery, MemoryBackend, StoreQuery, StoredDelivery};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[derive(Debug, Clone, Deserialize)]
pub struct FixtureRequest {
    pub method: String,
    pub headers: BTreeMap<String, String>,
    pub source_ip: String,
    pub body: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Expect {
    pub status: u16,
    pub alert: Option<String>,
    pub kind: Option<String>,
    pub status_after: Option<String>,
    pub when: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Auth {
    pub url_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Fixture {
    pub provider: String,
    pub name: String,
    pub request: FixtureRequest,
    pub expect: Expect,
    pub auth: Option<Auth>,
    #[serde(skip)]
    pub file: String,
}

pub fn fixtures(provider: &str) -> Vec<Fixture> {
    let dir = repo_root().join("fixtures").join(provider);
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    assert!(!paths.is_empty(), "no fixtures in {}", dir.display());
    paths
        .into_iter()
        .map(|p| {
            let mut f: Fixture = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            f.file = p.file_name().unwrap().to_string_lossy().into_owned();
            f
        })
        .collect()
}

/// `provider`'s fixture called `name`.
pub fn fixture(provider: &str, name: &str) -> Fixture {
    fixtures(provider)
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no {provider} fixture {name}"))
}

pub fn secrets() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(repo_root().join("fixtures/secrets.json")).unwrap()).unwrap()
}

/// A delivery as the fixture describes it, with the URL token (if any) in the query string.
pub fn delivery(f: &Fixture, received_at: DateTime<Utc>) -> Delivery {
    let mut headers = HeaderMap::new();
    for (k, v) in &f.request.headers {
        headers.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let token = f.auth.as_ref().and_then(|a| a.url_token.clone());
    Delivery {
        method: Method::from_bytes(f.request.method.as_bytes()).unwrap(),
        path: format!("/webhooks/{}", f.provider),
        query: token.map(|t| format!("token={t}")).unwrap_or_default(),
        headers,
        source_ip: f.request.source_ip.parse().ok(),
        body: Bytes::from(f.request.body.clone()),
        received_at,
        request_id: Some(format!("test-{}", f.name)),
    }
}

/// Hex HMAC-SHA512 of `body` under `key`.
pub fn hmac_sha512_hex(key: &str, body: &[u8]) -> String {
    use hmac::{digest::KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha512> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Hex HMAC-SHA256 of `body` under `key`.
pub fn hmac_sha256_hex(key: &str, body: &[u8]) -> String {
    use hmac::{digest::KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

pub fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// The real service over in-memory adapters and a fixed clock.
pub struct Harness {
    pub service: Service,
    pub pipeline: Arc<Pipeline>,
    pub store: Arc<KvStore<MemoryBackend>>,
    pub sink: Arc<MemorySink>,
    pub clock: Arc<FixedClock>,
}

impl Harness {
    pub fn new(provider: Arc<dyn Provider>, now: &str, settings: PipelineSettings) -> Self {
        let store = Arc::new(KvStore::in_memory());
        let sink = Arc::new(MemorySink::new());
        Self::with(provider, now, settings, store, sink)
    }

    pub fn with(
        provider: Arc<dyn Provider>,
        now: &str,
        settings: PipelineSettings,
        store: Arc<KvStore<MemoryBackend>>,
        sink: Arc<MemorySink>,
    ) -> Self {
        let clock = Arc::new(FixedClock::at_rfc3339(now));
        let pipeline = Arc::new(Pipeline::new(store.clone(), sink.clone(), clock.clone(), settings));
        let service = Service::ready(provider, pipeline.clone(), 128 * 1024);
        Self {
            service,
            pipeline,
            store,
            sink,
            clock,
        }
    }

    /// Hands each of `provider`'s fixtures called `names` to the service once, at the harness's time; every
    /// one must be accepted.
    pub async fn accept(&self, provider: &str, names: &[&str]) {
        for name in names {
            let reply = self
                .service
                .handle(&delivery(&fixture(provider, name), self.clock.now()))
                .await;
            assert_eq!(reply.status, 200, "{provider}/{name}");
        }
    }

    /// Each published alert as (type, level, provider level), in publishing order.
    pub fn published_levels(&self) -> Vec<(String, String, Option<String>)> {
        self.sink
            .published()
            .iter()
            .map(|a| {
                (
                    a.alert_type.as_str().to_string(),
                    a.level.clone(),
                    a.provider_level.clone(),
                )
            })
            .collect()
    }

    /// The first published alert of `alert_type` (`low_data`, `expiry`, ...); the test expects one.
    pub fn published_alert(&self, alert_type: &str) -> Alert {
        self.sink
            .published()
            .into_iter()
            .find(|a| a.alert_type.as_str() == alert_type)
            .unwrap_or_else(|| panic!("no {alert_type} alert published"))
    }

    /// The stored state of an eSIM the test expects to have one.
    pub async fn esim_state(&self, provider: ProviderId, key: &str) -> EsimState {
        self.store
            .load_state(provider, key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no state for {provider} {key}"))
            .value
    }
}

/// Posts a fixture twice through the harness. Both times: the status the fixture expects. When accepted, the
/// kind it expects, stored the first time and a duplicate the second; when refused, a JSON error message.
pub async fn post_twice(h: &Harness, f: &Fixture) {
    for attempt in ["first", "second"] {
        let reply = h.service.handle(&delivery(f, h.clock.now())).await;
        assert_eq!(reply.status, f.expect.status, "{} ({attempt}): {}", f.file, reply.body);
        if f.request.method != "POST" {
            continue; // HEAD: an empty body
        }
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
        if reply.status == 200 {
            let expected = if attempt == "first" { "stored" } else { "duplicate" };
            assert_eq!(body["outcome"], expected, "{} ({attempt})", f.file);
            assert_eq!(body["kind"].as_str(), f.expect.kind.as_deref(), "{}", f.file);
        } else {
            assert!(
                body["error"]["message"].is_string(),
                "{}: error body {}",
                f.file,
                reply.body
            );
        }
    }
}

/// Checks what a run of `all` left behind: each accepted POST stored once and completed, every stored event
/// valid against the schema, and the alert types published exactly those the fixtures expect.
pub async fn assert_stored_once_and_alerted(h: &Harness, all: &[Fixture], schemas: &Schemas) -> Vec<StoredDelivery> {
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    let accepted = all
        .iter()
        .filter(|f| f.expect.status == 200 && f.request.method == "POST")
        .count();
    assert_eq!(stored.len(), accepted, "each accepted delivery stored exactly once");
    for d in &stored {
        assert_eq!(d.status, DeliveryStatus::Completed);
        Schemas::check(&schemas.event, &serde_json::to_value(&d.event).unwrap());
    }
    let mut expected: Vec<String> = all.iter().filter_map(|f| f.expect.alert.clone()).collect();
    let mut published: Vec<String> = h
        .sink
        .published()
        .iter()
        .map(|a| a.alert_type.as_str().to_string())
        .collect();
    expected.sort();
    published.sort();
    assert_eq!(published, expected, "alerts published");
    for alert in h.sink.published() {
        Schemas::check(&schemas.alert, &serde_json::to_value(&alert).unwrap());
    }
    stored
}

/// Settings for concurrent copies against moto that must all be answered 200: each copy waits for the first
/// for as long as a loaded 2-core CI machine may take through moto (in production, a copy answered 503 after
/// 3 s is retried by the provider; a test would count it as a failure).
pub fn storm_settings() -> PipelineSettings {
    PipelineSettings {
        busy_wait: std::time::Duration::from_secs(30),
        ..PipelineSettings::default()
    }
}

/// Settings for tests: no waiting on a busy twin (tests drive concurrency explicitly).
pub fn quick_settings() -> PipelineSettings {
    PipelineSettings {
        busy_wait: std::time::Duration::ZERO,
        ..PipelineSettings::default()
    }
}

fn load_schema(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(repo_root().join("docs/schemas").join(name)).unwrap()).unwrap()
}

/// Serves `$ref`s to our own schemas from docs/schemas; nothing is fetched from the network.
struct LocalSchemas;

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri.as_str().rsplit('/').next().unwrap_or_default();
        Ok(load_schema(name))
    }
}

/// Validators for the event and alert JSON Schemas in docs/schemas.
pub struct Schemas {
    pub event: jsonschema::Validator,
    pub alert: jsonschema::Validator,
}

impl Schemas {
    pub fn load() -> Self {
        let event_schema = load_schema("event.schema.json");
        let event = jsonschema::options()
            .should_validate_formats(true)
            .build(&event_schema)
            .expect("event schema compiles");
        let alert = jsonschema::options()
            .should_validate_formats(true)
            .with_retriever(LocalSchemas)
            .build(&load_schema("alert.schema.json"))
            .expect("alert schema compiles");
        Self { event, alert }
    }

    pub fn check(validator: &jsonschema::Validator, instance: &serde_json::Value) {
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "schema violations: {errors:#?}\ninstance: {instance:#}"
        );
    }
}

/// The JSON body of a gateway response (Null when there is none).
pub fn response_json(r: &lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse) -> serde_json::Value {
    match &r.body {
        Some(lambda_http::aws_lambda_events::encodings::Body::Text(t)) => serde_json::from_str(t).unwrap(),
        _ => serde_json::Value::Null,
    }
}

/// When `provider`'s fixtures are delivered (fixtures/clock.json): their expectations hold then.
pub fn fixture_clock(provider: ProviderId) -> String {
    let text = std::fs::read_to_string(repo_root().join("fixtures/clock.json")).unwrap();
    let clock: serde_json::Value = serde_json::from_str(&text).unwrap();
    clock[provider.as_str()]
        .as_str()
        .expect("fixtures/clock.json")
        .to_string()
}

/// The fixture secrets of `provider`, current first (what its `<PREFIX>_SECRETS` would hold).
pub fn fixture_keyring(provider: ProviderId) -> Vec<String> {
    let s = secrets();
    let ring = s[provider.as_str()]["keyring"]
        .as_array()
        .expect("fixtures/secrets.json: keyring");
    ring.iter().map(|k| k.as_str().unwrap().to_string()).collect()
}

/// The fixture secret `provider` signs with (eSIM Access: its URL token).
pub fn fixture_secret(provider: ProviderId) -> String {
    fixture_keyring(provider).remove(0)
}

/// A delivery of exactly `body`, signed (or carrying the token) as `provider` does, with the fixture secret.
pub fn signed_delivery(provider: ProviderId, body: &str, received_at: DateTime<Utc>) -> Delivery {
    let request = shared::simulate::sign(provider, body, &fixture_secret(provider));
    let (path, query) = request
        .path_and_query
        .split_once('?')
        .unwrap_or((&request.path_and_query, ""));
    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    Delivery {
        method: Method::POST,
        path: path.to_string(),
        query: query.to_string(),
        headers,
        source_ip: None,
        body: Bytes::from(body.to_string()),
        received_at,
        request_id: None,
    }
}

/// Each provider with the fixture secrets, built from its spec as deployed (eSIM Access's published sender
/// IPs on).
pub fn deployed_provider(provider: ProviderId) -> Arc<dyn Provider> {
    let config = shared::providers::ProviderConfig {
        secrets: KeyRing::parse(&fixture_keyring(provider).join(",")).unwrap(),
        extra_secrets: Vec::new(),
        env: &|_| None,
        source_checks: shared::providers::SourceChecks::Deployed,
    };
    (provider.spec().build)(&config).unwrap()
}

/// Each provider with the fixture secrets, built from its spec, without sender allow-lists.
pub fn fixture_provider(provider: ProviderId) -> Arc<dyn Provider> {
    let ring = KeyRing::parse(&fixture_keyring(provider).join(",")).unwrap();
    (provider.spec().build)(&shared::providers::ProviderConfig::local(ring)).unwrap()
}

/// The Airalo package of [`airalo_reading`] and the notices tests send about it.
pub const AIRALO_PACKAGE: &str = "bonbon-7gb-10days";

/// An Airalo eSIM's usage read from amounts (as another source of the same eSIM would give it): 10 % left.
pub fn airalo_reading(iccid: &str, now: DateTime<Utc>) -> shared::model::Event {
    usage_reading(
        ProviderId::Airalo,
        iccid,
        AIRALO_PACKAGE,
        ("reading-1", now),
        100_000_000,
    )
}

/// A usage event of `provider`'s eSIM `iccid` on `bundle`: `remaining` of 1 GB, keyed `id`, at `at`.
pub fn usage_reading(
    provider: ProviderId,
    iccid: &str,
    bundle: &str,
    (id, at): (&str, DateTime<Utc>),
    remaining: u64,
) -> shared::model::Event {
    use shared::model::{Bundle, DataUsage, DedupeKey, EsimIdentity, Event, EventKind, PayloadSha256};
    let raw = serde_json::value::RawValue::from_string("{}".into()).unwrap();
    let mut event = Event::new(
        provider,
        EventKind::DataUsage,
        DedupeKey::provider_id(id),
        at,
        PayloadSha256::ZERO,
        raw,
    );
    event.esim = Some(EsimIdentity {
        key: iccid.into(),
        iccid: Some(iccid.into()),
        refs: Default::default(),
    });
    event.bundle = Some(Bundle {
        reference: Some(bundle.into()),
        name: Some(bundle.into()),
    });
    event.usage = Some(
        DataUsage {
            total_bytes: Some(1_000_000_000),
            remaining_bytes: Some(remaining),
            ..DataUsage::default()
        }
        .complete(),
    );
    event
}

const PYTHON_VERIFIER: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
results = []
for case in json.load(sys.stdin):
    try:
        Webhook(case["secret"]).verify(case["body"], case["headers"])
        results.append("verified")
    except Exception as error:
        results.append(type(error).__name__)
print(json.dumps(results))
"#;

const NODE_VERIFIER: &str = r#"
const { Webhook } = require("standardwebhooks");
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
console.log(JSON.stringify(cases.map((c) => {
  try { new Webhook(c.secret).verify(c.body, c.headers); return "verified"; }
  catch (error) { return error.name || "Error"; }
})));
"#;

/// Runs `program` with `args`, the cases as JSON on stdin; its JSON answer.
fn run_verifier(program: &str, args: &[&str], env: &[(&str, String)], cases: &[serde_json::Value]) -> Vec<String> {
    use std::io::Write;
    let mut child = std::process::Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(cases).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// What the reference Standard Webhooks library (PyPI `standardwebhooks`, in the test venv named by
/// ESIMHOOKS_TEST_PYTHON) says of each case (`{secret, headers, body}`): `verified` or the exception it raised.
/// Where scripts/with-moto.sh installed the npm `standardwebhooks` too (Node present), it must agree on every
/// case.
pub fn reference_verdicts(cases: &[serde_json::Value]) -> Vec<String> {
    let python = std::env::var("ESIMHOOKS_TEST_PYTHON").expect(
        "ESIMHOOKS_TEST_PYTHON is not set: run the tests with scripts/test.sh, which installs standardwebhooks",
    );
    let verdicts = run_verifier(&python, &["-c", PYTHON_VERIFIER], &[], cases);
    if let Ok(modules) = std::env::var("ESIMHOOKS_TEST_NODE_MODULES") {
        let node = run_verifier("node", &["-e", NODE_VERIFIER], &[("NODE_PATH", modules)], cases);
        let agree = |p: &String, n: &String| (p == "verified") == (n == "verified");
        assert!(
            verdicts.iter().zip(&node).all(|(p, n)| agree(p, n)) && node.len() == verdicts.len(),
            "Python {verdicts:?} and Node {node:?} disagree"
        );
    }
    verdicts
}
