//! CloudWatch metrics in the embedded metric format (EMF): one JSON line on stdout per request (and per sweep
//! run), which CloudWatch Logs turns into metrics without any API call on the request path.
//! Namespace `esimhooks`; dimensions `provider`, and `provider` + `reason` for rejections and failures. The
//! lines of the sweep and of callback attempts are built beside what they count, with [`directive`].

use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "esimhooks";

/// How one request ended, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    Stored {
        alerts: usize,
        /// The event stored shows schema drift (unrecognized, or missing what its type promises).
        drift: bool,
    },
    Duplicate,
    Conflict,
    /// Refused with a 4xx; the reason is the rejection code.
    Rejected {
        reason: &'static str,
    },
    /// Failed with a 5xx (the provider retries); the reason is the rejection code.
    Failed {
        reason: &'static str,
    },
}

/// Milliseconds since `started`, to the microsecond: finer digits are noise in a log line or a metric.
pub fn elapsed_ms(started: std::time::Instant) -> f64 {
    round_ms(started.elapsed().as_secs_f64() * 1000.0)
}

fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// The `CloudWatchMetrics` entry naming `names` (name, unit) under `dimensions`.
pub fn directive(dimensions: Value, names: &[(&str, &str)]) -> Value {
    let metrics: Vec<Value> = names
        .iter()
        .map(|(name, unit)| json!({"Name": name, "Unit": unit}))
        .collect();
    json!({"Namespace": NAMESPACE, "Dimensions": dimensions, "Metrics": metrics})
}

/// The EMF line for one webhook request.
pub fn request_line(provider: &str, outcome: RequestOutcome, latency_ms: f64, timestamp_ms: i64) -> String {
    let count = |hit: bool| u8::from(hit);
    let (stored, duplicate, conflict, alerts, drift) = match outcome {
        RequestOutcome::Stored { alerts, drift } => (1, 0, 0, alerts, count(drift)),
        RequestOutcome::Duplicate => (0, 1, 0, 0, 0),
        RequestOutcome::Conflict => (0, 0, 1, 0, 0),
        _ => (0, 0, 0, 0, 0),
    };
    let reason = match outcome {
        RequestOutcome::Rejected { reason } | RequestOutcome::Failed { reason } => Some(reason),
        _ => None,
    };
    let rejected = count(matches!(outcome, RequestOutcome::Rejected { .. }));
    let failed = count(matches!(outcome, RequestOutcome::Failed { .. }));
    let mut directives = vec![directive(
        json!([["provider"]]),
        &[
            ("Received", "Count"),
            ("Stored", "Count"),
            ("SchemaDrift", "Count"),
            ("Duplicates", "Count"),
            ("Conflicts", "Count"),
            ("Rejected", "Count"),
            ("Failed", "Count"),
            ("AlertsPublished", "Count"),
            ("PublishFailures", "Count"),
            ("LatencyMs", "Milliseconds"),
        ],
    )];
    let mut document = Map::new();
    if let Some(reason) = reason {
        let by_reason = if rejected == 1 { "Rejected" } else { "Failed" };
        directives.push(directive(json!([["provider", "reason"]]), &[(by_reason, "Count")]));
        document.insert("reason".into(), json!(reason));
    }
    document.insert(
        "_aws".into(),
        json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}),
    );
    document.insert("provider".into(), json!(provider));
    for (name, value) in [
        ("Received", json!(1)),
        ("Stored", json!(stored)),
        ("SchemaDrift", json!(drift)),
        ("Duplicates", json!(duplicate)),
        ("Conflicts", json!(conflict)),
        ("Rejected", json!(rejected)),
        ("Failed", json!(failed)),
        ("AlertsPublished", json!(alerts)),
        ("PublishFailures", json!(count(reason == Some("publish_failure")))),
        ("LatencyMs", json!(round_ms(latency_ms))),
    ] {
        document.insert(name.into(), value);
    }
    Value::Object(document).to_string()
}

