//! The orderings the key-value store keeps beside its documents, so a listing, a timeline or a fleet page reads
//! a range of one index instead of a whole space. Each document says where it sorts ([`Indexed`]); the backend
//! replaces a document's entries whenever the document is written through [`crate::store::KvStore::write_indexed`].
//! The entries of events, states, alerts and their notifications are here; each feature declares its own
//! documents' beside them.

use crate::model::{EsimIdentity, ProviderId};
use crate::records::NotificationRecord;
use crate::state::EsimState;
use crate::store::keys::{by_provider, esim_entry, lifecycle_entry, sort_ratio, sort_time, told_index};
use crate::store::{StoredAlert, StoredConflict, StoredDelivery};
use chrono::{DateTime, Utc};

/// Bumped when documents' entries change, so a store opened from an older file rebuilds its indexes.
pub const INDEX_VERSION: u32 = 1;

/// Where a document sorts in one index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexEntry {
    pub index: String,
    pub value: String,
}

/// The entries of one index whose value lies in `[from, to)`, newest (greatest) first or oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRange {
    pub index: String,
    pub from: String,
    pub to: String,
    pub descending: bool,
    pub skip: usize,
    pub limit: usize,
}

impl IndexRange {
    pub fn new(index: impl Into<String>, from: String, to: String) -> Self {
        Self {
            index: index.into(),
            from,
            to,
            descending: true,
            skip: 0,
            limit: usize::MAX,
        }
    }

    /// The entries whose value is exactly `value`.
    pub fn exact(index: impl Into<String>, value: &str) -> Self {
        Self::new(index, value.to_string(), format!("{value}\u{0}"))
    }

    /// The entries whose value starts with `prefix`.
    pub fn prefix(index: impl Into<String>, prefix: &str) -> Self {
        Self::new(index, prefix.to_string(), format!("{prefix}\u{10FFFF}"))
    }

    pub fn oldest_first(mut self) -> Self {
        self.descending = false;
        self
    }

    pub fn page(mut self, skip: usize, limit: usize) -> Self {
        self.skip = skip;
        self.limit = limit;
        self
    }
}

/// A document's places in its space's indexes.
pub trait Indexed {
    fn entries(&self) -> Vec<IndexEntry>;
}

#[derive(Default)]
struct Entries(Vec<IndexEntry>);

impl Entries {
    fn add(&mut self, index: &str, value: String) {
        self.0.push(IndexEntry {
            index: index.to_string(),
            value,
        });
    }

    /// In the index over every provider and in the provider's own.
    fn both(&mut self, index: &str, provider: ProviderId, value: String) {
        self.add(&by_provider(index, Some(provider)), value.clone());
        self.add(index, value);
    }

    fn names(&mut self, key: &str, iccid: Option<&str>, refs: &crate::model::Refs) {
        let mut names: Vec<&str> = std::iter::once(key)
            .chain(iccid)
            .chain(refs.values().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names.into_iter().filter(|n| !n.is_empty()) {
            self.add("name", name.to_string());
        }
    }

    fn esim(&mut self, provider: ProviderId, identity: Option<&EsimIdentity>, at: DateTime<Utc>) {
        if let Some(id) = identity {
            self.add("esim", esim_entry(provider, &id.key, at));
            self.names(&id.key, id.iccid.as_deref(), &id.refs);
        }
    }
}

impl Indexed for StoredDelivery {
    fn entries(&self) -> Vec<IndexEntry> {
        let e = &self.event;
        let mut entries = Entries::default();
        let received = sort_time(e.received_at);
        entries.both("time", e.provider, received.clone());
        if e.kind == crate::model::EventKind::Unrecognized {
            entries.add(&by_provider("unrecognized", Some(e.provider)), received.clone());
        }
        if e.shows_schema_drift() {
            entries.add(&by_provider("drift", Some(e.provider)), received);
        }
        entries.esim(e.provider, e.esim.as_ref(), e.received_at);
        entries.0
    }
}

impl Indexed for EsimState {
    fn entries(&self) -> Vec<IndexEntry> {
        let mut entries = Entries::default();
        entries.both("time", self.provider, sort_time(self.updated_at));
        entries.names(&self.key, self.iccid.as_deref(), &self.refs);
        if let Some(end) = self.expires_at() {
            entries.both("expires", self.provider, sort_time(end));
        }
        if let Some(left) = self.usage.as_ref().and_then(|f| f.value.remaining_ratio) {
            entries.both("left", self.provider, sort_ratio(left));
        }
        if let Some(status) = &self.status {
            let lifecycle = status.value.lifecycle.as_str();
            entries.both("lifecycle", self.provider, lifecycle_entry(lifecycle, self.updated_at));
        }
        entries.0
    }
}

impl Indexed for StoredAlert {
    fn entries(&self) -> Vec<IndexEntry> {
        let a = &self.alert;
        let mut entries = Entries::default();
        entries.both("time", a.provider, sort_time(a.raised_at));
        if self.status == crate::store::AlertStatus::Sent {
            entries.add(&by_provider("sent", Some(a.provider)), sort_time(a.raised_at));
        }
        if let Some(id) = &a.esim {
            entries.add("esim", esim_entry(a.provider, &id.key, a.raised_at));
        }
        entries.0
    }
}

impl Indexed for StoredConflict {
    fn entries(&self) -> Vec<IndexEntry> {
        let mut entries = Entries::default();
        entries.both("time", self.event.provider, sort_time(self.last_seen_at));
        entries.0
    }
}

impl Indexed for NotificationRecord {
    fn entries(&self) -> Vec<IndexEntry> {
        let mut entries = Entries::default();
        entries.add("alert", self.alert_id.clone());
        if let Some(due) = self.due_at.filter(|_| self.in_outbox()) {
            entries.add("outbox", sort_time(due));
        }
        // Counted with their alert's period, by outcome (the alert id starts with the provider's name).
        let provider = self.alert_id.split('#').next().and_then(ProviderId::parse);
        if let (Some(provider), Some(raised)) = (provider, self.raised_at) {
            entries.add(&told_index(self.status, provider), sort_time(raised));
        }
        entries.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_name_exact_values_and_prefixes() {
        let exact = IndexRange::exact("name", "8944");
        assert!(exact.from.as_str() <= "8944" && "8944" < exact.to.as_str());
        assert!("89440" >= exact.to.as_str());
        let prefix = IndexRange::prefix("esim", "esimgo#8944#");
        assert!(prefix.from.as_str() <= "esimgo#8944#2026" && "esimgo#8944#2026" < prefix.to.as_str());
        assert!("esimgo#89440#2026" >= prefix.to.as_str());
    }
}
