//! Configuration from the environment, read once at cold start. Secrets come from SSM Parameter Store
//! (`<PROVIDER>_SECRETS_PARAM`, a SecureString) or, for local runs, from `<PROVIDER>_SECRETS` directly.
//! Anything missing or malformed is a [`ConfigError`], and the function then refuses every request.

mod settings;

pub use settings::{api_credentials_var, CoreSettings, Settings};

use crate::auth::KeyRing;
use crate::model::ProviderId;
use async_trait::async_trait;

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

/// A setting the function cannot start without: set and not empty.
pub fn required(env: Env<'_>, name: &str) -> Result<String, ConfigError> {
    env(name)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| ConfigError::Missing(name.into()))
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

/// Where production keeps events and sends alerts: `ESIMHOOKS_TABLE`, `ESIMHOOKS_TOPIC_ARN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsTargets {
    pub table: String,
    pub topic_arn: String,
}

impl AwsTargets {
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            table: required(env, "ESIMHOOKS_TABLE")?,
            topic_arn: required(env, "ESIMHOOKS_TOPIC_ARN")?,
        })
    }
}

/// Who customer messages come from: `ESIMHOOKS_SMS_SENDER_ID` and `ESIMHOOKS_SMS_ORIGINATION_NUMBER` (SNS SMS,
/// where set), `ESIMHOOKS_EMAIL_FROM` (SES email; unset, customers get SMS only) and
/// `ESIMHOOKS_SES_CONFIGURATION_SET`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SenderIdentity {
    pub sms_sender_id: Option<String>,
    pub sms_origination_number: Option<String>,
    pub email_from: Option<String>,
    pub ses_configuration_set: Option<String>,
}

impl SenderIdentity {
    pub fn from_env(env: Env<'_>) -> Self {
        let optional = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        Self {
            sms_sender_id: optional("ESIMHOOKS_SMS_SENDER_ID"),
            sms_origination_number: optional("ESIMHOOKS_SMS_ORIGINATION_NUMBER"),
            email_from: optional("ESIMHOOKS_EMAIL_FROM"),
            ses_configuration_set: optional("ESIMHOOKS_SES_CONFIGURATION_SET"),
        }
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
