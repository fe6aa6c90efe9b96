//! The attempt log on the events table: `ATTEMPTS#<partner>` / `<at>#<notification id>#<attempt>` with the
//! record as JSON, gone after 30 days (TTL). One query reads a partner's newest attempts.

use super::partner::PartnerId;
use super::sender::{AttemptLog, AttemptRecord};
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

fn pk(partner: &PartnerId) -> String {
    format!("ATTEMPTS#{partner}")
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
        let mut item = item_key(pk(&attempt.partner), &sk);
        item.insert("attempt".into(), s(to_json(attempt)?));
        item.insert("ttl".into(), n((attempt.at + ATTEMPT_RETENTION).timestamp()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
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
