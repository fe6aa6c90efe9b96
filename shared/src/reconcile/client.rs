//! Asking one provider's API: its credentials and base URL from the environment, a bearer token cached within
//! its lifetime (and asked again once when the API refuses it), the API's refusals sorted into what the caller
//! can do (wrong credentials, unknown eSIM, retry after), and readings turned into events.

use super::{ApiAnswer, ApiCredentials, ApiRequest, Ask, AskError, BatchReading, NoAnswer, Reading, Token, UsageApi};
use crate::config::ConfigError;
use crate::model::ProviderId;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use tokio::sync::Mutex;

/// Carries API requests: HTTPS in production, anything in tests.
#[async_trait]
pub trait ApiTransport: Send + Sync {
    /// Sends `request` to `url` (the base URL and the request's path); an error when no answer came.
    async fn send(&self, url: &str, request: &ApiRequest) -> Result<ApiAnswer, NoAnswer>;
}

/// A token is not used in its last minute: a request may take that long.
const TOKEN_MARGIN: Duration = Duration::seconds(60);

/// One provider's API, ready to ask.
pub struct Reconciler {
    pub provider: ProviderId,
    api: &'static UsageApi,
    base: String,
    credentials: ApiCredentials,
    transport: std::sync::Arc<dyn ApiTransport>,
    token: Mutex<Option<Token>>,
    per_second: Option<u32>,
}

/// The environment variable names of a provider's API settings: `<PREFIX>_API_CREDENTIALS` (or its `_PARAM`,
/// an SSM SecureString, deployed) and `<PREFIX>_API_URL`.
pub use crate::config::api_credentials_var as credentials_var;

pub fn url_var(provider: ProviderId) -> String {
    format!("{}_API_URL", provider.env_prefix())
}

/// A provider's API credentials as configured: the SSM parameter `<PREFIX>_API_CREDENTIALS_PARAM` names, else
/// `<PREFIX>_API_CREDENTIALS`; `None` when neither is set.
pub async fn configured_credentials(
    provider: ProviderId,
    env: crate::config::Env<'_>,
    secrets: &dyn crate::config::SecretSource,
) -> Result<Option<String>, ConfigError> {
    let base = credentials_var(provider);
    match env(&format!("{base}_PARAM")).filter(|name| !name.trim().is_empty()) {
        Some(name) => match secrets.parameter(&name).await {
            Ok(value) => Ok(Some(value)),
            Err(why) => Err(ConfigError::unusable(name, why)),
        },
        None => Ok(env(&base)),
    }
}

/// The provider's API as the environment configures it (its credentials, or the SSM parameter holding them,
/// and its base URL), kept to its budget in `plan`: `Ok(None)` when it has no usage API or no credentials.
pub async fn reconciler_from_env(
    provider: ProviderId,
    plan: &crate::due::AskingPlan,
    env: crate::config::Env<'_>,
    secrets: &dyn crate::config::SecretSource,
    transport: std::sync::Arc<dyn ApiTransport>,
) -> Result<Option<Reconciler>, ConfigError> {
    let credentials = configured_credentials(provider, env, secrets).await?;
    let configured = Reconciler::configured(
        provider,
        credentials.as_deref(),
        env(&url_var(provider)).as_deref(),
        transport,
    )?;
    Ok(configured.map(|reconciler| reconciler.with_per_second(plan.per_second(provider))))
}

