//! The read port ([`StoreQuery`]) on the table. Listings query every shard of a day's bucket in the listing
//! index (keys, provider and eSIM only), merge them newest first, then read the items they name in batches.

use super::items::{from_item, ClaimRecord, StateItem};
use super::{get_n, get_s, item_key, key_of, parse_alert_status, parse_delivery_status, s, unavailable};
use super::{DynamoStore, Item, ASKING_INDEX, LISTING_INDEX};
use crate::model::{DedupeKey, Event, ProviderId};
use crate::records::NotificationRecord;
use crate::state::EsimState;
use crate::store::keys::{
    alert_pk, asking_buckets, delivery_pk, is_routine_ask, listing_buckets, sort_instant, sort_range, state_pk,
    window_range, Listing, DELIVERY_SK, NOTIFY_PREFIX, STATE_SK,
};
use crate::store::{EventStore, ListQuery, StoreError, StoreQuery, StoredAlert, StoredConflict, StoredDelivery};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

fn instant(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.to_utc())
}

fn delivery_from_item(item: Item) -> Result<StoredDelivery, StoreError> {
    let record: ClaimRecord = from_item(item)?;
    Ok(StoredDelivery {
        status: parse_delivery_status(Some(&record.status)),
        lease_until: record.lease_until.and_then(DateTime::from_timestamp_millis),
        completed_at: instant(record.completed_at.as_deref()),
        event: record.event()?,
        attempt: record.attempt,
        last_error: record.last_error,
    })
}

fn alert_from_item(item: Item) -> Result<StoredAlert, StoreError> {
    let record: ClaimRecord = from_item(item)?;
    Ok(StoredAlert {
        status: parse_alert_status(Some(&record.status)),
        lease_until: record.lease_until.and_then(DateTime::from_timestamp_millis),
        sent_at: instant(record.sent_at.as_deref()),
        alert: record.alert()?,
        attempt: record.attempt,
        receipt: record.receipt,
        notifications: Vec::new(),
    })
}

/// A conflict record; one written before conflicts were counted has no count or times: seen once, then
/// (`compat::conflicts`).
fn conflict_from_item(item: Item) -> Result<StoredConflict, StoreError> {
    let count = get_n(&item, "count");
    let first = instant(get_s(&item, "first_seen_at"));
    let last = instant(get_s(&item, "last_seen_at"));
    let record: ClaimRecord = from_item(item)?;
    let event: Event = record.event()?;
    let (count, first_seen_at, last_seen_at) = crate::compat::conflicts::seen(count, first, last, event.received_at);
    Ok(StoredConflict {
        count,
        first_seen_at,
        last_seen_at,
        event,
    })
}

impl DynamoStore {
    /// The listing index's entries of `listing` in the query's window, newest first, of its provider only,
    /// at most its limit: one day at a time, every shard of the day at once.
    async fn listed(&self, listing: Listing, query: &ListQuery) -> Result<Vec<Item>, StoreError> {
        let until = query.until.unwrap_or_else(Utc::now);
        let since = query
            .since
            .unwrap_or(until - Duration::days(7))
            .max(until - Duration::days(400));
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut entries = Vec::new();
        let mut day = until;
        while day.date_naive() >= since.date_naive() && entries.len() < limit {
            let buckets = listing_buckets(listing, day)
                .into_iter()
                .map(|b| (b, "gsi1pk"))
                .collect();
            // Each bucket's newest `wanted` hold the day's newest `wanted`; a provider filter reads them all.
            let wanted = (query.provider.is_none() && limit != usize::MAX).then(|| limit - entries.len());
            let mut found = self
                .query_buckets(LISTING_INDEX, buckets, window_range(since, until), wanted)
                .await?;
            found.retain(|entry| {
                query
                    .provider
                    .is_none_or(|p| get_s(entry, "provider") == Some(p.as_str()))
            });
            found.sort_by_cached_key(|entry| {
                std::cmp::Reverse((sort_instant(get_s(entry, "gsi1sk").unwrap_or_default()), key_of(entry)))
            });
            entries.extend(found);
            day -= Duration::days(1);
        }
        entries.truncate(limit);
        Ok(entries)
    }

    /// An alert's notifications: the items beside it in its partition, one `begins_with` query.
    pub(crate) async fn alert_notifications(&self, alert_id: &str) -> Result<Vec<NotificationRecord>, StoreError> {
        let mut pages = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(alert_pk(alert_id)))
            .expression_attribute_values(":prefix", s(NOTIFY_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut records = Vec::new();
        while let Some(item) = pages.next().await {
            records.push(from_item::<ClaimRecord>(item.map_err(unavailable)?)?.notification()?);
        }
        Ok(records)
    }

    /// The items the entries name, in the entries' order.
    async fn items_of(&self, entries: &[Item]) -> Result<Vec<Item>, StoreError> {
        let keys = entries
            .iter()
            .map(|e| {
                let (pk, sk) = key_of(e);
                item_key(pk, &sk)
            })
            .collect();
        let mut found = self.get_items(keys).await?;
        Ok(entries.iter().filter_map(|e| found.remove(&key_of(e))).collect())
    }
}

fn admitted<T>(
    items: Vec<Item>,
    query: &ListQuery,
    parse: impl Fn(Item) -> Result<T, StoreError>,
    at: impl Fn(&T) -> (ProviderId, DateTime<Utc>),
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for item in items {
        let value = parse(item)?;
        let (provider, when) = at(&value);
        if query.admits(provider, when) {
            out.push(value);
        }
    }
    Ok(out)
}

/// How far back the asking index is read: entries are filed no earlier than when they are written, and each
/// pass takes those due, so only a scheduler paused this long leaves entries behind (`esimhooks reconcile
/// --refile` files every state again).
pub const ASKING_INDEX_LOOKBACK: Duration = Duration::hours(48);

#[async_trait]
impl StoreQuery for DynamoStore {
    async fn esim_state(&self, provider: ProviderId, key: &str) -> Result<Option<EsimState>, StoreError> {
        Ok(EventStore::load_state(self, provider, key).await?.map(|v| v.value))
    }

