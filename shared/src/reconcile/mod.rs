//! Asking a provider's API for an eSIM's usage and validity, so alerts come at the reseller's own levels even
//! when the provider's webhooks are silent or lost. Each provider's module declares how it is asked
//! ([`UsageApi`]: the request, the answer's reading, its token endpoint); [`client::Reconciler`] does the
//! asking (credentials, cached tokens, `429`), and a reading becomes an ordinary [`Event`] that goes through the
//! same pipeline as a webhook: state, alerts, customer messages, partner callbacks.

pub mod client;
pub mod due;
pub mod fanout;
#[cfg(feature = "aws")]
pub mod http;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod named;
mod run;

pub use run::{
    due_esims, pass_budget, reconcile_due, reconcile_one, Asked, AskedEsim, FiledEsims, PassReport, ReconcileError,
};

use crate::model::{
    Bundle, DataUsage, DedupeBasis, DedupeKey, EsimIdentity, Event, EventKind, PayloadSha256, ProviderId,
};
use crate::model::{RawPadding, StatusChange, Validity};
use crate::state::EsimState;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

/// The provider event type an asked reading is stored under: the timeline shows it was asked, not pushed.
pub const ASKED_EVENT_TYPE: &str = "api_reading";

/// The eSIM to ask about, as the caller knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    Iccid(String),
    /// The provider's own eSIM reference (eSIM Access `esimTranNo`).
    Esim(String),
    /// An eSIM whose state is kept under `key` and whose provider's API knows it by `reference`, a ref the
    /// state holds (Gigastore: the customer's `uid`).
    Known {
        key: String,
        reference: String,
    },
}

impl Ask {
    /// An identifier as a person types it: an ICCID when it is one, else the provider's eSIM reference.
    pub fn guess(text: &str) -> Self {
        if crate::text::is_plausible_iccid(text) {
            Self::Iccid(text.to_string())
        } else {
            Self::Esim(text.to_string())
        }
    }

    /// How the pass and the workers ask about a known eSIM: by the ref its provider's API wants where the
    /// state holds it, else by its key.
    pub fn of_state(state: &EsimState) -> Self {
        let reference = state.provider.spec().usage_api.and_then(|api| api.reference);
        match reference.and_then(|name| state.refs.get(name)) {
            Some(reference) => Self::Known {
                key: state.key.clone(),
                reference: reference.clone(),
            },
            None => Self::guess(&state.key),
        }
    }

    /// The eSIM's key: what the state is kept under.
    pub fn value(&self) -> &str {
        match self {
            Self::Iccid(v) | Self::Esim(v) | Self::Known { key: v, .. } => v,
        }
    }
}

/// API credentials as configured: `<id>` or `<id>:<secret>` (an API key, an access code and secret key, a
/// client id and secret).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiCredentials {
    pub id: String,
    pub secret: Option<String>,
}

impl std::fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiCredentials(••••)")
    }
}

/// What a provider's API takes as credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialShape {
    /// One key or token.
    Key,
    /// A key, and optionally a secret that signs requests (eSIM Access `accessCode[:secretKey]`).
    KeyAndOptionalSecret,
    /// `client_id:client_secret`.
    ClientCredentials,
}

