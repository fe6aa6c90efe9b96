//! How a provider's usage API is declared ([`UsageApi`]: its credentials, requests, answers, tokens, batch
//! endpoint) and the helpers its module reads answers with.

use super::Ask;
use crate::model::{Bundle, DataUsage, EsimIdentity, ProviderId, StatusChange, Validity};
use chrono::{DateTime, Utc};

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

impl CredentialShape {
    /// What a value of this shape looks like, as said to the operator.
    pub fn expected(self) -> &'static str {
        match self {
            Self::Key => "the API key or token",
            Self::KeyAndOptionalSecret => "accessCode or accessCode:secretKey",
            Self::ClientCredentials => "client_id:client_secret",
        }
    }
}

/// Configured credentials that are not of the shape the API takes; never holds the value itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected {}", .0.expected())]
pub struct CredentialsMismatch(pub CredentialShape);

impl ApiCredentials {
    /// Parses configured credentials for `shape`; an error says what the value should look like (never the
    /// value itself).
    pub fn parse(text: &str, shape: CredentialShape) -> Result<Self, CredentialsMismatch> {
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
            return Err(CredentialsMismatch(shape));
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

/// Why a provider's API gave no answer (the transport's failure, not the API's refusal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoAnswer {
    /// The HTTP stack's account of it, causes included.
    #[error("{0}")]
    Failed(String),
    #[error("reading the answer: {0}")]
    Reading(String),
    #[error("no answer within {0} s")]
    TimedOut(u64),
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

/// One eSIM's reading in a batch answer: the reference it answers for, what it says, and its own bytes within
/// the answer (the raw payload its event is stored with).
pub type BatchReading = (String, Reading, Vec<u8>);

/// Builds a batch request: credentials, the bearer token where the API uses one, the provider's references of
/// the eSIMs, and `now` for signed requests.
pub type BuildBatchRequest = fn(&ApiCredentials, Option<&str>, &[&str], DateTime<Utc>) -> Result<ApiRequest, AskError>;

/// How a provider's API reads several eSIMs in one call (eSIM Access `usage/query`, 10 at once).
pub struct BatchApi {
    /// The most eSIMs one call may name.
    pub most: usize,
    pub request: BuildBatchRequest,
    /// Every reading the answer holds; an eSIM asked and absent is one the provider does not know.
    pub read: fn(&ApiAnswer) -> Result<Vec<BatchReading>, AskError>,
}

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
    /// An endpoint that reads several eSIMs in one call, by the provider's own references.
    pub batch: Option<BatchApi>,
    pub request: BuildRequest,
    /// The answer's reading, for a 2xx or a provider-specific refusal (401, 403, 429 and 5xx are decided
    /// before it is called).
    pub read: fn(&ApiAnswer, &Ask) -> Result<Reading, AskError>,
}

impl UsageApi {
    /// How many eSIMs one call may ask about: the batch endpoint's most, else one.
    pub fn batch_size(&self) -> usize {
        self.batch.as_ref().map_or(1, |batch| batch.most.max(1))
    }
}

/// How many eSIMs one call to `provider`'s API may ask about.
pub fn batch_size(provider: ProviderId) -> usize {
    provider.spec().usage_api.map_or(1, UsageApi::batch_size)
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
