//! The two runs over the same deliveries: webhooks only, and webhooks plus asking. Both go through the real
//! rules: events built as each provider's normalizer builds them (the usage fields it fills), merged by
//! `shared::state::merge`, alerts from `shared::alerts::evaluate`; the asking run picks whom to ask with
//! `shared::reconcile::due::{due_now, next_ask}` and turns answers into events with `reading_event`, skipping
//! answers that `adds_nothing`, as `reconcile_one` does.

use super::fleet::{hooks, Hook, Plan, Said, Who, DAY, GIGASTORE_ALERT_BYTES, HOUR, MINUTE, MIX};
use super::known::Known;
use super::queue::Queue;
use chrono::{DateTime, Duration, Utc};
use serde_json::value::RawValue;
use shared::alerts::{evaluate, AlertRules, AlertType};
use shared::model::{
    Bundle, DataUsage, DedupeKey, EsimIdentity, Event, EventKind, Lifecycle, PayloadSha256, StatusChange, Validity,
};
use shared::reconcile::due::DueRules;
use shared::reconcile::{adds_nothing, reading_event, Ask, Reading};
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
    /// What-if: the changes this simulation suggests (queue.rs).
    pub suggested: bool,
    /// Prints what happens to this eSIM (stderr).
    pub trace: Option<u32>,
    pub alerts: AlertRules,
    pub rules: DueRules,
}

/// What asking cost one provider, in the measured window.
#[derive(Default)]
pub struct Asking {
    pub calls: u64,
    pub by_why: [u64; 4],
    /// Answers that said nothing new (nothing stored).
    pub unchanged: u64,
    pub passes: u64,
    /// Passes that ended with due eSIMs left waiting for the next.
    pub binding: u64,
    /// Seconds from due to asked, per call.
    pub waits: Vec<u32>,
    /// Webhooks received in the window, and those whose reading the state held as older than one it had
    /// (so the reading was not applied, and alerts were judged on the state's).
    pub hooks: u64,
    pub outranked: u64,
}

