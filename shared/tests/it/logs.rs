//! What the logs say: captured at info level in the Lambda JSON format while every provider's fixtures run.
//! No secret and no raw payload may appear; each request line carries what an operator needs.

use crate::common;

use common::*;
use serde_json::Value;
use shared::clock::Clock;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn all_secrets(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Object(m) => m.values().for_each(|v| all_secrets(v, out)),
        _ => {}
    }
}

/// Set in the child process that captures the logs.
const CHILD: &str = "ESIMHOOKS_TEST_LOGS_CHILD";

/// Runs alone in a child process of this test binary: tracing caches per call site whether anyone listens,
/// across threads, so the other tests of the binary running beside it could hide lines from the capture.
#[test]
fn logs_hold_no_secret_and_no_payload() {
    if std::env::var_os(CHILD).is_some() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        return runtime.block_on(captured_logs_hold_no_secret_and_no_payload());
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "logs::logs_hold_no_secret_and_no_payload",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(said.contains("1 passed"), "the child ran the test: {said}");
}

async fn captured_logs_hold_no_secret_and_no_payload() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let harnesses = [
        (
            "esimaccess",
            Harness::new(
                deployed_provider(ProviderId::EsimAccess),
                "2026-04-22T18:00:00Z",
                quick_settings(),
            ),
        ),
        (
            "esimgo",
            Harness::new(
                fixture_provider(ProviderId::EsimGo),
                "2030-11-27T00:00:00Z",
                quick_settings(),
            ),
        ),
        (
            "roamify",
            Harness::new(
                fixture_provider(ProviderId::Roamify),
                "2023-11-15T00:00:00Z",
                quick_settings(),
            ),
        ),
        (
            "airalo",
            Harness::new(
                fixture_provider(ProviderId::Airalo),
                "2026-11-23T09:00:00Z",
                quick_settings(),
            ),
        ),
    ];
    let mut bodies = Vec::new();
    for (provider, h) in &harnesses {
        for f in fixtures(provider) {
            h.service.handle(&delivery(&f, h.clock.now())).await;
            if f.request.body.len() > 20 {
                bodies.push(f.request.body.clone());
            }
        }
    }

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every log line is JSON"))
        .collect();
    assert!(lines.len() >= 30, "expected a line per request, got {}", lines.len());
    let mut secrets_list = Vec::new();
    all_secrets(&secrets(), &mut secrets_list);
    secrets_list.retain(|s| s.len() >= 8); // the sender IP is not a secret
    for secret in &secrets_list {
        assert!(!text.contains(secret.as_str()), "a secret reached the logs");
    }
    for body in &bodies {
        assert!(!text.contains(body.as_str()), "a raw payload reached the logs");
    }
    for iccid in [
        "8943108170001029631",
        "8944538532008160222",
        "8991234567890123456",
        "87123123456889019",
    ] {
        assert!(!text.contains(iccid), "an ICCID reached the info-level logs");
    }
    let accepted: Vec<&Value> = lines.iter().filter(|l| l["message"] == "delivery accepted").collect();
    let rejected: Vec<&Value> = lines.iter().filter(|l| l["message"] == "delivery rejected").collect();
    assert!(!accepted.is_empty() && !rejected.is_empty());
    for line in &accepted {
        for field in ["request_id", "provider", "kind", "dedupe_key", "outcome", "latency_ms"] {
            assert!(!line[field].is_null(), "accepted line lacks {field}: {line}");
        }
    }
    // Fields are flattened into the line: none may shadow the line's own keys (`level`, `message`, ...).
    for raw in text.lines() {
        let keys: Vec<&str> = raw.split("\",\"").filter_map(|part| part.split("\":").next()).collect();
        let mut seen = std::collections::HashSet::new();
        for key in keys {
            assert!(
                seen.insert(key.trim_start_matches(['{', '"'])),
                "duplicate key {key:?} in {raw}"
            );
        }
    }
    for line in &rejected {
        for field in ["provider", "reason", "latency_ms"] {
            assert!(!line[field].is_null(), "rejected line lacks {field}: {line}");
        }
    }
    // Latency to the microsecond: `7.702`, not `7.7017869999999995`.
    for line in accepted.iter().chain(&rejected) {
        let latency = line["latency_ms"].to_string();
        let decimals = latency.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(decimals <= 3, "latency_ms {latency} is finer than a microsecond");
    }
}
