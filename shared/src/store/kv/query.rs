//! The read side of the key-value store: every listing, timeline and fleet page reads a range of one index
//! ([`crate::store::index`]), never a whole space.

use crate::model::{DedupeKey, ProviderId};
use crate::records::NotificationRecord;
use crate::state::EsimState;
use crate::store::index::IndexRange;
use crate::store::keys::{
    by_provider, delivery_key, esim_entry, esim_prefix, lifecycle_prefix, sort_ratio, sort_time, state_key, told_index,
    HOUR_PREFIX,
};
use crate::store::kv::{conflict_from_doc, Aliases, DuplicateCount, KvBackend, KvStore, Space, StoredState};
use crate::store::read::{
    identity_named, names_esim, AlertCounts, EsimHistory, EsimName, FleetFilter, FleetPage, HourCounts,
};
use crate::store::{ListQuery, StoreError, StoreQuery, StoredAlert, StoredConflict, StoredDelivery};
use async_trait::async_trait;
use chrono::{DateTime, Duration};
use std::collections::{BTreeMap, BTreeSet};

/// At most how many index entries a fleet page reads at a time while its filters drop rows.
const FLEET_BATCH: usize = 1024;

/// The `time` range of a window, newest first, cut at its limit.
fn window_range(query: &ListQuery) -> IndexRange {
    let from = query.since.map(sort_time).unwrap_or_default();
    let to = query.until.map_or_else(|| "\u{10FFFF}".to_string(), sort_time);
    IndexRange::new(by_provider("time", query.provider), from, to).page(0, query.limit.unwrap_or(usize::MAX))
}

/// The providers a window covers.
fn providers(window: &ListQuery) -> impl Iterator<Item = ProviderId> + '_ {
    ProviderId::ALL
        .iter()
        .copied()
        .filter(|p| window.provider.is_none_or(|only| only == *p))
}

impl<B: KvBackend> KvStore<B> {
    fn notifications_of(&self, alert_id: &str) -> Result<Vec<NotificationRecord>, StoreError> {
        let mut told: Vec<NotificationRecord> =
            self.read_range(Space::NOTIFICATIONS, &IndexRange::exact("alert", alert_id))?;
        told.sort_by_key(|n| n.channel);
        Ok(told)
    }

    fn with_notifications(&self, mut alerts: Vec<StoredAlert>) -> Result<Vec<StoredAlert>, StoreError> {
        for alert in &mut alerts {
            alert.notifications = self.notifications_of(&alert.alert.alert_id)?;
        }
        Ok(alerts)
    }

    /// The range a fleet filter is best read through, in the order its page is shown.
    fn fleet_range(filter: &FleetFilter) -> IndexRange {
        let provider = filter.window.provider;
        if let Some((after, until)) = filter.ending {
            let nanosecond = Duration::nanoseconds(1);
            IndexRange::new(
                by_provider("expires", provider),
                sort_time(after + nanosecond),
                sort_time(until + nanosecond),
            )
            .oldest_first()
        } else if let Some(below) = filter.below_percent {
            // A hair over the bound, as the text rounds to six places; `admits` draws the exact line.
            IndexRange::new(
                by_provider("left", provider),
                String::new(),
                sort_ratio(below / 100.0 + 1e-6),
            )
            .oldest_first()
        } else if let Some(lifecycle) = filter.lifecycle {
            IndexRange::prefix(
                by_provider("lifecycle", provider),
                &lifecycle_prefix(lifecycle.as_str()),
            )
        } else {
            window_range(&ListQuery {
                limit: None,
                ..filter.window.clone()
            })
        }
    }
}

