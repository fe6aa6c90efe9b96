//! Per-eSIM current state and the pure rule that merges an event into it. Each facet (status, usage,
//! validity) remembers the version of the event that set it and only a newer event replaces it, so late or
//! shuffled deliveries never move the state backwards. Stores persist the result; they hold no rules.

use crate::model::{
    Bundle, DataUsage, DedupeKey, Event, Lifecycle, PartnerId, ProviderId, Refs, StatusChange, Validity,
    PROVIDER_CLOCK_AHEAD_LIMIT,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A value plus the version of the event that set it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facet<T> {
    pub value: T,
    pub at: DateTime<Utc>,
    pub event_key: DedupeKey,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EsimState {
    pub provider: ProviderId,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iccid: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refs: Refs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Facet<StatusChange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Facet<DataUsage>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<Facet<Validity>>,
    /// The bundle named by the newest usage or validity event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<Bundle>,
    /// Bytes a second the plan was used between its two newest readings, where both had the same total and
    /// the later one less left: what projects when the next alert level is crossed (an estimate: readings that
    /// arrive out of order can pair differently).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_rate: Option<f64>,
    /// Where the eSIM stands in being asked its provider (reconcile); absent where it never was filed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asking: Option<Asking>,
    /// The partner the eSIM belongs to (`esims assign`, the directory's `partner_id`): kept here so a delivery
    /// knows whom to tell without another read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<PartnerId>,
    pub first_seen_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_event_key: DedupeKey,
}

impl EsimState {
    /// An eSIM first seen at `at`, through `event_key`, with no facts yet.
    pub fn first(provider: ProviderId, key: String, at: DateTime<Utc>, event_key: DedupeKey) -> Self {
        Self {
            provider,
            key,
            iccid: None,
            refs: BTreeMap::new(),
            status: None,
            usage: None,
            validity: None,
            bundle: None,
            usage_rate: None,
            asking: None,
            owner: None,
            first_seen_at: at,
            updated_at: at,
            last_event_key: event_key,
        }
    }

    /// When the current bundle's validity ends, where known.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.validity.as_ref().and_then(|f| f.value.expires_at)
    }
}

/// When the eSIM was last asked its provider, and when it is filed to be asked next. Asking that hears
/// nothing new stores no event, but it was heard from: the due rule counts the answer (`heard_at`), and asks
/// again only when the rule says so (`next`, the `asking` index entry of a deployed table).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Asking {
    /// When the provider was last asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_at: Option<DateTime<Utc>>,
    /// When the usage the last answer reported was measured, where that answer repeated the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heard_at: Option<DateTime<Utc>>,
    /// When it is filed to be asked next; `None`: not filed (never asked again, or not reconciled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<DateTime<Utc>>,
    /// Whether that ask is routine (silence, a usage never heard): a pass that cannot ask every eSIM filed by
    /// then asks those filed for a level or a plan's end first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub routine: bool,
}

impl Asking {
    /// Where it is filed: when, and whether for a routine ask; `None`: not filed.
    pub fn filing(&self) -> Option<(DateTime<Utc>, bool)> {
        Some((self.next?, self.routine))
    }

    /// Files it at `filing` (when, and whether for a routine ask); `None`: not filed.
    pub fn file(&mut self, filing: Option<(DateTime<Utc>, bool)>) {
        self.next = filing.map(|(at, _)| at);
        self.routine = filing.is_some_and(|(_, routine)| routine);
    }
}

/// Order of lifecycle stages, used only to break ties between events stamped with the same instant.
fn stage(lifecycle: Lifecycle) -> u8 {
    match lifecycle {
        Lifecycle::Unknown => 0,
        Lifecycle::Pending => 1,
        Lifecycle::Installed => 2,
        Lifecycle::Active => 3,
        Lifecycle::Suspended => 4,
        Lifecycle::Depleted => 5,
        Lifecycle::Expired => 6,
        Lifecycle::Cancelled => 7,
        Lifecycle::Deleted => 8,
    }
}

/// Whether a candidate (time, tie-break, key) is newer than what a facet holds. Equal versions are not newer,
/// which makes re-applying the same event a no-op.
fn is_newer(candidate: (DateTime<Utc>, u8, &DedupeKey), current: (DateTime<Utc>, u8, &DedupeKey)) -> bool {
    candidate.cmp(&current) == Ordering::Greater
}

/// A version time no later than `received_at` plus the clock limit. Normalizers already bound provider times
/// to it; bounding here too means no stored facet, whatever wrote it, can outrank every later event.
fn bounded(at: DateTime<Utc>, received_at: DateTime<Utc>) -> DateTime<Utc> {
    at.min(received_at + PROVIDER_CLOCK_AHEAD_LIMIT)
}

