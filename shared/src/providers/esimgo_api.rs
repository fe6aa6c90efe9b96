//! eSIM Go's usage API: `GET /esims/{iccid}/bundles` with `X-API-Key` (v2.4). Each assignment of a bundle has
//! its initial and remaining quantity in bytes (1 GB = 10^9); the active data assignment is the reading, else
//! the newest. Whether v2.4 returns `endTime` is unverified: it is read where present.

use crate::model::{DataUsage, Lifecycle, StatusChange, Validity};
use crate::reconcile::{
    bytes, iccid_of, json_of, number, text, ApiAnswer, ApiRequest, Ask, AskError, CredentialShape, Reading, UsageApi,
};
use crate::time::parse_provider_time;
use serde_json::Value;

pub static USAGE_API: UsageApi = UsageApi {
    default_base: "https://api.esim-go.com/v2.4",
    credentials: CredentialShape::Key,
    per_second: 10,
    validity_notices: false,
    usage_lag_minutes: 0,
    reference: None,
    token: None,
    batch: None,
    request: |credentials, _, ask, _| {
        let iccid = iccid_of(ask)?;
        let mut request = ApiRequest::get(format!("/esims/{iccid}/bundles?includeUsed=true&limit=200"));
        request.headers.push(("x-api-key", credentials.id.clone()));
        Ok(request)
    },
    read,
};

fn lifecycle(state: &str) -> Lifecycle {
    match state {
        "active" => Lifecycle::Active,
        "depleted" => Lifecycle::Depleted,
        "expired" | "lapsed" => Lifecycle::Expired,
        "revoked" => Lifecycle::Cancelled,
        "processing" | "queued" => Lifecycle::Pending,
        _ => Lifecycle::Unknown,
    }
}

fn read(answer: &ApiAnswer, _: &Ask) -> Result<Reading, AskError> {
    if matches!(answer.status, 400 | 404) {
        return Err(AskError::UnknownEsim);
    }
    let body = json_of(answer)?;
    let bundles = body["bundles"]
        .as_array()
        .ok_or_else(|| AskError::Malformed("no bundles list".into()))?;
    let data = |a: &&Value| a["callTypeGroup"].as_str().is_none_or(|group| group == "data");
    let assignments: Vec<&Value> = bundles
        .iter()
        .flat_map(|b| b["assignments"].as_array().into_iter().flatten())
        .filter(data)
        .collect();
    let newest = |a: &&&Value| a["assignmentDateTime"].as_str().and_then(parse_provider_time);
    let current = assignments
        .iter()
        .find(|a| a["bundleState"] == "active")
        .or_else(|| assignments.iter().max_by_key(newest));
    let Some(current) = current else {
        return Ok(Reading::default());
    };
    let unlimited = current["unlimited"].as_bool().unwrap_or(false);
    let usage = DataUsage {
        total_bytes: bytes(number(&current["initialQuantity"]), 1.0).filter(|_| !unlimited),
        remaining_bytes: bytes(number(&current["remainingQuantity"]), 1.0).filter(|_| !unlimited),
        unlimited,
        ..DataUsage::default()
    };
    let ends = current["endTime"].as_str().and_then(parse_provider_time);
    let state = text(&current["bundleState"]);
    Ok(Reading {
        usage: Some(usage),
        validity: ends.map(|at| Validity {
            expires_at: Some(at),
            starts_at: current["startTime"].as_str().and_then(parse_provider_time),
            ..Validity::default()
        }),
        status: state.map(|state| StatusChange {
            lifecycle: lifecycle(&state),
            provider_status: state,
            profile_status: None,
        }),
        ..Reading::default()
    })
}
