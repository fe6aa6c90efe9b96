//! What the operator's questions ask of the store, stated once for every adapter: which eSIMs a name means,
//! an eSIM's history, and a page of the fleet by data left, plan end or lifecycle.

use super::{ListQuery, StoreError, StoredAlert, StoredConflict, StoredDelivery};
use crate::model::DedupeKey;
use crate::model::{EsimIdentity, Lifecycle, PartnerId, ProviderId, Refs};
use crate::state::EsimState;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// An eSIM as the store knows it: its provider and the key its state is kept under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct EsimName {
    pub provider: ProviderId,
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iccid: Option<String>,
}

/// Everything stored about one eSIM in a window: its deliveries and alerts, oldest first, and its state.
#[derive(Debug, Clone, Default)]
pub struct EsimHistory {
    pub deliveries: Vec<StoredDelivery>,
    pub alerts: Vec<StoredAlert>,
    pub state: Option<EsimState>,
}

/// Every eSIM `name` names in the window, each with its history there.
pub async fn histories(
    store: &dyn StoreQuery,
    name: &str,
    window: &ListQuery,
) -> Result<Vec<(EsimName, EsimHistory)>, StoreError> {
    let window = ListQuery {
        limit: None,
        ..window.clone()
    };
    let mut found = Vec::new();
    for esim in store.esims_named(name, &window).await? {
        let history = store.esim_history(esim.provider, &esim.key, &window).await?;
        found.push((esim, history));
    }
    Ok(found)
}

/// What an eSIM is known by: its key, its ICCID and its references.
pub fn names_esim(key: &str, iccid: Option<&str>, refs: &Refs, wanted: &str) -> bool {
    key == wanted || iccid == Some(wanted) || refs.values().any(|r| r == wanted)
}

pub fn identity_named(identity: Option<&EsimIdentity>, wanted: &str) -> bool {
    identity.is_some_and(|i| names_esim(&i.key, i.iccid.as_deref(), &i.refs, wanted))
}

pub fn is_esim(identity: Option<&EsimIdentity>, provider: ProviderId, key: &str, of: ProviderId) -> bool {
    of == provider && identity.is_some_and(|i| i.key == key)
}

/// An eSIM that is gone (deleted or cancelled): what data or time it had left no longer counts.
pub fn gone(state: &EsimState) -> bool {
    matches!(
        state.status.as_ref().map(|f| f.value.lifecycle),
        Some(Lifecycle::Deleted | Lifecycle::Cancelled)
    )
}

/// The fleet views' filters. A page is ordered by what it filters on: the least data left first, the soonest
/// end first, else the most recently updated first.
#[derive(Debug, Clone, Default)]
pub struct FleetFilter {
    /// Only eSIMs updated in this window (its limit is ignored: pages are asked for by offset and limit).
    pub window: ListQuery,
    /// Less than this percent of their data left.
    pub below_percent: Option<f64>,
    /// Plans that end after the first time and no later than the second.
    pub ending: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub lifecycle: Option<Lifecycle>,
    /// Only eSIMs this partner owns.
    pub partner: Option<PartnerId>,
}

/// One page of a fleet view; `more` when rows follow it.
#[derive(Debug, Clone, Default)]
pub struct FleetPage {
    pub rows: Vec<EsimState>,
    pub more: bool,
}

impl FleetFilter {
    pub fn admits(&self, state: &EsimState) -> bool {
        let left = state.usage.as_ref().and_then(|f| f.value.remaining_ratio);
        self.window.admits(state.provider, state.updated_at)
            && self.partner.as_ref().is_none_or(|p| state.owner.as_ref() == Some(p))
            && self
                .below_percent
                .is_none_or(|below| !gone(state) && left.is_some_and(|r| r * 100.0 < below))
            && self.ending.is_none_or(|(after, until)| {
                !gone(state) && state.expires_at().is_some_and(|end| end > after && end <= until)
            })
            && self
                .lifecycle
                .is_none_or(|wanted| state.status.as_ref().map(|f| f.value.lifecycle) == Some(wanted))
    }

    /// Puts admitted rows in the page's order.
    pub fn sort(&self, rows: &mut [EsimState]) {
        // Ties go by provider name and key, as the local store's indexes order them.
        let name = |s: &EsimState| (s.provider.as_str(), s.key.clone());
        if self.ending.is_some() {
            rows.sort_by_key(|s| (s.expires_at(), name(s)));
        } else if self.below_percent.is_some() {
            let left = |s: &EsimState| s.usage.as_ref().and_then(|f| f.value.remaining_ratio).unwrap_or(0.0);
            rows.sort_by(|a, b| left(a).total_cmp(&left(b)).then_with(|| name(a).cmp(&name(b))));
        } else {
            rows.sort_by_key(|s| (std::cmp::Reverse(s.updated_at), name(s)));
        }
    }

