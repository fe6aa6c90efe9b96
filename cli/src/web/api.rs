//! The console's JSON routes. Each takes the query string's parameters and answers what one page shows.

use super::Console;
use crate::listing::{parse_since, FleetArgs};
use crate::timeline::{timelines, TimelineArgs};
use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{json, Value};
use shared::callbacks::registry::CallbackRegistry;
use shared::callbacks::sender::AttemptLog;
use shared::model::{DedupeKey, ProviderId};
use shared::store::read::hour_of;
use shared::store::{ListQuery, StoredDelivery};
use std::collections::{BTreeMap, HashMap};

pub struct Problem {
    pub status: StatusCode,
    pub message: String,
}

fn bad(message: impl Into<String>) -> Problem {
    Problem {
        status: StatusCode::BAD_REQUEST,
        message: message.into(),
    }
}

fn not_found(message: impl Into<String>) -> Problem {
    Problem {
        status: StatusCode::NOT_FOUND,
        message: message.into(),
    }
}

fn failed(e: impl std::fmt::Display) -> Problem {
    Problem {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: e.to_string(),
    }
}

type Params = HashMap<String, String>;

fn param<'a>(p: &'a Params, name: &str) -> Option<&'a str> {
    p.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn provider(p: &Params) -> Result<Option<ProviderId>, Problem> {
    param(p, "provider")
        .map(|name| crate::provider_arg(name).map_err(bad))
        .transpose()
}

fn window(c: &Console, p: &Params, default: &str) -> Result<ListQuery, Problem> {
    let now = c.clock.now();
    Ok(ListQuery {
        provider: provider(p)?,
        since: Some(parse_since(param(p, "since").unwrap_or(default), now).map_err(bad)?),
        until: Some(now + Duration::minutes(1)),
        limit: None,
    })
}

/// Deliveries per provider per hour, outcomes, alerts and customer messages, and the deliveries showing schema
/// drift (one click from the overview).
pub async fn overview(c: &Console, p: &Params) -> Result<Value, Problem> {
    let query = window(c, p, "24h")?;
    let now = c.clock.now();
    let since = query.since.unwrap_or(now);
    let counts = c.opened.query.delivery_counts(&query).await.map_err(failed)?;
    let totals = crate::stats::tally(c.opened.query.as_ref(), &query, &counts)
        .await
        .map_err(failed)?;
    let mut hours = Vec::new();
    let mut at = hour_of(since);
    while at <= now && hours.len() < 24 * 31 {
        hours.push(at);
        at += Duration::hours(1);
    }
    let mut series: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for count in &counts {
        let row = series
            .entry(count.provider.to_string())
            .or_insert_with(|| vec![0; hours.len()]);
        if let Some(i) = hours.iter().position(|h| *h == count.hour) {
            row[i] += count.stored;
        }
    }
    let drifting: Vec<Value> = c
        .opened
        .query
        .drifting(&query, 50)
        .await
        .map_err(failed)?
        .iter()
        .map(|d| {
            let e = &d.event;
            json!({"provider": e.provider, "dedupe_key": e.dedupe_key, "received_at": e.received_at,
                "kind": e.kind.as_str(), "flags": e.flags})
        })
        .collect();
    Ok(json!({"since": since, "hours": hours, "series": series, "providers": totals, "drifting": drifting}))
}

/// The timeline of every eSIM `q` names (ICCID, key or reference), with its usage curve.
pub async fn esim(c: &Console, p: &Params) -> Result<Value, Problem> {
    let wanted = param(p, "q")
        .ok_or_else(|| bad("search for an ICCID, an eSIM reference, an order reference or a customer id"))?;
    let args = TimelineArgs {
        esim: wanted.to_string(),
        provider: provider(p)?,
        since: param(p, "since").unwrap_or("90d").to_string(),
        json: true,
    };
    let found = timelines(&args, c.opened.query.as_ref(), c.clock.now())
        .await
        .map_err(not_found)?;
    serde_json::to_value(found).map_err(failed)
}

/// eSIMs below a level, ending soon, in a lifecycle, by provider: a page of them, read through the store's
/// fleet indexes.
pub async fn fleet(c: &Console, p: &Params) -> Result<Value, Problem> {
    let window = window(c, p, "400d")?;
    let flags = FleetArgs {
        below: param(p, "below")
            .map(|b| b.parse().map_err(|_| bad("below is a percent")))
            .transpose()?,
        ending_within: param(p, "ending_within").map(str::to_string),
        lifecycle: param(p, "lifecycle").map(str::to_string),
        partner: param(p, "partner").map(str::to_string),
    };
    let number = |name: &str, default: usize| {
        param(p, name).map_or(Ok(default), |v| {
            v.parse::<usize>().map_err(|_| bad(format!("{name} is a number")))
        })
    };
    let (limit, offset) = (number("limit", 50)?.clamp(1, 200), number("offset", 0)?);
    let filter = flags.filter(&window, c.clock.now()).map_err(bad)?;
    let page = c.opened.query.fleet(&filter, offset, limit).await.map_err(failed)?;
    let rows: Vec<Value> = page
        .rows
        .into_iter()
        .map(|s| {
            json!({"provider": s.provider, "key": s.key, "iccid": s.iccid, "updated_at": s.updated_at,
                "lifecycle": s.status.as_ref().map(|f| f.value.lifecycle), "partner": s.owner,
                "data_left_percent": s.usage.as_ref().and_then(|f| f.value.remaining_ratio).map(|r| (r * 1000.0).round() / 10.0),
                "ends_at": s.expires_at()})
        })
        .collect();
    Ok(json!({"offset": offset, "limit": limit, "more": page.more, "rows": rows}))
}

