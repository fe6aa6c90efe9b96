//! Who is due to be asked, and when: pure, from the eSIM's state, the reseller's alert levels and `now`. An
//! eSIM is asked in the period before its usage is projected to cross the next alert level (from the rate
//! between its two newest readings), when it is active and nothing was heard for a while, or when its plan
//! ends within the expiry window and its provider sends no validity notices. An eSIM that ended, was deleted
//! or used everything is never asked again.

use crate::alerts::AlertRules;
use crate::model::Lifecycle;
use crate::state::EsimState;
use chrono::{DateTime, Duration, Utc};

/// How often asking runs, and when silence makes an eSIM due.
#[derive(Debug, Clone, PartialEq)]
pub struct DueRules {
    /// The scheduler's period: an eSIM projected to cross a level within it is asked now.
    pub period: Duration,
    /// `ESIMHOOKS_RECONCILE_STALE_AFTER` (default 12 h): an active eSIM not heard from this long is asked.
    pub stale_after: Duration,
}

impl Default for DueRules {
    fn default() -> Self {
        Self {
            period: Duration::minutes(15),
            stale_after: Duration::hours(12),
        }
    }
}

/// Why an eSIM is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Its projected crossing of the next alert level falls within the next period.
    Crossing,
    /// Active, and nothing heard for `stale_after`.
    Stale,
    /// Its plan ends within the expiry window and the provider sends no validity notices.
    EndNear,
}

impl Why {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crossing => "next level projected",
            Self::Stale => "not heard from",
            Self::EndNear => "plan ends soon",
        }
    }
}

/// Whether the eSIM is done: nothing more will happen to it that a reading could tell.
fn finished(state: &EsimState) -> bool {
    let lifecycle = state.status.as_ref().map(|f| f.value.lifecycle);
    let used_up = state
        .usage
        .as_ref()
        .is_some_and(|f| !f.value.unlimited && f.value.remaining_bytes == Some(0));
    used_up
        || matches!(
            lifecycle,
            Some(Lifecycle::Expired | Lifecycle::Cancelled | Lifecycle::Deleted | Lifecycle::Depleted)
        )
}

/// When the usage is projected to reach the next configured level below where it is.
fn crossing(state: &EsimState, levels: &[u8]) -> Option<DateTime<Utc>> {
    let usage = state.usage.as_ref()?;
    let (total, remaining) = (usage.value.total_bytes? as f64, usage.value.remaining_bytes? as f64);
    let rate = state.usage_rate.filter(|r| *r > 0.0)?;
    if usage.value.unlimited || total <= 0.0 {
        return None;
    }
    // Levels are highest first: the first one below what is left is the next to cross.
    let next = levels
        .iter()
        .map(|l| f64::from(*l) / 100.0 * total)
        .find(|at| *at < remaining)?;
    let seconds = (remaining - next) / rate;
    Some(usage.at + Duration::milliseconds((seconds * 1000.0).min(1e15) as i64))
}

