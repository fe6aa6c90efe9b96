//! How late the 20 % and 10 % low-data alerts come, with webhooks only and with asking (reconcile), for a fleet
//! of eSIMs whose providers each notify at their own thresholds, with 5 % of deliveries lost and one 2-hour
//! outage of our endpoint; and the API calls a day asking takes against each provider's limit. A simulation,
//! not a test: kept out of CI (scripts/bench.sh runs it).
//!
//!   cargo run -p shared --example reconcile_sim -- [--esims N] [--seed S] [--named] [--trace IDX]
//!
//! Defaults: 1,000,000 eSIMs, seed 30 (the same seed gives the same figures). The measured window is 2 days;
//! asking runs (every 15 minutes, each provider at most its budget a second times the period) from 2 days
//! before it, so the window starts in a steady state, and alerts are followed for 12 hours after it. The outage
//! is 18:00-20:00 on the first day (asking goes on: it is not the endpoint). Asking runs the crate's rule
//! (`shared::reconcile::due`) on states that keep `asking` as production does (reconcile_sim/queue.rs,
//! reconcile_sim/asking.rs). `--named`: every eSIM is named at its sale (the customer directory, or an order
//! webhook), so asking knows it before any usage webhook. `--trace IDX` prints what happens to one eSIM
//! (stderr). The model (plans, use, each provider's webhooks and data freshness) is in reconcile_sim/fleet.rs
//! and stated in docs/benchmarks.md, with the figures.

#[path = "reconcile_sim/asking.rs"]
mod asking;
#[path = "reconcile_sim/fleet.rs"]
mod fleet;
#[path = "reconcile_sim/known.rs"]
mod known;
#[path = "reconcile_sim/queue.rs"]
mod queue;
#[path = "reconcile_sim/run.rs"]
mod run;

use chrono::{DateTime, Utc};
use fleet::{Plan, DAY, HOUR, MINUTE, MIX};
use known::KNOWN;
use queue::REASONS;
use run::{span, Asking, Sim, LEVELS, NEVER};
use shared::alerts::AlertRules;
use shared::reconcile::due::DueRules;
use shared::state::EsimState;
use std::time::Instant;

