//! The orderings the key-value store keeps beside its documents, so a listing, a timeline or a fleet page reads
//! a range of one index instead of a whole space. Each document says where it sorts ([`Indexed`]); the backend
//! replaces a document's entries whenever the document is written through [`super::KvStore::write_indexed`].

use super::{StoredAlert, StoredConflict, StoredDelivery};
use crate::customers::notify::NotificationRecord;
use crate::customers::Contact;
use crate::model::{EsimIdentity, ProviderId};
use crate::state::EsimState;
use chrono::{DateTime, Datelike, SecondsFormat, Utc};

/// Bumped when documents' entries change, so a store opened from an older file rebuilds its indexes.
pub const INDEX_VERSION: u32 = 1;

/// How many leading characters of a [`sort_time`] name its hour (`2026-12-02T07`).
pub const HOUR_PREFIX: usize = 13;

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

/// The index names a listing reads: every document's, or one provider's.
pub fn by_provider(index: &str, provider: Option<ProviderId>) -> String {
    match provider {
        Some(p) => format!("{index}@{p}"),
        None => index.to_string(),
    }
}

/// A time as text that sorts as the time does: fixed width, nanoseconds, UTC, years held to 0000-9999 (an
/// absurd year a provider sent sorts at the end it is nearest).
pub fn sort_time(at: DateTime<Utc>) -> String {
    match at.year() {
        y if y < 0 => "0000-01-01T00:00:00.000000000Z".to_string(),
        y if y > 9999 => "9999-12-31T23:59:59.999999999Z".to_string(),
        _ => at.to_rfc3339_opts(SecondsFormat::Nanos, true),
    }
}

/// A share of data left as text that sorts as the number does: `0.000000` to `1.000000`.
pub fn sort_ratio(ratio: f64) -> String {
    let ratio = if ratio.is_finite() { ratio.clamp(0.0, 1.0) } else { 0.0 };
    format!("{ratio:.6}")
}

/// The index of a provider's customer messages with one outcome (`told-sent@roamify`).
pub fn told_index(status: crate::customers::notify::NotificationStatus, provider: ProviderId) -> String {
    by_provider(&format!("told-{}", status.as_str()), Some(provider))
}

/// The value an eSIM's entries in the `esim` index start with: its provider and key.
pub fn esim_prefix(provider: ProviderId, key: &str) -> String {
    format!("{provider}#{key}#")
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
            self.add("esim", format!("{}{}", esim_prefix(provider, &id.key), sort_time(at)));
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
        let updated = sort_time(self.updated_at);
        entries.both("time", self.provider, updated.clone());
        entries.names(&self.key, self.iccid.as_deref(), &self.refs);
        if let Some(end) = self.expires_at() {
            entries.both("expires", self.provider, sort_time(end));
        }
        if let Some(left) = self.usage.as_ref().and_then(|f| f.value.remaining_ratio) {
            entries.both("left", self.provider, sort_ratio(left));
        }
        if let Some(status) = &self.status {
            let lifecycle = status.value.lifecycle.as_str();
            entries.both("lifecycle", self.provider, format!("{lifecycle}#{updated}"));
        }
        entries.0
    }
}

impl Indexed for StoredAlert {
    fn entries(&self) -> Vec<IndexEntry> {
        let a = &self.alert;
        let mut entries = Entries::default();
        entries.both("time", a.provider, sort_time(a.raised_at));
        if self.status == super::AlertStatus::Sent {
            entries.add(&by_provider("sent", Some(a.provider)), sort_time(a.raised_at));
        }
        if let Some(id) = &a.esim {
            entries.add(
                "esim",
                format!("{}{}", esim_prefix(a.provider, &id.key), sort_time(a.raised_at)),
            );
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

/// The value a partner's callback records start with in the `partner` index.
pub fn partner_prefix(partner: &crate::callbacks::partner::PartnerId) -> String {
    format!("{partner}#")
}

impl Indexed for crate::callbacks::sender::AttemptRecord {
    fn entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry {
            index: "partner".into(),
            value: format!(
                "{}{}#{:05}",
                partner_prefix(&self.partner),
                sort_time(self.at),
                self.attempt
            ),
        }]
    }
}

impl Indexed for crate::callbacks::sender::FailedDelivery {
    fn entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry {
            index: "partner".into(),
            value: format!("{}{}", partner_prefix(&self.job.partner), sort_time(self.failed_at)),
        }]
    }
}

impl Indexed for Contact {
    fn entries(&self) -> Vec<IndexEntry> {
        let mut entries = Entries::default();
        if let Some(customer) = self.customer_id.as_deref().filter(|c| !c.is_empty()) {
            entries.add("customer", customer.to_string());
        }
        entries.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_sort_as_text_as_they_do_in_time() {
        let times = [
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::nanoseconds(1),
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::milliseconds(120),
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 6).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap(),
        ];
        let texts: Vec<String> = times.iter().map(|t| sort_time(*t)).collect();
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(texts, sorted);
        assert!(texts.iter().all(|t| t.len() == 30), "{texts:?}");
        let far = DateTime::<Utc>::MAX_UTC;
        assert_eq!(sort_time(far), "9999-12-31T23:59:59.999999999Z");
        assert!(sort_time(DateTime::<Utc>::MIN_UTC) < texts[0]);
    }

    #[test]
    fn ratios_sort_as_text_as_they_do_as_numbers() {
        let ratios = [f64::NEG_INFINITY, -0.5, 0.0, 0.05, 0.1, 0.19999, 0.2, 0.999, 1.0, 7.0];
        let texts: Vec<String> = ratios.iter().map(|r| sort_ratio(*r)).collect();
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(texts, sorted);
        assert_eq!(sort_ratio(f64::NAN), "0.000000");
        assert_eq!(sort_ratio(7.0), "1.000000");
    }

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
