//! What both runs share, over the same deliveries: events built as each provider's normalizer builds them (the
//! usage fields it fills) and as its usage API answers, merged by `shared::state::merge`, alerts from
//! `shared::alerts::evaluate`, a changed state filed for its next ask by the pipeline's own
//! `AskingPlan::file`; and the webhooks-only run. The asking run is in asking.rs.

use super::fleet::{hooks, Hook, Plan, Said, Who, DAY, GIGASTORE_ALERT_BYTES, HOUR, MINUTE};
use chrono::{DateTime, Duration, Utc};
use serde_json::value::RawValue;
use shared::alerts::{evaluate, AlertRules, AlertType};
use shared::model::{
    Bundle, DataUsage, DedupeKey, EsimIdentity, Event, EventKind, Lifecycle, PayloadSha256, StatusChange, Validity,
};
use shared::reconcile::due::{AskingPlan, DueRules};
use shared::reconcile::Reading;
use shared::state::{merge, EsimState};

/// The alert levels measured (percent left), as `AlertRules::default()` has them.
pub const LEVELS: [u8; 2] = [20, 10];
/// No alert (or no next ask).
pub const NEVER: i64 = i64::MAX;

pub struct Sim<'a> {
    pub fleet: &'a [Plan],
    pub seed: u64,
    /// The measured window's start, as a time; simulation times are seconds from it.
    pub t0: DateTime<Utc>,
    /// Asking runs from `warmup` (negative) and webhooks are followed until `until`.
    pub warmup: i64,
    pub until: i64,
    pub window: i64,
    pub outage: (i64, i64),
    /// Every eSIM named at its sale (the customer directory, or an order webhook): a state with no facts, asked
    /// once (`--named`).
    pub named: bool,
    /// Prints what happens to this eSIM (stderr).
    pub trace: Option<u32>,
    pub alerts: AlertRules,
    pub rules: DueRules,
}

/// What asking cost one provider, in the measured window.
#[derive(Default)]
pub struct Asking {
    /// Calls made (eSIM Access asks ten eSIMs a call).
    pub calls: u64,
    /// eSIMs asked, by why each was due (as [`super::queue::REASONS`]).
    pub by_why: [u64; super::queue::REASONS.len()],
    /// Answers that said nothing new (`adds_nothing`: nothing stored).
    pub unchanged: u64,
    /// Answers whose reading was one already applied (the same event key): a duplicate, nothing stored.
    pub duplicate: u64,
    /// States a pass found filed before they were due, and re-filed; of them, re-filed at once (due again at
    /// the next pass, yet not due now).
    pub early: u64,
    pub early_again: u64,
    pub passes: u64,
    /// Passes that left states filed by then for the next (their budget of states taken).
    pub binding: u64,
    /// Seconds from due to asked, per eSIM asked.
    pub waits: Vec<u32>,
    /// Webhooks received in the window, and those whose reading the state held as older than one it had
    /// (so the reading was not applied, and alerts were judged on the state's).
    pub hooks: u64,
    pub outranked: u64,
}

pub fn key(idx: u32) -> String {
    format!("89440{idx:014}")
}

fn status(lifecycle: Lifecycle, said: &str) -> StatusChange {
    StatusChange {
        lifecycle,
        provider_status: said.into(),
        profile_status: None,
    }
}

