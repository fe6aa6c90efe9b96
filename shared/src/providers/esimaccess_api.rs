//! eSIM Access's open API: `POST /api/v1/open/esim/query` by `esimTranNo` (ICCIDs are reused, so the
//! reference is preferred) or ICCID gives the profile's status, end and usage in one call. Authenticated by
//! `RT-AccessCode`, and with a secret key by the HMAC headers too: `RT-Signature` = lowercase hex
//! HMAC-SHA256(secretKey, timestamp + requestId + accessCode + body). Usage lags 2-3 hours behind use. eSIMs
//! due together are asked ten at a time by `POST /api/v1/open/esim/usage/query` (usage only, dated by the
//! provider's `lastUpdateTime`).

use crate::model::{refs_sent, DataUsage, EsimIdentity, Lifecycle, StatusChange, Validity};
use crate::reconcile::{
    bytes, json_of, number, text, ApiAnswer, ApiCredentials, ApiRequest, Ask, AskError, BatchApi, BatchReading,
    CredentialShape, Reading, UsageApi,
};
use crate::time::parse_provider_time;
use chrono::{DateTime, Utc};
use serde_json::json;
use serde_json::value::RawValue;

pub static USAGE_API: UsageApi = UsageApi {
    default_base: "https://api.esimaccess.com",
    credentials: CredentialShape::KeyAndOptionalSecret,
    per_second: 8,
    validity_notices: true,
    usage_lag_minutes: 180,
    reference: None,
    token: None,
    batch: Some(BATCH_API),
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
    let body = json!({field: value, "pager": {"pageNum": 1, "pageSize": 5}});
    Ok(signed_post(credentials, "/api/v1/open/esim/query", &body, now))
}

/// A POST of `body` to `path`, with the access code and, with a secret key, the HMAC headers over the exact
/// bytes sent.
fn signed_post(credentials: &ApiCredentials, path: &str, body: &serde_json::Value, now: DateTime<Utc>) -> ApiRequest {
    let body = body.to_string().into_bytes();
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
    ApiRequest {
        method: "POST",
        path: path.into(),
        headers,
        body: Some(body),
    }
}

/// An answer's `errorCode`, sorted into what the caller can do.
fn refused(body: &serde_json::Value) -> Result<(), AskError> {
    let code = body["errorCode"]
        .as_str()
        .map(str::to_string)
        .or_else(|| body["errorCode"].as_i64().map(|c| c.to_string()));
    match code.as_deref() {
        None | Some("0" | "") => Ok(()),
        Some("310403") => Err(AskError::UnknownEsim),
        Some("101001" | "101003" | "000101" | "000102" | "000103") => {
            Err(AskError::Credentials(format!("errorCode {}", code.unwrap_or_default())))
        }
        Some("900001") => Err(AskError::Unavailable("errorCode 900001 (system busy)".into())),
        Some(other) => Err(AskError::Malformed(format!("errorCode {other}"))),
    }
}

/// `usage/query`: the used and total bytes of up to 10 eSIMs by `esimTranNo`, with the time of the last call
/// record the provider settled (`lastUpdateTime`), so the reading is dated by the provider, not assumed 3 h old.
const BATCH_API: BatchApi = BatchApi {
    most: 10,
    request: |credentials, _, references, now| {
        let body = json!({"esimTranNoList": references});
        Ok(signed_post(credentials, "/api/v1/open/esim/usage/query", &body, now))
    },
    read: read_batch,
};

#[derive(serde::Deserialize)]
struct UsageAnswer<'a> {
    #[serde(borrow)]
    obj: Option<&'a RawValue>,
}

#[derive(serde::Deserialize)]
struct UsageList<'a> {
    #[serde(borrow, rename = "esimUsageList")]
    list: Vec<&'a RawValue>,
}

fn read_batch(answer: &ApiAnswer) -> Result<Vec<BatchReading>, AskError> {
    refused(&json_of(answer)?)?;
    let malformed = |e: serde_json::Error| AskError::Malformed(e.to_string());
    let obj = serde_json::from_slice::<UsageAnswer>(&answer.body)
        .map_err(malformed)?
        .obj
        .ok_or_else(|| AskError::Malformed("no obj".into()))?;
    // The documented shape is `obj.esimUsageList`; a copy of the docs shows `obj` as the list itself.
    let items = match serde_json::from_str::<Vec<&RawValue>>(obj.get()) {
        Ok(items) => items,
        Err(_) => serde_json::from_str::<UsageList>(obj.get()).map_err(malformed)?.list,
    };
    let mut readings = Vec::with_capacity(items.len());
    for item in items {
        let usage: serde_json::Value = serde_json::from_str(item.get()).map_err(malformed)?;
        let Some(reference) = text(&usage["esimTranNo"]) else {
            continue;
        };
        let reading = Reading {
            usage: Some(DataUsage {
                total_bytes: bytes(number(&usage["totalData"]), 1.0),
                used_bytes: bytes(number(&usage["dataUsage"]), 1.0),
                ..DataUsage::default()
            })
            .filter(|u| u.total_bytes.is_some()),
            read_at: usage["lastUpdateTime"].as_str().and_then(parse_provider_time),
            ..Reading::default()
        };
        readings.push((reference, reading, item.get().as_bytes().to_vec()));
    }
    Ok(readings)
}

fn read(answer: &ApiAnswer, _: &Ask) -> Result<Reading, AskError> {
    let body = json_of(answer)?;
    refused(&body)?;
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

/// The status an `esimStatus` and an `smdpStatus` say (webhooks and the profile query send the same words):
/// here, as the spec (`esimaccess.rs`) names this module.
pub(super) fn status_of(esim_status: Option<String>, smdp_status: Option<String>) -> Option<StatusChange> {
    let by_esim = match esim_status.as_deref() {
        Some("IN_USE") => Some(Lifecycle::Active),
        Some("USED_UP") => Some(Lifecycle::Depleted),
        Some("USED_EXPIRED" | "UNUSED_EXPIRED") => Some(Lifecycle::Expired),
        Some("CANCEL" | "REVOKED") => Some(Lifecycle::Cancelled),
        Some("SUSPENDED") => Some(Lifecycle::Suspended),
        _ => None,
    };
    let by_profile = match smdp_status.as_deref() {
        Some("RELEASED") => Some(Lifecycle::Pending),
        Some("DOWNLOAD" | "INSTALLATION" | "ENABLED" | "DISABLED") => Some(Lifecycle::Installed),
        Some("DELETED") => Some(Lifecycle::Deleted),
        _ => None,
    };
    let lifecycle = match (by_esim, by_profile, esim_status.as_deref()) {
        (_, Some(Lifecycle::Deleted), _) => Lifecycle::Deleted,
        (Some(l), _, _) => l,
        (None, Some(l), _) => l,
        (None, None, Some("GOT_RESOURCE")) => Lifecycle::Pending,
        _ => Lifecycle::Unknown,
    };
    let provider_status = match esim_status {
        Some(status) => status,
        None => smdp_status.clone()?,
    };
    Some(StatusChange {
        lifecycle,
        provider_status,
        profile_status: smdp_status,
    })
}
