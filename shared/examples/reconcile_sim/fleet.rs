//! The simulated fleet: each eSIM's plan, how it is used over time, and when its provider tells (webhooks) or
//! what it answers (its usage API), as fresh as that provider's own data is. Everything is drawn from the seed
//! and the eSIM's index, so a run is the same every time.

use shared::model::ProviderId;
use std::f64::consts::TAU;

pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;
/// Plan sizes are decimal, as the providers sell them.
const GB: f64 = 1e9;
/// Gigastore's balance alert: a fixed amount left.
pub const GIGASTORE_ALERT_BYTES: f64 = 100e6;
/// Roamify's periodic usage notification, per activated eSIM.
const ROAMIFY_EVERY: i64 = 4 * HOUR;
/// Airalo's usage answers come from a cache of up to 20 minutes.
const AIRALO_CACHE: i64 = 20 * MINUTE;
/// Per mille of deliveries lost on the way (besides the outage).
const LOSS_PER_MILLE: u64 = 50;

/// A small, fast, seeded generator (as in peak_keys.rs).
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (1.0 - self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (TAU * v).cos()
    }

    /// One of `choices` by weight.
    pub fn pick<T: Copy>(&mut self, choices: &[(T, u32)]) -> T {
        let total: u32 = choices.iter().map(|c| c.1).sum();
        let mut at = (self.next() % u64::from(total)) as u32;
        for &(value, weight) in choices {
            if at < weight {
                return value;
            }
            at -= weight;
        }
        choices[0].0
    }
}

/// A hash of a few numbers: a fresh generator for one decision.
pub fn rng(seed: u64, parts: &[u64]) -> SplitMix {
    let mut mixer = SplitMix(seed);
    for part in parts {
        mixer.0 ^= mixer.next() ^ part.wrapping_mul(0xff51_afd7_ed55_8ccd);
    }
    mixer.next();
    mixer
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    EsimGo,
    Airalo,
    EsimAccess,
    Roamify,
    OneGlobal,
    Gigastore,
}

/// The provider mix of docs/benchmarks.md's peak simulation, per mille of eSIMs.
pub const MIX: [(Who, u32); 6] = [
    (Who::EsimGo, 350),
    (Who::Airalo, 250),
    (Who::EsimAccess, 200),
    (Who::Roamify, 100),
    (Who::OneGlobal, 50),
    (Who::Gigastore, 50),
];

impl Who {
    pub fn index(self) -> usize {
        MIX.iter().position(|(w, _)| *w == self).unwrap_or(0)
    }

    pub fn id(self) -> ProviderId {
        match self {
            Self::EsimGo => ProviderId::EsimGo,
            Self::Airalo => ProviderId::Airalo,
            Self::EsimAccess => ProviderId::EsimAccess,
            Self::Roamify => ProviderId::Roamify,
            Self::OneGlobal => ProviderId::OneGlobal,
            Self::Gigastore => ProviderId::Gigastore,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::EsimGo => "eSIM Go",
            Self::Airalo => "Airalo",
            Self::EsimAccess => "eSIM Access",
            Self::Roamify => "Roamify",
            Self::OneGlobal => "1GLOBAL",
            Self::Gigastore => "Gigastore",
        }
    }

    /// The share of the plan used at which the provider's webhooks fire (Gigastore: 100 MB left, not a share).
    pub fn thresholds(self) -> &'static [f64] {
        match self {
            Self::EsimGo => &[0.01, 0.5, 0.8, 1.0],
            Self::Airalo => &[0.75, 0.9],
            Self::EsimAccess => &[0.5, 0.9],
            Self::Roamify => &[0.25, 0.5, 0.75, 0.9, 1.0],
            Self::OneGlobal => &[0.8, 1.0],
            Self::Gigastore => &[f64::NAN],
        }
    }

    /// How old the provider's own usage data can be when it answers: what bounds an alert's lateness.
    pub fn staleness(self) -> i64 {
        match self {
            Self::EsimAccess => 3 * HOUR,
            Self::Airalo => AIRALO_CACHE,
            _ => 0,
        }
    }
}

