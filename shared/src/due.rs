//! Who is due to be asked, and when: pure, from the eSIM's state, the reseller's alert levels and `now`.
//! Use is not steady (it doubles in the evening and varies from day to day) and crossings happen when use is
//! fast, so a level is watched with headroom: the eSIM is asked when the next level would be reached at
//! [`HEADROOM`] times the rate between its two newest readings (or the plan's average since it was first seen,
//! when higher), and each answer projects again from what it says. An eSIM whose readings give no rate yet
//! (Airalo's and 1GLOBAL's webhooks carry a percentage or a balance only) is asked an hour after a reading near
//! a level, so that a rate exists before it is crossed.
//! Silence makes an active eSIM due, and an eSIM named (by an order or a status) whose usage was never heard
//! is asked once; a plan's end, where the provider does not warn of ends, is asked once in
//! the expiry window. An answer that repeats the state counts as heard from (`Asking::heard_at`), and no eSIM
//! is asked twice within a period. An eSIM that ended, was deleted or used everything is never asked again.

use crate::alerts::AlertRules;
use crate::model::{Lifecycle, ProviderId};
use crate::state::{Asking, EsimState};
use chrono::{DateTime, Duration, Utc};

/// How much faster than its measured rate an eSIM may use its data before the next level without being
/// asked late: asked when the level would be reached at this multiple of the rate.
pub const HEADROOM: f64 = 4.0;
/// A reading with no rate yet within this share of the plan above the highest level is asked again soon.
const NEARING_MARGIN: f64 = 0.15;
/// How soon such a reading is asked again.
const NEARING_RECHECK: Duration = Duration::hours(1);

/// How often asking runs, and when silence makes an eSIM due.
#[derive(Debug, Clone, PartialEq)]
pub struct DueRules {
    /// The scheduler's period: no eSIM is asked twice within it, and one projected to cross a level within it
    /// is asked now.
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

/// Which providers are asked, and by what rule: the pipeline files every state of theirs it saves for its
/// next ask (the asking index), so a scheduler finds who is due without a scan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AskingPlan {
    pub rules: DueRules,
    /// Providers with a usage API and credentials configured.
    pub providers: Vec<ProviderId>,
    /// Budgets below the providers' published limits (`<PROVIDER>_API_PER_SECOND`).
    pub per_second: Vec<(ProviderId, u32)>,
}

impl AskingPlan {
    /// The most asks a second of `provider`: its configured budget, else its published limit.
    pub fn per_second(&self, provider: ProviderId) -> u32 {
        self.per_second
            .iter()
            .find(|(p, _)| *p == provider)
            .map(|(_, n)| *n)
            .or_else(|| provider.spec().usage_api.map(|api| api.per_second))
            .unwrap_or(1)
            .max(1)
    }

    pub fn asks(&self, provider: ProviderId) -> bool {
        self.providers.contains(&provider)
    }

    /// Files `state`, about to be saved at `now`, for its next ask where its provider is asked
    /// ([`filed_at`]); a state of a provider not asked is left as it is.
    pub fn file(&self, state: &mut EsimState, alerts: &AlertRules, now: DateTime<Utc>) {
        if self.asks(state.provider) {
            let filing = filing(state, alerts, &self.rules, validity_notices(state.provider), now);
            state.asking.get_or_insert_with(Asking::default).file(filing);
        }
    }
}

/// Whether the provider's webhooks warn of a plan's end themselves.
pub fn validity_notices(provider: ProviderId) -> bool {
    provider.spec().usage_api.is_some_and(|api| api.validity_notices)
}

/// Why an eSIM is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The next alert level would be reached by now at [`HEADROOM`] times the measured rate.
    Crossing,
    /// Near a level with no rate to project from yet.
    Nearing,
    /// Active, and nothing heard for `stale_after`.
    Stale,
    /// Its plan ends within the expiry window, the provider sends no validity notices, and it was not asked
    /// since the window opened.
    EndNear,
    /// Named (an order, a status) but its usage never heard, and never asked: asked once.
    Unheard,
}