impl ApiCredentials {
    /// Parses configured credentials for `shape`; an error says what the value should look like (never the
    /// value itself).
    pub fn parse(text: &str, shape: CredentialShape) -> Result<Self, String> {
        let text = text.trim();
        let (id, secret) = match text.split_once(':') {
            Some((id, secret)) => (id.trim(), Some(secret.trim().to_string())),
            None => (text, None),
        };
        let ok = !text.is_empty()
            && !text.chars().any(char::is_control)
            && match shape {
                CredentialShape::Key => true,
                CredentialShape::KeyAndOptionalSecret => {
                    !id.is_empty() && secret.as_deref().is_none_or(|s| !s.is_empty())
                }
                CredentialShape::ClientCredentials => {
                    !id.is_empty() && secret.as_deref().is_some_and(|s| !s.is_empty())
                }
            };
        if !ok {
            return Err(match shape {
                CredentialShape::Key => "expected the API key or token".into(),
                CredentialShape::KeyAndOptionalSecret => "expected accessCode or accessCode:secretKey".into(),
                CredentialShape::ClientCredentials => "expected client_id:client_secret".into(),
            });
        }
        // A key that contains ':' (a token) is one value.
        let (id, secret) = match shape {
            CredentialShape::Key => (text.to_string(), None),
            _ => (id.to_string(), secret),
        };
        Ok(Self { id, secret })
    }
}

/// One HTTP request to a provider's API, relative to its base URL.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    pub method: &'static str,
    /// Appended to the base URL: `/esims/8944.../bundles?includeUsed=false`.
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
}

impl ApiRequest {
    pub fn get(path: String) -> Self {
        Self {
            method: "GET",
            path,
            headers: vec![("accept", "application/json".into())],
            body: None,
        }
    }

    pub fn bearer(mut self, token: &str) -> Self {
        self.headers.push(("authorization", format!("Bearer {token}")));
        self
    }
}

/// What the API answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiAnswer {
    pub status: u16,
    /// `Retry-After`, in seconds, where sent.
    pub retry_after: Option<u64>,
    pub body: Vec<u8>,
}

/// Why asking failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AskError {
    #[error("the provider does not know this eSIM")]
    UnknownEsim,
    #[error("the API refused the credentials: {0}")]
    Credentials(String),
    #[error("rate limited: retry after {0} s")]
    RateLimited(u64),
    #[error("the answer is not what the API documents: {0}")]
    Malformed(String),
    #[error("the API is unavailable: {0}")]
    Unavailable(String),
    #[error("cannot ask: {0}")]
    Unaskable(String),
}

/// A bearer token and when to stop using it.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub value: String,
    pub expires_at: DateTime<Utc>,
}

/// How a provider hands out bearer tokens.
pub struct TokenApi {
    pub request: fn(&ApiCredentials) -> ApiRequest,
    pub read: fn(&ApiAnswer, DateTime<Utc>) -> Result<Token, AskError>,
}

/// What an answer says of an eSIM, in the common model; the amounts already in bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// The eSIM as the answer names it (`None`: as asked).
    pub esim: Option<EsimIdentity>,
    pub usage: Option<DataUsage>,
    pub validity: Option<Validity>,
    pub status: Option<StatusChange>,
    pub bundle: Option<Bundle>,
    /// When the provider last measured, where it says (eSIM Access `lastUpdateTime`).
    pub read_at: Option<DateTime<Utc>>,
}

/// Builds the usage request for an eSIM: credentials, the bearer token where the API uses one, the eSIM,
/// and `now` for signed requests.
pub type BuildRequest = fn(&ApiCredentials, Option<&str>, &Ask, DateTime<Utc>) -> Result<ApiRequest, AskError>;

/// How one provider's usage API is asked.
pub struct UsageApi {
    /// The base URL unless `<PREFIX>_API_URL` overrides it.
    pub default_base: &'static str,
    pub credentials: CredentialShape,
    /// The most requests a second its published limit allows (the reconciler's budget).
    pub per_second: u32,
    /// Whether the provider's webhooks warn of a plan's end (then an end near is not a reason to ask).
    pub validity_notices: bool,
    /// How far behind use the API's usage may be, by the provider's docs (eSIM Access: updated within 2-3
    /// hours). An answer without its own reading time is taken as measured that long before receipt, so it
    /// never outranks a fresher webhook.
    pub usage_lag_minutes: u32,
    /// The ref of an eSIM's state its API is asked by, where that is not the state's key (Gigastore `uid`).
    pub reference: Option<&'static str>,
    pub token: Option<TokenApi>,
    pub request: BuildRequest,
    /// The answer's reading, for a 2xx or a provider-specific refusal (401, 403, 429 and 5xx are decided
    /// before it is called).
    pub read: fn(&ApiAnswer, &Ask) -> Result<Reading, AskError>,
}