/// The delivery `provider` and `key` name.
async fn stored(c: &Console, p: &Params) -> Result<(ProviderId, DedupeKey, StoredDelivery), Problem> {
    let provider = provider(p)?.ok_or_else(|| bad("provider is required"))?;
    let key = DedupeKey::provider_id(param(p, "key").ok_or_else(|| bad("key (the dedupe key) is required"))?);
    let found = c.opened.query.delivery(provider, &key).await.map_err(failed)?;
    let stored = found.ok_or_else(|| not_found(format!("no {provider} delivery {}", key.as_str())))?;
    Ok((provider, key, stored))
}

/// The normalized event without its raw body (shown beside it).
fn normalized(event: &shared::model::Event) -> Value {
    let mut value = serde_json::to_value(event).unwrap_or_default();
    if let Some(fields) = value.as_object_mut() {
        fields.remove("raw");
        fields.remove("raw_padding");
    }
    value
}

/// One delivery: the raw payload exactly as received, and what it was normalized to.
pub async fn event(c: &Console, p: &Params) -> Result<Value, Problem> {
    let (provider, key, stored) = stored(c, p).await?;
    Ok(
        json!({"provider": provider, "dedupe_key": key, "status": stored.status.as_str(),
        "completed_at": stored.completed_at, "raw": stored.event.raw_body(), "normalized": normalized(&stored.event)}),
    )
}

/// Replays one delivery through the current normalizer and the pipeline (forced: state and alerts are applied
/// again, an alert already sent is not sent again) and says what changed.
pub async fn replay(c: &Console, p: &Params) -> Result<Value, Problem> {
    let (provider, key, stored) = stored(c, p).await?;
    let renormalized = shared::replay::renormalize(&stored.event).map_err(|e| bad(e.to_string()))?;
    let (before, after) = (normalized(&stored.event), normalized(&renormalized));
    let fields: Vec<&String> = match (before.as_object(), after.as_object()) {
        (Some(b), Some(a)) => a.keys().chain(b.keys()).filter(|k| a.get(*k) != b.get(*k)).collect(),
        _ => Vec::new(),
    };
    let mut changed_fields: Vec<&String> = fields;
    changed_fields.sort();
    changed_fields.dedup();
    let outcome = shared::replay::replay_one(&c.pipeline, &stored.event, true)
        .await
        .map_err(failed)?;
    Ok(json!({"provider": provider, "dedupe_key": key,
        "result": match outcome { shared::replay::Replayed::Changed => "changed", shared::replay::Replayed::Unchanged => "unchanged" },
        "changed_fields": changed_fields, "normalized": after}))
}

pub async fn conflicts(c: &Console, p: &Params) -> Result<Value, Problem> {
    let query = window(c, p, "30d")?;
    let rows = c.opened.query.list_conflicts(&query).await.map_err(failed)?;
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"provider": r.event.provider, "dedupe_key": r.event.dedupe_key, "count": r.count,
            "first_seen_at": r.first_seen_at, "last_seen_at": r.last_seen_at, "payload_sha256": r.event.payload_sha256})
        })
        .collect();
    Ok(json!({"rows": rows}))
}

/// Partner endpoints and their recent attempts (the local store; the deployed ones: `partners attempts`).
pub async fn partners(c: &Console, _p: &Params) -> Result<Value, Problem> {
    let Some(store) = c.opened.local.as_ref() else {
        return Ok(
            json!({"partners": [], "note": "partner endpoints of the deployed stack: esimhooks partners attempts <id> --table …"}),
        );
    };
    let now = c.clock.now();
    let mut rows = Vec::new();
    for partner in store.partners().await.map_err(failed)? {
        let mut endpoints = Vec::new();
        for r in store.registrations(&partner.id).await.map_err(failed)? {
            let endpoint = store.endpoint(&r.url).await.map_err(failed)?;
            endpoints.push(json!({"notification_type": r.notification_type.name(), "url": r.url,
                "failing_since": endpoint.as_ref().and_then(|e| e.failing_since),
                "disabled_at": endpoint.as_ref().and_then(|e| e.disabled_at)}));
        }
        let attempts = store
            .attempts(&partner.id, now - Duration::days(30), now + Duration::seconds(1), 10)
            .await
            .map_err(failed)?;
        rows.push(json!({"id": partner.id, "name": partner.name, "scope": partner.scope, "endpoints": endpoints, "attempts": attempts}));
    }
    Ok(json!({"partners": rows}))
}