/// The EMF line for one ask of a provider's API (reconcile): `Asked` (an answer came), `AskNew` (it was a new
/// reading, stored), `AskFailed` by `reason` (`credentials`, `unavailable`, `rate_limited`, `malformed`,
/// `unaskable`, `store`), per provider and per provider and reason.
pub fn ask_line(provider: &str, new: bool, failure: Option<&str>, timestamp_ms: i64) -> String {
    let names = [("Asked", "Count"), ("AskNew", "Count"), ("AskFailed", "Count")];
    let mut line = json!({
        "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive(json!([["provider"], ["provider", "reason"]]), &names)]},
        "provider": provider,
        "Asked": u8::from(failure.is_none()),
        "AskNew": u8::from(new),
        "AskFailed": u8::from(failure.is_some()),
    });
    line["reason"] = json!(failure.unwrap_or("none"));
    line.to_string()
}

/// The EMF line of the asking scheduler for one provider: `AskQueued` (due eSIMs queued), `AskRefiled` (found
/// filed early, filed again).
pub fn ask_schedule_line(provider: &str, queued: usize, refiled: usize, timestamp_ms: i64) -> String {
    let names = [("AskQueued", "Count"), ("AskRefiled", "Count")];
    json!({
        "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive(json!([["provider"]]), &names)]},
        "provider": provider,
        "AskQueued": queued,
        "AskRefiled": refiled,
    })
    .to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn parse(line: &str) -> Value {
        assert!(!line.contains('\n'), "one line per document");
        serde_json::from_str(line).unwrap()
    }

    /// Every metric a directive names must be a top-level member, and every dimension too (EMF rejects the
    /// document otherwise).
    pub(crate) fn assert_valid_emf(doc: &Value) {
        for directive in doc["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            assert_eq!(directive["Namespace"], NAMESPACE);
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(doc[name].is_number(), "metric {name} has no value");
            }
            for set in directive["Dimensions"].as_array().unwrap() {
                for dimension in set.as_array().unwrap() {
                    assert!(
                        doc[dimension.as_str().unwrap()].is_string(),
                        "dimension {dimension} missing"
                    );
                }
            }
        }
        assert!(doc["_aws"]["Timestamp"].is_i64());
    }

    #[test]
    fn stored_request_counts_alerts() {
        let doc = parse(&request_line(
            "esimaccess",
            RequestOutcome::Stored {
                alerts: 2,
                drift: false,
            },
            3.4567,
            1_700_000_000_000,
        ));
        assert_valid_emf(&doc);
        assert_eq!(
            (
                doc["Stored"].as_u64(),
                doc["AlertsPublished"].as_u64(),
                doc["Rejected"].as_u64()
            ),
            (Some(1), Some(2), Some(0))
        );
        assert_eq!(doc["LatencyMs"], 3.457);
        assert!(doc.get("reason").is_none());
    }

    #[test]
    fn rejections_and_failures_carry_their_reason_dimension() {
        let doc = parse(&request_line(
            "roamify",
            RequestOutcome::Rejected {
                reason: "unauthenticated",
            },
            0.1,
            1,
        ));
        assert_valid_emf(&doc);
        assert_eq!(
            (doc["reason"].as_str(), doc["Rejected"].as_u64()),
            (Some("unauthenticated"), Some(1))
        );
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][1]["Metrics"][0]["Name"], "Rejected");
        let doc = parse(&request_line(
            "roamify",
            RequestOutcome::Failed {
                reason: "publish_failure",
            },
            0.1,
            1,
        ));
        assert_valid_emf(&doc);
        assert_eq!(
            (doc["Failed"].as_u64(), doc["PublishFailures"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][1]["Metrics"][0]["Name"], "Failed");
    }

    #[test]
    fn ask_lines_are_valid_emf() {
        let failed = parse(&ask_line("airalo", false, Some("credentials"), 5));
        assert_valid_emf(&failed);
        assert_eq!(
            (failed["AskFailed"].as_u64(), failed["Asked"].as_u64()),
            (Some(1), Some(0))
        );
        assert_eq!(
            (failed["provider"].as_str(), failed["reason"].as_str()),
            (Some("airalo"), Some("credentials"))
        );
        let new = parse(&ask_line("esimgo", true, None, 5));
        assert_eq!(
            (new["Asked"].as_u64(), new["AskNew"].as_u64(), new["AskFailed"].as_u64()),
            (Some(1), Some(1), Some(0))
        );
        let scheduled = parse(&ask_schedule_line("esimgo", 7, 2, 5));
        assert_valid_emf(&scheduled);
        assert_eq!(
            (scheduled["AskQueued"].as_u64(), scheduled["AskRefiled"].as_u64()),
            (Some(7), Some(2))
        );
    }
}
