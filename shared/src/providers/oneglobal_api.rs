//! 1GLOBAL Connect: an OAuth2 client-credentials token (valid 5 minutes) from the identity server, then
//! `GET /connect-api/v2/subscriptions?iccid=` with it. Every subscription the SIM ever had is returned: the
//! active one is the reading, else the newest. Balances are strings, in the unit `balance_units` names.

use crate::model::{DataUsage, Lifecycle, StatusChange, Validity};
use crate::reconcile::{
    bytes, client_credentials_request, iccid_of, json_of, number, oauth_token, text, ApiAnswer, ApiCredentials,
    ApiRequest, Ask, AskError, CredentialShape, Reading, Token, TokenApi, UsageApi,
};
use crate::time::parse_provider_time;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

pub static USAGE_API: UsageApi = UsageApi {
    default_base: "https://services.truphone.com",
    credentials: CredentialShape::ClientCredentials,
    // 1,000 a minute per endpoint.
    per_second: 16,
    validity_notices: false,
    usage_lag_minutes: 0,
    reference: None,
    token: Some(TokenApi {
        request: token_request,
        read: read_token,
    }),
    batch: None,
    request: |_, token, ask, now| {
        let iccid = iccid_of(ask)?;
        let mut request =
            ApiRequest::get(format!("/connect-api/v2/subscriptions?iccid={iccid}")).bearer(token.unwrap_or_default());
        request
            .headers
            .push(("x-correlation-id", format!("esimhooks-{}", now.timestamp_millis())));
        Ok(request)
    },
    read,
};

fn token_request(credentials: &ApiCredentials) -> ApiRequest {
    client_credentials_request(credentials, "/auth/realms/tru-staff/protocol/openid-connect/token")
}

/// Documented as valid 5 minutes; an hour at most whatever an answer says.
fn read_token(answer: &ApiAnswer, now: DateTime<Utc>) -> Result<Token, AskError> {
    oauth_token(&json_of(answer)?, now, Duration::minutes(5), Duration::hours(1))
}

fn lifecycle(status: &str) -> Lifecycle {
    match status {
        "ACTIVE" => Lifecycle::Active,
        "EXPIRED" => Lifecycle::Expired,
        "DEPLETED" | "EXHAUSTED" => Lifecycle::Depleted,
        "CANCELLED" | "TERMINATED" => Lifecycle::Cancelled,
        "PENDING" | "INACTIVE" => Lifecycle::Pending,
        _ => Lifecycle::Unknown,
    }
}

/// Bytes per unit of `balance_units` (documented: `Bytes`).
fn unit_bytes(unit: Option<&str>) -> Option<f64> {
    match unit.map(str::to_ascii_lowercase).as_deref() {
        None | Some("bytes" | "b") => Some(1.0),
        Some("kb") => Some(1024.0),
        Some("mb") => Some(1_048_576.0),
        Some("gb") => Some(1_073_741_824.0),
        _ => None,
    }
}

fn read(answer: &ApiAnswer, _: &Ask) -> Result<Reading, AskError> {
    if matches!(answer.status, 400 | 404) {
        return Err(AskError::UnknownEsim);
    }
    let body = json_of(answer)?;
    let subscriptions = body["data"]
        .as_array()
        .ok_or_else(|| AskError::Malformed("no data list".into()))?;
    let created = |s: &&Value| s["created_date"].as_str().and_then(parse_provider_time);
    let current = subscriptions
        .iter()
        .find(|s| s["status"] == "ACTIVE")
        .or_else(|| subscriptions.iter().max_by_key(created))
        .ok_or(AskError::UnknownEsim)?;
    let unit = unit_bytes(current["balance_units"].as_str())
        .ok_or_else(|| AskError::Malformed("an unknown balance unit".into()))?;
    let usage = DataUsage {
        total_bytes: bytes(number(&current["initial_balance"]), unit),
        remaining_bytes: bytes(number(&current["current_balance"]), unit),
        ..DataUsage::default()
    };
    let status = text(&current["status"]);
    Ok(Reading {
        usage: Some(usage),
        validity: current["expiry_date"]
            .as_str()
            .and_then(parse_provider_time)
            .map(|at| Validity {
                expires_at: Some(at),
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