/// Every reason `state` will be due, with when.
fn reasons(
    state: &EsimState,
    alerts: &AlertRules,
    rules: &DueRules,
    validity_notices: bool,
) -> Vec<(DateTime<Utc>, Why)> {
    if finished(state) {
        return Vec::new();
    }
    let active = state
        .status
        .as_ref()
        .is_none_or(|f| matches!(f.value.lifecycle, Lifecycle::Active | Lifecycle::Unknown))
        && state.usage.is_some();
    [
        crossing(state, alerts.low_data_levels()).map(|at| (at - rules.period, Why::Crossing)),
        active.then(|| (state.updated_at + rules.stale_after, Why::Stale)),
        state
            .expires_at()
            .filter(|_| !validity_notices)
            .map(|end| (end - alerts.expiry_window, Why::EndNear)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// When `state` is next due, and why; `None` when it never is again. `validity_notices`: the provider warns of
/// a plan's end itself.
pub fn next_ask(
    state: &EsimState,
    alerts: &AlertRules,
    rules: &DueRules,
    validity_notices: bool,
) -> Option<(DateTime<Utc>, Why)> {
    reasons(state, alerts, rules, validity_notices)
        .into_iter()
        .min_by_key(|(at, _)| *at)
}

/// Whether `state` is due at `now`, and why. A plan that already ended is not a reason: asking cannot warn in
/// time any more (its status, pushed or asked when stale, reports it).
pub fn due_now(
    state: &EsimState,
    alerts: &AlertRules,
    rules: &DueRules,
    validity_notices: bool,
    now: DateTime<Utc>,
) -> Option<Why> {
    let ended = state.expires_at().is_some_and(|end| end <= now);
    reasons(state, alerts, rules, validity_notices)
        .into_iter()
        .filter(|(at, why)| *at <= now && !(ended && *why == Why::EndNear))
        .min_by_key(|(at, _)| *at)
        .map(|(_, why)| why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DataUsage, DedupeKey, ProviderId, StatusChange, Validity};
    use crate::state::Facet;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn facet<T>(value: T, when: &str) -> Option<Facet<T>> {
        Some(Facet {
            value,
            at: at(when),
            event_key: DedupeKey::provider_id("k"),
        })
    }

    fn state(remaining: u64, rate: Option<f64>, lifecycle: Lifecycle) -> EsimState {
        EsimState {
            provider: ProviderId::EsimGo,
            key: "8944500000000000001".into(),
            iccid: None,
            refs: Default::default(),
            status: facet(
                StatusChange {
                    lifecycle,
                    provider_status: "x".into(),
                    profile_status: None,
                },
                "2026-12-01T00:00:00Z",
            ),
            usage: facet(
                DataUsage {
                    total_bytes: Some(1_000_000),
                    remaining_bytes: Some(remaining),
                    ..DataUsage::default()
                },
                "2026-12-06T12:00:00Z",
            ),
            validity: None,
            bundle: None,
            usage_rate: rate,
            first_seen_at: at("2026-12-01T00:00:00Z"),
            updated_at: at("2026-12-06T12:00:00Z"),
            last_event_key: DedupeKey::provider_id("k"),
        }
    }

    #[test]
    fn asked_in_the_period_before_the_next_level_is_projected() {
        let (alerts, rules) = (AlertRules::default(), DueRules::default());
        // 600 kB left of 1 MB at 100 B/s: the 20 % level (200 kB) in 4,000 s.
        let esim = state(600_000, Some(100.0), Lifecycle::Active);
        let crossing = at("2026-12-06T12:00:00Z") + Duration::seconds(4_000);
        assert_eq!(
            next_ask(&esim, &alerts, &rules, true),
            Some((crossing - rules.period, Why::Crossing))
        );
        assert_eq!(
            due_now(&esim, &alerts, &rules, true, crossing - Duration::minutes(16)),
            None
        );
        assert_eq!(
            due_now(&esim, &alerts, &rules, true, crossing - Duration::minutes(14)),
            Some(Why::Crossing)
        );
        // Below 20 %: the next is 10 % (100 kB).
        let below = state(150_000, Some(100.0), Lifecycle::Active);
        assert_eq!(
            next_ask(&below, &alerts, &rules, true).unwrap().0,
            at("2026-12-06T12:08:20Z") - rules.period
        );
    }

    #[test]
    fn silence_and_a_near_end_make_an_esim_due_and_an_ended_one_never() {
        let (alerts, rules) = (AlertRules::default(), DueRules::default());
        let quiet = state(600_000, None, Lifecycle::Active);
        assert_eq!(
            next_ask(&quiet, &alerts, &rules, true),
            Some((at("2026-12-07T00:00:00Z"), Why::Stale))
        );
        let mut ending = state(600_000, None, Lifecycle::Active);
        ending.validity = facet(
            Validity {
                expires_at: Some(at("2026-12-06T20:00:00Z")),
                ..Validity::default()
            },
            "2026-12-01T00:00:00Z",
        );
        assert_eq!(
            next_ask(&ending, &alerts, &rules, false),
            Some((at("2026-12-05T20:00:00Z"), Why::EndNear))
        );
        assert_eq!(
            next_ask(&ending, &alerts, &rules, true).unwrap().1,
            Why::Stale,
            "the provider warns of ends itself"
        );
        assert_eq!(
            due_now(&ending, &alerts, &rules, false, at("2026-12-06T19:00:00Z")),
            Some(Why::EndNear)
        );
        assert_eq!(
            due_now(&ending, &alerts, &rules, false, at("2026-12-06T21:00:00Z")),
            None,
            "ended"
        );
        assert_eq!(
            due_now(&ending, &alerts, &rules, false, at("2026-12-07T00:00:00Z")),
            Some(Why::Stale)
        );
        for done in [
            Lifecycle::Expired,
            Lifecycle::Deleted,
            Lifecycle::Depleted,
            Lifecycle::Cancelled,
        ] {
            assert_eq!(
                next_ask(&state(600_000, Some(100.0), done), &alerts, &rules, false),
                None,
                "{done:?}"
            );
        }
        assert_eq!(
            next_ask(&state(0, Some(100.0), Lifecycle::Active), &alerts, &rules, false),
            None
        );
    }
}
