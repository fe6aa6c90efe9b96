//! [`AuthFailures`] on the events table: one item per subject and window, `AUTHFAIL#<subject>` /
//! `<window start>`, whose `count` is added to atomically (so concurrent Lambda instances count together) and
//! which expires an hour after its window (`ttl`, clean-up only: an ended window is never read).

use crate::callbacks::throttle::{AuthFailures, Subject, Window};
use crate::store::dynamodb::{item_key, n, unavailable};
use crate::store::keys::{auth_failures_pk, instant};
use crate::store::StoreError;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use chrono::Duration;

#[derive(Debug, Clone)]
pub struct DynamoAuthFailures {
    client: Client,
    table: String,
}

impl DynamoAuthFailures {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn key(subject: &Subject, window: Window) -> crate::store::dynamodb::Item {
    item_key(auth_failures_pk(&subject.key()), &instant(window.start))
}

#[async_trait]
impl AuthFailures for DynamoAuthFailures {
    async fn count(&self, subject: &Subject, window: Window) -> Result<u32, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(subject, window)))
            .consistent_read(true)
            .projection_expression("#count")
            .expression_attribute_names("#count", "count")
            .send()
            .await
            .map_err(unavailable)?;
        let count = output
            .item
            .as_ref()
            .and_then(|item| item.get("count"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<u32>().ok());
        Ok(count.unwrap_or(0))
    }

    async fn add(&self, subject: &Subject, window: Window) -> Result<(), StoreError> {
        let expires = window.end() + Duration::hours(1);
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(subject, window)))
            .update_expression("SET #ttl = :ttl ADD #count :one")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":ttl", n(expires.timestamp()))
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
