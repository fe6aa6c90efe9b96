//! [`ContactStore`] and [`NotificationStore`] on the key-value store (SQLite locally, memory in tests): one
//! contact document per identifier; the notifications are in the store's own space, listed beside their alert.
//! The key spaces and index entries are the customers' own (`customers/spaces.rs`).

use crate::customers::records::{
    due_claimable, notification_decision, take_from_window, Channel, NotificationClaim, NotificationRecord,
    NotificationStore, OUTBOX_LOOKBACK,
};
use crate::customers::spaces::{ALLOWANCES, CONTACTS, CUSTOMER_INDEX};
use crate::customers::{upsert_plan, Conflict, Contact, ContactLookup, ContactStore, EsimRef, Replace, Upserted};
use crate::model::ProviderId;
use crate::store::index::IndexRange;
use crate::store::keys::{allowance_key, contact_key, notification_key, sort_time};
use crate::store::Decision;
use crate::store::{Aliases, Change, KvBackend, KvStore, Space, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// A customer id names the eSIMs of the contacts filed under it: their references, each with the provider
/// of its contact.
impl<B: KvBackend> Aliases for KvStore<B> {
    fn aliases(&self, name: &str) -> Result<BTreeSet<(Option<ProviderId>, String)>, StoreError> {
        let contacts: Vec<Contact> = self.read_range(CONTACTS, &IndexRange::exact(CUSTOMER_INDEX, name))?;
        Ok(contacts
            .iter()
            .flat_map(|c| c.refs().into_iter().map(|r| (Some(c.provider), r.value().to_string())))
            .collect())
    }
}

fn key(provider: ProviderId, esim: &EsimRef) -> String {
    contact_key(provider, esim.kind(), esim.value())
}

impl<B: KvBackend> KvStore<B> {
    /// Writes `record` where `attempt` still holds it (the caller holds the lock); true when written.
    fn write_if_held(&self, record: &NotificationRecord, attempt: &str) -> Result<bool, StoreError> {
        let key = notification_key(&record.alert_id, record.channel.as_str());
        let existing: Option<NotificationRecord> = self.read(Space::NOTIFICATIONS, &key)?;
        let held = existing.is_some_and(|n| n.attempt.as_deref() == Some(attempt));
        if held {
            self.write_indexed(Space::NOTIFICATIONS, &key, record)?;
        }
        Ok(held)
    }

    fn contact_under(&self, provider: ProviderId, esim: &EsimRef) -> Result<Option<Contact>, StoreError> {
        self.read(CONTACTS, &key(provider, esim))
    }

    fn contacts_under(&self, provider: ProviderId, refs: &[EsimRef]) -> Result<Vec<(EsimRef, Contact)>, StoreError> {
        let mut stored = Vec::new();
        for esim in refs {
            stored.extend(self.contact_under(provider, esim)?.map(|old| (esim.clone(), old)));
        }
        Ok(stored)
    }
}

#[async_trait]
impl<B: KvBackend> ContactLookup for KvStore<B> {
    async fn find(&self, provider: ProviderId, refs: &[EsimRef]) -> Result<Option<Contact>, StoreError> {
        for esim in refs {
            if let Some(contact) = self.contact_under(provider, esim)? {
                return Ok(Some(contact));
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl<B: KvBackend> ContactStore for KvStore<B> {
    async fn stored_under(
        &self,
        provider: ProviderId,
        refs: &[EsimRef],
    ) -> Result<Vec<(EsimRef, Contact)>, StoreError> {
        self.contacts_under(provider, refs)
    }

    async fn register(&self, contact: &Contact, replace: Replace) -> Result<Result<Upserted, Conflict>, StoreError> {
        // The process-wide lock makes the decision and the write one step.
        let _guard = self.locked();
        let refs = contact.refs();
        let stored = self.contacts_under(contact.provider, &refs)?;
        let (outcome, stale) = match upsert_plan(contact, &stored, replace) {
            Err(conflict) => return Ok(Err(conflict)),
            Ok(None) => return Ok(Ok(Upserted::Unchanged)),
            Ok(Some(plan)) => plan,
        };
        let deletes = stale
            .iter()
            .map(|esim| Ok(Change::delete(CONTACTS, key(contact.provider, esim))));
        let writes = refs
            .iter()
            .map(|esim| self.indexed_change(CONTACTS, &key(contact.provider, esim), contact));
        self.backend()
            .apply(&deletes.chain(writes).collect::<Result<Vec<_>, StoreError>>()?)?;
        Ok(Ok(outcome))
    }

    async fn remove(&self, provider: ProviderId, esim: &EsimRef) -> Result<Option<Contact>, StoreError> {
        let _guard = self.locked();
        let Some(contact) = self.contact_under(provider, esim)? else {
            return Ok(None);
        };
        let changes: Vec<_> = contact
            .refs()
            .iter()
            .map(|esim| Change::delete(CONTACTS, key(provider, esim)))
            .collect();
        self.backend().apply(&changes)?;
        Ok(Some(contact))
    }
}

#[async_trait]
impl<B: KvBackend> NotificationStore for KvStore<B> {
    async fn claim_notification(
        &self,
        record: &NotificationRecord,
        now: DateTime<Utc>,
    ) -> Result<NotificationClaim, StoreError> {
        let _guard = self.locked();
        let key = notification_key(&record.alert_id, record.channel.as_str());
        let existing: Option<NotificationRecord> = self.read(Space::NOTIFICATIONS, &key)?;
        match notification_decision(existing.as_ref().map(|n| (n.status, n.lease_until)), now) {
            Decision::Found(outcome) => Ok(NotificationClaim::from_alert_claim(outcome)),
            Decision::Take => {
                self.write_indexed(Space::NOTIFICATIONS, &key, record)?;
                Ok(NotificationClaim::taken_over(existing.as_ref()))
            }
        }
    }

    async fn mark_sending(&self, record: &NotificationRecord, attempt: &str) -> Result<bool, StoreError> {
        let _guard = self.locked();
        self.write_if_held(record, attempt)
    }

    async fn finish_notification(&self, record: &NotificationRecord, attempt: &str) -> Result<(), StoreError> {
        let _guard = self.locked();
        self.write_if_held(record, attempt)?;
        Ok(())
    }

    async fn release_notification(&self, alert_id: &str, channel: Channel, attempt: &str) -> Result<(), StoreError> {
        let _guard = self.locked();
        let key = notification_key(alert_id, channel.as_str());
        let existing: Option<NotificationRecord> = self.read(Space::NOTIFICATIONS, &key)?;
        if let Some(mut held) = existing.filter(|n| n.attempt.as_deref() == Some(attempt)) {
            held.lease_until = Some(DateTime::UNIX_EPOCH);
            self.write_indexed(Space::NOTIFICATIONS, &key, &held)?;
        }
        Ok(())
    }

    async fn notifications(&self, alert_id: &str) -> Result<Vec<NotificationRecord>, StoreError> {
        self.read_range(Space::NOTIFICATIONS, &IndexRange::exact("alert", alert_id))
    }

    async fn due_notifications(&self, now: DateTime<Utc>) -> Result<Vec<NotificationRecord>, StoreError> {
        let nanosecond = chrono::Duration::nanoseconds(1);
        let window = IndexRange::new(
            "outbox",
            sort_time(now - OUTBOX_LOOKBACK + nanosecond),
            sort_time(now + nanosecond),
        );
        let waiting: Vec<NotificationRecord> = self.read_range(Space::NOTIFICATIONS, &window)?;
        let mut due: Vec<NotificationRecord> = waiting
            .into_iter()
            .filter(|n| n.in_outbox() && n.due_at.is_some_and(|at| at <= now && at > now - OUTBOX_LOOKBACK))
            .filter(|n| due_claimable(n.status, n.lease_until, now))
            .collect();
        due.sort_by(|a, b| (a.due_at, &a.alert_id, a.channel).cmp(&(b.due_at, &b.alert_id, b.channel)));
        Ok(due)
    }

    async fn claim_due(&self, record: &NotificationRecord, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let _guard = self.locked();
        let key = notification_key(&record.alert_id, record.channel.as_str());
        let existing: Option<NotificationRecord> = self.read(Space::NOTIFICATIONS, &key)?;
        let claimable = existing.is_some_and(|n| n.in_outbox() && due_claimable(n.status, n.lease_until, now));
        if claimable {
            self.write_indexed(Space::NOTIFICATIONS, &key, record)?;
        }
        Ok(claimable)
    }

    async fn take_sms_allowance(&self, to: &str, now: DateTime<Utc>, cap: u32) -> Result<bool, StoreError> {
        let _guard = self.locked();
        let key = allowance_key(to);
        let sent: Vec<i64> = self.read(ALLOWANCES, &key)?.unwrap_or_default();
        let Some(sent) = take_from_window(&sent, now, cap) else {
            return Ok(false);
        };
        self.write(ALLOWANCES, &key, &sent)?;
        Ok(true)
    }

    async fn mask_recipient(&self, to: &str, masked: &str) -> Result<usize, StoreError> {
        let _guard = self.locked();
        let all: Vec<NotificationRecord> = self.read_all(Space::NOTIFICATIONS)?;
        let mut changes = Vec::new();
        for mut record in all.into_iter().filter(|n| n.to == to) {
            record.to = masked.to_string();
            let key = notification_key(&record.alert_id, record.channel.as_str());
            changes.push(self.indexed_change(Space::NOTIFICATIONS, &key, &record)?);
        }
        self.backend().apply(&changes)?;
        Ok(changes.len())
    }
}
