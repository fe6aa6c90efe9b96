//! Roamify's API: `GET /api/esim/usage/details?iccid=` with the long-lived Bearer token. Data in KB (1024
//! bytes), times in Unix seconds; the envelope (`{"status","data"}` as elsewhere, or the object alone) is
//! unverified, so both are read.

use crate::model::{DataUsage, Lifecycle, StatusChange, Validity};
use crate::reconcile::{
    bytes, iccid_of, json_of, number, text, ApiAnswer, ApiRequest, Ask, AskError, CredentialShape, Reading, UsageApi,
};
use crate::time::from_unix_seconds;

pub static USAGE_API: UsageApi = UsageApi {
    default_base: "https://api.getroamify.com",
    credentials: CredentialShape::Key,
    // Roamify publishes no limit: a modest pace.
    per_second: 5,
    validity_notices: false,
    usage_lag_minutes: 0,
    reference: None,
    token: None,
    batch: None,
    request: |credentials, _, ask, _| {
        let iccid = iccid_of(ask)?;
        Ok(ApiRequest::get(format!("/api/esim/usage/details?iccid={iccid}")).bearer(&credentials.id))
    },
    read,
};

fn read(answer: &ApiAnswer, _: &Ask) -> Result<Reading, AskError> {
    if answer.status == 404 {
        return Err(AskError::UnknownEsim);
    }
    let body = json_of(answer)?;
    let data = if body["data"].is_object() { &body["data"] } else { &body };
    if data.get("allowedData").is_none() && data.get("remainingData").is_none() && data.get("status").is_none() {
        return Err(AskError::Malformed("no usage fields".into()));
    }
    let unix = |field: &str| number(&data[field]).and_then(|s| from_unix_seconds(s as i64));
    let usage = DataUsage {
        total_bytes: bytes(number(&data["allowedData"]), 1024.0),
        remaining_bytes: bytes(number(&data["remainingData"]), 1024.0),
        ..DataUsage::default()
    };
    let status = text(&data["status"]);
    Ok(Reading {
        usage: (usage.total_bytes.is_some() || usage.remaining_bytes.is_some()).then_some(usage),
        validity: unix("expiredAt").map(|at| Validity {
            expires_at: Some(at),
            starts_at: unix("startedAt"),
            ..Validity::default()
        }),
        status: status.map(|status| StatusChange {
            lifecycle: lifecycle(&status),
            provider_status: status,
            profile_status: None,
        }),
        ..Reading::default()
    })
}

/// The lifecycle a Roamify status names (webhooks and the API send the same words): here, as the spec
/// (`roamify.rs`) names this module.
pub(super) fn lifecycle(status: &str) -> Lifecycle {
    const WORDS: [(&str, Lifecycle); 8] = [
        ("NEW", Lifecycle::Pending),
        ("INSTALLED", Lifecycle::Installed),
        ("ACTIVATED", Lifecycle::Active),
        ("ACTIVE", Lifecycle::Active),
        ("INACTIVE", Lifecycle::Suspended),
        ("EXPIRED", Lifecycle::Expired),
        ("REVOKED", Lifecycle::Cancelled),
        ("DELETED", Lifecycle::Deleted),
    ];
    any_case(status, &WORDS).unwrap_or(Lifecycle::Unknown)
}

/// The value paired with `word` in any letter case, without building an upper-case copy per delivery.
pub(super) fn any_case<T: Copy>(word: &str, table: &[(&str, T)]) -> Option<T> {
    table
        .iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name))
        .map(|&(_, value)| value)
}
