//! eSIM Access's open API: `POST /api/v1/open/esim/query` by `esimTranNo` (ICCIDs are reused, so the
//! reference is preferred) or ICCID gives the profile's status, end and usage in one call. Authenticated by
//! `RT-AccessCode`, and with a secret key by the HMAC headers too: `RT-Signature` = lowercase hex
//! HMAC-SHA256(secretKey, timestamp + requestId + accessCode + body). Usage lags 2-3 hours behind use.

use super::esimaccess::status_of;
use crate::model::{refs_sent, DataUsage, EsimIdentity, Validity};
use crate::reconcile::{
    bytes, json_of, number, text, ApiAnswer, ApiCredentials, ApiRequest, Ask, AskError, CredentialShape, Reading,
    UsageApi,
};
use crate::time::parse_provider_time;
use chrono::{DateTime, Utc};
use serde_json::json;

pub static USAGE_API: UsageApi = UsageApi {
    default_base: "https://api.esimaccess.com",
    credentials: CredentialShape::KeyAndOptionalSecret,
    per_second: 8,
    validity_notices: true,
    usage_lag_minutes: 180,
    reference: None,
    token: None,
    request,
    read,
};

/// The request id the signature covers: unique per request, 32 hex digits.
fn request_id(now: DateTime<Utc>) -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = (
        now.timestamp_nanos_opt(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
    );
    hex::encode(&Sha256::digest(format!("{seed:?}").as_bytes())[..16])
}

/// `RT-Signature` for `body` (the exact bytes sent).
pub fn signature(credentials: &ApiCredentials, secret: &str, body: &[u8], timestamp: &str, id: &str) -> String {
    use hmac::{digest::KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    for part in [timestamp.as_bytes(), id.as_bytes(), credentials.id.as_bytes(), body] {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

fn request(
    credentials: &ApiCredentials,
    _: Option<&str>,
    ask: &Ask,
    now: DateTime<Utc>,
) -> Result<ApiRequest, AskError> {
    let (field, value) = match ask {
        Ask::Esim(reference) | Ask::Known { reference, .. } => ("esimTranNo", reference),
        Ask::Iccid(iccid) => ("iccid", iccid),
    };
    let body = json!({field: value, "pager": {"pageNum": 1, "pageSize": 5}})
        .to_string()
        .into_bytes();
    let mut headers = vec![
        ("content-type", "application/json".to_string()),
        ("rt-accesscode", credentials.id.clone()),
    ];
    if let Some(secret) = &credentials.secret {
        let timestamp = now.timestamp_millis().to_string();
        let id = request_id(now);
        headers.push(("rt-signature", signature(credentials, secret, &body, &timestamp, &id)));
        headers.push(("rt-timestamp", timestamp));
        headers.push(("rt-requestid", id));
    }
    Ok(ApiRequest {
        method: "POST",
        path: "/api/v1/open/esim/query".into(),
        headers,
        body: Some(body),
    })
}

fn read(answer: &ApiAnswer, _: &Ask) -> Result<Reading, AskError> {
    let body = json_of(answer)?;
    let code = body["errorCode"]
        .as_str()
        .map(str::to_string)
        .or_else(|| body["errorCode"].as_i64().map(|c| c.to_string()));
    match code.as_deref() {
        None | Some("0" | "") => {}
        Some("310403") => return Err(AskError::UnknownEsim),
        Some("101001" | "101003" | "000101" | "000102" | "000103") => {
            return Err(AskError::Credentials(format!("errorCode {}", code.unwrap_or_default())))
        }
        Some("900001") => return Err(AskError::Unavailable("errorCode 900001 (system busy)".into())),
        Some(other) => return Err(AskError::Malformed(format!("errorCode {other}"))),
    }
    let list = body["obj"]["esimList"]
        .as_array()
        .ok_or_else(|| AskError::Malformed("no obj.esimList".into()))?;
    let Some(profile) = list.first() else {
        return Err(AskError::UnknownEsim);
    };
    let iccid = text(&profile["iccid"]).filter(|i| crate::text::is_plausible_iccid(i));
    let tran_no = text(&profile["esimTranNo"]);
    let key = tran_no
        .clone()
        .or_else(|| iccid.clone())
        .ok_or_else(|| AskError::Malformed("no eSIM named".into()))?;
    let esim = EsimIdentity {
        key,
        iccid,
        refs: refs_sent([
            ("esimTranNo", tran_no),
            ("orderNo", text(&profile["orderNo"])),
            ("transactionId", text(&profile["transactionId"])),
        ]),
    };
    let usage = DataUsage {
        total_bytes: bytes(number(&profile["totalVolume"]), 1.0),
        used_bytes: bytes(number(&profile["orderUsage"]), 1.0),
        ..DataUsage::default()
    };
    Ok(Reading {
        esim: Some(esim),
        usage: usage.total_bytes.is_some().then_some(usage),
        validity: profile["expiredTime"]
            .as_str()
            .and_then(parse_provider_time)
            .map(|at| Validity {
                expires_at: Some(at),
                ..Validity::default()
            }),
        status: status_of(text(&profile["esimStatus"]), text(&profile["smdpStatus"])),
        ..Reading::default()
    })
}
