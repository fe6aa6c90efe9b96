//! Which alerts an event raises. Pure: the event, the eSIM's state after the event, the rules and "now" in,
//! alerts out. Each alert carries a stable id, (provider, eSIM, bundle, type, level), which the store claims
//! once, so an alert fires once however often its inputs are seen.

pub mod sink;

pub use crate::alert_document::{Alert, AlertType, ALERT_SCHEMA_VERSION};

use crate::model::{EsimIdentity, Event, EventKind, Lifecycle};
use crate::state::EsimState;
use chrono::{DateTime, Duration, Utc};

/// When alerts fire. Built from configuration; see `config.rs` for the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRules {
    /// Remaining-data levels in percent, highest first (default 20, 10).
    low_data_levels: Vec<u8>,
    /// An expiry alert fires once the end is this close (default 24 h).
    pub expiry_window: Duration,
}

impl Default for AlertRules {
    fn default() -> Self {
        Self::new(vec![20, 10], Duration::hours(24))
    }
}

impl AlertRules {
    /// Levels outside 1..=99 are dropped; the rest are sorted highest first without repeats.
    pub fn new(mut low_data_levels: Vec<u8>, expiry_window: Duration) -> Self {
        low_data_levels.retain(|l| (1..=99).contains(l));
        low_data_levels.sort_unstable_by(|a, b| b.cmp(a));
        low_data_levels.dedup();
        Self {
            low_data_levels,
            expiry_window,
        }
    }

    pub fn low_data_levels(&self) -> &[u8] {
        &self.low_data_levels
    }

    /// The most severe configured level a remaining ratio has reached, if any.
    fn low_data_level(&self, remaining_ratio: f64) -> Option<u8> {
        let percent = remaining_ratio * 100.0;
        // Small epsilon: a provider's 0.1 threshold computed from bytes lands at 9.99..% or 10.00..01%.
        self.low_data_levels
            .iter()
            .rev()
            .copied()
            .find(|&level| percent <= f64::from(level) + 1e-6)
    }

