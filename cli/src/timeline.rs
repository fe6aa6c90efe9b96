//! `esimhooks esim <ICCID|ref>`: everything that happened to the eSIMs a name matches, in order: each stored
//! event with the state it left the eSIM in, and each alert with whether it went out and who was told.

use crate::listing::parse_since;
use chrono::{DateTime, Duration, Utc};
use clap::Args;
use serde::Serialize;
use shared::model::{Event, ProviderId};
use shared::state::{merge, EsimState};
use shared::store::{ListQuery, StoreQuery, StoredAlert};
use std::io::Write;

#[derive(Debug, Clone, Args)]
pub struct TimelineArgs {
    /// The eSIM: its ICCID, the provider's key for it, a reference (order, transaction) or, in the local
    /// store, the customer id of its contact.
    pub esim: String,
    /// Only this provider's eSIMs.
    #[arg(long, value_parser = crate::provider_arg)]
    pub provider: Option<ProviderId>,
    /// How far back: RFC 3339, today, or an age like 24h or 30d.
    #[arg(long, default_value = "90d")]
    pub since: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One line of a timeline.
#[derive(Debug, Serialize)]
struct Entry {
    at: DateTime<Utc>,
    /// `event` or `alert`.
    entry: &'static str,
    /// The event's kind and provider type, or the alert's type and level.
    what: String,
    /// The delivery's or the alert's status.
    status: String,
    /// After an event: the eSIM's data left (percent) and lifecycle, and when its plan ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    data_left_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lifecycle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_at: Option<DateTime<Utc>>,
    /// After an alert: who was told (masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    told: Option<String>,
    /// An event's dedupe key, to open it.
    #[serde(skip_serializing_if = "Option::is_none")]
    dedupe_key: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Timeline {
    provider: ProviderId,
    key: String,
    iccid: Option<String>,
    state: Option<EsimState>,
    timeline: Vec<Entry>,
}

fn event_entry(event: &Event, status: &str, after: Option<&EsimState>) -> Entry {
    Entry {
        at: event.received_at,
        entry: "event",
        what: match event.provider_event_type.as_deref() {
            // A reading esimhooks asked the provider's API for, not one the provider pushed.
            Some(shared::reconcile::ASKED_EVENT_TYPE) => format!("{} (asked, not pushed)", event.kind.as_str()),
            Some(t) => format!("{} ({t})", event.kind.as_str()),
            None => event.kind.as_str().to_string(),
        },
        status: status.to_string(),
        data_left_percent: after
            .and_then(|s| s.usage.as_ref())
            .and_then(|f| f.value.remaining_ratio)
            .map(|r| (r * 1000.0).round() / 10.0),
        lifecycle: after
            .and_then(|s| s.status.as_ref())
            .and_then(|f| serde_json::to_value(f.value.lifecycle).ok())
            .and_then(|v| v.as_str().map(str::to_string)),
        ends_at: after.and_then(EsimState::expires_at),
        told: None,
        dedupe_key: Some(event.dedupe_key.as_str().to_string()),
    }
}

fn alert_entry(alert: &StoredAlert) -> Entry {
    Entry {
        at: alert.alert.raised_at,
        entry: "alert",
        what: format!("{} {}", alert.alert.alert_type.as_str(), alert.alert.level),
        status: alert.status.as_str().to_string(),
        data_left_percent: None,
        lifecycle: None,
        ends_at: None,
        told: crate::listing::told(&alert.notifications),
        dedupe_key: None,
    }
}

/// The timelines of every eSIM `args.esim` names, oldest entry first; an error when none matches. Reads the
/// store's name and per-eSIM indexes: a timeline costs the same in a store of a hundred events or millions.
pub async fn timelines(
    args: &TimelineArgs,
    store: &dyn StoreQuery,
    now: DateTime<Utc>,
) -> Result<Vec<Timeline>, String> {
    let window = ListQuery {
        provider: args.provider,
        since: Some(parse_since(&args.since, now)?),
        until: Some(now + Duration::minutes(1)),
        limit: None,
    };
    let failed = |e: shared::store::StoreError| e.to_string();
    let wanted = args.esim.as_str();
    let esims = shared::store::read::histories(store, wanted, &window)
        .await
        .map_err(failed)?;
    if esims.is_empty() {
        return Err(format!("no eSIM named {wanted} since {}", args.since));
    }
    let mut found = Vec::new();
    for (esim, history) in esims {
        // In arrival order, each event merged as the pipeline merged it: the state it left.
        let mut state: Option<EsimState> = None;
        let mut timeline = Vec::new();
        for d in &history.deliveries {
            state = merge(state.clone(), &d.event).map(|m| m.state).or(state);
            timeline.push(event_entry(&d.event, d.status.as_str(), state.as_ref()));
        }
        timeline.extend(history.alerts.iter().map(alert_entry));
        timeline.sort_by_key(|e| e.at);
        found.push(Timeline {
            provider: esim.provider,
            iccid: esim
                .iccid
                .or_else(|| history.state.as_ref().and_then(|s| s.iccid.clone())),
            key: esim.key,
            state: history.state.or(state),
            timeline,
        });
    }
    Ok(found)
}

pub async fn run(
    args: &TimelineArgs,
    store: &dyn StoreQuery,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), String> {
    let found = timelines(args, store, now).await?;
    let io = |e: std::io::Error| e.to_string();
    if args.json {
        return writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&found).map_err(|e| e.to_string())?
        )
        .map_err(io);
    }
    let time = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    for esim in &found {
        let clean = |t: &str| shared::text::clean(t).into_owned();
        writeln!(
            out,
            "eSIM {} ({}, ICCID {})",
            clean(&esim.key),
            esim.provider,
            clean(esim.iccid.as_deref().unwrap_or("-"))
        )
        .map_err(io)?;
        for e in &esim.timeline {
            let after = match e.entry {
                "event" => format!(
                    "data left {}  {}  ends {}",
                    e.data_left_percent.map_or("-".into(), |p| format!("{p}%")),
                    e.lifecycle.as_deref().unwrap_or("-"),
                    e.ends_at.map_or("-".into(), time)
                ),
                _ => e.told.clone().unwrap_or_else(|| "no customer told".into()),
            };
            writeln!(
                out,
                "  {}  {:<5}  {:<36}  {:<10}  {}",
                time(e.at),
                e.entry,
                clean(&e.what),
                e.status,
                after
            )
            .map_err(io)?;
        }
    }
    Ok(())
}
