//! Configuration from the environment, read once at cold start. Secrets come from SSM Parameter Store
//! (`<PROVIDER>_SECRETS_PARAM`, a SecureString) or, for local runs, from `<PROVIDER>_SECRETS` directly.
//! Anything missing or malformed is a [`ConfigError`], and the function then refuses every request.

use crate::alerts::AlertRules;
use crate::auth::KeyRing;
use crate::customers::{CustomerSettings, QuietHours, Templates};
use crate::due::{AskingPlan, DueRules};
use crate::model::ProviderId;
use crate::pipeline::PipelineSettings;
use async_trait::async_trait;
use chrono::Duration;
use std::sync::Arc;

pub const DEFAULT_MAX_BODY_BYTES: usize = 128 * 1024;
/// DynamoDB items hold at most 400 KB, and an item keeps the raw body plus its normalized event.
pub const MAX_BODY_BYTES_CEILING: usize = 192 * 1024;

/// A setting that is missing or cannot be used. Each variant keeps one wording operators already see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(String),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: String, reason: String },
    /// Refused with the reason after the name: `NAME: why`.
    #[error("{name}: {reason}")]
    Unusable { name: String, reason: String },
    /// Not the kind of value the setting takes: `NAME is not a number of hours`.
    #[error("{name} is not {expected}")]
    NotA { name: String, expected: &'static str },
    #[error("{name} must be {range}")]
    OutOfRange { name: String, range: &'static str },
    #[error("secret parameter {name} could not be read: {reason}")]
    Secret { name: String, reason: SecretError },
}

impl ConfigError {
    pub fn invalid(name: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Invalid {
            name: name.into(),
            reason: reason.to_string(),
        }
    }

    pub fn unusable(name: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Unusable {
            name: name.into(),
            reason: reason.to_string(),
        }
    }
}

/// Looks up one environment variable. Injected so tests need not touch the process environment.
pub type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_or<T: std::str::FromStr>(env: Env<'_>, name: &str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env(name) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|e| ConfigError::invalid(name, e)),
    }
}

/// Settings every function shares, with defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    pub pipeline: PipelineSettings,
    pub max_body_bytes: usize,
    /// How long deliveries, alerts and conflicts are kept (DynamoDB TTL).
    pub retention: Duration,
    /// Publish every stored event for partner callbacks that follow event types.
    pub partner_events: bool,
    /// How customers are messaged.
    pub customers: CustomerSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            pipeline: PipelineSettings::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            retention: Duration::days(400),
            partner_events: false,
            customers: CustomerSettings::default(),
        }
    }
}

impl Settings {
    /// `ESIMHOOKS_LOW_DATA_LEVELS` (percent remaining, default `20,10`), `ESIMHOOKS_EXPIRY_WINDOW_HOURS` (24),
    /// `ESIMHOOKS_MAX_BODY_BYTES` (131072), `ESIMHOOKS_LEASE_SECONDS` (30), `ESIMHOOKS_BUSY_WAIT_MS` (3000),
    /// `ESIMHOOKS_RETENTION_DAYS` (400), `ESIMHOOKS_PARTNER_EVENTS` (`false`).
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let levels = match env("ESIMHOOKS_LOW_DATA_LEVELS") {
            None => defaults.pipeline.rules.low_data_levels().to_vec(),
            Some(list) => list
                .split(',')
                .map(|l| l.trim().trim_end_matches('%').parse::<u8>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ConfigError::invalid("ESIMHOOKS_LOW_DATA_LEVELS", e))?,
        };
        let window_hours: i64 = parse_or(env, "ESIMHOOKS_EXPIRY_WINDOW_HOURS", 24)?;
        if !(1..=24 * 30).contains(&window_hours) {
            return Err(ConfigError::Invalid {
                name: "ESIMHOOKS_EXPIRY_WINDOW_HOURS".into(),
                reason: "must be 1 to 720".into(),
            });
        }
        let rules = AlertRules::new(levels, Duration::hours(window_hours));
        if rules.low_data_levels().is_empty() {
            return Err(ConfigError::Invalid {
                name: "ESIMHOOKS_LOW_DATA_LEVELS".into(),
                reason: "no level between 1 and 99".into(),
            });
        }
        let max_body_bytes: usize = parse_or(env, "ESIMHOOKS_MAX_BODY_BYTES", defaults.max_body_bytes)?;
        if !(1024..=MAX_BODY_BYTES_CEILING).contains(&max_body_bytes) {
            return Err(ConfigError::Invalid {
                name: "ESIMHOOKS_MAX_BODY_BYTES".into(),
                reason: format!("must be 1024 to {MAX_BODY_BYTES_CEILING}"),
            });
        }
        let lease_seconds: i64 = parse_or(env, "ESIMHOOKS_LEASE_SECONDS", 30)?;
        let busy_wait_ms: u64 = parse_or(env, "ESIMHOOKS_BUSY_WAIT_MS", 3000)?;
        let retention_days: i64 = parse_or(env, "ESIMHOOKS_RETENTION_DAYS", 400)?;
        let partner_events: bool = parse_or(env, "ESIMHOOKS_PARTNER_EVENTS", false)?;
        let sms_parts: usize = parse_or(env, "ESIMHOOKS_SMS_PARTS", 1)?;
        if !(1..=3).contains(&sms_parts) {
            return Err(ConfigError::Invalid {
                name: "ESIMHOOKS_SMS_PARTS".into(),
                reason: "must be 1 to 3".into(),
            });
        }
        let customers = customer_settings(env, sms_parts)?;
        if lease_seconds < 1 || retention_days < 1 {
            return Err(ConfigError::Invalid {
                name: "ESIMHOOKS_LEASE_SECONDS/RETENTION_DAYS".into(),
                reason: "must be positive".into(),
            });
        }
        let asking = asking_plan(env)?;
        Ok(Self {
            pipeline: PipelineSettings {
                rules,
                asking,
                lease: Duration::seconds(lease_seconds),
                busy_wait: std::time::Duration::from_millis(busy_wait_ms),
                busy_poll: defaults.pipeline.busy_poll,
            },
            max_body_bytes,
            retention: Duration::days(retention_days),
            partner_events,
            customers,
        })
    }
}