/// A JSON number, or a string of one (1GLOBAL sends balances as strings).
pub fn number(value: &serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite() && *n >= 0.0)
}

/// `amount` in units of `unit_bytes` as whole bytes, if it is a sane amount (under an exabyte).
pub fn bytes(amount: Option<f64>, unit_bytes: f64) -> Option<u64> {
    amount
        .map(|a| (a * unit_bytes).round())
        .filter(|b| *b < 1e18)
        .map(|b| b as u64)
}

/// A JSON string, cleaned as every provider text is.
pub fn text(value: &serde_json::Value) -> Option<String> {
    value
        .as_str()
        .map(|s| crate::text::clean(s).into_owned())
        .filter(|s| !s.is_empty())
}

/// The ICCID asked for, for APIs that know eSIMs by ICCID only (digits: it goes into a URL path).
pub fn iccid_of(ask: &Ask) -> Result<&str, AskError> {
    let value = ask.value();
    if crate::text::is_plausible_iccid(value) {
        Ok(value)
    } else {
        Err(AskError::Unaskable("this provider's API is asked by ICCID".into()))
    }
}

/// An OAuth2 client-credentials token request to `path`: the client id and secret as form fields (Airalo,
/// 1GLOBAL).
pub fn client_credentials_request(credentials: &ApiCredentials, path: &str) -> ApiRequest {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "client_credentials"),
            ("client_id", credentials.id.as_str()),
            ("client_secret", credentials.secret.as_deref().unwrap_or_default()),
        ])
        .finish();
    ApiRequest {
        method: "POST",
        path: path.into(),
        headers: vec![
            ("accept", "application/json".into()),
            ("content-type", "application/x-www-form-urlencoded".into()),
        ],
        body: Some(body.into_bytes()),
    }
}

/// The token an OAuth2 answer object holds (`access_token`, `expires_in` in seconds), used for its stated
/// lifetime (`unstated` when it gives none) and never longer than `longest`.
pub fn oauth_token(
    object: &serde_json::Value,
    now: DateTime<Utc>,
    unstated: chrono::Duration,
    longest: chrono::Duration,
) -> Result<Token, AskError> {
    let value = object["access_token"]
        .as_str()
        .ok_or_else(|| AskError::Malformed("no access_token".into()))?;
    let lifetime = number(&object["expires_in"]).map_or(unstated, |s| chrono::Duration::seconds(s as i64));
    Ok(Token {
        value: value.to_string(),
        expires_at: now + lifetime.min(longest),
    })
}

/// The JSON of an answer, or why it is not.
pub fn json_of(answer: &ApiAnswer) -> Result<serde_json::Value, AskError> {
    serde_json::from_slice(&answer.body).map_err(|e| AskError::Malformed(format!("not JSON: {e}")))
}

/// The identity of an eSIM asked by `ask`, where the answer does not name it.
pub fn identity_of(ask: &Ask) -> EsimIdentity {
    EsimIdentity {
        key: ask.value().to_string(),
        iccid: match ask {
            Ask::Iccid(iccid) => Some(iccid.clone()),
            Ask::Known { key, .. } => crate::text::is_plausible_iccid(key).then(|| key.clone()),
            Ask::Esim(_) => None,
        },
        refs: Default::default(),
    }
}

