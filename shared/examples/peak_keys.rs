//! Peak write load per partition key: replays a busy window through the store's own key functions
//! (`shared::store::keys`) and reports, for the table and each index, the most write units any single key
//! value took in one second, against DynamoDB's 1,000 per partition. A simulation, not a test: kept out of CI.
//!
//!   cargo run --release -p shared --example peak_keys -- [SECONDS] [RATE] [ESIMS]
//!
//! Defaults: 600 s at 10,000 deliveries/s over 1,000,000 eSIMs, with a 5x burst (50,000/s) for 10 s of every
//! minute. The traffic model (shares below) is stated in docs/benchmarks.md. Every write is one unit: the
//! measured items are within 1 KB (scripts/write-units.py) and index entries are keys only. Exits 1 when a key
//! value goes over 1,000 units in a second.

use chrono::{DateTime, Duration, Utc};
use shared::store::keys::{
    alert_pk, attempts_pk, delivery_pk, expiry_entry, listing_entry, notification_outbox_entry, sms_window_pk,
    state_pk, Listing,
};
use std::collections::HashMap;

/// DynamoDB's write limit of one partition (so of one partition key value), in units per second.
const PARTITION_LIMIT: u32 = 1_000;

/// Providers by share of deliveries (per mille).
const PROVIDERS: [(&str, u32); 6] = [
    ("esimgo", 350),
    ("airalo", 250),
    ("esimaccess", 200),
    ("roamify", 100),
    ("oneglobal", 50),
    ("gigastore", 50),
];
/// Per mille of deliveries that are exact copies (provider retries): one failed conditional put.
const DUPLICATES: u64 = 50;
/// Per mille of stored deliveries without an eSIM (account balance): no state write.
const WITHOUT_ESIM: u64 = 30;
/// Per mille of stored deliveries that set or move an eSIM's plan end (orders, activations, top-ups).
const PLAN_END_SET: u64 = 50;
/// Per mille of stored deliveries that raise an alert.
const ALERTING: u64 = 100;
/// Per mille of alerts whose eSIM has a customer contact (SMS and email), and of those held for quiet hours.
const WITH_CONTACT: u64 = 500;
const HELD: u64 = 300;
/// Partners following every event: one callback attempt record each per stored delivery.
const PARTNERS: u64 = 2;
/// Per mille of eSIMs in the small set that sends most usage (a tethering phone reports every few seconds).
const HOT_SET: u64 = 1;
const HOT_SHARE: u64 = 100;

/// A small, fast, seeded generator: the same traffic every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn per_mille(&mut self, share: u64) -> bool {
        self.next() % 1000 < share
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Target {
    Table,
    Listing,
    Expiry,
}

/// Write units per (target, key class) and second, and the peak of any one key value.
#[derive(Default)]
struct Peaks {
    second: HashMap<(Target, String), u32>,
    /// (target, class) -> (peak units of one key value in one second, that key, the second)
    peak: HashMap<(Target, &'static str), (u32, String, i64)>,
    /// target -> (peak units in one second over all its keys, the second)
    total: HashMap<Target, (u64, i64)>,
    classes: HashMap<(Target, String), &'static str>,
}

impl Peaks {
    fn write(&mut self, target: Target, class: &'static str, key: String, units: u32) {
        self.classes.entry((target, key.clone())).or_insert(class);
        *self.second.entry((target, key)).or_default() += units;
    }

    fn close_second(&mut self, second: i64) {
        let mut totals: HashMap<Target, u64> = HashMap::new();
        for ((target, key), units) in self.second.drain() {
            *totals.entry(target).or_default() += u64::from(units);
            let class = self.classes[&(target, key.clone())];
            let peak = self.peak.entry((target, class)).or_insert((0, String::new(), second));
            if units > peak.0 {
                *peak = (units, key, second);
            }
        }
        for (target, units) in totals {
            let total = self.total.entry(target).or_insert((0, second));
            if units > total.0 {
                *total = (units, second);
            }
        }
        self.classes.clear();
    }
}

fn provider(rng: &mut SplitMix) -> &'static str {
    let mut pick = rng.below(1000) as u32;
    for (name, share) in PROVIDERS {
        if pick < share {
            return name;
        }
        pick -= share;
    }
    PROVIDERS[0].0
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let seconds = args.first().copied().unwrap_or(600) as i64;
    let rate = args.get(1).copied().unwrap_or(10_000);
    let esims = args.get(2).copied().unwrap_or(1_000_000);
    // Starts just before midnight, so the window crosses a day's listing buckets.
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-12-02T23:55:00Z").unwrap().to_utc();
    let mut rng = SplitMix(23);
    let mut peaks = Peaks::default();
    let (mut deliveries, mut units) = (0u64, 0u64);
    let mut plan_ends: HashMap<u64, DateTime<Utc>> = HashMap::new();

