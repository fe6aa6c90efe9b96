//! Realistic deliveries for every provider and event type, signed exactly as the provider signs them: for
//! `esimhooks send`, scenarios, tests and benchmarks. Each provider's module has its samples (the shapes of its
//! documented payloads) and its signing; this is what they share.

use crate::model::ProviderId;
use chrono::{DateTime, Duration, Utc};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How a provider authenticates a delivery, as a sender must present it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// The secret itself goes in the URL (`?token=`).
    UrlToken,
    /// A header carries it (a signature, or Basic credentials).
    Header(&'static str, String),
}

/// A request ready to send: append `path_and_query` to the base URL.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRequest {
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What the sample is about.
#[derive(Debug, Clone)]
pub struct SampleParams {
    pub iccid: String,
    /// Percent of data remaining, for usage events.
    pub remaining_percent: u8,
    /// Hours until the plan ends.
    pub ends_in_hours: i64,
    pub now: DateTime<Utc>,
    /// Makes ids unique across samples (eSIM Access `notifyId`, Roamify refund ids, Airalo request ids).
    pub sequence: u64,
}

impl SampleParams {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            iccid: "8944500000000000001".into(),
            remaining_percent: 50,
            ends_in_hours: 72,
            now,
            sequence: 1,
        }
    }
}

impl SampleParams {
    /// The plan's size in the samples: 1 GiB.
    pub const TOTAL_BYTES: u64 = 1_073_741_824;

    /// When the plan ends.
    pub fn ends(&self) -> DateTime<Utc> {
        self.now + Duration::hours(self.ends_in_hours)
    }

    /// The bytes left of [`Self::TOTAL_BYTES`].
    pub fn remaining_bytes(&self) -> u64 {
        Self::TOTAL_BYTES * u64::from(self.remaining_percent.min(100)) / 100
    }

    /// An id unique to this sample (a provider's notification id).
    pub fn event_id(&self, provider: &str, event_type: &str) -> String {
        let seed = format!(
            "{provider}{event_type}{}{}{}",
            self.iccid, self.sequence, self.remaining_percent
        );
        hex::encode(&Sha256::digest(seed.as_bytes())[..16])
    }

    /// A provider's own eSIM reference for the ICCID (eSIM Access `esimTranNo`).
    pub fn tran_no(&self) -> String {
        format!("T{}", &self.iccid[self.iccid.len().saturating_sub(12)..])
    }
}

/// The event types `sample` can build, per provider.
pub fn event_types(provider: ProviderId) -> &'static [&'static str] {
    provider.spec().event_types
}

/// The event types that take an eSIM from order to expiry, in order.
pub fn scenario(provider: ProviderId) -> &'static [(&'static str, u8)] {
    provider.spec().scenario
}

/// Step `step` of the provider's scenario for `iccid`, stamped `now`: its event type and params, the plan's end
/// approaching (72 h at the first step, 20 h at the last).
pub fn scenario_step(
    provider: ProviderId,
    iccid: &str,
    step: usize,
    now: DateTime<Utc>,
) -> (&'static str, SampleParams) {
    let steps = scenario(provider);
    let (event_type, remaining_percent) = steps[step];
    let last = steps.len().saturating_sub(1).max(1) as i64;
    let params = SampleParams {
        iccid: iccid.to_string(),
        remaining_percent,
        ends_in_hours: 72 - 52 * step as i64 / last,
        now,
        sequence: step as u64 + 1,
    };
    (event_type, params)
}

/// When to stamp a scenario's next step, the one before answered at `answered`: the first whole second after it.
/// A step is stamped when it is sent, so never ahead of its receipt (a time ahead is bounded and flagged). And
/// providers write whole seconds, so a step stamped within the second of an earlier receipt would rank below
/// that earlier event where it carried no time and its receipt time stood in (eSIM Go's FirstUse before its
/// `esim.deleted`): the scenario would not end in its last state.
pub fn next_stamp(answered: DateTime<Utc>) -> DateTime<Utc> {
    let second = DateTime::from_timestamp(answered.timestamp(), 0).unwrap_or(answered);
    second + Duration::seconds(1)
}

/// A timestamp as providers write it: `2026-01-01T10:00:00Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The body of one event, or `None` for a type the provider does not have.
pub fn body(provider: ProviderId, event_type: &str, p: &SampleParams) -> Option<Value> {
    (provider.spec().sample)(event_type, p)
}