/// Whether `reading` says nothing the eSIM's state does not already hold (so asking stores nothing).
pub fn adds_nothing(reading: &Reading, state: Option<&EsimState>) -> bool {
    let Some(state) = state else {
        return false;
    };
    let same_usage = match (&reading.usage, state.usage.as_ref().map(|f| &f.value)) {
        (None, _) => true,
        (Some(new), Some(old)) => {
            let new = new.clone().complete();
            (new.remaining_bytes, new.total_bytes, new.unlimited)
                == (old.remaining_bytes, old.total_bytes, old.unlimited)
        }
        (Some(_), None) => false,
    };
    let same_end = match &reading.validity {
        None => true,
        Some(new) => new.expires_at.is_none() || new.expires_at == state.expires_at(),
    };
    let same_status = match (&reading.status, state.status.as_ref().map(|f| &f.value)) {
        (None, _) => true,
        (Some(new), Some(old)) => new.lifecycle == old.lifecycle,
        (Some(_), None) => false,
    };
    same_usage && same_end && same_status
}

/// When a provider's data is as old as its documented lag: the measurement time of an answer without its own.
fn lagged_reading(provider: ProviderId, received_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let lag = provider.spec().usage_api.map_or(0, |api| api.usage_lag_minutes);
    (lag > 0).then(|| received_at - chrono::Duration::minutes(i64::from(lag)))
}

/// When the usage `reading` reports was measured: its reading time, else the provider's lag before receipt.
pub fn measured_at(provider: ProviderId, reading: &Reading, received_at: DateTime<Utc>) -> DateTime<Utc> {
    reading
        .read_at
        .map(|at| at.min(received_at))
        .or_else(|| lagged_reading(provider, received_at))
        .unwrap_or(received_at)
}

/// The event an answer's reading becomes: keyed by what it says (asking twice and hearing the same is one
/// event), the answer's bytes kept as its raw payload, stamped with the provider's reading time where it gives
/// one (bounded like any provider time).
pub fn reading_event(
    provider: ProviderId,
    ask: &Ask,
    reading: Reading,
    body: &[u8],
    received_at: DateTime<Utc>,
) -> Result<Event, AskError> {
    use sha2::{Digest, Sha256};
    let text = std::str::from_utf8(body).map_err(|_| AskError::Malformed("not UTF-8".into()))?;
    let (padding, value) = RawPadding::split(text);
    let raw = RawValue::from_string(value.to_string()).map_err(|e| AskError::Malformed(e.to_string()))?;
    let esim = reading.esim.clone().unwrap_or_else(|| identity_of(ask));
    let said = serde_json::json!([
        esim.key,
        // Completed first: an API that gives the total and the used amount says what is left only through it.
        reading.usage.as_ref().map(|u| {
            let u = u.clone().complete();
            (u.remaining_bytes, u.total_bytes, u.unlimited)
        }),
        reading.validity.as_ref().and_then(|v| v.expires_at),
        reading.status.as_ref().map(|s| s.lifecycle),
        reading.read_at,
    ]);
    let digest = hex::encode(&Sha256::digest(said.to_string().as_bytes())[..16]);
    let kind = if reading.usage.is_some() {
        EventKind::DataUsage
    } else if reading.validity.is_some() {
        EventKind::Validity
    } else {
        EventKind::EsimStatus
    };
    let key = DedupeKey::provider_id(format!("asked:{digest}"));
    let mut event = Event::new(provider, kind, key, received_at, PayloadSha256::of(body), raw);
    // The same facts in other bytes (a field the reading ignores changed) are the same reading again.
    event.dedupe_basis = DedupeBasis::Derived;
    event.raw_padding = padding;
    event.provider_event_type = Some(ASKED_EVENT_TYPE.into());
    event.esim = Some(esim);
    event.set_occurred_at(reading.read_at);
    let lagged = lagged_reading(provider, received_at);
    event.usage = reading.usage.map(|u| DataUsage {
        measured_at: reading.read_at.map(|at| at.min(event.occurred_at)).or(lagged),
        ..u.complete()
    });
    event.validity = reading.validity;
    event.status = reading.status;
    event.bundle = reading.bundle;
    Ok(event)
}

#[cfg(test)]
mod tests;