/// One eSIM's plan and how it is used.
pub struct Plan {
    pub who: Who,
    pub total: u64,
    pub gigabytes: u8,
    /// Seconds from the start of the measured window.
    pub start: i64,
    pub end: i64,
    /// Mean bytes a day.
    daily: f64,
    /// Offset of the user's local time from UTC, seconds (usage follows the local day).
    tz: i64,
    /// eSIM Access: how far its usage data lags real use (2-3 h).
    pub lag: i64,
    seed: u64,
}

/// When in a local day (0..1) use peaks, and how strongly: the rate is 1 + A cos(2 pi (u - PEAK)).
const PEAK: f64 = 20.0 / 24.0;
const DIURNAL: f64 = 0.8;

/// The share of a day's use made by `u` (0..1) into the local day.
fn day_share(u: f64) -> f64 {
    u + DIURNAL / TAU * ((TAU * (u - PEAK)).sin() + (TAU * PEAK).sin())
}

impl Plan {
    /// Plans of 1-20 GB lasting 7-30 days, started at random times from one plan's length before the window
    /// to its end (so the window sees plans at every age, and new ones); most use a fraction of the plan a day
    /// (on average 80 % of it over its validity, spread lognormally), 4 % burn it in a day or two.
    pub fn draw(seed: u64, idx: u32, window: i64) -> Self {
        let mut r = rng(seed, &[1, u64::from(idx)]);
        let who = r.pick(&MIX);
        let gigabytes = r.pick(&[(1u8, 25), (3, 30), (5, 20), (10, 15), (20, 10)]);
        let days = r.pick(&[(7i64, 35), (10, 20), (15, 25), (30, 20)]);
        let total = (f64::from(gigabytes) * GB) as u64;
        let start = -days * DAY + (r.unit() * (days * DAY + window) as f64) as i64;
        let share_a_day = if r.unit() < 0.04 {
            0.5 + 0.7 * r.unit()
        } else {
            0.8 / days as f64 * (0.8 * r.normal()).exp()
        };
        Self {
            who,
            total,
            gigabytes,
            start,
            end: start + days * DAY,
            daily: share_a_day * total as f64,
            tz: ((r.unit() - 0.5) * 20.0 * HOUR as f64) as i64,
            lag: 2 * HOUR + (r.unit() * HOUR as f64) as i64,
            seed: r.next(),
        }
    }

    /// What was used on local day `day`: nothing one day in ten (on wifi, on a flight), else the mean varied
    /// from day to day (lognormal; the mean over all days is `daily`).
    fn day_amount(&self, day: i64) -> f64 {
        let mut r = rng(self.seed, &[day as u64]);
        if r.unit() < 0.1 {
            return 0.0;
        }
        self.daily / 0.9 * (0.5 * r.normal() - 0.125).exp()
    }

    /// Bytes used from the start to `t` (before the plan's cap).
    fn cumulative(&self, t: i64) -> f64 {
        if t <= self.start {
            return 0.0;
        }
        let (from, to) = (self.start + self.tz, t + self.tz);
        let (first, last) = (from.div_euclid(DAY), to.div_euclid(DAY));
        let share = |x: i64| day_share(x.rem_euclid(DAY) as f64 / DAY as f64);
        let mut sum = -self.day_amount(first) * share(from);
        for day in first..last {
            sum += self.day_amount(day);
        }
        sum + self.day_amount(last) * share(to)
    }

    /// Bytes used by `t`, as a counter that stops at the plan's total and at its end.
    pub fn used(&self, t: i64) -> u64 {
        (self.cumulative(t.min(self.end)).min(self.total as f64)) as u64
    }