/// The outcome of merging one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Merge {
    pub state: EsimState,
    pub changed: bool,
}

/// Merges `event` into `current` (None: first event for this eSIM). Returns None when the event names no
/// eSIM. Pure: the same inputs give the same state, in any order of arrival.
pub fn merge(current: Option<EsimState>, event: &Event) -> Option<Merge> {
    let identity = event.esim.as_ref()?;
    let mut changed = current.is_none();
    let mut state = current.unwrap_or_else(|| {
        EsimState::first(
            event.provider,
            identity.key.clone(),
            event.received_at,
            event.dedupe_key.clone(),
        )
    });

    if state.iccid.is_none() && identity.iccid.is_some() {
        state.iccid = identity.iccid.clone();
        changed = true;
    }
    for (name, value) in &identity.refs {
        if state.refs.get(name) != Some(value) {
            state.refs.insert(name.clone(), value.clone());
            changed = true;
        }
    }

    let key = &event.dedupe_key;
    // The newest receipt the stored facets can have come with: their times are judged against it.
    let stored_receipt = state.updated_at;
    let occurred_at = bounded(event.occurred_at, event.received_at);
    if let Some(status) = &event.status {
        let newer = state.status.as_ref().is_none_or(|f| {
            is_newer(
                (occurred_at, stage(status.lifecycle), key),
                (bounded(f.at, stored_receipt), stage(f.value.lifecycle), &f.event_key),
            )
        });
        if newer {
            state.status = Some(Facet {
                value: status.clone(),
                at: occurred_at,
                event_key: key.clone(),
            });
            changed = true;
        }
    }

    let mut bundle_facet_applied = false;
    if let Some(usage) = &event.usage {
        let at = bounded(usage.measured_at.unwrap_or(occurred_at), event.received_at);
        let newer = state
            .usage
            .as_ref()
            .is_none_or(|f| is_newer((at, 0, key), (bounded(f.at, stored_receipt), 0, &f.event_key)));
        if newer {
            // An asked answer that repeated the old reading later says nothing was used until then.
            let heard = state.asking.as_ref().and_then(|a| a.heard_at);
            state.usage_rate = state.usage.as_ref().and_then(|old| {
                let same_plan = old.value.total_bytes.is_some() && old.value.total_bytes == usage.total_bytes;
                let used = old.value.remaining_bytes?.checked_sub(usage.remaining_bytes?)?;
                let since = heard.filter(|h| *h > old.at && *h < at).unwrap_or(old.at);
                let seconds = (at - since).num_milliseconds() as f64 / 1000.0;
                (same_plan && seconds > 0.0).then(|| used as f64 / seconds)
            });
            state.usage = Some(Facet {
                value: usage.clone(),
                at,
                event_key: key.clone(),
            });
            bundle_facet_applied = true;
        }
    }
    if let Some(validity) = &event.validity {
        let at = occurred_at;
        let newer = state
            .validity
            .as_ref()
            .is_none_or(|f| is_newer((at, 0, key), (bounded(f.at, stored_receipt), 0, &f.event_key)));
        if newer {
            state.validity = Some(Facet {
                value: validity.clone(),
                at,
                event_key: key.clone(),
            });
            bundle_facet_applied = true;
        }
    }
    if bundle_facet_applied {
        if event.bundle.is_some() {
            state.bundle = event.bundle.clone();
        }
        changed = true;
    }

    if changed {
        state.updated_at = state.updated_at.max(event.received_at);
        state.last_event_key = key.clone();
    }
    Some(Merge { state, changed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EsimIdentity, EventKind, PayloadSha256};
    use chrono::Duration;
    use serde_json::value::RawValue;

    fn base_time() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-04-22T17:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn status_event(key: &str, minutes: i64, provider_status: &str, lifecycle: Lifecycle) -> Event {
        let mut e = Event::new(
            ProviderId::EsimAccess,
            EventKind::EsimStatus,
            DedupeKey::provider_id(key),
            base_time() + Duration::hours(5),
            PayloadSha256::ZERO,
            RawValue::from_string("{}".into()).unwrap(),
        );
        e.set_occurred_at(Some(base_time() + Duration::minutes(minutes)));
        e.esim = Some(EsimIdentity {
            key: "T1".into(),
            iccid: Some("8910".into()),
            refs: BTreeMap::new(),
        });
        e.status = Some(StatusChange {
            lifecycle,
            provider_status: provider_status.into(),
            profile_status: None,
        });
        e
    }

    fn fold(events: &[&Event]) -> EsimState {
        events.iter().fold(None, |s, e| merge(s, e).map(|m| m.state)).unwrap()
    }

    #[test]
    fn older_status_does_not_replace_newer() {
        let newer = status_event("b", 10, "USED_UP", Lifecycle::Depleted);
        let older = status_event("a", 5, "IN_USE", Lifecycle::Active);
        let state = fold(&[&newer, &older]);
        assert_eq!(state.status.unwrap().value.provider_status, "USED_UP");
        let state = fold(&[&older, &newer]);
        assert_eq!(state.status.unwrap().value.provider_status, "USED_UP");
    }

    #[test]
    fn reapplying_an_event_changes_nothing() {
        let e = status_event("a", 5, "IN_USE", Lifecycle::Active);
        let first = merge(None, &e).unwrap();
        assert!(first.changed);
        let again = merge(Some(first.state.clone()), &e).unwrap();
        assert!(!again.changed);
        assert_eq!(again.state, first.state);
    }

    #[test]
    fn same_instant_ties_resolve_the_same_in_any_order() {
        let a = status_event("a", 5, "IN_USE", Lifecycle::Active);
        let b = status_event("b", 5, "USED_EXPIRED", Lifecycle::Expired);
        assert_eq!(fold(&[&a, &b]).status, fold(&[&b, &a]).status);
        assert_eq!(fold(&[&a, &b]).status.unwrap().value.lifecycle, Lifecycle::Expired);
    }

    #[test]
    fn usage_is_versioned_by_measurement_time() {
        let mut early = status_event("u1", 30, "x", Lifecycle::Active);
        early.status = None;
        early.usage = Some(DataUsage {
            remaining_ratio: Some(0.5),
            measured_at: Some(base_time()),
            ..Default::default()
        });
        let mut late = early.clone();
        late.dedupe_key = DedupeKey::provider_id("u2");
        late.set_occurred_at(Some(base_time() + Duration::minutes(1)));
        late.usage = Some(DataUsage {
            remaining_ratio: Some(0.1),
            measured_at: Some(base_time() + Duration::minutes(20)),
            ..Default::default()
        });
        // `early` was notified later but measured earlier: the later measurement wins.
        let state = fold(&[&late, &early]);
        assert_eq!(state.usage.unwrap().value.remaining_ratio, Some(0.1));
    }

    #[test]
    fn the_usage_rate_comes_from_the_two_newest_readings_of_one_plan() {
        let reading = |key: &str, minutes: i64, total: u64, remaining: u64| {
            let mut e = status_event(key, 0, "x", Lifecycle::Active);
            e.status = None;
            e.usage = Some(DataUsage {
                total_bytes: Some(total),
                remaining_bytes: Some(remaining),
                measured_at: Some(base_time() + Duration::minutes(minutes)),
                ..Default::default()
            });
            e
        };
        let first = reading("r1", 0, 1_000_000, 600_000);
        let second = reading("r2", 10, 1_000_000, 540_000);
        assert_eq!(fold(&[&first]).usage_rate, None);
        assert_eq!(fold(&[&first, &second]).usage_rate, Some(100.0), "60 kB in 600 s");
        let topped_up = reading("r3", 20, 2_000_000, 1_900_000);
        assert_eq!(
            fold(&[&first, &second, &topped_up]).usage_rate,
            None,
            "another plan: no rate yet"
        );
    }

    /// A stored facet stamped by a wrong clock (written before provider times were bounded, or by any other
    /// path) is judged as if stamped at the state's last receipt, so later events still replace it.
    #[test]
    fn a_stored_facet_from_a_wrong_clock_does_not_outrank_later_events() {
        let poisoned = status_event("2099", 0, "IN_USE", Lifecycle::Active);
        let mut state = fold(&[&poisoned]);
        state.status.as_mut().unwrap().at = DateTime::parse_from_rfc3339("2099-01-01T00:00:00Z").unwrap().to_utc();
        let mut later = status_event("later", 0, "USED_UP", Lifecycle::Depleted);
        later.received_at = poisoned.received_at + Duration::minutes(10);
        later.occurred_at = later.received_at;
        let state = merge(Some(state), &later).unwrap();
        assert!(state.changed);
        assert_eq!(state.state.status.unwrap().value.provider_status, "USED_UP");
    }

    #[test]
    fn event_without_esim_gives_no_state() {
        let mut e = status_event("a", 1, "x", Lifecycle::Active);
        e.esim = None;
        assert!(merge(None, &e).is_none());
    }
}