impl Sim<'_> {
    pub fn at(&self, t: i64) -> DateTime<Utc> {
        self.t0 + Duration::seconds(t)
    }

    pub fn secs(&self, at: DateTime<Utc>) -> i64 {
        (at - self.t0).num_seconds()
    }

    /// Milliseconds from the window's start: the asking index's key (the rule's times are to the millisecond).
    pub fn ms(&self, at: DateTime<Utc>) -> i64 {
        (at - self.t0).num_milliseconds()
    }

    /// A webhook as the provider's normalizer makes it: the usage fields it fills, the provider's own alert
    /// level where its notice is a warning, the measurement time where it sends one.
    pub fn webhook_event(&self, hook: &Hook) -> Event {
        let plan = &self.fleet[hook.idx as usize];
        let at = self.at(hook.at);
        let id = format!("{}-{}-{:?}", hook.idx, hook.at, hook.said);
        let mut e = Event::new(
            plan.who.id(),
            EventKind::DataUsage,
            DedupeKey::provider_id(id),
            at,
            PayloadSha256::ZERO,
            RawValue::from_string("{}".into()).unwrap(),
        );
        let k = key(hook.idx);
        e.esim = Some(EsimIdentity {
            key: k.clone(),
            iccid: Some(k),
            refs: Default::default(),
        });
        e.bundle = Some(Bundle {
            reference: Some(format!("{}GB", plan.gigabytes)),
            name: None,
        });
        let used = hook.used(plan);
        let remaining = plan.total - used;
        let validity = Some(Validity {
            expires_at: Some(self.at(plan.end)),
            starts_at: Some(self.at(plan.start)),
            ..Validity::default()
        });
        let amounts = DataUsage {
            total_bytes: Some(plan.total),
            used_bytes: Some(used),
            remaining_bytes: Some(remaining),
            ..DataUsage::default()
        };
        let threshold = match hook.said {
            Said::Threshold(i) => plan.who.thresholds()[usize::from(i)],
            Said::Periodic => f64::NAN,
        };
        let used_label = format!("{:.0}%", threshold * 100.0);
        match plan.who {
            Who::EsimGo => {
                e.usage = Some(
                    DataUsage {
                        used_bytes: None,
                        ..amounts
                    }
                    .complete(),
                );
                e.validity = validity;
                if threshold == 0.01 {
                    e.status = Some(status(Lifecycle::Active, "FirstUse"));
                }
            }
            Who::Roamify => {
                e.usage = Some(amounts.complete());
                e.validity = validity;
            }
            Who::EsimAccess => {
                e.usage = Some(
                    DataUsage {
                        provider_threshold: Some(format!("{:.1}", 1.0 - threshold)),
                        measured_at: Some(self.at(hook.measured(plan))),
                        ..amounts
                    }
                    .complete(),
                );
            }
            Who::Airalo => {
                // Only the percentage left, and the warning's label (what is used).
                e.usage = Some(DataUsage {
                    remaining_ratio: Some((100.0 * remaining as f64 / plan.total as f64).round() / 100.0),
                    alert_level: Some(format!("{:.0}%", 100.0 - threshold * 100.0)),
                    provider_alert_level: Some(used_label),
                    ..DataUsage::default()
                });
            }
            Who::OneGlobal if threshold < 1.0 => {
                e.usage = Some(DataUsage {
                    remaining_bytes: Some(remaining),
                    provider_threshold: Some(format!("{:.0}", threshold * 100.0)),
                    alert_level: Some(format!("{:.0}%", 100.0 - threshold * 100.0)),
                    provider_alert_level: Some(used_label),
                    ..DataUsage::default()
                });
                e.validity = validity.map(|v| Validity { starts_at: None, ..v });
            }
            Who::OneGlobal => {
                e.kind = EventKind::EsimStatus;
                e.usage = Some(DataUsage {
                    remaining_bytes: Some(0),
                    remaining_ratio: Some(0.0),
                    ..DataUsage::default()
                });
                e.status = Some(status(Lifecycle::Depleted, "SUBSCRIPTION_END"));
            }
            Who::Gigastore => {
                e.usage = Some(DataUsage {
                    remaining_bytes: Some(remaining),
                    provider_alert_level: Some("balance_alert".into()),
                    alert_level: Some("100MB".into()),
                    ..DataUsage::default()
                });
            }
        }
        e
    }

    /// What the provider's usage API answers at `now`, as its module reads it: amounts, the end, the status;
    /// eSIM Access's batch answers are dated by the provider (`lastUpdateTime`), the others carry no reading
    /// time, so their usage is taken as measured the provider's `usage_lag_minutes` before receipt.
    pub fn answer(&self, idx: u32, now: i64) -> Reading {
        let plan = &self.fleet[idx as usize];
        let used = plan.api_used(self.seed, idx, now);
        let lifecycle = if now >= plan.end {
            Lifecycle::Expired
        } else if used >= plan.total {
            Lifecycle::Depleted
        } else {
            Lifecycle::Active
        };
        let usage = match plan.who {
            // eSIM Access answers the total and what was used.
            Who::EsimAccess => DataUsage {
                total_bytes: Some(plan.total),
                used_bytes: Some(used),
                ..DataUsage::default()
            },
            _ => DataUsage {
                total_bytes: Some(plan.total),
                remaining_bytes: Some(plan.total - used),
                ..DataUsage::default()
            },
        };
        // eSIM Access is asked ten to a call (`usage/query`), each reading dated by its `lastUpdateTime`.
        let read_at = (plan.who == Who::EsimAccess).then(|| self.at(now - plan.lag));
        Reading {
            usage: Some(usage),
            read_at,
            validity: Some(Validity {
                expires_at: Some(self.at(plan.end)),
                ..Validity::default()
            }),
            status: Some(status(lifecycle, "asked")),
            ..Reading::default()
        }
    }

    /// Merges `event` into the eSIM's state, files a changed state for its next ask where `asking` asks its
    /// provider (as the pipeline saves it), and records the first alert that tells of each level. False when
    /// the state kept a reading it holds as newer than the event's.
    pub fn apply(
        &self,
        idx: u32,
        state: &mut Option<EsimState>,
        event: &Event,
        now: i64,
        alerted: &mut [i64; 2],
        asking: Option<&AskingPlan>,
    ) -> bool {
        let Some(mut merged) = merge(state.take(), event) else {
            return true;
        };
        if let Some(plan) = asking.filter(|_| merged.changed) {
            plan.file(&mut merged.state, &self.alerts, self.at(now));
        }
        let taken = merged
            .state
            .usage
            .as_ref()
            .is_none_or(|f| f.event_key == event.dedupe_key);
        let plan = &self.fleet[idx as usize];
        if self.trace == Some(idx) {
            let u = merged.state.usage.as_ref().map(|f| &f.value);
            eprintln!(
                "{:>8.2} h {:<14} true left {:>5.1} %  read left {:?} ratio {:?}  at {:>8.2} h  rate {:?}",
                now as f64 / 3600.0,
                event.provider_event_type.as_deref().unwrap_or("webhook"),
                100.0 * (1.0 - plan.used(now) as f64 / plan.total as f64),
                u.and_then(|u| u.remaining_bytes),
                u.and_then(|u| u.remaining_ratio),
                merged
                    .state
                    .usage
                    .as_ref()
                    .map_or(0.0, |f| self.secs(f.at) as f64 / 3600.0),
                merged.state.usage_rate,
            );
        }
        for alert in evaluate(event, Some(&merged.state), &self.alerts, self.at(now)) {
            if self.trace == Some(idx) {
                eprintln!("           alert {}", alert.level);
            }
            if alert.alert_type != AlertType::LowData {
                continue;
            }
            // On the scale (`20%`), or an amount (Gigastore `100MB`): judged against the plan.
            let left = match alert.level.strip_suffix('%') {
                Some(percent) => percent.parse::<f64>().unwrap_or(100.0),
                None => 100.0 * GIGASTORE_ALERT_BYTES / plan.total as f64,
            };
            for (level, first) in LEVELS.iter().zip(alerted.iter_mut()) {
                if left <= f64::from(*level) + 1e-9 && *first == NEVER {
                    *first = now;
                }
            }
        }
        *state = Some(merged.state);
        taken
    }

    /// The eSIM's deliveries that arrive, in order (Roamify's periodic reports from a day before asking starts).
    pub fn delivered(&self, idx: u32) -> Vec<Hook> {
        let plan = &self.fleet[idx as usize];
        let mut all = hooks(plan, idx, self.warmup - DAY, self.until);
        all.retain(|h| !h.lost(self.seed, self.outage));
        all
    }

    /// Webhooks only: when each eSIM's first alert telling of each level comes.
    pub fn without(&self) -> Vec<[i64; 2]> {
        (0..self.fleet.len() as u32)
            .map(|idx| {
                let mut state = None;
                let mut alerted = [NEVER; 2];
                for hook in self.delivered(idx) {
                    self.apply(idx, &mut state, &self.webhook_event(&hook), hook.at, &mut alerted, None);
                }
                alerted
            })
            .collect()
    }
}

/// Minutes or hours, for the table.
pub fn span(seconds: i64) -> String {
    if seconds == NEVER {
        "never".into()
    } else if seconds < 2 * HOUR {
        format!("{} min", (seconds + MINUTE / 2) / MINUTE)
    } else {
        format!("{:.1} h", seconds as f64 / HOUR as f64)
    }
}