    /// When the plan's use reaches `bytes`, if it does before `until` and before the plan ends.
    pub fn when_used(&self, bytes: f64, until: i64) -> Option<i64> {
        if bytes > self.total as f64 {
            return None;
        }
        let until = until.min(self.end);
        let from = self.start + self.tz;
        let mut day = from.div_euclid(DAY);
        let mut u0 = from.rem_euclid(DAY) as f64 / DAY as f64;
        let mut sum = 0.0;
        while day * DAY - self.tz <= until {
            let amount = self.day_amount(day);
            let here = amount * (1.0 - day_share(u0));
            if here > 0.0 && sum + here >= bytes {
                let target = day_share(u0) + (bytes - sum) / amount;
                let (mut lo, mut hi) = (u0, 1.0);
                for _ in 0..40 {
                    let mid = (lo + hi) / 2.0;
                    if day_share(mid) < target {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                let at = day * DAY + (hi * DAY as f64).ceil() as i64 - self.tz;
                return (at <= until).then_some(at.max(self.start));
            }
            sum += here;
            day += 1;
            u0 = 0.0;
        }
        None
    }

    /// When less than `percent` of the plan is left: the true crossing of an alert level.
    pub fn crossing(&self, percent: u8, until: i64) -> Option<i64> {
        self.when_used((1.0 - f64::from(percent) / 100.0) * self.total as f64, until)
    }

    /// Bytes used as the provider's usage API answers at `now`: eSIM Access's data lags by 2-3 h, Airalo's
    /// cache is up to 20 minutes old, the others are current.
    pub fn api_used(&self, seed: u64, idx: u32, now: i64) -> u64 {
        match self.who {
            Who::EsimAccess => self.used(now - self.lag),
            Who::Airalo => {
                let age = rng(seed, &[2, u64::from(idx), now as u64]).next() % (AIRALO_CACHE as u64 + 1);
                self.used(now - age as i64)
            }
            _ => self.used(now),
        }
    }
}

/// What a webhook says: a provider threshold crossed (by index into [`Who::thresholds`]), or Roamify's periodic
/// report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Said {
    Threshold(u8),
    Periodic,
}

/// One webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hook {
    /// When it is sent (and, if not lost, received).
    pub at: i64,
    pub idx: u32,
    pub said: Said,
}

impl Hook {
    /// When the usage it reports was measured (eSIM Access: lagged; the rest: when sent).
    pub fn measured(&self, plan: &Plan) -> i64 {
        if plan.who == Who::EsimAccess {
            self.at - plan.lag
        } else {
            self.at
        }
    }

    /// Bytes used as it reports them: at least the threshold it announces.
    pub fn used(&self, plan: &Plan) -> u64 {
        let used = plan.used(self.measured(plan));
        match self.said {
            Said::Threshold(i) => used.max(threshold_bytes(plan, i).ceil() as u64).min(plan.total),
            Said::Periodic => used,
        }
    }

    /// Lost: 5 % at random, and every delivery during the outage.
    pub fn lost(&self, seed: u64, outage: (i64, i64)) -> bool {
        let kind = match self.said {
            Said::Threshold(i) => u64::from(i),
            Said::Periodic => 99,
        };
        (outage.0..outage.1).contains(&self.at)
            || rng(seed, &[3, u64::from(self.idx), self.at as u64, kind]).next() % 1000 < LOSS_PER_MILLE
    }
}

/// The bytes used at which threshold `i` of the plan's provider fires.
pub fn threshold_bytes(plan: &Plan, i: u8) -> f64 {
    match plan.who {
        Who::Gigastore => plan.total as f64 - GIGASTORE_ALERT_BYTES,
        who => who.thresholds()[usize::from(i)] * plan.total as f64,
    }
}

/// Every webhook the provider sends about the plan until `until`, in time order: its thresholds (eSIM Access
/// when its lagged data shows them), and Roamify's report every 4 h from `periodic_from` (earlier reports are
/// left out: the state depends only on the newest readings) until the plan ends or is used up.
pub fn hooks(plan: &Plan, idx: u32, periodic_from: i64, until: i64) -> Vec<Hook> {
    let mut out = Vec::new();
    let delay = if plan.who == Who::EsimAccess { plan.lag } else { 0 };
    for i in 0..plan.who.thresholds().len() as u8 {
        if let Some(at) = plan.when_used(threshold_bytes(plan, i), until - delay) {
            out.push(Hook {
                at: at + delay,
                idx,
                said: Said::Threshold(i),
            });
        }
    }
    if plan.who == Who::Roamify {
        let used_up = plan.when_used(plan.total as f64, until).unwrap_or(i64::MAX);
        let last = until.min(plan.end).min(used_up);
        let first = (((periodic_from - plan.start).max(0) + ROAMIFY_EVERY - 1) / ROAMIFY_EVERY).max(1);
        let mut at = plan.start + first * ROAMIFY_EVERY;
        while at <= last {
            out.push(Hook {
                at,
                idx,
                said: Said::Periodic,
            });
            at += ROAMIFY_EVERY;
        }
    }
    out.sort();
    out
}
