//! What every DynamoDB adapter shares at the level of one item: attribute values in and out, the error
//! mapping (a failed condition is an answer, anything else `StoreError::Unavailable`), and expressions kept
//! as data.

use crate::store::{AlertStatus, DeliveryStatus, StoreError};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use std::collections::HashMap;

use super::Item;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn unavailable<E: std::error::Error + 'static, R>(e: SdkError<E, R>) -> StoreError
where
    R: std::fmt::Debug,
{
    StoreError::Unavailable(DisplayErrorContext(&e).to_string())
}

/// Whether a conditional write applied: `Ok(false)` when its condition failed, an error for anything else.
pub(crate) fn condition_held<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().and_then(|se| se.code()) == Some("ConditionalCheckFailedException") => Ok(false),
        Err(e) => Err(unavailable(e)),
    }
}

/// A request built from its parts, or why it could not be.
pub(crate) fn built<T>(built: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    built.map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// Whether a transaction was cancelled because an item was no longer as read (or another transaction held
/// it): the caller reads again and decides again.
pub(crate) fn transaction_lost<R>(error: &SdkError<TransactWriteItemsError, R>) -> bool {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
            .cancellation_reasons()
            .iter()
            .any(|reason| matches!(reason.code(), Some("ConditionalCheckFailed" | "TransactionConflict"))),
        _ => false,
    }
}

/// The names of the table's global secondary indexes.
pub(crate) async fn index_names(client: &Client, table: &str) -> Result<Vec<String>, StoreError> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(unavailable)?;
    Ok(described
        .table
        .and_then(|t| t.global_secondary_indexes)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| i.index_name)
        .collect())
}

/// The primary key of an item.
pub(crate) fn item_key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

pub(crate) fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

pub(crate) fn get_ms(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    get_n(item, name).and_then(DateTime::from_timestamp_millis)
}

pub(crate) fn get_json<T: DeserializeOwned>(item: &Item, name: &str) -> Result<T, StoreError> {
    let text = get_s(item, name).ok_or_else(|| StoreError::Corrupt(format!("item has no {name}")))?;
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A condition (and optional update) with the placeholders it uses. Kept as data so a unit test can check
/// that every placeholder is both defined and used: DynamoDB rejects unused ones, emulators accept them.
#[derive(Debug)]
pub(crate) struct Expression {
    pub condition: &'static str,
    pub update: Option<&'static str>,
    pub names: &'static [(&'static str, &'static str)],
    pub values: Vec<(&'static str, AttributeValue)>,
}

impl Expression {
    pub(crate) fn on_put(self, mut request: PutItemFluentBuilder) -> PutItemFluentBuilder {
        request = request.condition_expression(self.condition);
        for (placeholder, name) in self.names {
            request = request.expression_attribute_names(*placeholder, *name);
        }
        for (placeholder, value) in self.values {
            request = request.expression_attribute_values(placeholder, value);
        }
        request.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    }

    pub(crate) fn on_update(self, mut request: UpdateItemFluentBuilder) -> UpdateItemFluentBuilder {
        if !self.condition.is_empty() {
            request = request.condition_expression(self.condition);
        }
        if let Some(update) = self.update {
            request = request.update_expression(update);
        }
        for (placeholder, name) in self.names {
            request = request.expression_attribute_names(*placeholder, *name);
        }
        for (placeholder, value) in self.values {
            request = request.expression_attribute_values(placeholder, value);
        }
        request
    }
}

pub(crate) fn parse_delivery_status(text: Option<&str>) -> DeliveryStatus {
    match text {
        Some("COMPLETED") => DeliveryStatus::Completed,
        _ => DeliveryStatus::InProgress,
    }
}

pub(crate) fn parse_alert_status(text: Option<&str>) -> AlertStatus {
    match text {
        Some("SENT") => AlertStatus::Sent,
        _ => AlertStatus::Claimed,
    }
}