/// The goal: a crossing alerted within this much after the provider's own data shows it.
const GOAL: i64 = 30 * MINUTE;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| -> Option<u64> {
        let at = args.iter().position(|a| a == name)?;
        args.get(at + 1)?.parse().ok()
    };
    let esims = value("--esims").unwrap_or(1_000_000) as u32;
    let seed = value("--seed").unwrap_or(30);
    let started = Instant::now();

    let window = 2 * DAY;
    let t0: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-12-07T00:00:00Z").unwrap().to_utc();
    let fleet: Vec<Plan> = (0..esims).map(|idx| Plan::draw(seed, idx, window)).collect();
    let sim = Sim {
        fleet: &fleet,
        seed,
        t0,
        warmup: -2 * DAY,
        until: window + 12 * HOUR,
        window,
        outage: (18 * HOUR, 20 * HOUR),
        named: args.iter().any(|a| a == "--named"),
        trace: value("--trace").map(|t| t as u32),
        alerts: AlertRules::default(),
        rules: DueRules::default(),
    };
    let without = sim.without();
    let after_without = started.elapsed();
    let (with, asking, known) = sim.with();

    println!(
        "{esims} eSIMs, seed {seed}: crossings from {} for 2 days; asking from 2 days before, every {} min; \
         alerts followed 12 h after; 5 % of deliveries lost, none received {}-{} UTC on the first day{}",
        t0.format("%Y-%m-%d %H:%M"),
        sim.rules.period.num_minutes(),
        sim.at(sim.outage.0).format("%H:%M"),
        sim.at(sim.outage.1).format("%H:%M"),
        if sim.named {
            "; every eSIM named at its sale"
        } else {
            ""
        },
    );
    println!();
    println!(
        "| provider | level | crossings | webhooks only: p50 | p99 | never | with asking: p50 | p99 | never | \
         alerted within the goal |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for (p, (who, _)) in MIX.iter().enumerate() {
        let asked = who.id().spec().usage_api.is_some();
        let bound = GOAL + who.staleness();
        for (l, level) in LEVELS.iter().enumerate() {
            let mut late: [Vec<i64>; 2] = [Vec::new(), Vec::new()];
            for (idx, plan) in fleet.iter().enumerate() {
                let Some(crossed) = plan.crossing(*level, sim.until).filter(|c| (0..window).contains(c)) else {
                    continue;
                };
                if plan.who.index() != p {
                    continue;
                }
                for (run, alerted) in [&without, &with].iter().enumerate() {
                    let at = alerted[idx][l];
                    late[run].push(if at == NEVER { NEVER } else { at - crossed });
                }
            }
            late.iter_mut().for_each(|v| v.sort_unstable());
            let count = late[0].len();
            let cells = |v: &[i64]| {
                let rank = |q: f64| {
                    v.get(((q * v.len() as f64).ceil() as usize).max(1) - 1)
                        .copied()
                        .unwrap_or(0)
                };
                let never = v.iter().filter(|l| **l == NEVER).count();
                format!(
                    "{} | {} | {:.1} %",
                    span(rank(0.5)),
                    span(rank(0.99)),
                    100.0 * never as f64 / v.len().max(1) as f64
                )
            };
            let within = late[1].iter().filter(|l| **l <= bound).count();
            let goal = if asked {
                format!(
                    "{:.1} % within {}",
                    100.0 * within as f64 / count.max(1) as f64,
                    span(bound)
                )
            } else {
                "not asked (no usage API yet)".into()
            };
            println!(
                "| {} | {level} % | {count} | {} | {} | {goal} |",
                who.title(),
                cells(&late[0]),
                cells(&late[1])
            );
        }
    }

    println!();
    println!(
        "Alerted later than the goal with asking, by what was known just before the crossing (share of crossings):"
    );
    println!();
    print!("| provider | level | later than the goal |");
    KNOWN.iter().for_each(|k| print!(" {} |", k.title()));
    println!();
    println!("|---|---|---:|{}", "---:|".repeat(KNOWN.len()));
    for (p, (who, _)) in MIX
        .iter()
        .enumerate()
        .filter(|(_, (who, _))| who.id().spec().usage_api.is_some())
    {
        let bound = GOAL + who.staleness();
        for (l, level) in LEVELS.iter().enumerate() {
            let mut counts = [0usize; KNOWN.len()];
            let (mut crossings, mut late) = (0, 0);
            for (idx, plan) in fleet.iter().enumerate().filter(|(_, plan)| plan.who.index() == p) {
                let Some(crossed) = plan.crossing(*level, sim.until).filter(|c| (0..window).contains(c)) else {
                    continue;
                };
                crossings += 1;
                if with[idx][l] == NEVER || with[idx][l] - crossed > bound {
                    late += 1;
                    counts[KNOWN.iter().position(|k| *k == known[idx][l]).unwrap_or(0)] += 1;
                }
            }
            let share = |c: usize| format!("{:.1} %", 100.0 * c as f64 / crossings.max(1) as f64);
            print!("| {} | {level} % | {} |", who.title(), share(late));
            counts.iter().for_each(|c| print!(" {} |", share(*c)));
            println!();
        }
    }

    println!();
    print!("| provider | budget | limit a day | calls a day | of the limit | eSIMs asked a day: |");
    REASONS.iter().for_each(|r| print!(" {} |", r.as_str()));
    println!(" answers with nothing new | passes at the budget | wait p99 / max |");
    println!(
        "|---|---:|---:|---:|---:|---:|{}---:|---:|---:|",
        "---:|".repeat(REASONS.len())
    );
    let days = window as f64 / DAY as f64;
    for (p, (who, _)) in MIX.iter().enumerate() {
        let Some(api) = who.id().spec().usage_api else {
            println!("| {} | none{} |", who.title(), " | —".repeat(REASONS.len() + 7));
            continue;
        };
        let Asking {
            calls,
            by_why,
            unchanged,
            passes,
            binding,
            waits,
            ..
        } = &asking[p];
        let limit = u64::from(api.per_second) * DAY as u64;
        let mut waits = waits.clone();
        waits.sort_unstable();
        let p99 = waits
            .get((waits.len() * 99 / 100).min(waits.len().saturating_sub(1)))
            .copied();
        let asked: u64 = by_why.iter().sum();
        print!(
            "| {} | {}/s | {limit} | {:.0} | {:.1} % | {:.0} |",
            who.title(),
            api.per_second,
            *calls as f64 / days,
            100.0 * *calls as f64 / days / limit as f64,
            asked as f64 / days,
        );
        by_why.iter().for_each(|n| print!(" {:.0} |", *n as f64 / days));
        println!(
            " {:.1} % | {binding} of {passes} | {} / {} |",
            100.0 * *unchanged as f64 / asked.max(1) as f64,
            span(i64::from(p99.unwrap_or(0))),
            span(i64::from(waits.last().copied().unwrap_or(0))),
        );
    }
    println!();
    print!("Webhooks received in the window whose reading the state held as older than one it had (not applied):");
    for (p, (who, _)) in MIX.iter().enumerate() {
        let Asking { hooks, outranked, .. } = &asking[p];
        print!(
            " {} {outranked} of {hooks} ({:.1} %);",
            who.title(),
            100.0 * *outranked as f64 / (*hooks).max(1) as f64
        );
    }
    println!();
    println!();
    print!("States a pass found filed before they were due (re-filed), a day; of them re-filed at once:");
    for (p, (who, _)) in MIX.iter().enumerate() {
        let Asking { early, early_again, .. } = &asking[p];
        print!(
            " {} {:.0} ({:.0});",
            who.title(),
            *early as f64 / days,
            *early_again as f64 / days
        );
    }
    println!();
    print!("Answers whose reading was already applied once (a duplicate event key: nothing stored), a day:");
    for (p, (who, _)) in MIX.iter().enumerate() {
        print!(" {} {:.0};", who.title(), asking[p].duplicate as f64 / days);
    }
    println!();
    println!();
    println!(
        "run time {:.1} s (webhooks only {:.1} s); {} bytes a state inline; peak RSS {}",
        started.elapsed().as_secs_f64(),
        after_without.as_secs_f64(),
        std::mem::size_of::<Option<EsimState>>(),
        peak_rss()
    );
}

/// The process's peak resident memory (Linux), as the kernel reports it.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l[6..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
