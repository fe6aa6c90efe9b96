//! Realistic deliveries for every provider and event type, signed exactly as the provider signs them: for
//! `esimhooks send`, scenarios, tests and benchmarks. The shapes follow the providers' documented payloads.

use crate::model::ProviderId;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha512};

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

/// The event types `sample` can build, per provider.
pub fn event_types(provider: ProviderId) -> &'static [&'static str] {
    match provider {
        ProviderId::EsimAccess => &[
            "check_health",
            "order_status",
            "esim_status",
            "smdp_event",
            "data_usage",
            "validity_usage",
        ],
        ProviderId::EsimGo => &[
            "utilisation",
            "first_use",
            "first_attachment",
            "country_change",
            "low_balance",
            "topup",
            "profile_status_change",
            "msisdn_disabled",
            "esim_deleted",
        ],
        ProviderId::Roamify => &["status", "usage", "expired", "low_balance", "refund", "order"],
        ProviderId::Airalo => &[
            "low_data_75",
            "low_data_90",
            "expiry_3days",
            "expiry_1days",
            "credit_limit",
            "async_order",
        ],
    }
}

/// The event types that take an eSIM from order to expiry, in order.
pub fn scenario(provider: ProviderId) -> &'static [(&'static str, u8)] {
    match provider {
        ProviderId::EsimAccess => &[
            ("order_status", 100),
            ("smdp_event", 100),
            ("esim_status", 100),
            ("data_usage", 50),
            ("data_usage", 9),
            ("validity_usage", 9),
        ],
        ProviderId::EsimGo => &[
            ("first_attachment", 100),
            ("first_use", 100),
            ("utilisation", 50),
            ("utilisation", 15),
            ("esim_deleted", 15),
        ],
        ProviderId::Roamify => &[
            ("order", 100),
            ("status", 100),
            ("usage", 50),
            ("usage", 8),
            ("expired", 8),
        ],
        ProviderId::Airalo => &[
            ("async_order", 100),
            ("low_data_75", 25),
            ("low_data_90", 10),
            ("expiry_3days", 10),
            ("expiry_1days", 10),
        ],
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn hex_id(seed: &str) -> String {
    hex::encode(&Sha256::digest(seed.as_bytes())[..16])
}

/// The body of one event, or `None` for a type the provider does not have.
pub fn body(provider: ProviderId, event_type: &str, p: &SampleParams) -> Option<Value> {
    let ends = p.now + Duration::hours(p.ends_in_hours);
    let total: u64 = 1_073_741_824;
    let remaining = total * u64::from(p.remaining_percent.min(100)) / 100;
    let id = hex_id(&format!(
        "{provider}{event_type}{}{}{}",
        p.iccid, p.sequence, p.remaining_percent
    ));
    let tran_no = format!("T{}", &p.iccid[p.iccid.len().saturating_sub(12)..]);
    let body = match (provider, event_type) {
        (ProviderId::EsimAccess, t) => {
            let base = json!({"iccid": p.iccid, "orderNo": format!("B{tran_no}"), "esimTranNo": tran_no, "transactionId": format!("tx-{tran_no}")});
            let (notify_type, content) = match t {
                "check_health" => ("CHECK_HEALTH", json!({"orderNo": "1234567890", "orderStatus": "Test"})),
                "order_status" => (
                    "ORDER_STATUS",
                    json!({"orderNo": format!("B{tran_no}"), "orderStatus": "GOT_RESOURCE", "transactionId": format!("tx-{tran_no}")}),
                ),
                "esim_status" => (
                    "ESIM_STATUS",
                    merge(base, json!({"esimStatus": "IN_USE", "smdpStatus": "ENABLED"})),
                ),
                "smdp_event" => (
                    "SMDP_EVENT",
                    merge(
                        base,
                        json!({"eid": "89049032005008882600050326403713", "esimStatus": "GOT_RESOURCE",
                    "smdpStatus": "DOWNLOAD", "timestamp": rfc3339(p.now), "seqNumber": p.sequence, "notifyStatus": "Executed-Success"}),
                    ),
                ),
                "data_usage" => (
                    "DATA_USAGE",
                    merge(
                        base,
                        json!({"totalVolume": total, "orderUsage": total - remaining, "remain": remaining,
                    "remainThreshold": f64::from(p.remaining_percent) / 100.0, "lastUpdateTime": rfc3339(p.now - Duration::minutes(30))}),
                    ),
                ),
                "validity_usage" => (
                    "VALIDITY_USAGE",
                    merge(
                        base,
                        json!({"remain": (p.ends_in_hours / 24).max(1), "totalDuration": 30,
                    "durationUnit": "DAY", "expiredTime": rfc3339(ends)}),
                    ),
                ),
                _ => return None,
            };
            json!({"notifyType": notify_type, "notifyId": id, "eventGenerateTime": rfc3339(p.now), "content": content})
        }
        (ProviderId::EsimGo, t) => {
            let bundle = json!({"id": "215009266", "reference": "3a6e2e40-c674-45e9-b289-b35027bf72a9-0", "name": "esim_1GB_7D_GB_V2",
                "description": "eSIM, 1GB, 7 Days, United Kingdom, V2", "initialQuantity": total, "remainingQuantity": remaining,
                "startTime": rfc3339(ends - Duration::days(7)), "endTime": rfc3339(ends), "unlimited": false});
            match t {
                "utilisation" => json!({"iccid": p.iccid, "alertType": "Utilisation", "bundle": bundle}),
                "first_use" => json!({"iccid": p.iccid, "alertType": "FirstUse", "bundle": bundle}),
                "first_attachment" => json!({"iccid": p.iccid, "alertType": "FirstAttachment"}),
                "country_change" => {
                    json!({"iccid": p.iccid, "alertType": "CountryChange", "country": {"code": "NO", "name": "Norway"}})
                }
                "low_balance" => {
                    json!({"alertType": "LowBalance", "balanceInfo": {"balance": 1299.3, "threshold": 2600, "thresholdPercentRemaining": 49.973}})
                }
                "topup" => json!({"alertType": "Topup", "bundle": {"oldAmount": 40.1, "newAmount": 90.1}}),
                "profile_status_change" => {
                    json!({"iccid": p.iccid, "alertType": "ProfileStatusChange", "profileStatus": "Installed", "timestamp": rfc3339(p.now)})
                }
                "msisdn_disabled" => {
                    json!({"iccid": p.iccid, "alertType": "MSISDNDisabled", "msisdn": "446789030059638", "reason": "Bundle expired"})
                }
                "esim_deleted" => json!({"date": rfc3339(p.now), "event": "esim.deleted", "iccid": p.iccid}),
                _ => return None,
            }
        }
        (ProviderId::Roamify, t) => {
            let esim = json!({"timestamp": p.now.timestamp(), "iccid": p.iccid, "esim_id": format!("esim-{tran_no}"), "reference_id": format!("ref-{tran_no}"),
                "start": (ends - Duration::days(7)).timestamp(), "end": ends.timestamp()});
            let mb = 1024u64;
            let remaining_mb = mb * u64::from(p.remaining_percent.min(100)) / 100;
            match t {
                "status" => {
                    json!({"event_category": "esim", "event_type": "status", "data": merge(esim, json!({"status": "ACTIVATED"}))})
                }
                "expired" => {
                    json!({"event_category": "esim", "event_type": "status", "data": merge(esim, json!({"status": "EXPIRED"}))})
                }
                "usage" => {
                    json!({"event_category": "esim", "event_type": "usage", "data": merge(esim, json!({"status": "ACTIVATED",
                    "package_id": "esim-fr-7days-1gb", "package_name": "France 1GB 7 Days", "data_units": "MB", "voice_units": "minutes",
                    "sms_units": "messages", "data_total": mb, "data_used": mb - remaining_mb, "data_remaining": remaining_mb}))})
                }
                "low_balance" => {
                    json!({"event_category": "partner", "event_type": "low_balance", "data": {"timestamp": p.now.timestamp(),
                    "balance": 42.5, "threshold": 100, "threshold_percentage": 42.5}})
                }
                "refund" => {
                    json!({"event_id": format!("rfd_{}_refunded", p.sequence), "event_category": "refund", "event_type": "refunded",
                    "data": {"timestamp": p.now.timestamp(), "refund_id": p.sequence.to_string(), "status": "REFUNDED", "product_type": "esim",
                    "esim_id": format!("esim-{tran_no}"), "iccid": p.iccid}})
                }
                "order" => {
                    json!({"event_category": "affiliate", "event_type": "order", "data": {"timestamp": p.now.timestamp(), "partner_name": "esimhooks",
                    "partner_id": "p-1", "commission_rate": 10, "commission_amount": 0.95, "order_data": {"order_id": format!("o-{}", p.sequence),
                    "order_total": 9.5, "order_currency": "USD", "order_status": "completed", "order_items": []}}})
                }
                _ => return None,
            }
        }
        (ProviderId::Airalo, t) => {
            let level = |level: &str| json!({"level": level, "package_name": "bonbon-7gb-10days", "remaining_percentage": p.remaining_percent, "iccid": p.iccid});
            match t {
                "low_data_75" => level("75%"),
                "low_data_90" => level("90%"),
                "expiry_3days" => level("3days"),
                "expiry_1days" => level("1days"),
                "credit_limit" => json!({"message": "Surpassed 80% of the credit limit balance", "remaining": 225.35}),
                "async_order" => {
                    json!({"request_id": format!("REQ{}", &id[..22]), "data": {"id": p.sequence, "code": format!("20260101-{:06}", p.sequence),
                    "package_id": "kallur-digital-7days-1gb", "quantity": "1", "type": "sim", "validity": 7, "package": "Kallur Digital-1 GB - 7 Days",
                    "data": "1 GB", "price": 9.5, "currency": "USD", "created_at": p.now.format("%Y-%m-%d %H:%M:%S").to_string(),
                    "sims": [{"iccid": p.iccid, "lpa": "lpa.airalo.com", "matching_code": "TEST", "qrcode_url": "https://sandbox.airalo.com/qr?id=1"}]},
                    "meta": {"message": "success"}})
                }
                _ => return None,
            }
        }
    };
    Some(body)
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    base
}

fn hmac_hex_sha256(secret: &str, body: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Signs `body` as the provider does with `secret` (eSIM Access: the URL token).
pub fn sign(provider: ProviderId, body: &str, secret: &str) -> SampleRequest {
    let path = format!("/webhooks/{provider}");
    let json_header = ("content-type".to_string(), "application/json".to_string());
    let (path_and_query, signature) = match provider {
        ProviderId::EsimAccess => (format!("{path}?token={}", percent_encode(secret)), None),
        ProviderId::EsimGo => {
            let tag = base64::engine::general_purpose::STANDARD.encode(hmac_hex_sha256(secret, body.as_bytes()));
            (path, Some(("x-signature-sha256", tag)))
        }
        ProviderId::Roamify => (
            path,
            Some((
                "x-roamify-signature",
                hex::encode(hmac_hex_sha256(secret, body.as_bytes())),
            )),
        ),
        ProviderId::Airalo => {
            let mut mac =
                <Hmac<Sha512> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
            mac.update(body.as_bytes());
            (
                path,
                Some(("airalo-signature", hex::encode(mac.finalize().into_bytes()))),
            )
        }
    };
    let mut headers = vec![json_header];
    headers.extend(signature.map(|(name, value)| (name.to_string(), value)));
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
        let ring = KeyRing::parse(secret).unwrap();
        match id {
            ProviderId::EsimAccess => Arc::new(crate::providers::esimaccess::EsimAccess::new(ring, None)),
            ProviderId::EsimGo => Arc::new(crate::providers::esimgo::EsimGo::new(ring, None)),
            ProviderId::Roamify => Arc::new(crate::providers::roamify::Roamify::new(ring)),
            ProviderId::Airalo => Arc::new(crate::providers::airalo::Airalo::new(ring)),
        }
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
        for id in ProviderId::ALL {
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
}
