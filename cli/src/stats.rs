//! `esimhooks stats --since today`: per provider, what the store holds for a period: deliveries received
//! (authentic ones: stored, exact duplicates and conflicts), stored (and of them unrecognized or showing schema
//! drift), duplicates, conflicts, alerts raised and sent, customer messages sent and failed. The local store
//! counts exact duplicates; the deployed table does not (a write per duplicate would be paid on every retry),
//! so there `received` and `duplicates` are absent and the functions' `Received` and `Duplicates` metrics
//! count them (docs/operations.md).

use crate::listing::parse_since;
use chrono::{DateTime, Duration, Utc};
use clap::Args;
use serde::Serialize;
use shared::model::ProviderId;
use shared::store::{HourCounts, ListQuery, StoreQuery};
use std::collections::BTreeMap;
use std::io::Write;

#[derive(Debug, Clone, Args)]
pub struct StatsArgs {
    /// The period's start: RFC 3339, today, or an age like 30m, 24h or 7d.
    #[arg(long, default_value = "today")]
    pub since: String,
    /// Only this provider.
    #[arg(long, value_parser = crate::provider_arg)]
    pub provider: Option<ProviderId>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct ProviderStats {
    /// Authentic deliveries: stored, exact duplicates and conflicts (where the store counts duplicates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
    pub stored: u64,
    /// Exact copies of a stored delivery (where the store counts them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<u64>,
    pub unrecognized: u64,
    pub schema_drift: u64,
    /// Deliveries that reused a known id with another payload (kept aside, not applied).
    pub conflicts: u64,
    pub alerts: u64,
    pub alerts_sent: u64,
    pub notifications_sent: u64,
    pub notifications_failed: u64,
}

/// The counts per provider since `since`; every provider listed, idle ones at zero.
pub async fn stats(
    store: &dyn StoreQuery,
    since: DateTime<Utc>,
    provider: Option<ProviderId>,
    now: DateTime<Utc>,
) -> Result<BTreeMap<ProviderId, ProviderStats>, String> {
    let query = ListQuery {
        provider,
        since: Some(since),
        until: Some(now + Duration::minutes(1)),
        limit: None,
    };
    let counts = store.delivery_counts(&query).await.map_err(|e| e.to_string())?;
    tally(store, &query, &counts).await
}

/// [`stats`] over delivery counts already read for `query` (the console's overview charts them by hour too).
pub async fn tally(
    store: &dyn StoreQuery,
    query: &ListQuery,
    counts: &[HourCounts],
) -> Result<BTreeMap<ProviderId, ProviderStats>, String> {
    let failed = |e: shared::store::StoreError| e.to_string();
    let mut all: BTreeMap<ProviderId, ProviderStats> = ProviderId::ALL
        .iter()
        .filter(|p| query.provider.is_none_or(|only| only == **p))
        .map(|p| (*p, ProviderStats::default()))
        .collect();
    for hour in counts {
        let row = all.entry(hour.provider).or_default();
        row.stored += hour.stored;
        row.unrecognized += hour.unrecognized;
        row.schema_drift += hour.schema_drift;
    }
    for c in store.list_conflicts(query).await.map_err(failed)? {
        all.entry(c.event.provider).or_default().conflicts += c.count;
    }
    if let Some(duplicates) = store.duplicate_counts(query).await.map_err(failed)? {
        for (provider, row) in &mut all {
            let copies = duplicates.get(provider).copied().unwrap_or(0);
            row.duplicates = Some(copies);
            row.received = Some(row.stored + copies + row.conflicts);
        }
    }
    for (provider, counts) in store.alert_counts(query).await.map_err(failed)? {
        let row = all.entry(provider).or_default();
        row.alerts += counts.alerts;
        row.alerts_sent += counts.sent;
        row.notifications_sent += counts.notifications_sent;
        row.notifications_failed += counts.notifications_failed;
    }
    Ok(all)
}

pub async fn run(
    args: &StatsArgs,
    store: &dyn StoreQuery,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), String> {
    let since = parse_since(&args.since, now)?;
    let all = stats(store, since, args.provider, now).await?;
    let io = |e: std::io::Error| e.to_string();
    if args.json {
        let rows: BTreeMap<String, &ProviderStats> = all.iter().map(|(p, s)| (p.to_string(), s)).collect();
        let doc = serde_json::json!({"since": since, "providers": rows});
        return writeln!(out, "{doc}").map_err(io);
    }
    writeln!(out, "since {}", since.format("%Y-%m-%d %H:%M:%S UTC")).map_err(io)?;
    writeln!(
        out,
        "{:<12} {:>8} {:>7} {:>10} {:>12} {:>6} {:>9} {:>7} {:>6} {:>9} {:>10}",
        "PROVIDER",
        "RECEIVED",
        "STORED",
        "DUPLICATES",
        "UNRECOGNIZED",
        "DRIFT",
        "CONFLICTS",
        "ALERTS",
        "SENT",
        "TOLD",
        "TOLD FAIL"
    )
    .map_err(io)?;
    let counted = |n: Option<u64>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
    for (provider, s) in &all {
        writeln!(
            out,
            "{:<12} {:>8} {:>7} {:>10} {:>12} {:>6} {:>9} {:>7} {:>6} {:>9} {:>10}",
            provider.as_str(),
            counted(s.received),
            s.stored,
            counted(s.duplicates),
            s.unrecognized,
            s.schema_drift,
            s.conflicts,
            s.alerts,
            s.alerts_sent,
            s.notifications_sent,
            s.notifications_failed
        )
        .map_err(io)?;
    }
    if all.values().any(|s| s.duplicates.is_none()) {
        writeln!(
            out,
            "received and duplicates: see the Received and Duplicates metrics of the deployed functions"
        )
        .map_err(io)?;
    }
    Ok(())
}