    fn expiry_level(&self, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<String> {
        if expires_at <= now {
            Some("ended".into())
        } else if expires_at - now <= self.expiry_window {
            Some(self.window_level())
        } else {
            None
        }
    }

    /// The level of an end within the window: `24h`.
    fn window_level(&self) -> String {
        hours_level(self.expiry_window.num_hours())
    }
}

/// A low-data level on the scale: the percent left, `20%`.
pub fn percent_level(percent_left: u8) -> String {
    format!("{percent_left}%")
}

/// An expiry level on the scale: the hours left, `72h`.
pub fn hours_level(hours: i64) -> String {
    format!("{hours}h")
}

fn for_esim(
    event: &Event,
    state: Option<&EsimState>,
    alert_type: AlertType,
    level: String,
    now: DateTime<Utc>,
) -> Alert {
    let bundle = state.and_then(|s| s.bundle.clone()).or_else(|| event.bundle.clone());
    let key = event.dedupe_key.clone();
    Alert::new(
        event.provider,
        event.esim.clone(),
        bundle,
        alert_type,
        level,
        key,
        event.occurred_at,
        now,
    )
}

/// The expiry alert the scheduled sweep raises for an eSIM whose validity ends within the window from `now`.
/// Only the window level: an end already past is the delivery path's to report, and a bundle gets one
/// window alert however many sweeps see it. eSIMs already expired, cancelled or deleted are left alone.
pub fn upcoming_expiry(state: &EsimState, rules: &AlertRules, now: DateTime<Utc>) -> Option<Alert> {
    let validity = state.validity.as_ref()?;
    let expires_at = validity.value.expires_at?;
    if expires_at <= now || expires_at - now > rules.expiry_window {
        return None;
    }
    let finished = matches!(
        state.status.as_ref().map(|f| f.value.lifecycle),
        Some(Lifecycle::Expired | Lifecycle::Cancelled | Lifecycle::Deleted)
    );
    if finished {
        return None;
    }
    let identity = EsimIdentity {
        key: state.key.clone(),
        iccid: state.iccid.clone(),
        refs: state.refs.clone(),
    };
    let level = rules.window_level();
    let key = validity.event_key.clone();
    let mut alert = Alert::new(
        state.provider,
        Some(identity),
        state.bundle.clone(),
        AlertType::Expiry,
        level,
        key,
        validity.at,
        now,
    );
    alert.expires_at = Some(expires_at);
    alert.partner_id = state.owner.clone();
    Some(alert)
}

/// The alerts `event` raises, given the eSIM's state after it was merged. Low-data and expiry alerts are about
/// one eSIM: an event that names none (no identifier, or only an implausible one) raises neither.
pub fn evaluate(event: &Event, state: Option<&EsimState>, rules: &AlertRules, now: DateTime<Utc>) -> Vec<Alert> {
    let mut alerts = Vec::new();
    if event.esim.is_some() {
        esim_alerts(event, state, rules, now, &mut alerts);
        let owner = state.and_then(|s| s.owner.as_ref());
        for alert in &mut alerts {
            alert.partner_id = owner.cloned();
        }
    }

    // Account balance: every low-balance notification is its own alert (each delivery is already deduplicated);
    // top-ups are stored but raise nothing. Its id names the delivery, not the level.
    if event.kind == EventKind::AccountBalance && event.balance.as_ref().is_some_and(|b| b.low) {
        let label = event.balance.as_ref().and_then(|b| b.provider_level.clone());
        let mut alert = for_esim(event, None, AlertType::AccountBalance, "low".into(), now);
        alert.provider_level = label;
        alert.balance = event.balance.clone();
        alerts.push(alert);
    }
    alerts
}

/// The low-data and expiry alerts of an event about an eSIM.
fn esim_alerts(
    event: &Event,
    state: Option<&EsimState>,
    rules: &AlertRules,
    now: DateTime<Utc>,
    alerts: &mut Vec<Alert>,
) {
    // Low data: a provider's own warning fires at its place on the scale (what is left), so it and our own
    // reading name the same alert for the same situation; otherwise judged on the state's usage (the newest
    // measurement), so a stale event cannot raise a stale level.
    if let Some(event_usage) = &event.usage {
        let warned = event_usage.provider_alert_level.is_some();
        let usage = if warned {
            Some(event_usage)
        } else {
            state
                .and_then(|s| s.usage.as_ref().map(|f| &f.value))
                .or(Some(event_usage))
        };
        if let Some(usage) = usage.filter(|u| !u.unlimited) {
            let reached = || {
                usage
                    .remaining_ratio
                    .and_then(|r| rules.low_data_level(r))
                    .map(percent_level)
            };
            let level = if warned {
                usage.alert_level.clone().or_else(reached)
            } else {
                reached()
            };
            if let Some(level) = level {
                let mut alert = for_esim(event, state, AlertType::LowData, level, now)
                    .with_provider_level(usage.provider_alert_level.clone());
                alert.usage = Some(usage.clone());
                alerts.push(alert);
            }
        }
    }

    // Expiry: from the validity end (newest known), or from the provider saying the plan has expired.
    let expires_at = state
        .and_then(EsimState::expires_at)
        .or_else(|| event.validity.as_ref().and_then(|v| v.expires_at));
    let expiry_level = match &event.validity {
        Some(v) if v.provider_alert_level.is_some() => v
            .alert_level
            .clone()
            .or_else(|| expires_at.and_then(|at| rules.expiry_level(at, now))),
        Some(_) => expires_at.and_then(|at| rules.expiry_level(at, now)),
        None => None,
    };
    let expiry_label = event.validity.as_ref().and_then(|v| v.provider_alert_level.clone());
    let expired_status = event.status.as_ref().is_some_and(|s| s.lifecycle == Lifecycle::Expired)
        && state
            .and_then(|s| s.status.as_ref())
            .is_none_or(|f| f.event_key == event.dedupe_key);
    if let Some(level) = expiry_level.or_else(|| expired_status.then(|| "ended".to_string())) {
        let mut alert = for_esim(event, state, AlertType::Expiry, level, now).with_provider_level(expiry_label);
        alert.expires_at = expires_at;
        alerts.push(alert);
    }
}

#[cfg(test)]
mod tests;