    /// A page of `rows` (every eSIM, in any order): the filter applied, ordered, cut at `offset` and `limit`.
    pub fn page_of(&self, rows: Vec<EsimState>, offset: usize, limit: usize) -> FleetPage {
        let mut kept: Vec<EsimState> = rows.into_iter().filter(|s| self.admits(s)).collect();
        self.sort(&mut kept);
        let mut rows: Vec<EsimState> = kept.into_iter().skip(offset).take(limit.saturating_add(1)).collect();
        let more = rows.len() > limit;
        rows.truncate(limit);
        FleetPage { rows, more }
    }
}

/// What one provider stored in one hour: deliveries, and of them unrecognized ones and ones showing drift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourCounts {
    pub provider: ProviderId,
    pub hour: DateTime<Utc>,
    pub stored: u64,
    pub unrecognized: u64,
    pub schema_drift: u64,
}

impl HourCounts {
    pub fn none(provider: ProviderId, hour: DateTime<Utc>) -> Self {
        Self {
            provider,
            hour,
            stored: 0,
            unrecognized: 0,
            schema_drift: 0,
        }
    }
}

/// The start of the hour `at` is in.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::DurationRound;
    at.duration_trunc(chrono::Duration::hours(1)).unwrap_or(at)
}

/// Deliveries counted by provider and hour, in that order.
pub fn count_by_hour(deliveries: &[StoredDelivery]) -> Vec<HourCounts> {
    let mut counts: std::collections::BTreeMap<(ProviderId, DateTime<Utc>), HourCounts> = Default::default();
    for d in deliveries {
        let e = &d.event;
        let (provider, hour) = (e.provider, hour_of(e.received_at));
        let row = counts
            .entry((provider, hour))
            .or_insert_with(|| HourCounts::none(provider, hour));
        row.stored += 1;
        row.unrecognized += u64::from(e.kind == crate::model::EventKind::Unrecognized);
        row.schema_drift += u64::from(e.shows_schema_drift());
    }
    counts.into_values().collect()
}

/// One provider's alerts raised in a window, how many went out, and the customer messages they led to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertCounts {
    pub alerts: u64,
    pub sent: u64,
    pub notifications_sent: u64,
    pub notifications_failed: u64,
}

/// Alerts counted per provider.
pub fn count_alerts(alerts: &[StoredAlert]) -> std::collections::BTreeMap<ProviderId, AlertCounts> {
    use crate::records::NotificationStatus;
    let mut counts: std::collections::BTreeMap<ProviderId, AlertCounts> = Default::default();
    for a in alerts {
        let row = counts.entry(a.alert.provider).or_default();
        row.alerts += 1;
        row.sent += u64::from(a.status == super::AlertStatus::Sent);
        for n in &a.notifications {
            row.notifications_sent += u64::from(n.status == NotificationStatus::Sent);
            row.notifications_failed += u64::from(n.status == NotificationStatus::Failed);
        }
    }
    counts
}

/// How far back states are looked for to be asked: beyond the longest plans sold (locally), and beyond any
/// pause of the scheduler (the asking index).
pub const ASKING_LOOKBACK: chrono::Duration = chrono::Duration::days(400);

/// The read side, for operators: listing what was stored and alerted.
#[async_trait]
pub trait StoreQuery: Send + Sync {
    async fn list_deliveries(&self, query: &ListQuery) -> Result<Vec<StoredDelivery>, StoreError>;
    async fn list_states(&self, query: &ListQuery) -> Result<Vec<EsimState>, StoreError>;
    async fn list_alerts(&self, query: &ListQuery) -> Result<Vec<StoredAlert>, StoreError>;
    /// Conflicts last seen in the query's window, most recent first.
    async fn list_conflicts(&self, query: &ListQuery) -> Result<Vec<StoredConflict>, StoreError>;
    /// One stored delivery, by its provider and dedupe key (a key read, no listing).
    async fn delivery(
        &self,
        provider: ProviderId,
        dedupe_key: &DedupeKey,
    ) -> Result<Option<StoredDelivery>, StoreError>;
    /// One eSIM's current state (a key read).
    async fn esim_state(&self, provider: ProviderId, key: &str) -> Result<Option<EsimState>, StoreError>;