    for s in 0..seconds {
        let burst = s % 60 < 10;
        let this_second = if burst { rate * 5 } else { rate };
        let second_start = start + Duration::seconds(s);
        for i in 0..this_second {
            deliveries += 1;
            let at = second_start + Duration::microseconds((i * 1_000_000 / this_second) as i64);
            let provider = provider(&mut rng);
            let esim = if rng.per_mille(HOT_SHARE) {
                rng.below((esims * HOT_SET / 1000).max(1))
            } else {
                rng.below(esims)
            };
            let esim_key = format!("8944{esim:015}");
            let event_id = rng.next();
            let pk = delivery_pk(provider, &format!("{event_id:016x}"));
            if rng.per_mille(DUPLICATES) {
                // An exact copy: its failed conditional put on a delivery stored earlier.
                peaks.write(Target::Table, "delivery", pk, 1);
                units += 1;
                continue;
            }
            // Claim and completion of the delivery, and its one listing entry.
            peaks.write(Target::Table, "delivery", pk.clone(), 2);
            let listed = listing_entry(Listing::Deliveries, &pk, at);
            peaks.write(Target::Listing, "deliveries by day", listed.pk, 1);
            units += 3;
            for partner in 0..PARTNERS {
                peaks.write(
                    Target::Table,
                    "partner attempt log",
                    attempts_pk(&format!("partner-{partner}"), &pk),
                    1,
                );
                units += 1;
            }
            if rng.per_mille(WITHOUT_ESIM) {
                continue;
            }
            let state = state_pk(provider, &esim_key);
            peaks.write(Target::Table, "eSIM state", state.clone(), 1);
            units += 1;
            if rng.per_mille(PLAN_END_SET) {
                let ends = at + Duration::days([7, 15, 30][rng.below(3) as usize]);
                if let Some(before) = plan_ends.insert(esim, ends) {
                    peaks.write(Target::Expiry, "plan end by hour", expiry_entry(&state, before).pk, 1);
                    units += 1;
                }
                peaks.write(Target::Expiry, "plan end by hour", expiry_entry(&state, ends).pk, 1);
                units += 1;
            }
            if !rng.per_mille(ALERTING) {
                continue;
            }
            let alert_id = format!("{provider}-{esim_key}-data_low-{}", rng.below(4));
            let alert = alert_pk(&alert_id);
            peaks.write(Target::Table, "alert", alert.clone(), 2);
            let listed = listing_entry(Listing::Alerts, &alert, at);
            peaks.write(Target::Listing, "alerts by day", listed.pk, 1);
            units += 3;
            if rng.per_mille(WITH_CONTACT) {
                // Each channel's notification record (claim, being sent, outcome) sits in the alert's partition.
                peaks.write(Target::Table, "alert", alert.clone(), 6);
                peaks.write(
                    Target::Table,
                    "SMS cap window",
                    sms_window_pk(&format!("+4470{esim:08}")),
                    1,
                );
                units += 7;
                if rng.per_mille(HELD) {
                    for channel in ["sms", "email"] {
                        let held = notification_outbox_entry(&alert_id, channel, at + Duration::hours(8));
                        peaks.write(Target::Listing, "customer outbox by hour", held.pk, 1);
                        units += 1;
                    }
                }
            }
        }
        peaks.close_second(s);
    }

    println!(
        "{} s, {rate} deliveries/s (x5 for 10 s a minute), {esims} eSIMs: {deliveries} deliveries, {:.2} write units each",
        seconds,
        units as f64 / deliveries as f64
    );
    println!(
        "{:<8} {:<26} {:>10} {:>8}  busiest key value (second)",
        "where", "key", "peak WCU/s", "margin"
    );
    let mut rows: Vec<_> = peaks.peak.iter().collect();
    rows.sort_by_key(|((target, class), _)| (*target, *class));
    let mut over = false;
    for ((target, class), (peak, key, second)) in rows {
        over |= *peak > PARTITION_LIMIT;
        let margin = 100.0 * (1.0 - f64::from(*peak) / f64::from(PARTITION_LIMIT));
        println!(
            "{:<8} {:<26} {:>10} {:>7.0}%  {key} ({second})",
            format!("{target:?}"),
            class,
            peak,
            margin
        );
    }
    let mut totals: Vec<_> = peaks.total.iter().collect();
    totals.sort();
    for (target, (units, second)) in totals {
        println!(
            "{:<8} all keys, busiest second: {units} WCU/s (second {second})",
            format!("{target:?}")
        );
    }
    if over {
        println!("OVER: a key value took more than {PARTITION_LIMIT} write units in a second");
        std::process::exit(1);
    }
    println!("every key value stays under {PARTITION_LIMIT} write units per second");
}
