//! The customer side on the events table: [`NotificationStore`] here, the directory
//! ([`crate::customers::ContactStore`]) in `contacts`.

mod contacts;

use crate::customers::records::{
    due_claimable, notification_decision, take_from_window, Channel, NotificationClaim, NotificationRecord,
    NotificationStatus, NotificationStore, OUTBOX_LOOKBACK, SMS_CAP_WINDOW,
};
use crate::store::dynamodb::conditions::claim_expr;
use crate::store::dynamodb::items::{from_item, pack, to_item, ClaimRecord};
use crate::store::dynamodb::{
    condition_held, get_ms, get_s, item_key, key_of, n, s, unavailable, ClaimWrite, DynamoStore, Item,
};
use crate::store::keys::{
    alert_pk, notification_outbox_entry, notification_sk, outbox_buckets, sms_window_pk, sort_range, LISTING_INDEX,
    NOTIFY_PREFIX, SMS_WINDOW_SK,
};
use crate::store::{Decision, StoreError};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, DurationRound, Utc};

/// Senders racing for one phone's last allowance: each loss means another took one, so a few rounds settle it.
const SMS_WINDOW_TRIES: usize = 8;

impl DynamoStore {
    /// Writes a notification record where `attempt` still holds it; true when written.
    async fn put_if_held(&self, record: &NotificationRecord, attempt: &str) -> Result<bool, StoreError> {
        let request = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(notification_item(record)?))
            .condition_expression("#attempt = :attempt")
            .expression_attribute_names("#attempt", "attempt")
            .expression_attribute_values(":attempt", s(attempt));
        condition_held(request.send().await)
    }
}

/// A notification lives beside its alert: `ALERT#<alert_id>` / `NOTIFY#<channel>`, a [`ClaimRecord`] whose
/// document is the record, so one query reads an alert's notifications. Only a message waiting in the outbox
/// is in an index: the listing index under its due hour's shard (`OUTBOX#<hour>#<shard>` / `<due_at>`,
/// sparse: the record leaves the index when it is sent).
fn notification_key(alert_id: &str, channel: Channel) -> Item {
    item_key(alert_pk(alert_id), &notification_sk(channel.as_str()))
}

fn notification_item(record: &NotificationRecord) -> Result<Item, StoreError> {
    let channel = record.channel.as_str();
    let held = match (record.in_outbox(), record.due_at) {
        (true, Some(due_at)) => Some(notification_outbox_entry(&record.alert_id, channel, due_at)),
        _ => None,
    };
    to_item(&ClaimRecord {
        pk: alert_pk(&record.alert_id),
        sk: notification_sk(channel),
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
    ) -> Result<NotificationClaim, StoreError> {
        let old = match self.put_claim(notification_item(record)?, claim_expr(now)).await? {
            ClaimWrite::Written(replaced) => {
                let replaced = replaced.map(notification_from).transpose()?;
                return Ok(NotificationClaim::taken_over(replaced.as_ref()));
            }
            ClaimWrite::Refused(old) => old,
        };
        let found = old.map(|item| {
            (
                NotificationStatus::parse(get_s(&item, "status")),
                get_ms(&item, "lease_until"),
            )
        });
        match notification_decision(found, now) {
            Decision::Found(outcome) => Ok(NotificationClaim::from_alert_claim(outcome)),
            // The record changed between the write and the read: report it busy, the retry decides.
            Decision::Take => Ok(NotificationClaim::InProgress),
        }
    }

    async fn mark_sending(&self, record: &NotificationRecord, attempt: &str) -> Result<bool, StoreError> {
        self.put_if_held(record, attempt).await
    }

    async fn finish_notification(&self, record: &NotificationRecord, attempt: &str) -> Result<(), StoreError> {
        if !self.put_if_held(record, attempt).await? {
            tracing::warn!("notification lease was taken over by another attempt; leaving its record alone");
        }
        Ok(())
    }

    async fn release_notification(&self, alert_id: &str, channel: Channel, attempt: &str) -> Result<(), StoreError> {
        let request = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(notification_key(alert_id, channel)))
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
        self.alert_notifications(alert_id).await
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

    /// The phone's send times in one item (`SMSCAP#<digest>` / `WINDOW`: `sent`, a list of Unix milliseconds,
    /// and `version`), read and written back under a condition on the version it was read at, so two senders
    /// at once cannot both take the last allowance: the loser reads again.
    async fn take_sms_allowance(&self, to: &str, now: DateTime<Utc>, cap: u32) -> Result<bool, StoreError> {
        let key = item_key(sms_window_pk(to), SMS_WINDOW_SK);
        for _ in 0..SMS_WINDOW_TRIES {
            let item = self
                .client()
                .get_item()
                .table_name(self.table())
                .set_key(Some(key.clone()))
                .consistent_read(true)
                .send()
                .await
                .map_err(unavailable)?
                .item;
            let version = item
                .as_ref()
                .and_then(|item| item.get("version"))
                .and_then(|v| v.as_n().ok());
            let version: Option<i64> = version.and_then(|v| v.parse().ok());
            let sent: Vec<i64> = item
                .as_ref()
                .and_then(|item| item.get("sent"))
                .and_then(|list| list.as_l().ok())
                .map(|list| list.iter().filter_map(|at| at.as_n().ok()?.parse().ok()).collect())
                .unwrap_or_default();
            let Some(sent) = take_from_window(&sent, now, cap) else {
                return Ok(false);
            };
            let mut item = key.clone();
            item.insert("sent".into(), AttributeValue::L(sent.into_iter().map(n).collect()));
            item.insert("version".into(), n(version.unwrap_or(0) + 1));
            item.insert("ttl".into(), n((now + SMS_CAP_WINDOW + Duration::days(1)).timestamp()));
            let request = self.client().put_item().table_name(self.table()).set_item(Some(item));
            let request = match version {
                Some(version) => request
                    .condition_expression("#version = :version")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":version", n(version)),
                None => request.condition_expression("attribute_not_exists(pk)"),
            };
            if condition_held(request.send().await)? {
                return Ok(true);
            }
        }
        Err(StoreError::Unavailable(
            "the SMS cap's counter is contended; the retry counts again".into(),
        ))
    }

    /// A scan: erasure is rare, and an index of recipients would be one more copy of personal data. The
    /// records are compact, so each is read and compared here.
    async fn mask_recipient(&self, to: &str, masked: &str) -> Result<usize, StoreError> {
        let mut pages = self
            .client()
            .scan()
            .table_name(self.table())
            .filter_expression("begins_with(sk, :notify)")
            .expression_attribute_values(":notify", s(NOTIFY_PREFIX))
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
                .set_key(Some(notification_key(&record.alert_id, record.channel)))
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
