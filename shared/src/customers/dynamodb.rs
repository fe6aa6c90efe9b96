//! [`ContactStore`] on the events table: one item per identifier, `CONTACT#<provider>#<kind>#<value>` /
//! `CONTACT`, holding the whole contact (`contact`, JSON). Each eSIM's contact has partition keys of its own,
//! so no key is shared by many items; a lookup is one `BatchGetItem` of at most three keys, and a change is
//! one transaction (every identifier of a contact, all or none).

use super::notify::{
    due_claimable, notification_decision, Channel, NotificationRecord, NotificationStatus, NotificationStore,
    OUTBOX_LOOKBACK,
};
use super::{upsert_plan, Contact, ContactLookup, ContactStore, EsimRef, Upserted};
use crate::model::ProviderId;
use crate::store::dynamodb::conditions::claim_expr;
use crate::store::dynamodb::items::{from_item, pack, to_item, ClaimRecord};
use crate::store::dynamodb::{
    alert_pk, condition_held, get_json, get_ms, get_s, item_key, key_of, n, s, sort_range, to_json, unavailable,
    ClaimWrite, DynamoStore, Item, LISTING_INDEX,
};
use crate::store::keys::{contact_pk, outbox_buckets, outbox_entry, sms_day_pk};
use crate::store::{AlertClaim, Decision, StoreError};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use chrono::{DateTime, Duration, DurationRound, NaiveDate, Utc};
use std::collections::HashMap;

const CONTACT_SK: &str = "CONTACT";

fn pk(provider: ProviderId, esim: &EsimRef) -> String {
    contact_pk(provider, esim.kind(), esim.value())
}

fn build<T>(built: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    built.map_err(|e| StoreError::Unavailable(e.to_string()))
}

