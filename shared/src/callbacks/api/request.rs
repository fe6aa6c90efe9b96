//! Reading a partner callbacks request: its route, the partner's key, its body and fields, and every way it
//! can fail (mapped to a status once).

use super::super::transport::TransportError;
use super::super::url::{validate_url_reaching, CallbackUrl, HostResolver};
use crate::api_error::ApiAnswers;
use crate::ingress::Delivery;
use crate::notification::EchoSubject;
use crate::notification::NotificationType;
use lambda_http::http::Method;
use serde_json::Value;

/// Request bodies are a URL or two ids: anything bigger is not ours.
pub const MAX_API_BODY_BYTES: usize = 16 * 1024;
pub(super) const DEFAULT_PAGE: usize = 20;
pub(super) const MAX_PAGE: usize = 50;
const MAX_SUBJECT_LEN: usize = 128;

pub use crate::api_error::ApiError;

/// What the partner callbacks API answers when it cannot serve a request for now: partners retry soon.
pub const PARTNER_API: ApiAnswers = ApiAnswers {
    unavailable: "temporary failure; retry later",
    retry_after: 5,
};

impl From<TransportError> for ApiError {
    fn from(e: TransportError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// What the path and method ask for; segments still unparsed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Route<'a> {
    Put(&'a str, &'a str),
    List(&'a str),
    Delete(&'a str, &'a str),
    Echo(&'a str, &'a str),
    RotateSecret(&'a str),
    Attempts(&'a str),
    Recover(&'a str),
}

impl<'a> Route<'a> {
    /// The partner id segment, as presented.
    pub(super) fn partner(&self) -> &'a str {
        match self {
            Self::Put(p, _)
            | Self::List(p)
            | Self::Delete(p, _)
            | Self::Echo(p, _)
            | Self::RotateSecret(p)
            | Self::Attempts(p)
            | Self::Recover(p) => p,
        }
    }

    pub(super) fn name(&self) -> &'static str {
        match self {
            Self::Put(..) => "put_callback",
            Self::List(_) => "list_callbacks",
            Self::Delete(..) => "delete_callback",
            Self::Echo(..) => "echo",
            Self::RotateSecret(_) => "rotate_secret",
            Self::Attempts(_) => "list_attempts",
            Self::Recover(_) => "recover",
        }
    }
}

/// Matches the end of the path, so a stage or base-path prefix does not matter.
pub(super) fn route<'a>(method: &Method, path: &'a str) -> Result<Route<'a>, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let not_allowed = || Err(ApiError::MethodNotAllowed(method.to_string()));
    match segments.as_slice() {
        [.., "v1", "callbacks", "echo", partner, kind] => match *method {
            Method::POST => Ok(Route::Echo(partner, kind)),
            _ => not_allowed(),
        },
        [.., partner, "callbacks", "attempts"] if *method == Method::GET => Ok(Route::Attempts(partner)),
        [.., partner, "callbacks", "recover"] if *method == Method::POST => Ok(Route::Recover(partner)),
        [.., partner, "callbacks", kind] => match *method {
            Method::PUT => Ok(Route::Put(partner, kind)),
            Method::DELETE => Ok(Route::Delete(partner, kind)),
            _ => not_allowed(),
        },
        [.., partner, "secret", "rotate"] => match *method {
            Method::POST => Ok(Route::RotateSecret(partner)),
            _ => not_allowed(),
        },
        [.., partner, "callbacks"] => match *method {
            Method::GET => Ok(Route::List(partner)),
            _ => not_allowed(),
        },
        _ => Err(ApiError::NotFound("no callbacks route at this path".into())),
    }
}

/// A callback URL checked for registration. One refused that allowing loopback would accept is refused with
/// `loopback_hint` where there is one (a local server says which flag allows it).
pub(super) async fn callback_url(
    url: &str,
    resolver: &dyn HostResolver,
    allow_loopback: bool,
    loopback_hint: Option<&str>,
) -> Result<CallbackUrl, ApiError> {
    let refused = match validate_url_reaching(url, resolver, allow_loopback).await {
        Ok(url) => return Ok(url),
        Err(problem) => problem.to_string(),
    };
    match loopback_hint {
        Some(hint) if validate_url_reaching(url, resolver, true).await.is_ok() => {
            Err(ApiError::BadRequest(format!("{refused}; {hint}")))
        }
        _ => Err(ApiError::BadRequest(refused)),
    }
}

/// A page's size: `limit`, 1 to 50, 20 when not given.
pub(super) fn page_limit(request: &Delivery) -> Result<usize, ApiError> {
    match request.query_param("limit") {
        None => Ok(DEFAULT_PAGE),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| ApiError::BadRequest(format!("limit must be a number from 1 to {MAX_PAGE}"))),
    }
}

pub(super) fn presented_key(request: &Delivery) -> Option<&str> {
    if let Some(key) = request.header("x-api-key") {
        return Some(key.trim());
    }
    let authorization = request.header("authorization")?;
    let (scheme, key) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
}

pub(super) fn notification_type(segment: &str) -> Result<NotificationType, ApiError> {
    NotificationType::parse(segment).ok_or_else(|| {
        let supported: Vec<String> = NotificationType::ALL.iter().map(|t| t.to_string()).collect();
        ApiError::BadRequest(format!(
            "notification type {segment:?} is not supported; supported types: {}",
            supported.join(", ")
        ))
    })
}

pub(super) fn json_body(request: &Delivery) -> Result<serde_json::Map<String, Value>, ApiError> {
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Default::default());
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(ApiError::BadRequest("the body must be a JSON object".into())),
        Err(e) => Err(ApiError::BadRequest(format!("the body is not valid JSON: {e}"))),
    }
}

/// A string field that is absent or null is None; any other non-string is an error.
pub(super) fn optional_string(fields: &serde_json::Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::BadRequest(format!("{name} must be a string"))),
    }
}

/// The echo's subject: exactly one of `esim_ref` and `simulation_id`.
pub(super) fn echo_subject(request: &Delivery) -> Result<EchoSubject, ApiError> {
    let fields = json_body(request)?;
    let esim_ref = optional_string(&fields, "esim_ref")?;
    let simulation_id = optional_string(&fields, "simulation_id")?;
    let subject = match (esim_ref, simulation_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "give exactly one of esim_ref or simulation_id, not both".into(),
            ))
        }
        (None, None) => {
            return Err(ApiError::BadRequest(
                "give exactly one of esim_ref (an eSIM reference) or simulation_id (an id of your choosing)".into(),
            ))
        }
        (Some(esim), None) => EchoSubject::Esim(esim),
        (None, Some(simulation)) => EchoSubject::Simulation(simulation),
    };
    let (EchoSubject::Esim(value) | EchoSubject::Simulation(value)) = &subject;
    if value.is_empty() || value.len() > MAX_SUBJECT_LEN || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadRequest(format!(
            "the id must be 1 to {MAX_SUBJECT_LEN} printable ASCII characters without spaces"
        )));
    }
    Ok(subject)
}
