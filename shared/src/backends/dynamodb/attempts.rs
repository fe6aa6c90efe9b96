//! The attempt log on the events table: `ATTEMPTS#<partner>#<shard>` / `<at>#<notification id>#<attempt>`
//! with the record as JSON, gone after 30 days (TTL). The shard comes from the notification id
//! ([`crate::store::keys`]), so a partner taking every delivery spreads its log over many partitions; reading
//! the newest attempts queries them all at once and merges. Deliveries given up on sit beside it,
//! `FAILED#<partner>#<shard>` / `<failed at>#<notification id>`, until recovered or 30 days old. Logs written
//! before sharding (`ATTEMPTS#<partner>`, `FAILED#<partner>`) are read with them.

use crate::callbacks::partner::PartnerId;
use crate::callbacks::sender::{AttemptLog, AttemptRecord, FailedDelivery};
use crate::store::dynamodb::{get_json, item_key, key_of, n, query_buckets, s, to_json, unavailable};
use crate::store::keys::{
    attempt_sk, attempts_pk, attempts_pks, failed_pk, failed_pks, failed_pks_of, failed_sk, instant,
};
use crate::store::StoreError;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};

/// How long attempts are kept.
pub const ATTEMPT_RETENTION: Duration = Duration::days(30);

#[derive(Clone)]
pub struct DynamoAttemptLog {
    client: Client,
    table: String,
}

impl DynamoAttemptLog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl DynamoAttemptLog {
    /// Puts a record as JSON in the attribute `field`, gone 30 days after `at`.
    async fn put_kept(
        &self,
        pk: String,
        sk: &str,
        (field, json): (&str, String),
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut item = item_key(pk, sk);
        item.insert(field.into(), s(json));
        item.insert("ttl".into(), n((at + ATTEMPT_RETENTION).timestamp()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

/// A given-up delivery's sort key.
fn parked_sk(failed: &FailedDelivery) -> String {
    failed_sk(failed.failed_at, &failed.job.notification_id)
}

#[async_trait]
impl AttemptLog for DynamoAttemptLog {
    async fn record(&self, attempt: &AttemptRecord) -> Result<(), StoreError> {
        let sk = attempt_sk(attempt.at, &attempt.notification_id, attempt.attempt);
        let pk = attempts_pk(attempt.partner.as_str(), &attempt.notification_id);
        self.put_kept(pk, &sk, ("attempt", to_json(attempt)?), attempt.at).await
    }

    async fn park(&self, failed: &FailedDelivery) -> Result<(), StoreError> {
        let pk = failed_pk(failed.job.partner.as_str(), &failed.job.notification_id);
        let sk = parked_sk(failed);
        self.put_kept(pk, &sk, ("failed", to_json(failed)?), failed.failed_at)
            .await
    }

    async fn parked(
        &self,
        partner: &PartnerId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<FailedDelivery>, StoreError> {
        let partitions = failed_pks(partner.as_str()).into_iter().map(|p| (p, "pk")).collect();
        let range = (instant(since), "~".to_string());
        let mut entries = query_buckets(&self.client, &self.table, "", partitions, range, None).await?;
        entries.sort_by_cached_key(key_of_sort);
        entries.truncate(limit);
        entries.iter().map(|item| get_json(item, "failed")).collect()
    }

    async fn unpark(&self, failed: &FailedDelivery) -> Result<(), StoreError> {
        // Where it was parked: its shard, or the one partition of a log from before sharding.
        for pk in failed_pks_of(failed.job.partner.as_str(), &failed.job.notification_id) {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(item_key(pk, &parked_sk(failed))))
                .send()
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn attempts(
        &self,
        partner: &PartnerId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let partitions = attempts_pks(partner.as_str()).into_iter().map(|p| (p, "pk")).collect();
        // `#` sorts after the instant: every attempt strictly before `until`.
        let range = (instant(since), instant(until));
        let mut entries = query_buckets(&self.client, &self.table, "", partitions, range, Some(limit)).await?;
        entries.sort_by_cached_key(|item| std::cmp::Reverse(key_of_sort(item)));
        entries.truncate(limit);
        entries.iter().map(|item| get_json(item, "attempt")).collect()
    }
}

/// Entries of several partitions in time order: by sort key (it starts with the instant), then partition.
fn key_of_sort(item: &crate::store::dynamodb::Item) -> (String, String) {
    let (pk, sk) = key_of(item);
    (sk, pk)
}