impl Why {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crossing => "next level near",
            Self::Nearing => "near a level, no rate yet",
            Self::Stale => "not heard from",
            Self::EndNear => "plan ends soon",
            Self::Unheard => "usage never heard",
        }
    }

    /// Whether the ask is routine (silence, a usage never heard) rather than about a level or a plan's end:
    /// when a provider's budget cannot ask everyone filed, routine asks wait.
    pub fn routine(self) -> bool {
        matches!(self, Self::Stale | Self::Unheard)
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

/// When the usage was last known to be what the state holds: its reading, or a later answer that repeated it.
fn usage_known_at(state: &EsimState, read_at: DateTime<Utc>) -> DateTime<Utc> {
    state
        .asking
        .as_ref()
        .and_then(|a| a.heard_at)
        .map_or(read_at, |heard| heard.max(read_at))
}

/// When anything was last heard of the eSIM: a delivery, or an answer.
fn last_heard(state: &EsimState) -> DateTime<Utc> {
    let asking = state.asking.as_ref();
    [asking.and_then(|a| a.heard_at), asking.and_then(|a| a.asked_at)]
        .into_iter()
        .flatten()
        .fold(state.updated_at, DateTime::max)
}

/// Why and when the usage makes the eSIM due: the next level reached at [`HEADROOM`] times the rate (or in
/// the period before it is reached at the rate, when sooner), or an hour after a reading near a level that
/// gives no rate.
fn level_reason(state: &EsimState, levels: &[u8], rules: &DueRules) -> Option<(DateTime<Utc>, Why)> {
    let usage = state.usage.as_ref().filter(|f| !f.value.unlimited)?;
    let (highest, lowest) = (f64::from(*levels.first()?) / 100.0, f64::from(*levels.last()?) / 100.0);
    let amounts = usage
        .value
        .total_bytes
        .zip(usage.value.remaining_bytes)
        .filter(|(t, _)| *t > 0);
    let ratio = usage
        .value
        .remaining_ratio
        .or(amounts.map(|(total, remaining)| remaining as f64 / total as f64));
    if ratio.is_some_and(|r| r <= lowest) {
        return None;
    }
    let known_at = usage_known_at(state, usage.at);
    match (
        amounts,
        amounts.and_then(|amounts| projected_rate(state, amounts, known_at)),
    ) {
        (Some((total, remaining)), Some(rate)) => {
            let (total, remaining) = (total as f64, remaining as f64);
            // Levels are highest first: the first one below what is left is the next to cross.
            let next = levels
                .iter()
                .map(|l| f64::from(*l) / 100.0 * total)
                .find(|at| *at < remaining)?;
            let seconds = (remaining - next) / rate;
            let at = |s: f64| known_at + Duration::milliseconds((s * 1000.0).min(1e15) as i64);
            Some((at(seconds / HEADROOM).min(at(seconds) - rules.period), Why::Crossing))
        }
        _ => ratio.is_none_or(|r| r <= highest + NEARING_MARGIN).then(|| {
            let seen = state
                .asking
                .as_ref()
                .and_then(|a| a.asked_at)
                .map_or(known_at, |a| a.max(known_at));
            (seen.max(state.updated_at) + NEARING_RECHECK, Why::Nearing)
        }),
    }
}

/// The rate a crossing is projected at: the one between the two newest readings, or the plan's average since
/// the eSIM was first seen (at least an hour before) where that is higher. A rate measured over a night or an
/// idle day understates the evening's; the average never makes an eSIM due later, only sooner (an eSIM first
/// heard of late in its plan averages high, and is asked sooner than it needs). Without a measured rate there
/// is none (a reading near a level is asked again within the hour instead).
pub fn projected_rate(state: &EsimState, (total, remaining): (u64, u64), known_at: DateTime<Utc>) -> Option<f64> {
    let measured = state.usage_rate.filter(|r| *r > 0.0)?;
    let seconds = (known_at - state.first_seen_at).num_seconds();
    let used = total.saturating_sub(remaining);
    let average = (seconds >= 3600).then(|| used as f64 / seconds as f64);
    Some(average.map_or(measured, |average| measured.max(average)))
}

/// Every reason `state` will be due, with when, none sooner than a period after it was last asked.
fn reasons(
    state: &EsimState,
    alerts: &AlertRules,
    rules: &DueRules,
    validity_notices: bool,
) -> Vec<(DateTime<Utc>, Why)> {
    if finished(state) {
        return Vec::new();
    }
    let asked_at = state.asking.as_ref().and_then(|a| a.asked_at);
    let lifecycle = state.status.as_ref().map(|f| f.value.lifecycle);
    let active = lifecycle == Some(Lifecycle::Active)
        || (matches!(lifecycle, None | Some(Lifecycle::Unknown)) && state.usage.is_some());
    let unheard = state.usage.is_none() && asked_at.is_none();
    let end_near = state
        .expires_at()
        .filter(|_| !validity_notices)
        .map(|end| end - alerts.expiry_window)
        .filter(|opens| asked_at.is_none_or(|asked| asked < *opens));
    let not_before = asked_at.map(|asked| asked + rules.period);
    [
        level_reason(state, alerts.low_data_levels(), rules),
        active.then(|| (last_heard(state) + rules.stale_after, Why::Stale)),
        end_near.map(|opens| (opens, Why::EndNear)),
        unheard.then_some((state.first_seen_at, Why::Unheard)),
    ]
    .into_iter()
    .flatten()
    .map(|(at, why)| (not_before.map_or(at, |nb| at.max(nb)), why))
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

/// [`next_ask`] as of `now`: a plan that already ended is no reason any more (as in [`due_now`]), so an eSIM
/// is not filed for it, found early and filed again every pass.
pub fn next_ask_at(
    state: &EsimState,
    alerts: &AlertRules,
    rules: &DueRules,
    validity_notices: bool,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, Why)> {
    let ended = state.expires_at().is_some_and(|end| end <= now);
    reasons(state, alerts, rules, validity_notices)
        .into_iter()
        .filter(|(_, why)| !(ended && *why == Why::EndNear))
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

/// When `state` is to be filed in the asking index after it changed at `now`: its next ask, never in the past,
/// and never later than where it is already filed (an entry found early costs the scheduler a read; one
/// moved later on every delivery would cost the delivery an index write). `None`: never asked again.
pub fn filed_at(
    state: &EsimState,
    alerts: &AlertRules,
    rules: &DueRules,
    validity_notices: bool,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    filing(state, alerts, rules, validity_notices, now).map(|(at, _)| at)
}

/// [`filed_at`], and whether the ask it is filed for is routine ([`Why::routine`]; an entry kept earlier keeps
/// its own).
pub fn filing(
    state: &EsimState,
    alerts: &AlertRules,
    rules: &DueRules,
    validity_notices: bool,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, bool)> {
    let next = exact_filing(state, alerts, rules, validity_notices, now)?;
    let filed = state.asking.as_ref().and_then(Asking::filing);
    Some(match filed {
        Some(filed) if filed.0 < next.0 => filed,
        _ => next,
    })
}

/// Where `state` is filed for its exact next ask after an ask, or when found early: when (never before `now`)
/// and whether the ask is routine ([`Why::routine`]). `None`: never asked again.
pub fn exact_filing(
    state: &EsimState,
    alerts: &AlertRules,
    rules: &DueRules,
    validity_notices: bool,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, bool)> {
    next_ask_at(state, alerts, rules, validity_notices, now).map(|(at, why)| (at.max(now), why.routine()))
}

#[cfg(test)]
mod tests;