impl DynamoStore {
    /// The contacts stored under `refs`, by partition key (consistent reads, one batch).
    async fn contacts_under(
        &self,
        provider: ProviderId,
        refs: &[EsimRef],
    ) -> Result<HashMap<String, Contact>, StoreError> {
        let keys = refs
            .iter()
            .map(|esim| item_key(pk(provider, esim), CONTACT_SK))
            .collect();
        let mut found = HashMap::new();
        for ((pk, _), item) in self.get_items(keys).await? {
            found.insert(pk, get_json::<Contact>(&item, "contact")?);
        }
        Ok(found)
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        self.client()
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn delete_item(&self, key: String) -> Result<TransactWriteItem, StoreError> {
        let delete = build(
            Delete::builder()
                .table_name(self.table())
                .set_key(Some(item_key(key, CONTACT_SK)))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

#[async_trait]
impl ContactLookup for DynamoStore {
    async fn find(&self, provider: ProviderId, refs: &[EsimRef]) -> Result<Option<Contact>, StoreError> {
        let mut found = self.contacts_under(provider, refs).await?;
        Ok(refs.iter().find_map(|esim| found.remove(&pk(provider, esim))))
    }
}

#[async_trait]
impl ContactStore for DynamoStore {
    async fn upsert(&self, contact: &Contact) -> Result<Upserted, StoreError> {
        let refs = contact.refs();
        let replaced: Vec<Contact> = self
            .contacts_under(contact.provider, &refs)
            .await?
            .into_values()
            .collect();
        let Some((outcome, stale)) = upsert_plan(contact, &replaced) else {
            return Ok(Upserted::Unchanged);
        };
        let document = to_json(contact)?;
        let mut items = Vec::new();
        for esim in &refs {
            let mut item: Item = item_key(pk(contact.provider, esim), CONTACT_SK);
            item.insert("contact".into(), s(document.clone()));
            item.insert("provider".into(), s(contact.provider.as_str()));
            let put = build(Put::builder().table_name(self.table()).set_item(Some(item)).build())?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        for esim in &stale {
            items.push(self.delete_item(pk(contact.provider, esim))?);
        }
        self.transact(items).await?;
        Ok(outcome)
    }

    async fn remove(&self, provider: ProviderId, esim: &EsimRef) -> Result<Option<Contact>, StoreError> {
        let Some(contact) = self.find(provider, std::slice::from_ref(esim)).await? else {
            return Ok(None);
        };
        let items = contact
            .refs()
            .iter()
            .map(|esim| self.delete_item(pk(provider, esim)))
            .collect::<Result<Vec<_>, _>>()?;
        self.transact(items).await?;
        Ok(Some(contact))
    }
}

/// A notification lives beside its alert: `ALERT#<alert_id>` / `NOTIFY#<channel>`, a [`ClaimRecord`] whose
/// document is the record, so one query reads an alert's notifications. Only a message waiting in the outbox
/// is in an index: the listing index under its due hour's shard (`OUTBOX#<hour>#<shard>` / `<due_at>`,
/// sparse: the record leaves the index when it is sent).
fn notification_sk(channel: Channel) -> String {
    format!("NOTIFY#{}", channel.as_str())
}

fn notification_item(record: &NotificationRecord) -> Result<Item, StoreError> {
    let sk = notification_sk(record.channel);
    let held = match (record.in_outbox(), record.due_at) {
        (true, Some(due_at)) => Some(outbox_entry(&format!("{}#{sk}", record.alert_id), due_at)),
        _ => None,
    };
    to_item(&ClaimRecord {
        pk: alert_pk(&record.alert_id),
        sk,
        status: record.status.as_str().into(),
        attempt: record.attempt.clone(),
        lease_until: record.lease_until.map(|until| until.timestamp_millis()),
        doc: Some(pack(record)?),
        gsi1pk: held.as_ref().map(|h| h.pk.clone()),
        gsi1sk: held.map(|h| h.sk),
        ..ClaimRecord::default()
    })
}

fn notification_from(item: Item) -> Result<NotificationRecord, StoreError> {
    from_item::<ClaimRecord>(item)?.notification()
}

#[async_trait]
impl NotificationStore for DynamoStore {
    async fn claim_notification(
        &self,
        record: &NotificationRecord,
        now: DateTime<Utc>,
    ) -> Result<AlertClaim, StoreError> {
        let old = match self.put_claim(notification_item(record)?, claim_expr(now)).await? {
            ClaimWrite::Written => return Ok(AlertClaim::Claimed),
            ClaimWrite::Refused(old) => old,
        };
        let found = old.map(|item| {
            (
                NotificationStatus::parse(get_s(&item, "status")),
                get_ms(&item, "lease_until"),
            )
        });
        match notification_decision(found, now) {
            Decision::Found(outcome) => Ok(outcome),
            // The record changed between the write and the read: report it busy, the retry decides.
            Decision::Take => Ok(AlertClaim::InProgress),
        }
    }

    async fn finish_notification(&self, record: &NotificationRecord, attempt: &str) -> Result<(), StoreError> {
        let request = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(notification_item(record)?))
            .condition_expression("#attempt = :attempt")
            .expression_attribute_names("#attempt", "attempt")
            .expression_attribute_values(":attempt", s(attempt));
        if !condition_held(request.send().await)? {
            tracing::warn!("notification lease was taken over by another attempt; leaving its record alone");
        }
        Ok(())
    }

    async fn release_notification(&self, alert_id: &str, channel: Channel, attempt: &str) -> Result<(), StoreError> {
        let request = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(item_key(alert_pk(alert_id), &notification_sk(channel))))
            .condition_expression("#attempt = :attempt")
            .update_expression("SET #lease_until = :zero")
            .expression_attribute_names("#attempt", "attempt")
            .expression_attribute_names("#lease_until", "lease_until")
            .expression_attribute_values(":attempt", s(attempt))
            .expression_attribute_values(":zero", n(0));
        condition_held(request.send().await)?;
        Ok(())
    }

    async fn notifications(&self, alert_id: &str) -> Result<Vec<NotificationRecord>, StoreError> {
        let mut pages = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(alert_pk(alert_id)))
            .expression_attribute_values(":prefix", s("NOTIFY#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut records = Vec::new();
        while let Some(item) = pages.next().await {
            records.push(notification_from(item.map_err(unavailable)?)?);
        }
        Ok(records)
    }

    async fn due_notifications(&self, now: DateTime<Utc>) -> Result<Vec<NotificationRecord>, StoreError> {
        let mut buckets = Vec::new();
        let mut hour = (now - OUTBOX_LOOKBACK)
            .duration_trunc(Duration::hours(1))
            .unwrap_or(now);
        while hour <= now {
            buckets.extend(outbox_buckets(hour).into_iter().map(|b| (b, "gsi1pk")));
            hour += Duration::hours(1);
        }
        let range = sort_range(now - OUTBOX_LOOKBACK - Duration::hours(1), now);
        let entries = self.query_buckets(LISTING_INDEX, buckets, range, None).await?;
        let keys = entries
            .iter()
            .map(|entry| {
                let (pk, sk) = key_of(entry);
                item_key(pk, &sk)
            })
            .collect();
        let mut due = Vec::new();
        for (_, item) in self.get_items(keys).await? {
            let record = notification_from(item)?;
            if record.in_outbox()
                && record.due_at.is_some_and(|at| at <= now)
                && due_claimable(record.status, record.lease_until, now)
            {
                due.push(record);
            }
        }
        due.sort_by(|a, b| (a.due_at, &a.alert_id).cmp(&(b.due_at, &b.alert_id)));
        Ok(due)
    }

    async fn claim_due(&self, record: &NotificationRecord, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let request = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(notification_item(record)?))
            .condition_expression(
                "attribute_exists(gsi1pk) AND (#status = :queued OR (#status = :claimed AND #lease_until <= :now))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#lease_until", "lease_until")
            .expression_attribute_values(":queued", s(NotificationStatus::Queued.as_str()))
            .expression_attribute_values(":claimed", s(NotificationStatus::Claimed.as_str()))
            .expression_attribute_values(":now", n(now.timestamp_millis()));
        condition_held(request.send().await)
    }

    async fn take_sms_allowance(&self, to: &str, day: NaiveDate, cap: u32) -> Result<bool, StoreError> {
        let expires = day
            .and_hms_opt(0, 0, 0)
            .map(|midnight| midnight.and_utc() + Duration::days(3))
            .unwrap_or_else(Utc::now);
        let request = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(item_key(sms_day_pk(to, day), "COUNT")))
            .update_expression("ADD #count :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#count) OR #count < :cap")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":cap", n(i64::from(cap)))
            .expression_attribute_values(":ttl", n(expires.timestamp()));
        condition_held(request.send().await)
    }

    /// A scan: erasure is rare, and an index of recipients would be one more copy of personal data. The
    /// records are compact, so each is read and compared here.
    async fn mask_recipient(&self, to: &str, masked: &str) -> Result<usize, StoreError> {
        let mut pages = self
            .client()
            .scan()
            .table_name(self.table())
            .filter_expression("begins_with(sk, :notify)")
            .expression_attribute_values(":notify", s("NOTIFY#"))
            .into_paginator()
            .items()
            .send();
        let mut records: Vec<NotificationRecord> = Vec::new();
        while let Some(item) = pages.next().await {
            let record = notification_from(item.map_err(unavailable)?)?;
            if record.to == to {
                records.push(record);
            }
        }
        for record in &records {
            let mut record = record.clone();
            record.to = masked.to_string();
            self.client()
                .update_item()
                .table_name(self.table())
                .set_key(Some(item_key(
                    alert_pk(&record.alert_id),
                    &notification_sk(record.channel),
                )))
                .update_expression("SET #doc = :doc REMOVE #notification")
                .expression_attribute_names("#doc", "doc")
                .expression_attribute_names("#notification", "notification")
                .expression_attribute_values(":doc", AttributeValue::B(pack(&record)?.into_vec().into()))
                .send()
                .await
                .map_err(unavailable)?;
        }
        Ok(records.len())
    }
}