/// The environment variable of a provider's API credentials, `<PREFIX>_API_CREDENTIALS` (its `_PARAM` names an
/// SSM SecureString that holds them, deployed).
pub fn api_credentials_var(provider: ProviderId) -> String {
    format!("{}_API_CREDENTIALS", provider.env_prefix())
}

/// Who is asked (reconcile): every provider with a usage API whose credentials (or their parameter) are set;
/// `ESIMHOOKS_RECONCILE_EVERY` (`15m`, the scheduler's period), `ESIMHOOKS_RECONCILE_STALE_AFTER` (`12h`) and
/// `<PROVIDER>_API_PER_SECOND` (a budget below the provider's published limit).
fn asking_plan(env: Env<'_>) -> Result<AskingPlan, ConfigError> {
    let mut rules = DueRules::default();
    let span = |name: &str, default: Duration| -> Result<Duration, ConfigError> {
        let Some(text) = env(name).filter(|t| !t.trim().is_empty()) else {
            return Ok(default);
        };
        match crate::time::parse_span(&text) {
            Ok(span) if span >= Duration::minutes(1) => Ok(span),
            Ok(_) => Err(ConfigError::invalid(name, "must be at least 1m")),
            Err(e) => Err(ConfigError::invalid(name, e)),
        }
    };
    rules.period = span("ESIMHOOKS_RECONCILE_EVERY", rules.period)?;
    rules.stale_after = span("ESIMHOOKS_RECONCILE_STALE_AFTER", rules.stale_after)?;
    let configured = |p: ProviderId| {
        let var = api_credentials_var(p);
        [env(&var), env(&format!("{var}_PARAM"))]
            .into_iter()
            .flatten()
            .any(|v| !v.trim().is_empty())
    };
    let providers: Vec<ProviderId> = ProviderId::ALL
        .iter()
        .copied()
        .filter(|p| p.spec().usage_api.is_some() && configured(*p))
        .collect();
    let mut per_second = Vec::new();
    for &provider in &providers {
        let name = format!("{}_API_PER_SECOND", provider.env_prefix());
        if let Some(text) = env(&name).filter(|t| !t.trim().is_empty()) {
            let budget = text.trim().parse::<u32>().ok().filter(|n| (1..=1000).contains(n));
            let budget = budget.ok_or_else(|| ConfigError::Invalid {
                name,
                reason: "must be a number of requests a second, 1 to 1000".into(),
            })?;
            per_second.push((provider, budget));
        }
    }
    Ok(AskingPlan {
        rules,
        providers,
        per_second,
    })
}

