//! Airalo's Partner API: a token from `POST /token` (client credentials as form fields; cached, its endpoint
//! allows 3 a minute), then `GET /sims/{iccid}/usage` with the Bearer token. Amounts are in MB (Airalo's
//! decimal megabytes); an unlimited plan's amounts are 0 and mean nothing. Airalo caches usage 20 minutes.

use crate::model::{DataUsage, Lifecycle, StatusChange, Validity};
use crate::reconcile::{
    bytes, client_credentials_request, iccid_of, json_of, number, oauth_token, text, ApiAnswer, ApiCredentials,
    ApiRequest, Ask, AskError, CredentialShape, Reading, Token, TokenApi, UsageApi,
};
use crate::time::parse_provider_time;
use chrono::{DateTime, Duration, Utc};

/// Airalo's webhooks send percentages, never amounts; its packages are sold in decimal GB, and the API's
/// amounts are in its megabytes. Here, as the spec (`airalo.rs`) names this module.
pub const DATA_UNITS: crate::model::DataUnits = crate::model::DataUnits::Decimal;

pub static USAGE_API: UsageApi = UsageApi {
    default_base: "https://partners-api.airalo.com/v2",
    credentials: CredentialShape::ClientCredentials,
    per_second: 5,
    validity_notices: true,
    usage_lag_minutes: 20,
    reference: None,
    token: Some(TokenApi {
        request: token_request,
        read: read_token,
    }),
    batch: None,
    request: |_, token, ask, _| {
        let iccid = iccid_of(ask)?;
        Ok(ApiRequest::get(format!("/sims/{iccid}/usage")).bearer(token.unwrap_or_default()))
    },
    read,
};

/// The docs say a token lasts a day (and elsewhere a year): it is used for a day at most.
const TOKEN_LIFETIME: Duration = Duration::hours(24);

fn token_request(credentials: &ApiCredentials) -> ApiRequest {
    client_credentials_request(credentials, "/token")
}

fn read_token(answer: &ApiAnswer, now: DateTime<Utc>) -> Result<Token, AskError> {
    oauth_token(&json_of(answer)?["data"], now, TOKEN_LIFETIME, TOKEN_LIFETIME)
}

fn lifecycle(status: &str) -> Lifecycle {
    match status {
        "NOT_ACTIVE" => Lifecycle::Pending,
        "ACTIVE" => Lifecycle::Active,
        "FINISHED" => Lifecycle::Depleted,
        "EXPIRED" => Lifecycle::Expired,
        _ => Lifecycle::Unknown,
    }
}

fn read(answer: &ApiAnswer, _: &Ask) -> Result<Reading, AskError> {
    if matches!(answer.status, 404 | 422) {
        return Err(AskError::UnknownEsim);
    }
    let body = json_of(answer)?;
    let data = &body["data"];
    if !data.is_object() {
        return Err(AskError::Malformed("no data object".into()));
    }
    let unlimited = data["is_unlimited"].as_bool().unwrap_or(false);
    let mb = DATA_UNITS.megabyte();
    let usage = DataUsage {
        total_bytes: bytes(number(&data["total"]), mb).filter(|_| !unlimited),
        remaining_bytes: bytes(number(&data["remaining"]), mb).filter(|_| !unlimited),
        unlimited,
        ..DataUsage::default()
    };
    let status = text(&data["status"]).filter(|s| s != "UNKNOWN");
    Ok(Reading {
        usage: Some(usage),
        validity: data["expired_at"]
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