/// `base` with `extra`'s fields added.
pub fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    base
}

/// HMAC-SHA256 of `body` under `secret`.
pub fn hmac_sha256(secret: &str, body: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Signs `body` as the provider does with `secret` (a URL token goes in the query).
pub fn sign(provider: ProviderId, body: &str, secret: &str) -> SampleRequest {
    let path = format!("/webhooks/{provider}");
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    let path_and_query = match (provider.spec().sign)(body.as_bytes(), secret) {
        Signature::UrlToken => format!("{path}?token={}", percent_encode(secret)),
        Signature::Header(name, value) => {
            headers.push((name.to_string(), value));
            path
        }
    };
    SampleRequest {
        path_and_query,
        headers,
        body: body.to_string(),
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::KeyRing;
    use crate::ingress::Delivery;
    use crate::providers::Provider;
    use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, Method};
    use std::sync::Arc;

    fn provider(id: ProviderId, secret: &str) -> Arc<dyn Provider> {
        let config = crate::providers::ProviderConfig::local(KeyRing::parse(secret).unwrap());
        (id.spec().build)(&config).unwrap()
    }

    fn as_delivery(request: &SampleRequest) -> Delivery {
        let (path, query) = request
            .path_and_query
            .split_once('?')
            .unwrap_or((&request.path_and_query, ""));
        let mut headers = HeaderMap::new();
        for (k, v) in &request.headers {
            headers.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Delivery {
            method: Method::POST,
            path: path.into(),
            query: query.into(),
            headers,
            source_ip: None,
            body: request.body.clone().into(),
            received_at: Utc::now(),
            request_id: None,
        }
    }

    #[test]
    fn every_sample_verifies_normalizes_and_wrong_secrets_fail() {
        let params = SampleParams::new(Utc::now());
        for &id in ProviderId::ALL {
            for event_type in event_types(id) {
                let body = body(id, event_type, &params).unwrap().to_string();
                let request = sign(id, &body, "right secret/+");
                let p = provider(id, "right secret/+");
                let delivery = as_delivery(&request);
                let verified = p
                    .authenticate(&delivery)
                    .unwrap_or_else(|e| panic!("{id} {event_type}: {e}"));
                let event = p.normalize(verified).unwrap();
                assert_ne!(
                    event.kind,
                    crate::model::EventKind::Unrecognized,
                    "{id} {event_type} is recognized"
                );
                let wrong = as_delivery(&sign(id, &body, "wrong secret"));
                assert!(
                    p.authenticate(&wrong).is_err(),
                    "{id} {event_type}: wrong secret must fail"
                );
            }
            assert!(body(id, "no_such_type", &params).is_none());
            for (event_type, _) in scenario(id) {
                assert!(event_types(id).contains(event_type));
            }
        }
    }

    /// Scenario steps follow the provider's list as the plan's end approaches; each next stamp is a whole
    /// second after the last answer.
    #[test]
    fn scenario_steps_follow_the_list_and_stamps_come_a_whole_second_later() {
        let now = Utc::now();
        for &id in ProviderId::ALL {
            let steps: Vec<_> = (0..scenario(id).len())
                .map(|step| scenario_step(id, "8944500000000000001", step, now))
                .collect();
            let types: Vec<&str> = steps.iter().map(|(t, _)| *t).collect();
            let expected: Vec<&str> = scenario(id).iter().map(|(t, _)| *t).collect();
            assert_eq!(types, expected, "{id}");
            let ends: Vec<_> = steps.iter().map(|(_, p)| p.ends_in_hours).collect();
            assert_eq!(
                (ends[0], ends[ends.len() - 1]),
                (72, 20),
                "{id}: the plan's end approaches"
            );
        }
        let answered = DateTime::parse_from_rfc3339("2026-04-22T17:00:00.999Z")
            .unwrap()
            .to_utc();
        assert_eq!(rfc3339(next_stamp(answered)), "2026-04-22T17:00:01Z");
        let whole = DateTime::parse_from_rfc3339("2026-04-22T17:00:00Z").unwrap().to_utc();
        assert_eq!(rfc3339(next_stamp(whole)), "2026-04-22T17:00:01Z");
    }
}
