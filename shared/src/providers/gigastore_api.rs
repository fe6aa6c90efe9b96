//! DENT Gigastore's reseller API: a token from `POST /reseller/authenticate` (Basic client id and secret; a
//! day), then the customer's activations. A balance belongs to a customer (`uid`), not to an ICCID: an eSIM
//! whose balance alert named its customer is asked by `GET /gigastore/activations/customers/<uid>`; one known
//! by ICCID only is found in the list of every customer (`relatedEsims`). Sizes come as a value and a unit
//! (MB, GB, TB; decimal, as Gigastore's "0.05 GB" for a 50 MB package shows).

use crate::model::{DataUsage, EsimIdentity, Validity};
use crate::reconcile::{json_of, number, ApiAnswer, ApiCredentials, ApiRequest, Ask, AskError, CredentialShape};
use crate::reconcile::{Reading, Token, TokenApi, UsageApi};
use crate::time::parse_provider_time;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// Gigastore states balances in bytes; its "100 MB" warning reads as decimal megabytes (see the provider doc).
/// Here, as the spec (`gigastore.rs`) names this module.
pub const DATA_UNITS: crate::model::DataUnits = crate::model::DataUnits::Decimal;

pub static USAGE_API: UsageApi = UsageApi {
    default_base: "https://api.giga.store",
    credentials: CredentialShape::ClientCredentials,
    // Gigastore publishes no limit: kept low.
    per_second: 5,
    validity_notices: false,
    usage_lag_minutes: 0,
    reference: Some("uid"),
    token: Some(TokenApi {
        request: token_request,
        read: read_token,
    }),
    batch: None,
    request: |_, token, ask, _| {
        let path = match ask {
            Ask::Known { reference, .. } | Ask::Esim(reference) => {
                format!("/gigastore/activations/customers/{}", uid_of(reference)?)
            }
            Ask::Iccid(_) => "/gigastore/activations/customers".into(),
        };
        Ok(ApiRequest::get(path).bearer(token.unwrap_or_default()))
    },
    read,
};

/// The token is documented as valid 86,400 s: never used longer.
const TOKEN_LIFETIME: Duration = Duration::hours(24);

fn token_request(credentials: &ApiCredentials) -> ApiRequest {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        credentials.id,
        credentials.secret.as_deref().unwrap_or_default()
    ));
    ApiRequest {
        method: "POST",
        path: "/reseller/authenticate".into(),
        headers: vec![
            ("accept", "application/json".into()),
            ("authorization", format!("Basic {basic}")),
        ],
        body: None,
    }
}

fn read_token(answer: &ApiAnswer, now: DateTime<Utc>) -> Result<Token, AskError> {
    let body = json_of(answer)?;
    let value = body["accessToken"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AskError::Malformed("no accessToken".into()))?;
    let lifetime = number(&body["expiresIn"]).map_or(TOKEN_LIFETIME, |s| Duration::seconds(s as i64));
    Ok(Token {
        value: value.to_string(),
        expires_at: now + lifetime.min(TOKEN_LIFETIME),
    })
}

/// A customer uid as it may go into a URL path (Gigastore's are UUIDs).
fn uid_of(reference: &str) -> Result<&str, AskError> {
    let plausible =
        (1..=64).contains(&reference.len()) && reference.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if plausible {
        Ok(reference)
    } else {
        Err(AskError::Unaskable(
            "a Gigastore customer uid is letters, digits and '-'".into(),
        ))
    }
}

/// `{"sizeValue": 2, "sizeUnit": "GB"}` in bytes; `None` for a unit Gigastore does not document.
fn size(value: &Value) -> Result<Option<u64>, AskError> {
    if value.is_null() {
        return Ok(None);
    }
    let mb = DATA_UNITS.megabyte();
    let step = mb.sqrt();
    let unit = match value["sizeUnit"].as_str().map(str::to_ascii_uppercase).as_deref() {
        Some("B") => 1.0,
        Some("KB") => step,
        Some("MB") => mb,
        Some("GB") => mb * step,
        Some("TB") => mb * mb,
        _ => return Err(AskError::Malformed("an unknown size unit".into())),
    };
    Ok(crate::reconcile::bytes(number(&value["sizeValue"]), unit))
}

/// The customers of the list-all answer: a list, or a list under one of the usual keys (its paging is not
/// documented).
fn customers(body: &Value) -> Result<&Vec<Value>, AskError> {
    body.as_array()
        .or_else(|| {
            ["customers", "data", "items", "content", "results"]
                .iter()
                .find_map(|key| body[key].as_array())
        })
        .ok_or_else(|| AskError::Malformed("no list of customers".into()))
}

fn related_iccids(customer: &Value) -> impl Iterator<Item = &str> {
    customer["relatedEsims"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|esim| esim["iccid"].as_str())
}

fn read(answer: &ApiAnswer, ask: &Ask) -> Result<Reading, AskError> {
    if matches!(answer.status, 400 | 404) {
        return Err(AskError::UnknownEsim);
    }
    let body = json_of(answer)?;
    let customer = match ask {
        Ask::Iccid(iccid) => customers(&body)?
            .iter()
            .find(|customer| related_iccids(customer).any(|related| related == iccid))
            .ok_or(AskError::UnknownEsim)?,
        Ask::Known { .. } | Ask::Esim(_) => &body,
    };
    let items = customer["activatedItems"]
        .as_array()
        .ok_or_else(|| AskError::Malformed("no activatedItems".into()))?;
    // A package used up stops counting once another has balance: the reseller's levels are of what was bought
    // last, as with every provider whose new bundle brings a new total.
    let mut current = Vec::new();
    for item in items {
        let balance = &item["balance"];
        let left = size(&balance["availableBalance"])?;
        current.push((size(&balance["size"])?, left, balance["expiresAt"].as_str()));
    }
    if current.iter().any(|(_, left, _)| left.is_some_and(|l| l > 0)) {
        current.retain(|(_, left, _)| left.is_some_and(|l| l > 0));
    }
    let total = current.iter().map(|(total, _, _)| *total).sum::<Option<u64>>();
    let remaining = match size(&customer["totalAvailableBalance"])? {
        Some(left) => Some(left),
        None => current.iter().map(|(_, left, _)| *left).sum::<Option<u64>>(),
    };
    let expires_at = current
        .iter()
        .filter_map(|(_, _, end)| end.and_then(parse_provider_time))
        .max();
    let iccid = match ask {
        Ask::Iccid(iccid) => Some(iccid.clone()),
        Ask::Known { key, .. } if crate::text::is_plausible_iccid(key) => Some(key.clone()),
        _ => related_iccids(customer)
            .find(|iccid| crate::text::is_plausible_iccid(iccid))
            .map(str::to_string),
    };
    let uid = customer["customer"]["uid"].as_str().and_then(|uid| uid_of(uid).ok());
    Ok(Reading {
        esim: iccid.map(|iccid| EsimIdentity {
            key: iccid.clone(),
            iccid: Some(iccid),
            refs: crate::model::refs_sent([("uid", uid.map(str::to_string))]),
        }),
        usage: (!items.is_empty()).then_some(DataUsage {
            total_bytes: total.filter(|t| *t > 0),
            remaining_bytes: remaining,
            ..DataUsage::default()
        }),
        validity: expires_at.map(|at| Validity {
            expires_at: Some(at),
            ..Validity::default()
        }),
        ..Reading::default()
    })
}