    /// `provider`'s eSIM states filed to be asked at or before `until`, at most `limit`: those filed for a level
    /// or a plan's end first, then the routine ones ([`crate::state::Asking::routine`]), each earliest first.
    /// This default reads the provider's listed states (the local stores), taking a state never filed (no
    /// `asking`) as filed now; the deployed table reads its asking index.
    async fn filed_to_ask(
        &self,
        provider: ProviderId,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<EsimState>, StoreError> {
        let listed = ListQuery {
            provider: Some(provider),
            since: Some(until - ASKING_LOOKBACK),
            ..ListQuery::default()
        };
        let mut filed: Vec<_> = self
            .list_states(&listed)
            .await?
            .into_iter()
            .filter_map(|state| match state.asking.as_ref().map(|a| (a.next, a.routine)) {
                None => Some(((false, None), state)),
                Some((next, routine)) => next.filter(|at| *at <= until).map(|at| ((routine, Some(at)), state)),
            })
            .collect();
        filed.sort_by(|a, b| (a.0, &a.1.key).cmp(&(b.0, &b.1.key)));
        Ok(filed.into_iter().take(limit).map(|(_, state)| state).collect())
    }

    /// The eSIMs `name` names (their key, ICCID or a reference; locally also a customer id) that were stored
    /// or updated in the window. This default reads the window's listings.
    async fn esims_named(&self, name: &str, window: &ListQuery) -> Result<Vec<EsimName>, StoreError> {
        let window = ListQuery {
            limit: None,
            ..window.clone()
        };
        let mut found = std::collections::BTreeSet::new();
        for s in self.list_states(&window).await? {
            if names_esim(&s.key, s.iccid.as_deref(), &s.refs, name) {
                found.insert(EsimName {
                    provider: s.provider,
                    key: s.key,
                    iccid: s.iccid,
                });
            }
        }
        for d in self.list_deliveries(&window).await? {
            if let Some(id) = d
                .event
                .esim
                .filter(|i| names_esim(&i.key, i.iccid.as_deref(), &i.refs, name))
            {
                if !found
                    .iter()
                    .any(|f: &EsimName| f.provider == d.event.provider && f.key == id.key)
                {
                    found.insert(EsimName {
                        provider: d.event.provider,
                        key: id.key,
                        iccid: id.iccid,
                    });
                }
            }
        }
        Ok(found.into_iter().collect())
    }

    /// One eSIM's deliveries and alerts in the window, oldest first, and its current state. This default reads
    /// the window's listings.
    async fn esim_history(
        &self,
        provider: ProviderId,
        key: &str,
        window: &ListQuery,
    ) -> Result<EsimHistory, StoreError> {
        let window = ListQuery {
            limit: None,
            provider: Some(provider),
            ..window.clone()
        };
        let mine = |p: ProviderId, id: Option<&crate::model::EsimIdentity>| is_esim(id, provider, key, p);
        let mut deliveries: Vec<StoredDelivery> = self
            .list_deliveries(&window)
            .await?
            .into_iter()
            .filter(|d| mine(d.event.provider, d.event.esim.as_ref()))
            .collect();
        deliveries.reverse();
        let mut alerts: Vec<StoredAlert> = self
            .list_alerts(&window)
            .await?
            .into_iter()
            .filter(|a| mine(a.alert.provider, a.alert.esim.as_ref()))
            .collect();
        alerts.reverse();
        Ok(EsimHistory {
            deliveries,
            alerts,
            state: self.esim_state(provider, key).await?,
        })
    }

    /// The window's deliveries counted by provider and hour. This default reads them.
    async fn delivery_counts(&self, window: &ListQuery) -> Result<Vec<HourCounts>, StoreError> {
        let window = ListQuery {
            limit: None,
            ..window.clone()
        };
        Ok(count_by_hour(&self.list_deliveries(&window).await?))
    }

    /// The window's alerts counted per provider, with the customer messages they led to. This default reads
    /// them.
    async fn alert_counts(
        &self,
        window: &ListQuery,
    ) -> Result<std::collections::BTreeMap<ProviderId, AlertCounts>, StoreError> {
        let window = ListQuery {
            limit: None,
            ..window.clone()
        };
        Ok(count_alerts(&self.list_alerts(&window).await?))
    }

    /// Exact duplicates per provider in the window, where the store counts them (the local store does; the
    /// deployed functions count them in the `Duplicates` metric instead, as a write per duplicate is a cost).
    async fn duplicate_counts(
        &self,
        _window: &ListQuery,
    ) -> Result<Option<std::collections::BTreeMap<ProviderId, u64>>, StoreError> {
        Ok(None)
    }

    /// The window's newest deliveries showing schema drift (unrecognized, or a field we could not read), at
    /// most `limit`. This default reads the window's deliveries.
    async fn drifting(&self, window: &ListQuery, limit: usize) -> Result<Vec<StoredDelivery>, StoreError> {
        let window = ListQuery {
            limit: None,
            ..window.clone()
        };
        let mut found: Vec<StoredDelivery> = self
            .list_deliveries(&window)
            .await?
            .into_iter()
            .filter(|d| d.event.shows_schema_drift())
            .collect();
        found.truncate(limit);
        Ok(found)
    }

    /// A page of the fleet view `filter` asks for. This default reads the window's states.
    async fn fleet(&self, filter: &FleetFilter, offset: usize, limit: usize) -> Result<FleetPage, StoreError> {
        let window = ListQuery {
            limit: None,
            ..filter.window.clone()
        };
        Ok(filter.page_of(self.list_states(&window).await?, offset, limit))
    }
}