fn key(idx: u32) -> String {
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

    /// A webhook as the provider's normalizer makes it: the usage fields it fills, the provider's own alert
    /// level where its notice is a warning, the measurement time where it sends one.
    fn webhook_event(&self, hook: &Hook) -> Event {
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
    /// no reading time (none of the modules has one), so the event is stamped with the receipt. `--suggested`:
    /// eSIM Access's answer carries when its usage was measured (`lastUpdateTime`, which `usage/query` returns).
    fn answer(&self, idx: u32, now: i64) -> Reading {
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
        Reading {
            usage: Some(usage),
            validity: Some(Validity {
                expires_at: Some(self.at(plan.end)),
                ..Validity::default()
            }),
            status: Some(status(lifecycle, "asked")),
            read_at: (self.suggested && plan.who == Who::EsimAccess).then(|| self.at(now - plan.lag)),
            ..Reading::default()
        }
    }

    /// Merges `event` into the eSIM's state and records the first alert that tells of each level. False when
    /// the state kept a reading it holds as newer than the event's.
    fn apply(&self, idx: u32, state: &mut Option<EsimState>, event: &Event, now: i64, alerted: &mut [i64; 2]) -> bool {
        let Some(merged) = merge(state.take(), event) else {
            return true;
        };
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
    fn delivered(&self, idx: u32) -> Vec<Hook> {
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
                    self.apply(idx, &mut state, &self.webhook_event(&hook), hook.at, &mut alerted);
                }
                alerted
            })
            .collect()
    }

    /// Webhooks and asking every 15 minutes, each provider at most its budget a pass.
    pub fn with(&self) -> (Vec<[i64; 2]>, Vec<Asking>, Vec<[Known; 2]>) {
        let n = self.fleet.len();
        let period = self.rules.period.num_seconds();
        let mut alerted = vec![[NEVER; 2]; n];
        let mut states: Vec<Option<EsimState>> = (0..n).map(|_| None).collect();
        let mut later = Vec::new();
        // What arrived before asking starts is history: merged as it came.
        for idx in 0..n as u32 {
            for hook in self.delivered(idx) {
                if hook.at < self.warmup {
                    let event = self.webhook_event(&hook);
                    self.apply(
                        idx,
                        &mut states[idx as usize],
                        &event,
                        hook.at,
                        &mut alerted[idx as usize],
                    );
                } else {
                    later.push(hook);
                }
            }
        }
        later.sort();
        // Every crossing in the window, to note what was known of the eSIM just before it.
        let mut crossings: Vec<(i64, u32, usize)> = Vec::new();
        for (idx, plan) in self.fleet.iter().enumerate() {
            for (l, level) in LEVELS.iter().enumerate() {
                if let Some(at) = plan
                    .crossing(*level, self.until)
                    .filter(|c| (0..self.window).contains(c))
                {
                    crossings.push((at, idx as u32, l));
                }
            }
        }
        crossings.sort();
        let mut known = vec![[Known::Projected; 2]; n];
        let mut next_crossing = 0;
        let mut queue = Queue::new(n, self.suggested);
        for idx in 0..n as u32 {
            queue.schedule(self, states[idx as usize].as_ref(), idx, self.warmup, false);
        }
        let mut asking: Vec<Asking> = MIX.iter().map(|_| Asking::default()).collect();
        let mut next_hook = 0;
        let mut now = self.warmup;
        while now <= self.until {
            loop {
                let hook = later.get(next_hook).filter(|h| h.at <= now);
                let crossing = crossings.get(next_crossing).filter(|c| c.0 <= now);
                if let Some(&(at, idx, l)) = crossing.filter(|c| hook.is_none_or(|h| c.0 <= h.at)) {
                    known[idx as usize][l] = Known::of(states[idx as usize].as_ref(), LEVELS[l], self.at(at));
                    next_crossing += 1;
                    continue;
                }
                let Some(hook) = hook else {
                    break;
                };
                let i = hook.idx as usize;
                let taken = self.apply(
                    hook.idx,
                    &mut states[i],
                    &self.webhook_event(hook),
                    hook.at,
                    &mut alerted[i],
                );
                if (0..self.window).contains(&hook.at) {
                    let stats = &mut asking[self.fleet[i].who.index()];
                    stats.hooks += 1;
                    stats.outranked += u64::from(!taken);
                }
                queue.schedule(self, states[i].as_ref(), hook.idx, hook.at, false);
                next_hook += 1;
            }
            let measured = (0..self.window).contains(&now);
            for (p, (who, _)) in MIX.iter().enumerate() {
                let Some(api) = who.id().spec().usage_api else {
                    continue;
                };
                let budget = u64::from(api.per_second) * period as u64;
                let stats = &mut asking[p];
                let mut calls = 0;
                while calls < budget {
                    let Some((idx, since)) = queue.pop_due(p, now) else {
                        break;
                    };
                    let i = idx as usize;
                    let state = states[i].as_ref().expect("only known eSIMs are queued");
                    let Some(why) = queue.why_now(self, state, idx, now) else {
                        queue.schedule(self, Some(state), idx, now, true);
                        continue;
                    };
                    calls += 1;
                    if self.trace == Some(idx) {
                        eprintln!("{:>8.2} h asked: {}", now as f64 / 3600.0, super::queue::REASONS[why]);
                    }
                    let reading = self.answer(idx, now);
                    if measured {
                        stats.calls += 1;
                        stats.by_why[why] += 1;
                        stats.waits.push((now - since).max(0) as u32);
                    }
                    let nothing_new = adds_nothing(&reading, Some(state));
                    queue.answered(idx, now, !nothing_new);
                    if nothing_new {
                        stats.unchanged += u64::from(measured);
                    } else {
                        let event = reading_event(who.id(), &Ask::Iccid(key(idx)), reading, b"{}", self.at(now))
                            .expect("a reading becomes an event");
                        self.apply(idx, &mut states[i], &event, now, &mut alerted[i]);
                    }
                    queue.schedule(self, states[i].as_ref(), idx, now, true);
                }
                if measured {
                    stats.passes += 1;
                    stats.binding += u64::from(calls >= budget && queue.any_due(p, now));
                }
            }
            now += period;
        }
        (alerted, asking, known)
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
