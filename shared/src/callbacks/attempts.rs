//! The attempt log on the events table: `ATTEMPTS#<partner>` / `<at>#<notification id>#<attempt>` with the
//! record as JSON, gone after 30 days (TTL). One query reads a partner's newest attempts. Deliveries given up
//! on sit beside it, `FAILED#<partner>` / `<failed at>#<notification id>`, until recovered or 30 days old.

use super::partner::PartnerId;
use super::sender::{AttemptLog, AttemptRecord, FailedDelivery};
use crate::store::dynamodb::{get_json, item_key, n, s, to_json, unavailable};
use crate::store::StoreError;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, SecondsFormat, Utc};

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

fn pk(partner: &PartnerId) -> String {
    format!("ATTEMPTS#{partner}")
}

fn failed_pk(partner: &PartnerId) -> String {
    format!("FAILED#{partner}")
}

fn failed_sk(failed: &FailedDelivery) -> String {
    format!("{}#{}", instant(failed.failed_at), failed.job.notification_id)
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[async_trait]
impl AttemptLog for DynamoAttemptLog {
    async fn record(&self, attempt: &AttemptRecord) -> Result<(), StoreError> {
        let sk = format!(
            "{}#{}#{:03}",
            instant(attempt.at),
            attempt.notification_id,
            attempt.attempt
        );
        self.put_kept(pk(&attempt.partner), &sk, ("attempt", to_json(attempt)?), attempt.at)
            .await
    }

    async fn park(&self, failed: &FailedDelivery) -> Result<(), StoreError> {
        let (pk, sk) = (failed_pk(&failed.job.partner), failed_sk(failed));
        self.put_kept(pk, &sk, ("failed", to_json(failed)?), failed.failed_at)
            .await
    }

    async fn parked(
        &self,
        partner: &PartnerId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<FailedDelivery>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk >= :since")
            .expression_attribute_values(":pk", s(failed_pk(partner)))
            .expression_attribute_values(":since", s(instant(since)))
            .limit(i32::try_from(limit.min(1000)).unwrap_or(1000))
            .into_paginator()
            .items()
            .send();
        let mut found = Vec::new();
        while found.len() < limit {
            let Some(item) = pages.next().await else { break };
            found.push(get_json(&item.map_err(unavailable)?, "failed")?);
        }
        Ok(found)
    }

    async fn unpark(&self, failed: &FailedDelivery) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item_key(failed_pk(&failed.job.partner), &failed_sk(failed))))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn attempts(
        &self,
        partner: &PartnerId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :since AND :until")
            .expression_attribute_values(":pk", s(pk(partner)))
            .expression_attribute_values(":since", s(instant(since)))
            // `#` sorts after the instant: every attempt strictly before `until`.
            .expression_attribute_values(":until", s(instant(until)))
            .scan_index_forward(false)
            .into_paginator()
            .items()
            .send();
        let mut found = Vec::new();
        while let Some(item) = pages.next().await {
            found.push(get_json(&item.map_err(unavailable)?, "attempt")?);
            if found.len() >= limit {
                break;
            }
        }
        Ok(found)
    }
}
