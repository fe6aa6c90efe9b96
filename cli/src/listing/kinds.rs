//! One `esimhooks events|esims|alerts|conflicts` listing each: what is read and the table it prints.

use super::{cut, histories, more_rows, print_json, print_table, time, told, FleetArgs, ListArgs};
use chrono::{DateTime, Utc};
use shared::store::read::{gone, identity_named};
use shared::store::{ListQuery, StoreError, StoreQuery};
use std::io::Write;

fn failed(e: StoreError) -> String {
    e.to_string()
}

fn dash() -> String {
    "-".to_string()
}

/// Deliveries, newest first.
pub(super) async fn events(
    args: &ListArgs,
    query: &ListQuery,
    store: &dyn StoreQuery,
    out: &mut impl Write,
) -> Result<(), String> {
    let wanted = args.iccid.as_deref();
    let mut rows = match wanted {
        None => store.list_deliveries(query).await.map_err(failed)?,
        Some(name) => histories(store, name, query)
            .await?
            .into_iter()
            .flat_map(|h| h.deliveries)
            .collect(),
    };
    rows.sort_by_key(|d| std::cmp::Reverse(d.event.received_at));
    let rows = cut(rows, args.limit);
    if args.json {
        return print_json(out, &rows);
    }
    let table = rows
        .iter()
        .map(|d| {
            let e = &d.event;
            vec![
                time(e.received_at),
                e.provider.to_string(),
                e.kind.as_str().into(),
                e.provider_event_type.clone().unwrap_or_else(dash),
                e.esim.as_ref().map(|x| x.key.clone()).unwrap_or_else(dash),
                d.status.as_str().into(),
                e.dedupe_key.to_string(),
            ]
        })
        .collect();
    print_table(
        out,
        &["RECEIVED", "PROVIDER", "KIND", "TYPE", "ESIM", "STATUS", "DEDUPE KEY"],
        table,
    )
}

/// eSIM states as the fleet filter picks them.
pub(super) async fn esims(
    args: &ListArgs,
    query: &ListQuery,
    fleet: &FleetArgs,
    now: DateTime<Utc>,
    store: &dyn StoreQuery,
    out: &mut impl Write,
) -> Result<(), String> {
    let wanted = args.iccid.as_deref();
    let filter = fleet.filter(query, now)?;
    let rows = match wanted {
        None => {
            let page = store.fleet(&filter, 0, args.limit).await.map_err(failed)?;
            if page.more {
                more_rows(args.limit);
            }
            page.rows
        }
        Some(name) => {
            let states = histories(store, name, query).await?.into_iter().filter_map(|h| h.state);
            let page = filter.page_of(states.collect(), 0, args.limit);
            if page.more {
                more_rows(args.limit);
            }
            page.rows
        }
    };
    if args.json {
        return print_json(out, &rows);
    }
    let table = rows
        .iter()
        .map(|s| {
            vec![
                time(s.updated_at),
                s.provider.to_string(),
                s.key.clone(),
                s.iccid.clone().unwrap_or_else(dash),
                s.status
                    .as_ref()
                    .map(|f| f.value.provider_status.clone())
                    .unwrap_or_else(dash),
                s.usage
                    .as_ref()
                    .and_then(|f| f.value.remaining_ratio)
                    .filter(|_| !gone(s))
                    .map(|r| format!("{:.1}%", r * 100.0))
                    .unwrap_or_else(dash),
                s.expires_at().filter(|_| !gone(s)).map(time).unwrap_or_else(dash),
            ]
        })
        .collect();
    print_table(
        out,
        &["UPDATED", "PROVIDER", "ESIM", "ICCID", "STATUS", "DATA LEFT", "EXPIRES"],
        table,
    )
}

/// Alerts raised, newest first, with who was told.
pub(super) async fn alerts(
    args: &ListArgs,
    query: &ListQuery,
    store: &dyn StoreQuery,
    out: &mut impl Write,
) -> Result<(), String> {
    let wanted = args.iccid.as_deref();
    let mut rows = match wanted {
        None => store.list_alerts(query).await.map_err(failed)?,
        Some(name) => histories(store, name, query)
            .await?
            .into_iter()
            .flat_map(|h| h.alerts)
            .collect(),
    };
    rows.sort_by_key(|a| std::cmp::Reverse(a.alert.raised_at));
    let rows = cut(rows, args.limit);
    if args.json {
        return print_json(out, &rows);
    }
    let table = rows
        .iter()
        .map(|a| {
            vec![
                time(a.alert.raised_at),
                a.alert.provider.to_string(),
                a.alert.alert_type.as_str().into(),
                a.alert.level.clone(),
                a.alert.esim.as_ref().map(|e| e.key.clone()).unwrap_or_else(dash),
                a.status.as_str().into(),
                told(&a.notifications).unwrap_or_else(dash),
            ]
        })
        .collect();
    print_table(
        out,
        &["RAISED", "PROVIDER", "TYPE", "LEVEL", "ESIM", "STATUS", "CUSTOMER TOLD"],
        table,
    )
}

/// Deliveries whose key came again with other bytes.
pub(super) async fn conflicts(
    args: &ListArgs,
    query: &ListQuery,
    store: &dyn StoreQuery,
    out: &mut impl Write,
) -> Result<(), String> {
    let wanted = args.iccid.as_deref();
    let rows = store.list_conflicts(query).await.map_err(failed)?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|c| wanted.is_none_or(|w| identity_named(c.event.esim.as_ref(), w)))
        .collect();
    let rows = cut(rows, args.limit);
    if args.json {
        return print_json(out, &rows);
    }
    let table = rows
        .iter()
        .map(|c| {
            vec![
                time(c.last_seen_at),
                c.event.provider.to_string(),
                c.event.dedupe_key.to_string(),
                c.event.payload_sha256.to_string(),
                c.count.to_string(),
                time(c.first_seen_at),
            ]
        })
        .collect();
    print_table(
        out,
        &[
            "LAST SEEN",
            "PROVIDER",
            "DEDUPE KEY",
            "PAYLOAD SHA256",
            "COUNT",
            "FIRST SEEN",
        ],
        table,
    )
}