    /// The asking index of the provider, every shard of every hour from [`ASKING_INDEX_LOOKBACK`] before
    /// `until` through `until`.
    async fn filed_to_ask(
        &self,
        provider: ProviderId,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<EsimState>, StoreError> {
        let since = until - ASKING_INDEX_LOOKBACK;
        let mut buckets = Vec::new();
        let mut hour = since;
        while hour.format("%Y-%m-%dT%H").to_string() <= until.format("%Y-%m-%dT%H").to_string() {
            buckets.extend(asking_buckets(provider, hour).into_iter().map(|b| (b, "gsi3pk")));
            hour += Duration::hours(1);
        }
        // A routine entry at `until` itself ends in a suffix: the range takes it too.
        let (from, to) = sort_range(since, until);
        let mut entries = self
            .query_buckets(ASKING_INDEX, buckets, (from, format!("{to}~")), None)
            .await?;
        // Those filed for a level or a plan's end first, then the routine ones; each earliest first.
        entries.sort_by_cached_key(|entry| {
            let sk = get_s(entry, "gsi3sk").unwrap_or_default().to_string();
            (is_routine_ask(&sk), sk)
        });
        entries.truncate(limit);
        let keys = entries
            .iter()
            .filter_map(|entry| Some(item_key(get_s(entry, "pk")?.to_string(), STATE_SK)))
            .collect();
        let mut found = self.get_items(keys).await?;
        let mut states = Vec::new();
        for entry in &entries {
            let Some(item) = get_s(entry, "pk").and_then(|pk| found.remove(&(pk.to_string(), STATE_SK.to_string())))
            else {
                continue;
            };
            let state: EsimState = from_item::<StateItem>(item)?.state()?;
            if state.asking.as_ref().and_then(|a| a.next).is_some_and(|at| at <= until) {
                states.push(state);
            }
        }
        Ok(states)
    }

    async fn delivery(
        &self,
        provider: ProviderId,
        dedupe_key: &DedupeKey,
    ) -> Result<Option<StoredDelivery>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key(delivery_pk(provider, dedupe_key.as_str()), DELIVERY_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(super::unavailable)?;
        output.item.map(delivery_from_item).transpose()
    }

    async fn list_deliveries(&self, query: &ListQuery) -> Result<Vec<StoredDelivery>, StoreError> {
        let entries = self.listed(Listing::Deliveries, query).await?;
        admitted(self.items_of(&entries).await?, query, delivery_from_item, |d| {
            (d.event.provider, d.event.received_at)
        })
    }

    /// States have no index entry of their own (a save would move it): the eSIMs of the window's deliveries,
    /// each read once, keeping those whose last update falls in the window. A state's `updated_at` is the
    /// receipt time of the delivery that last changed it, so none is missed.
    async fn list_states(&self, query: &ListQuery) -> Result<Vec<EsimState>, StoreError> {
        let every = ListQuery {
            limit: None,
            ..query.clone()
        };
        let entries = self.listed(Listing::Deliveries, &every).await?;
        let mut seen = std::collections::HashSet::new();
        let keys: Vec<Item> = entries
            .iter()
            .filter_map(|e| Some(state_pk(get_s(e, "provider")?, get_s(e, "esim_key")?)))
            .filter(|pk| seen.insert(pk.clone()))
            .map(|pk| item_key(pk, STATE_SK))
            .collect();
        let items = self.get_items(keys).await?.into_values().collect();
        let mut states = admitted(
            items,
            query,
            |item| from_item::<StateItem>(item)?.state(),
            |s: &EsimState| (s.provider, s.updated_at),
        )?;
        states.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then_with(|| a.key.cmp(&b.key)));
        states.truncate(query.limit.unwrap_or(usize::MAX));
        Ok(states)
    }

    async fn list_alerts(&self, query: &ListQuery) -> Result<Vec<StoredAlert>, StoreError> {
        let entries = self.listed(Listing::Alerts, query).await?;
        let mut alerts = admitted(self.items_of(&entries).await?, query, alert_from_item, |a| {
            (a.alert.provider, a.alert.raised_at)
        })?;
        // Each alert's notifications share its partition: one query per alert listed.
        for alert in &mut alerts {
            alert.notifications = self.alert_notifications(&alert.alert.alert_id).await?;
        }
        Ok(alerts)
    }

    async fn list_conflicts(&self, query: &ListQuery) -> Result<Vec<StoredConflict>, StoreError> {
        let entries = self.listed(Listing::Conflicts, query).await?;
        admitted(self.items_of(&entries).await?, query, conflict_from_item, |c| {
            (c.event.provider, c.last_seen_at)
        })
    }
}