/// `ESIMHOOKS_CUSTOMER_MESSAGES` (`true`), `ESIMHOOKS_BRAND` (`Your eSIM`), `ESIMHOOKS_QUIET_HOURS`
/// (`21:00-08:00`, or `off`), `ESIMHOOKS_SMS_DAILY_CAP` (3, 0 for none), `ESIMHOOKS_MESSAGES_FILE` (the
/// operator's message templates; none).
fn customer_settings(env: Env<'_>, sms_parts: usize) -> Result<CustomerSettings, ConfigError> {
    let defaults = CustomerSettings::default();
    let brand = env("ESIMHOOKS_BRAND")
        .map(|b| crate::text::clean_to(&b, 40).into_owned())
        .filter(|b| !b.is_empty())
        .unwrap_or(defaults.brand);
    let quiet_hours = match env("ESIMHOOKS_QUIET_HOURS").filter(|q| !q.trim().is_empty()) {
        None => defaults.quiet_hours,
        Some(text) => QuietHours::parse(&text).map_err(|e| ConfigError::invalid("ESIMHOOKS_QUIET_HOURS", e))?,
    };
    let templates = match env("ESIMHOOKS_MESSAGES_FILE").filter(|f| !f.trim().is_empty()) {
        None => defaults.templates,
        Some(path) => {
            let name = "ESIMHOOKS_MESSAGES_FILE";
            let text =
                std::fs::read_to_string(&path).map_err(|e| ConfigError::invalid(name, format!("{path}: {e}")))?;
            Arc::new(Templates::with_overrides(&text).map_err(|e| ConfigError::invalid(name, e))?)
        }
    };
    Ok(CustomerSettings {
        enabled: parse_or(env, "ESIMHOOKS_CUSTOMER_MESSAGES", defaults.enabled)?,
        templates,
        brand,
        sms_parts,
        quiet_hours,
        sms_daily_cap: parse_or(env, "ESIMHOOKS_SMS_DAILY_CAP", defaults.sms_daily_cap)?,
    })
}

/// Where production keeps events and sends alerts: `ESIMHOOKS_TABLE`, `ESIMHOOKS_TOPIC_ARN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsTargets {
    pub table: String,
    pub topic_arn: String,
}

impl AwsTargets {
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let need = |name: &str| env(name).ok_or_else(|| ConfigError::Missing(name.into()));
        Ok(Self {
            table: need("ESIMHOOKS_TABLE")?,
            topic_arn: need("ESIMHOOKS_TOPIC_ARN")?,
        })
    }
}

/// Why a secret parameter could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("no parameter store configured to read {0}")]
    NoStore(String),
    #[error("parameter {0} has no value")]
    NoValue(String),
    /// The store's own account of the failure (the SDK's error and its causes).
    #[error("{0}")]
    Unavailable(String),
}

/// Reads secret parameters (SSM Parameter Store in production).
#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn parameter(&self, name: &str) -> Result<String, SecretError>;
}

/// Refuses every lookup: for runs where secrets must come from the environment.
pub struct NoSecretSource;

#[async_trait]
impl SecretSource for NoSecretSource {
    async fn parameter(&self, name: &str) -> Result<String, SecretError> {
        Err(SecretError::NoStore(name.to_string()))
    }
}

/// A list of secrets named `<base>`: from the SSM parameter named by `<base>_PARAM`, else from `<base>` itself.
/// Comma- or newline-separated, current first. `None` when neither is set.
pub(crate) async fn secret_list(
    base: &str,
    env: Env<'_>,
    secrets: &dyn SecretSource,
) -> Result<Option<KeyRing>, ConfigError> {
    let param_var = format!("{base}_PARAM");
    let (source, list) = match (env(&param_var), env(base)) {
        (Some(name), _) => {
            let value = secrets.parameter(&name).await.map_err(|reason| ConfigError::Secret {
                name: name.clone(),
                reason,
            })?;
            (name, value)
        }
        (None, Some(value)) => (base.to_string(), value),
        (None, None) => return Ok(None),
    };
    KeyRing::parse(&list).map(Some).ok_or(ConfigError::Invalid {
        name: source,
        reason: "holds no secret".into(),
    })
}

/// A provider's secrets (URL tokens, API keys, signing secrets): `<PREFIX>_SECRETS_PARAM` or `<PREFIX>_SECRETS`.
pub async fn provider_secrets(
    provider: ProviderId,
    env: Env<'_>,
    secrets: &dyn SecretSource,
) -> Result<KeyRing, ConfigError> {
    let base = format!("{}_SECRETS", provider.env_prefix());
    secret_list(&base, env, secrets)
        .await?
        .ok_or_else(|| ConfigError::Missing(format!("{base}_PARAM (or {base})")))
}

#[cfg(test)]
mod tests;