#[async_trait]
impl<B: KvBackend> StoreQuery for KvStore<B>
where
    Self: Aliases,
{
    async fn delivery(
        &self,
        provider: ProviderId,
        dedupe_key: &DedupeKey,
    ) -> Result<Option<StoredDelivery>, StoreError> {
        self.read(Space::DELIVERIES, &delivery_key(provider, dedupe_key.as_str()))
    }

    async fn esim_state(&self, provider: ProviderId, key: &str) -> Result<Option<EsimState>, StoreError> {
        let stored: Option<StoredState> = self.read(Space::STATES, &state_key(provider, key))?;
        Ok(stored.map(|s| s.state))
    }

    async fn list_deliveries(&self, query: &ListQuery) -> Result<Vec<StoredDelivery>, StoreError> {
        self.read_range(Space::DELIVERIES, &window_range(query))
    }

    async fn list_states(&self, query: &ListQuery) -> Result<Vec<EsimState>, StoreError> {
        let stored: Vec<StoredState> = self.read_range(Space::STATES, &window_range(query))?;
        Ok(stored.into_iter().map(|s| s.state).collect())
    }

    async fn list_alerts(&self, query: &ListQuery) -> Result<Vec<StoredAlert>, StoreError> {
        let alerts = self.read_range(Space::ALERTS, &window_range(query))?;
        self.with_notifications(alerts)
    }

    async fn list_conflicts(&self, query: &ListQuery) -> Result<Vec<StoredConflict>, StoreError> {
        self.backend()
            .range(Space::CONFLICTS, &window_range(query))?
            .iter()
            .map(|doc| conflict_from_doc(doc))
            .collect()
    }

    async fn esims_named(&self, name: &str, window: &ListQuery) -> Result<Vec<EsimName>, StoreError> {
        let mut names = self.aliases(name)?;
        names.insert((None, name.to_string()));
        let mut found: BTreeSet<EsimName> = BTreeSet::new();
        for (of, name) in &names {
            let wanted = |p: ProviderId| window.provider.is_none_or(|w| w == p) && of.is_none_or(|o| o == p);
            let mut add = |provider: ProviderId, key: &str, iccid: Option<&String>| {
                if wanted(provider) && !found.iter().any(|f| f.provider == provider && f.key == key) {
                    found.insert(EsimName {
                        provider,
                        key: key.to_string(),
                        iccid: iccid.cloned(),
                    });
                }
            };
            let states: Vec<StoredState> = self.read_range(Space::STATES, &IndexRange::exact("name", name))?;
            for s in states.iter().map(|s| &s.state) {
                if names_esim(&s.key, s.iccid.as_deref(), &s.refs, name) && window.admits(s.provider, s.updated_at) {
                    add(s.provider, &s.key, s.iccid.as_ref());
                }
            }
            let deliveries: Vec<StoredDelivery> =
                self.read_range(Space::DELIVERIES, &IndexRange::exact("name", name))?;
            for d in deliveries
                .iter()
                .filter(|d| window.admits(d.event.provider, d.event.received_at))
            {
                if let Some(id) = d
                    .event
                    .esim
                    .as_ref()
                    .filter(|_| identity_named(d.event.esim.as_ref(), name))
                {
                    add(d.event.provider, &id.key, id.iccid.as_ref());
                }
            }
        }
        Ok(found.into_iter().collect())
    }

    async fn esim_history(
        &self,
        provider: ProviderId,
        key: &str,
        window: &ListQuery,
    ) -> Result<EsimHistory, StoreError> {
        let prefix = esim_prefix(provider, key);
        let from = window
            .since
            .map_or_else(|| prefix.clone(), |t| esim_entry(provider, key, t));
        let to = window
            .until
            .map_or_else(|| format!("{prefix}\u{10FFFF}"), |t| esim_entry(provider, key, t));
        let range = IndexRange::new("esim", from, to).oldest_first();
        let deliveries = self.read_range(Space::DELIVERIES, &range)?;
        let alerts = self.with_notifications(self.read_range(Space::ALERTS, &range)?)?;
        Ok(EsimHistory {
            deliveries,
            alerts,
            state: self.esim_state(provider, key).await?,
        })
    }

    async fn delivery_counts(&self, window: &ListQuery) -> Result<Vec<HourCounts>, StoreError> {
        let mut counts: BTreeMap<(ProviderId, String), HourCounts> = BTreeMap::new();
        for provider in providers(window) {
            let one = ListQuery {
                provider: Some(provider),
                limit: None,
                ..window.clone()
            };
            for (index, field) in [("time", 0), ("unrecognized", 1), ("drift", 2)] {
                let range = IndexRange {
                    index: by_provider(index, Some(provider)),
                    ..window_range(&one)
                };
                for (hour, n) in self.backend().histogram(Space::DELIVERIES, &range, HOUR_PREFIX)? {
                    let at = DateTime::parse_from_rfc3339(&format!("{hour}:00:00Z"))
                        .map_err(|e| StoreError::Corrupt(format!("deliveries index hour {hour}: {e}")))?
                        .to_utc();
                    let row = counts
                        .entry((provider, hour))
                        .or_insert_with(|| HourCounts::none(provider, at));
                    *[&mut row.stored, &mut row.unrecognized, &mut row.schema_drift][field] += n;
                }
            }
        }
        Ok(counts.into_values().collect())
    }

    async fn alert_counts(&self, window: &ListQuery) -> Result<BTreeMap<ProviderId, AlertCounts>, StoreError> {
        use crate::records::NotificationStatus;
        let mut counts = BTreeMap::new();
        for provider in providers(window) {
            let count = |space: Space, index: String| -> Result<u64, StoreError> {
                let range = IndexRange {
                    index,
                    ..window_range(window)
                };
                Ok(self.backend().histogram(space, &range, 0)?.iter().map(|(_, n)| n).sum())
            };
            let row = AlertCounts {
                alerts: count(Space::ALERTS, by_provider("time", Some(provider)))?,
                sent: count(Space::ALERTS, by_provider("sent", Some(provider)))?,
                notifications_sent: count(Space::NOTIFICATIONS, told_index(NotificationStatus::Sent, provider))?,
                notifications_failed: count(Space::NOTIFICATIONS, told_index(NotificationStatus::Failed, provider))?,
            };
            if row != AlertCounts::default() {
                counts.insert(provider, row);
            }
        }
        Ok(counts)
    }

    async fn duplicate_counts(&self, window: &ListQuery) -> Result<Option<BTreeMap<ProviderId, u64>>, StoreError> {
        let mut counts = BTreeMap::new();
        // Counted per hour of receipt: the window's first hour counts whole.
        let from_hour = ListQuery {
            since: window.since.map(crate::store::read::hour_of),
            limit: None,
            ..window.clone()
        };
        for provider in providers(window) {
            let range = IndexRange {
                index: by_provider("time", Some(provider)),
                ..window_range(&from_hour)
            };
            let hours: Vec<DuplicateCount> = self.read_range(Space::DUPLICATES, &range)?;
            counts.insert(provider, hours.iter().map(|h| h.count).sum());
        }
        Ok(Some(counts))
    }

    async fn drifting(&self, window: &ListQuery, limit: usize) -> Result<Vec<StoredDelivery>, StoreError> {
        let mut found: Vec<StoredDelivery> = Vec::new();
        for provider in providers(window) {
            let range = IndexRange {
                index: by_provider("drift", Some(provider)),
                ..window_range(window)
            }
            .page(0, limit);
            found.extend(self.read_range::<StoredDelivery>(Space::DELIVERIES, &range)?);
        }
        found.sort_by_key(|d| std::cmp::Reverse(d.event.received_at));
        found.truncate(limit);
        Ok(found)
    }

    async fn fleet(&self, filter: &FleetFilter, offset: usize, limit: usize) -> Result<FleetPage, StoreError> {
        let range = Self::fleet_range(filter);
        let (mut skipped, mut rows, mut read) = (0, Vec::new(), 0);
        // Enough for the page when nothing is filtered out, more each time something was.
        let mut batch_size = offset.saturating_add(limit).saturating_add(1).clamp(16, FLEET_BATCH);
        loop {
            let batch: Vec<StoredState> = self.read_range(Space::STATES, &range.clone().page(read, batch_size))?;
            read += batch.len();
            for state in batch.iter().map(|s| &s.state).filter(|s| filter.admits(s)) {
                if skipped < offset {
                    skipped += 1;
                } else if rows.len() < limit {
                    rows.push(state.clone());
                } else {
                    return Ok(FleetPage { rows, more: true });
                }
            }
            if batch.len() < batch_size {
                return Ok(FleetPage { rows, more: false });
            }
            batch_size = (batch_size * 2).min(FLEET_BATCH);
        }
    }
}
