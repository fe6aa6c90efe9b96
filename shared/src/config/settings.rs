//! The settings sections, each parsed from the environment with its defaults: [`CoreSettings`] (what every
//! function that stores deliveries or raises alerts reads) and the customer section; [`Settings`] is both.
//! A webhook function reads the core only, so it links none of the customer messages' wording or zone data.

use super::{parse_or, ConfigError, Env, DEFAULT_MAX_BODY_BYTES, MAX_BODY_BYTES_CEILING};
use crate::alerts::AlertRules;
use crate::customers::{CustomerSettings, QuietHours, Templates};
use crate::due::{AskingPlan, DueRules};
use crate::model::ProviderId;
use crate::pipeline::PipelineSettings;
use chrono::Duration;
use std::sync::Arc;

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
    /// The core section ([`CoreSettings::from_env`]) and the customer section: `ESIMHOOKS_SMS_PARTS` (1),
    /// `ESIMHOOKS_CUSTOMER_MESSAGES` (`true`), `ESIMHOOKS_BRAND`, `ESIMHOOKS_QUIET_HOURS`,
    /// `ESIMHOOKS_SMS_DAILY_CAP`, `ESIMHOOKS_MESSAGES_FILE`.
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let core = CoreSettings::from_env(env)?;
        let sms_parts: usize = parse_or(env, "ESIMHOOKS_SMS_PARTS", 1)?;
        if !(1..=3).contains(&sms_parts) {
            return Err(ConfigError::Invalid {
                name: "ESIMHOOKS_SMS_PARTS".into(),
                reason: "must be 1 to 3".into(),
            });
        }
        Ok(Self {
            pipeline: core.pipeline,
            max_body_bytes: core.max_body_bytes,
            retention: core.retention,
            partner_events: core.partner_events,
            customers: customer_settings(env, sms_parts)?,
        })
    }
}

/// The settings of storing deliveries and raising alerts, without the customer section: what a function that
/// tells no customer itself reads (the webhook functions; their alerts are told downstream of the topic).
#[derive(Debug, Clone)]
pub struct CoreSettings {
    pub pipeline: PipelineSettings,
    pub max_body_bytes: usize,
    /// How long deliveries, alerts and conflicts are kept (DynamoDB TTL).
    pub retention: Duration,
    /// Publish every stored event for partner callbacks that follow event types.
    pub partner_events: bool,
    /// Whether customers are told (`ESIMHOOKS_CUSTOMER_MESSAGES`): the operator's alert then names the
    /// contact's `customer_id`.
    pub customer_messages: bool,
}

impl CoreSettings {
    /// `ESIMHOOKS_LOW_DATA_LEVELS` (percent remaining, default `20,10`), `ESIMHOOKS_EXPIRY_WINDOW_HOURS` (24),
    /// `ESIMHOOKS_MAX_BODY_BYTES` (131072), `ESIMHOOKS_LEASE_SECONDS` (30), `ESIMHOOKS_BUSY_WAIT_MS` (3000),
    /// `ESIMHOOKS_RETENTION_DAYS` (400), `ESIMHOOKS_PARTNER_EVENTS` (`false`), `ESIMHOOKS_CUSTOMER_MESSAGES`
    /// (`true`), and who is asked (`ESIMHOOKS_RECONCILE_*`, `<PROVIDER>_API_*`).
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        // Not `Settings::default()`: that builds the customer section, which a webhook function must not link.
        let defaults = PipelineSettings::default();
        let levels = match env("ESIMHOOKS_LOW_DATA_LEVELS") {
            None => defaults.rules.low_data_levels().to_vec(),
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
        let max_body_bytes: usize = parse_or(env, "ESIMHOOKS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?;
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
        if lease_seconds < 1 || retention_days < 1 {
            return Err(ConfigError::Invalid {
                name: "ESIMHOOKS_LEASE_SECONDS/RETENTION_DAYS".into(),
                reason: "must be positive".into(),
            });
        }
        let asking = asking_plan(env)?;
        let customer_messages = parse_or(env, "ESIMHOOKS_CUSTOMER_MESSAGES", true)?;
        Ok(Self {
            pipeline: PipelineSettings {
                rules,
                asking,
                lease: Duration::seconds(lease_seconds),
                busy_wait: std::time::Duration::from_millis(busy_wait_ms),
                busy_poll: defaults.busy_poll,
            },
            max_body_bytes,
            retention: Duration::days(retention_days),
            partner_events,
            customer_messages,
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
