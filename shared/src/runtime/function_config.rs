//! One typed configuration per Lambda function, read from the environment once at cold start, before any
//! client is built: the sections the function runs on, their defaults and their validation, one
//! [`ConfigError`]. The builders take a configuration, never the environment, so everything a function reads
//! is listed here (provider secrets and API credentials, which may live in SSM, are read where the function
//! is built, from the names given here).

use crate::callbacks::delivery::DeliveryPolicy;
use crate::callbacks::partner::signing_overlap;
use crate::callbacks::throttle::Limits;
use crate::config::{required, AwsTargets, ConfigError, CoreSettings, Env, SenderIdentity, Settings};

/// The expiry alerts one sweep raises in place: at a few calls each, what one run handles in well under a
/// minute; a larger batch is handed to the workers (`ESIMHOOKS_SWEEP_IN_PLACE`).
const SWEEP_IN_PLACE: usize = 500;

/// The asking workers' queue (`ESIMHOOKS_RECONCILE_QUEUE_URL`), where one is configured.
fn workers_queue(env: Env<'_>) -> Option<String> {
    env("ESIMHOOKS_RECONCILE_QUEUE_URL").filter(|url| !url.trim().is_empty())
}

/// A function that sends customer messages: the whole settings, the operator's message templates
/// (`ESIMHOOKS_MESSAGES_PARAM`, an SSM parameter) and who the messages come from.
#[derive(Debug, Clone)]
pub struct CustomerSending {
    pub settings: Settings,
    pub messages_param: Option<String>,
    pub senders: SenderIdentity,
}

impl CustomerSending {
    fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            settings: Settings::from_env(env)?,
            messages_param: env("ESIMHOOKS_MESSAGES_PARAM").filter(|n| !n.trim().is_empty()),
            senders: SenderIdentity::from_env(env),
        })
    }
}

/// A provider's webhook function: the core settings (no customer section: its alerts' customers are told
/// downstream) and the table and topic.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub core: CoreSettings,
    pub targets: AwsTargets,
}

impl WebhookConfig {
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            core: CoreSettings::from_env(env)?,
            targets: AwsTargets::from_env(env)?,
        })
    }
}

/// The customer sender: the customer section, the table and topic.
#[derive(Debug, Clone)]
pub struct CustomerSenderConfig {
    pub sending: CustomerSending,
    pub targets: AwsTargets,
}

impl CustomerSenderConfig {
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            sending: CustomerSending::from_env(env)?,
            targets: AwsTargets::from_env(env)?,
        })
    }
}

/// The scheduled run (expiry sweep and customer outbox), and where it hands a batch too large to handle in
/// place: the asking workers' queue (`ESIMHOOKS_RECONCILE_QUEUE_URL`), `ESIMHOOKS_SWEEP_IN_PLACE` at a time
/// (500; everything in place without a queue).
#[derive(Debug, Clone)]
pub struct SweepConfig {
    pub sending: CustomerSending,
    pub targets: AwsTargets,
    pub workers_queue: Option<String>,
    pub in_place: usize,
}

impl SweepConfig {
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let sending = CustomerSending::from_env(env)?;
        let targets = AwsTargets::from_env(env)?;
        let workers_queue = workers_queue(env);
        let in_place = match (&workers_queue, env("ESIMHOOKS_SWEEP_IN_PLACE")) {
            (None, _) => usize::MAX,
            (Some(_), None) => SWEEP_IN_PLACE,
            (Some(_), Some(text)) => text
                .trim()
                .parse()
                .map_err(|_| ConfigError::unusable("ESIMHOOKS_SWEEP_IN_PLACE", "must be a number of eSIMs"))?,
        };
        Ok(Self {
            sending,
            targets,
            workers_queue,
            in_place,
        })
    }
}

/// The asking functions (scheduler and workers, one binary): the customer section (held messages and the
/// alerts the answers raise), the table and topic, the workers' queue (`ESIMHOOKS_RECONCILE_QUEUE_URL`, which
/// the scheduler needs) and each worker's share of a budget (`ESIMHOOKS_RECONCILE_CONCURRENCY`, 2).
#[derive(Debug, Clone)]
pub struct ReconcileConfig {
    pub sending: CustomerSending,
    pub targets: AwsTargets,
    pub queue_url: Option<String>,
    pub concurrency: u32,
}

impl ReconcileConfig {
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let sending = CustomerSending::from_env(env)?;
        let targets = AwsTargets::from_env(env)?;
        let concurrency =
            match env("ESIMHOOKS_RECONCILE_CONCURRENCY").filter(|t| !t.trim().is_empty()) {
                None => 2,
                Some(text) => text.trim().parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    ConfigError::unusable("ESIMHOOKS_RECONCILE_CONCURRENCY", "must be a positive number")
                })?,
            };
        Ok(Self {
            sending,
            targets,
            queue_url: workers_queue(env),
            concurrency,
        })
    }
}

/// The partner callbacks API: the table and topic, the sender's queue for recovered deliveries
/// (`ESIMHOOKS_CALLBACKS_QUEUE_URL`, optional), the failed-authentication limits and the signing overlap.
#[derive(Debug, Clone)]
pub struct CallbacksApiConfig {
    pub targets: AwsTargets,
    pub queue_url: Option<String>,
    pub limits: Limits,
    pub signing_overlap: chrono::Duration,
}

impl CallbacksApiConfig {
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            targets: AwsTargets::from_env(env)?,
            queue_url: env("ESIMHOOKS_CALLBACKS_QUEUE_URL").filter(|u| !u.is_empty()),
            limits: Limits::from_env(env)?,
            signing_overlap: signing_overlap(env)?,
        })
    }
}

/// The partner callback sender: `ESIMHOOKS_TABLE`, `ESIMHOOKS_CALLBACKS_QUEUE_URL`,
/// `ESIMHOOKS_CALLBACKS_DEAD_LETTER_URL`, the retry and disabling policy, and the email sender partners are
/// told from when an endpoint is disabled (`ESIMHOOKS_EMAIL_FROM`).
#[derive(Debug, Clone)]
pub struct CallbackSenderConfig {
    pub table: String,
    pub queue_url: String,
    pub dead_letter_url: String,
    pub delivery: DeliveryPolicy,
    pub senders: SenderIdentity,
}

impl CallbackSenderConfig {
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            table: required(env, "ESIMHOOKS_TABLE")?,
            queue_url: required(env, "ESIMHOOKS_CALLBACKS_QUEUE_URL")?,
            dead_letter_url: required(env, "ESIMHOOKS_CALLBACKS_DEAD_LETTER_URL")?,
            delivery: DeliveryPolicy::from_env(env)?,
            senders: SenderIdentity::from_env(env),
        })
    }
}

/// The customer directory API: `ESIMHOOKS_TABLE` and the core settings (retention, and who is asked: the
/// eSIMs a contact names are filed for their provider's API).
#[derive(Debug, Clone)]
pub struct CustomersApiConfig {
    pub table: String,
    pub core: CoreSettings,
}

impl CustomersApiConfig {
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            table: required(env, "ESIMHOOKS_TABLE")?,
            core: CoreSettings::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests;