impl Reconciler {
    /// The provider's API from its settings: `Ok(None)` when it has no usage API or no credentials (it is
    /// simply not asked); an error when the credentials or URL are malformed.
    pub fn configured(
        provider: ProviderId,
        credentials: Option<&str>,
        base_url: Option<&str>,
        transport: std::sync::Arc<dyn ApiTransport>,
    ) -> Result<Option<Self>, ConfigError> {
        let (Some(api), Some(credentials)) = (provider.spec().usage_api, credentials) else {
            return Ok(None);
        };
        let credentials = ApiCredentials::parse(credentials, api.credentials)
            .map_err(|why| ConfigError::unusable(credentials_var(provider), why))?;
        let base = base_url.unwrap_or(api.default_base).trim_end_matches('/').to_string();
        let parsed = url::Url::parse(&base).map_err(|e| ConfigError::unusable(url_var(provider), e))?;
        let loopback = parsed.host_str().is_some_and(|host| {
            host == "localhost"
                || host
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
        // Credentials travel in clear over http://: only to this machine (a test server).
        if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
            return Err(ConfigError::unusable(
                url_var(provider),
                "https:// (http:// only to this machine)",
            ));
        }
        Ok(Some(Self {
            provider,
            api,
            base,
            credentials,
            transport,
            token: Mutex::new(None),
            per_second: None,
        }))
    }

    /// The most requests a second this provider is asked: its budget, else its published limit.
    pub fn per_second(&self) -> u32 {
        self.per_second.unwrap_or(self.api.per_second).max(1)
    }

    /// Keeps to `per_second` instead of the published limit.
    pub fn with_per_second(mut self, per_second: u32) -> Self {
        self.per_second = Some(per_second);
        self
    }

    async fn call(&self, request: &ApiRequest) -> Result<ApiAnswer, AskError> {
        let url = format!("{}{}", self.base, request.path);
        let answer = self
            .transport
            .send(&url, request)
            .await
            .map_err(|e| AskError::Unavailable(e.to_string()))?;
        match answer.status {
            401 | 403 => Err(AskError::Credentials(format!("HTTP {}", answer.status))),
            429 => Err(AskError::RateLimited(answer.retry_after.unwrap_or(1))),
            500..=599 => Err(AskError::Unavailable(format!("HTTP {}", answer.status))),
            _ => Ok(answer),
        }
    }

    /// A token valid at `now`: the cached one, or a new one.
    async fn token(&self, now: DateTime<Utc>) -> Result<Option<String>, AskError> {
        let Some(token_api) = &self.api.token else {
            return Ok(None);
        };
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.expires_at - TOKEN_MARGIN > now) {
            return Ok(Some(token.value.clone()));
        }
        let answer = self.call(&(token_api.request)(&self.credentials)).await?;
        if !(200..300).contains(&answer.status) {
            return Err(AskError::Credentials(format!(
                "the token endpoint answered HTTP {}",
                answer.status
            )));
        }
        let token = (token_api.read)(&answer, now)?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(Some(value))
    }

    /// The method and URL `ask` is asked with (the dry run: no credentials are shown, none are sent).
    pub fn describe(&self, ask: &Ask, now: DateTime<Utc>) -> Result<(&'static str, String), AskError> {
        let request = (self.api.request)(&self.credentials, Some("-"), ask, now)?;
        Ok((request.method, format!("{}{}", self.base, request.path)))
    }

    /// Sends the request `build` makes with a valid token (where the API uses one): a token the API refuses
    /// is dropped and asked for again, once.
    async fn send(
        &self,
        now: DateTime<Utc>,
        build: impl Fn(Option<&str>) -> Result<ApiRequest, AskError>,
    ) -> Result<ApiAnswer, AskError> {
        for fresh_token in [false, true] {
            let token = self.token(now).await?;
            match self.call(&build(token.as_deref())?).await {
                Err(AskError::Credentials(_)) if token.is_some() && !fresh_token => {
                    *self.token.lock().await = None;
                }
                answered => return answered,
            }
        }
        Err(AskError::Credentials("the API refused a fresh token".into()))
    }

    /// Asks once for `ask`'s reading: what it says, and the answer's bytes (the raw payload it is stored
    /// with).
    pub async fn read(&self, ask: &Ask, now: DateTime<Utc>) -> Result<(Reading, Vec<u8>), AskError> {
        let answer = self
            .send(now, |token| (self.api.request)(&self.credentials, token, ask, now))
            .await?;
        Ok(((self.api.read)(&answer, ask)?, answer.body))
    }

    /// How many eSIMs one call may ask about: the batch endpoint's most, else one.
    pub fn batch_size(&self) -> usize {
        self.api.batch_size()
    }

    /// How many eSIMs one pass of `period` may ask about: its calls' budget, each call up to its batch size.
    pub fn pass_esims(&self, period: Duration) -> usize {
        super::pass_budget(self.per_second(), period) * self.batch_size()
    }

    /// Asks once about several eSIMs by their references, through the batch endpoint (at most
    /// [`Reconciler::batch_size`]): every reading the answer holds.
    pub async fn read_batch(&self, references: &[&str], now: DateTime<Utc>) -> Result<Vec<BatchReading>, AskError> {
        let Some(batch) = self.api.batch.as_ref().filter(|b| references.len() <= b.most) else {
            return Err(AskError::Unaskable(format!("{} eSIMs in one call", references.len())));
        };
        let answer = self
            .send(now, |token| (batch.request)(&self.credentials, token, references, now))
            .await?;
        (batch.read)(&answer)
    }
}
