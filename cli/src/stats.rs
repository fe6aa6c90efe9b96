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
use shared::model::{PartnerId, ProviderId};
use shared::store::{
    count_alerts, count_by_hour, AlertCounts, FleetFilter, HourCounts, ListQuery, StoreQuery, StoredConflict,
};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

#[derive(Debug, Clone, Args)]
pub struct StatsArgs {
    /// The period's start: RFC 3339, today, or an age like 30m, 24h or 7d.
    #[arg(long, default_value = "today")]
    pub since: String,
    /// Only this provider.
    #[arg(long, value_parser = crate::provider_arg)]
    pub provider: Option<ProviderId>,
    /// Only what concerns this partner's eSIMs (read from the period's listings).
    #[arg(long)]
    pub partner: Option<String>,
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
    let conflicts = store.list_conflicts(query).await.map_err(failed)?;
    let duplicates = store.duplicate_counts(query).await.map_err(failed)?;
    let alerts = store.alert_counts(query).await.map_err(failed)?;
    Ok(assemble(query, counts, &conflicts, duplicates, alerts))
}

/// The counts of what concerns `partner`'s eSIMs (`esims assign`, the directory's partner_id) since
/// `since`: their deliveries, conflicts and alerts, read from the period's listings (not the hourly counts,
/// which know no owner); exact duplicates are not told apart per eSIM, so they are absent.
pub async fn partner_stats(
    store: &dyn StoreQuery,
    since: DateTime<Utc>,
    provider: Option<ProviderId>,
    partner: &PartnerId,
    now: DateTime<Utc>,
) -> Result<BTreeMap<ProviderId, ProviderStats>, String> {
    let failed = |e: shared::store::StoreError| e.to_string();
    let query = ListQuery {
        provider,
        since: Some(since),
        until: Some(now + Duration::minutes(1)),
        limit: None,
    };
    let owned = owned_esims(store, provider, partner, now).await?;
    let mine = |provider: ProviderId, esim: Option<&shared::model::EsimIdentity>| {
        esim.is_some_and(|e| owned.contains(&(provider, e.key.clone())))
    };
    let deliveries: Vec<_> = store.list_deliveries(&query).await.map_err(failed)?;
    let deliveries: Vec<_> = deliveries
        .into_iter()
        .filter(|d| mine(d.event.provider, d.event.esim.as_ref()))
        .collect();
    let conflicts: Vec<_> = store.list_conflicts(&query).await.map_err(failed)?;
    let conflicts: Vec<_> = conflicts
        .into_iter()
        .filter(|c| mine(c.event.provider, c.event.esim.as_ref()))
        .collect();
    let alerts: Vec<_> = store.list_alerts(&query).await.map_err(failed)?;
    let alerts: Vec<_> = alerts
        .into_iter()
        .filter(|a| a.alert.partner_id.as_ref() == Some(partner) || mine(a.alert.provider, a.alert.esim.as_ref()))
        .collect();
    let counts = count_by_hour(&deliveries);
    Ok(assemble(&query, &counts, &conflicts, None, count_alerts(&alerts)))
}

/// The eSIMs `partner` owns now, by provider and key.
async fn owned_esims(
    store: &dyn StoreQuery,
    provider: Option<ProviderId>,
    partner: &PartnerId,
    now: DateTime<Utc>,
) -> Result<BTreeSet<(ProviderId, String)>, String> {
    const PAGE: usize = 1000;
    let filter = FleetFilter {
        window: ListQuery {
            provider,
            since: None,
            until: Some(now + Duration::minutes(1)),
            limit: None,
        },
        partner: Some(partner.clone()),
        ..FleetFilter::default()
    };
    let mut owned = BTreeSet::new();
    for offset in (0..).step_by(PAGE) {
        let page = store.fleet(&filter, offset, PAGE).await.map_err(|e| e.to_string())?;
        owned.extend(page.rows.into_iter().map(|s| (s.provider, s.key)));
        if !page.more {
            break;
        }
    }
    Ok(owned)
}

/// One row per provider (the query's, or all) from what was read.
fn assemble(
    query: &ListQuery,
    counts: &[HourCounts],
    conflicts: &[StoredConflict],
    duplicates: Option<BTreeMap<ProviderId, u64>>,
    alerts: BTreeMap<ProviderId, AlertCounts>,
) -> BTreeMap<ProviderId, ProviderStats> {
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
    for c in conflicts {
        all.entry(c.event.provider).or_default().conflicts += c.count;
    }
    if let Some(duplicates) = duplicates {
        for (provider, row) in &mut all {
            let copies = duplicates.get(provider).copied().unwrap_or(0);
            row.duplicates = Some(copies);
            row.received = Some(row.stored + copies + row.conflicts);
        }
    }
    for (provider, counts) in alerts {
        let row = all.entry(provider).or_default();
        row.alerts += counts.alerts;
        row.alerts_sent += counts.sent;
        row.notifications_sent += counts.notifications_sent;
        row.notifications_failed += counts.notifications_failed;
    }
    all
}

pub async fn run(
    args: &StatsArgs,
    store: &dyn StoreQuery,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), String> {
    let since = parse_since(&args.since, now)?;
    let partner = args
        .partner
        .as_deref()
        .map(|p| PartnerId::parse(p.trim()).ok_or_else(|| format!("--partner {p}: not a partner id")))
        .transpose()?;
    let all = match &partner {
        Some(partner) => partner_stats(store, since, args.provider, partner, now).await?,
        None => stats(store, since, args.provider, now).await?,
    };
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
