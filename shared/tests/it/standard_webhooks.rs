//! Our Standard Webhooks signatures checked by an independent implementation: the reference `standardwebhooks`
//! package from PyPI (installed by scripts/with-moto.sh into the test venv, named by ESIMHOOKS_TEST_PYTHON), and
//! the npm one where Node is present (both must agree).
//! Signed callbacks verify; a tampered body, a wrong secret and a timestamp outside five minutes do not; during
//! a rotation either secret verifies.

use crate::common;

use chrono::{Duration, Utc};
use common::reference_verdicts;
use serde_json::{json, Value};
use shared::callbacks::signing::{signed_headers, SigningSecret};

fn case(secret: &str, headers: &[(&str, String); 3], body: &str) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), Value::String(value.clone())))
        .collect();
    json!({"secret": secret, "headers": headers, "body": body})
}

#[test]
fn the_reference_library_verifies_what_we_sign_and_only_that() {
    let (current, current_text) = SigningSecret::generate().unwrap();
    let (previous, previous_text) = SigningSecret::generate().unwrap();
    let (_, stranger_text) = SigningSecret::generate().unwrap();
    let body = r#"{"notification_id":"ntf_1","type":"alert.low_data","level":"10%","ünïcode":"✓"}"#;
    let now = Utc::now();
    let signed = signed_headers(std::slice::from_ref(&current), "ntf_1", now, body.as_bytes());
    let rotating = signed_headers(&[current.clone(), previous.clone()], "ntf_2", now, body.as_bytes());
    let stale = signed_headers(&[current], "ntf_3", now - Duration::minutes(10), body.as_bytes());
    let cases = [
        case(&current_text, &signed, body),
        case(&current_text, &rotating, body),
        case(&previous_text, &rotating, body),
        case(&current_text, &signed, &body.replace("10%", "90%")),
        case(&stranger_text, &signed, body),
        case(&current_text, &stale, body),
    ];
    let verdicts = reference_verdicts(&cases);
    assert_eq!(&verdicts[..3], ["verified", "verified", "verified"], "{verdicts:?}");
    assert!(
        verdicts[3..].iter().all(|v| v != "verified"),
        "tampered, wrong secret and stale must fail: {verdicts:?}"
    );
}
