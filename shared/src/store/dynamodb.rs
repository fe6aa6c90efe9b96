//! [`EventStore`] on one DynamoDB table (layout in `docs/dynamodb.md`). Every claim is one conditional write;
//! a failed condition returns the old item (`ReturnValuesOnConditionCheckFailure=ALL_OLD`), whose fields the
//! shared rules in `store/mod.rs` turn into an outcome, so no second read is needed.

use super::{
    alert_decision, delivery_decision, AlertClaim, AlertStatus, Begin, Decision, DeliveryStatus, EventStore, Lease,
    ListQuery, StoreError, StoreQuery, StoredAlert, StoredConflict, StoredDelivery, Versioned,
};
use crate::alerts::Alert;
use crate::model::{DedupeKey, Event, ProviderId};
use crate::state::EsimState;
use crate::time::day_bucket;
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use std::collections::HashMap;

pub const LISTING_INDEX: &str = "gsi1";
/// Sparse index of eSIM states by the hour their validity ends, for the expiry sweep.
pub const EXPIRY_INDEX: &str = "gsi2";

fn expiry_bucket(at: DateTime<Utc>) -> String {
    format!("EXPIRY#{}", at.format("%Y-%m-%dT%H"))
}
pub(crate) type Item = HashMap<String, AttributeValue>;

/// The DynamoDB store. `retention` sets the TTL of delivery, alert and conflict items (clean-up only:
/// correctness never depends on TTL, which DynamoDB applies within days and emulators never).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    retention: Duration,
}

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
struct Expression {
    condition: &'static str,
    update: Option<&'static str>,
    names: &'static [(&'static str, &'static str)],
    values: Vec<(&'static str, AttributeValue)>,
}

impl Expression {
    fn on_put(self, mut request: PutItemFluentBuilder) -> PutItemFluentBuilder {
        request = request.condition_expression(self.condition);
        for (placeholder, name) in self.names {
            request = request.expression_attribute_names(*placeholder, *name);
        }
        for (placeholder, value) in self.values {
            request = request.expression_attribute_values(placeholder, value);
        }
        request.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    }

    fn on_update(self, mut request: UpdateItemFluentBuilder) -> UpdateItemFluentBuilder {
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

const LEASE_NAMES: &[(&str, &str)] = &[
    ("#status", "status"),
    ("#attempt", "attempt"),
    ("#lease_until", "lease_until"),
];

fn begin_delivery_expr(payload_sha256: &str, now: DateTime<Utc>) -> Expression {
    Expression {
        condition: "attribute_not_exists(pk) OR (#status = :in_progress AND #lease_until < :now AND #sha = :sha)",
        update: None,
        names: &[
            ("#status", "status"),
            ("#lease_until", "lease_until"),
            ("#sha", "payload_sha256"),
        ],
        values: vec![
            (":in_progress", s(DeliveryStatus::InProgress.as_str())),
            (":now", n(now.timestamp_millis())),
            (":sha", s(payload_sha256)),
        ],
    }
}

fn finish_delivery_expr(attempt: &str, now: DateTime<Utc>) -> Expression {
    Expression {
        condition: "#attempt = :attempt",
        update: Some("SET #status = :completed, completed_at = :now REMOVE #attempt, #lease_until"),
        names: LEASE_NAMES,
        values: vec![
            (":attempt", s(attempt)),
            (":completed", s(DeliveryStatus::Completed.as_str())),
            (":now", s(now.to_rfc3339())),
        ],
    }
}

fn abandon_delivery_expr(attempt: &str, reason: &str) -> Expression {
    Expression {
        condition: "#attempt = :attempt AND #status = :in_progress",
        update: Some("SET #lease_until = :zero, last_error = :error"),
        names: LEASE_NAMES,
        values: vec![
            (":attempt", s(attempt)),
            (":in_progress", s(DeliveryStatus::InProgress.as_str())),
            (":zero", n(0)),
            (":error", s(reason)),
        ],
    }
}

fn rewrite_event_expr(event_json: String, kind: &str) -> Expression {
    Expression {
        condition: "attribute_exists(pk)",
        update: Some("SET #event = :event, #kind = :kind"),
        names: &[("#event", "event"), ("#kind", "kind")],
        values: vec![(":event", s(event_json)), (":kind", s(kind))],
    }
}

/// One conflict record per (key, payload): created by the first, counted by every later one.
fn record_conflict_expr(
    event_json: String,
    event: &Event,
    gsi1pk: String,
    gsi1sk: String,
    ttl: AttributeValue,
) -> Expression {
    Expression {
        condition: "",
        update: Some(
            "SET #event = if_not_exists(#event, :event), #provider = :provider, #sha = :sha, \
             #first = if_not_exists(#first, :seen), #last = :seen, #gsi1pk = :gsi1pk, #gsi1sk = :gsi1sk, \
             #ttl = :ttl ADD #count :one",
        ),
        names: &[
            ("#event", "event"),
            ("#provider", "provider"),
            ("#sha", "payload_sha256"),
            ("#first", "first_seen_at"),
            ("#last", "last_seen_at"),
            ("#gsi1pk", "gsi1pk"),
            ("#gsi1sk", "gsi1sk"),
            ("#ttl", "ttl"),
            ("#count", "count"),
        ],
        values: vec![
            (":event", s(event_json)),
            (":provider", s(event.provider.as_str())),
            (":sha", s(event.payload_sha256.as_str())),
            (":seen", s(event.received_at.to_rfc3339())),
            (":gsi1pk", s(gsi1pk)),
            (":gsi1sk", s(gsi1sk)),
            (":ttl", ttl),
            (":one", n(1)),
        ],
    }
}

fn save_state_expr(expected: Option<u64>) -> Expression {
    match expected {
        None => Expression {
            condition: "attribute_not_exists(pk)",
            update: None,
            names: &[],
            values: vec![],
        },
        Some(version) => Expression {
            condition: "#version = :expected",
            update: None,
            names: &[("#version", "version")],
            values: vec![(":expected", n(version as i64))],
        },
    }
}

fn claim_alert_expr(now: DateTime<Utc>) -> Expression {
    Expression {
        condition: "attribute_not_exists(pk) OR (#status = :claimed AND #lease_until < :now)",
        update: None,
        names: &[("#status", "status"), ("#lease_until", "lease_until")],
        values: vec![
            (":claimed", s(AlertStatus::Claimed.as_str())),
            (":now", n(now.timestamp_millis())),
        ],
    }
}

fn mark_alert_sent_expr(attempt: &str, receipt: &str, now: DateTime<Utc>) -> Expression {
    Expression {
        condition: "#attempt = :attempt",
        update: Some("SET #status = :sent, sent_at = :now, receipt = :receipt REMOVE #attempt, #lease_until"),
        names: LEASE_NAMES,
        values: vec![
            (":attempt", s(attempt)),
            (":sent", s(AlertStatus::Sent.as_str())),
            (":now", s(now.to_rfc3339())),
            (":receipt", s(receipt)),
        ],
    }
}

fn release_alert_expr(attempt: &str) -> Expression {
    Expression {
        condition: "#attempt = :attempt",
        update: Some("SET #lease_until = :zero"),
        names: &[("#attempt", "attempt"), ("#lease_until", "lease_until")],
        values: vec![(":attempt", s(attempt)), (":zero", n(0))],
    }
}

fn delivery_pk(provider: ProviderId, dedupe_key: &str) -> String {
    format!("EVENT#{provider}#{dedupe_key}")
}

fn state_pk(provider: ProviderId, esim_key: &str) -> String {
    format!("ESIM#{provider}#{esim_key}")
}

pub(crate) fn alert_pk(alert_id: &str) -> String {
    format!("ALERT#{alert_id}")
}

fn parse_delivery_status(text: Option<&str>) -> DeliveryStatus {
    match text {
        Some("COMPLETED") => DeliveryStatus::Completed,
        _ => DeliveryStatus::InProgress,
    }
}

fn parse_alert_status(text: Option<&str>) -> AlertStatus {
    match text {
        Some("SENT") => AlertStatus::Sent,
        _ => AlertStatus::Claimed,
    }
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, retention: Duration) -> Self {
        Self {
            client,
            table: table.into(),
            retention,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn ttl(&self, from: DateTime<Utc>) -> AttributeValue {
        n((from + self.retention).timestamp())
    }

    /// Runs an update that only applies while we hold the lease; a lost lease is logged, not an error.
    async fn update_held(&self, key: Item, expression: Expression, what: &str) -> Result<(), StoreError> {
        let request = self.client.update_item().table_name(&self.table).set_key(Some(key));
        if !condition_held(expression.on_update(request).send().await)? {
            tracing::warn!(
                what,
                "lease was taken over by another attempt; leaving its record alone"
            );
        }
        Ok(())
    }

    /// The `status` of the claim item at `key` (consistent read of that one attribute): `None` when there is
    /// no item, `Some(None)` when it has no status.
    async fn status_at(&self, key: Item) -> Result<Option<Option<String>>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .projection_expression("#status")
            .expression_attribute_names("#status", "status")
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.item.map(|item| get_s(&item, "status").map(str::to_string)))
    }

    /// The old item of a failed conditional put: from the error when DynamoDB returned it, else re-read.
    async fn old_item(&self, returned: Option<&Item>, key: Item) -> Result<Option<Item>, StoreError> {
        if let Some(item) = returned {
            return Ok(Some(item.clone()));
        }
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.item)
    }

    /// Creates the table with its listing index and TTL, if it does not exist. For `esimhooks init` and tests;
    /// production tables come from `template.yaml`.
    pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Unavailable(e.to_string());
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build)
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(build)
        };
        let index = |name: &str, pk: &str, sk: &str| {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(pk, KeyType::Hash)?)
                .key_schema(key(sk, KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(build)
        };
        let created = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .attribute_definitions(attr("gsi1pk")?)
            .attribute_definitions(attr("gsi1sk")?)
            .attribute_definitions(attr("gsi2pk")?)
            .attribute_definitions(attr("gsi2sk")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(index(LISTING_INDEX, "gsi1pk", "gsi1sk")?)
            .global_secondary_indexes(index(EXPIRY_INDEX, "gsi2pk", "gsi2sk")?)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_in_use_exception()) => return Ok(()),
            Err(e) => return Err(unavailable(e)),
        }
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name("ttl")
            .build()
            .map_err(build)?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Items of one listing kind (`EVENT`, `ESIM`, `ALERT`, `CONFLICT`), newest first, one day bucket at a time.
    async fn list_items(&self, kind: &str, query: &ListQuery) -> Result<Vec<Item>, StoreError> {
        let until = query.until.unwrap_or_else(Utc::now);
        let since = query
            .since
            .unwrap_or(until - Duration::days(7))
            .max(until - Duration::days(400));
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut day = until;
        while day.date_naive() >= since.date_naive() && items.len() < limit {
            let mut pages = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(LISTING_INDEX)
                .key_condition_expression("gsi1pk = :pk")
                .expression_attribute_values(":pk", s(format!("{kind}#{}", day_bucket(day))))
                .scan_index_forward(false)
                .into_paginator()
                .items()
                .send();
            while let Some(item) = pages.next().await {
                let item = item.map_err(unavailable)?;
                // Every listed item carries its provider, so the filter applies before the limit counts.
                if query
                    .provider
                    .is_none_or(|p| get_s(&item, "provider") == Some(p.as_str()))
                {
                    items.push(item);
                }
                if items.len() >= limit {
                    break;
                }
            }
            day -= Duration::days(1);
        }
        Ok(items)
    }
}

#[async_trait]
impl EventStore for DynamoStore {
    async fn begin_delivery(&self, event: &Event, lease: &Lease, now: DateTime<Utc>) -> Result<Begin, StoreError> {
        let pk = delivery_pk(event.provider, event.dedupe_key.as_str());
        let mut item = item_key(pk.clone(), "EVENT");
        item.insert("status".into(), s(DeliveryStatus::InProgress.as_str()));
        item.insert("attempt".into(), s(&lease.attempt));
        item.insert("lease_until".into(), n(lease.until.timestamp_millis()));
        item.insert("payload_sha256".into(), s(event.payload_sha256.as_str()));
        item.insert("provider".into(), s(event.provider.as_str()));
        item.insert("kind".into(), s(event.kind.as_str()));
        item.insert("received_at".into(), s(event.received_at.to_rfc3339()));
        if let Some(esim) = &event.esim {
            item.insert("esim_key".into(), s(&esim.key));
        }
        item.insert("event".into(), s(to_json(event)?));
        item.insert("gsi1pk".into(), s(format!("EVENT#{}", day_bucket(event.received_at))));
        item.insert("gsi1sk".into(), s(format!("{}#{pk}", event.received_at.to_rfc3339())));
        item.insert("ttl".into(), self.ttl(event.received_at));

        let request = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let error = match begin_delivery_expr(&event.payload_sha256, now)
            .on_put(request)
            .send()
            .await
        {
            Ok(_) => return Ok(Begin::Started),
            Err(e) => e,
        };
        let returned = match error.as_service_error() {
            Some(se) if se.is_conditional_check_failed_exception() => match se {
                aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                    c.item().cloned()
                }
                _ => None,
            },
            _ => return Err(unavailable(error)),
        };
        let old = self.old_item(returned.as_ref(), item_key(pk, "EVENT")).await?;
        let found = old.as_ref().map(|item| {
            (
                parse_delivery_status(get_s(item, "status")),
                get_ms(item, "lease_until"),
                get_s(item, "payload_sha256").unwrap_or_default(),
            )
        });
        match delivery_decision(found, &event.payload_sha256, now) {
            Decision::Found(outcome) => Ok(outcome),
            // The record changed between the write and the read: report it busy, the retry decides.
            Decision::Take => Ok(Begin::InProgress),
        }
    }

    async fn delivery_status(
        &self,
        provider: ProviderId,
        dedupe_key: &DedupeKey,
    ) -> Result<Option<DeliveryStatus>, StoreError> {
        let key = item_key(delivery_pk(provider, dedupe_key.as_str()), "EVENT");
        let status = self.status_at(key).await?;
        Ok(status.map(|status| parse_delivery_status(status.as_deref())))
    }

    async fn finish_delivery(&self, event: &Event, lease: &Lease, now: DateTime<Utc>) -> Result<(), StoreError> {
        let key = item_key(delivery_pk(event.provider, event.dedupe_key.as_str()), "EVENT");
        self.update_held(key, finish_delivery_expr(&lease.attempt, now), "finish delivery")
            .await
    }

    async fn abandon_delivery(&self, event: &Event, lease: &Lease, reason: &str) -> Result<(), StoreError> {
        let key = item_key(delivery_pk(event.provider, event.dedupe_key.as_str()), "EVENT");
        self.update_held(key, abandon_delivery_expr(&lease.attempt, reason), "abandon delivery")
            .await
    }

    async fn rewrite_event(&self, event: &Event) -> Result<bool, StoreError> {
        let key = item_key(delivery_pk(event.provider, event.dedupe_key.as_str()), "EVENT");
        let request = self.client.update_item().table_name(&self.table).set_key(Some(key));
        condition_held(
            rewrite_event_expr(to_json(event)?, event.kind.as_str())
                .on_update(request)
                .send()
                .await,
        )
    }

    async fn record_conflict(&self, event: &Event) -> Result<(), StoreError> {
        let pk = format!("CONFLICT#{}#{}", event.provider, event.dedupe_key);
        let expression = record_conflict_expr(
            to_json(event)?,
            event,
            format!("CONFLICT#{}", day_bucket(event.received_at)),
            format!("{}#{pk}", event.received_at.to_rfc3339()),
            self.ttl(event.received_at),
        );
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_key(pk, event.payload_sha256.as_str())));
        expression.on_update(request).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn load_state(
        &self,
        provider: ProviderId,
        esim_key: &str,
    ) -> Result<Option<Versioned<EsimState>>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key(state_pk(provider, esim_key), "STATE")))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let version = get_n(&item, "version").ok_or_else(|| StoreError::Corrupt("state has no version".into()))?;
        Ok(Some(Versioned {
            value: get_json(&item, "state")?,
            version: version as u64,
        }))
    }

    async fn save_state(&self, state: &EsimState, expected: Option<u64>) -> Result<bool, StoreError> {
        let pk = state_pk(state.provider, &state.key);
        let mut item = item_key(pk.clone(), "STATE");
        item.insert("version".into(), n(expected.map_or(1, |v| v as i64 + 1)));
        item.insert("state".into(), s(to_json(state)?));
        item.insert("provider".into(), s(state.provider.as_str()));
        item.insert("esim_key".into(), s(&state.key));
        if let Some(iccid) = &state.iccid {
            item.insert("iccid".into(), s(iccid));
        }
        if let Some(status) = &state.status {
            item.insert("provider_status".into(), s(&status.value.provider_status));
        }
        if let Some(expires_at) = state.expires_at() {
            item.insert("expires_at".into(), s(expires_at.to_rfc3339()));
            item.insert("gsi2pk".into(), s(expiry_bucket(expires_at)));
            item.insert("gsi2sk".into(), s(format!("{}#{pk}", expires_at.to_rfc3339())));
        }
        item.insert("updated_at".into(), s(state.updated_at.to_rfc3339()));
        item.insert("gsi1pk".into(), s(format!("ESIM#{}", day_bucket(state.updated_at))));
        item.insert("gsi1sk".into(), s(format!("{}#{pk}", state.updated_at.to_rfc3339())));
        let request = self.client.put_item().table_name(&self.table).set_item(Some(item));
        condition_held(save_state_expr(expected).on_put(request).send().await)
    }

    async fn expiring_states(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<EsimState>, StoreError> {
        let mut states = Vec::new();
        let mut hour = from;
        // One query per hour bucket the range touches (25 for a 24 h window).
        while expiry_bucket(hour) <= expiry_bucket(until) {
            let mut pages = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(EXPIRY_INDEX)
                .key_condition_expression("gsi2pk = :bucket")
                .expression_attribute_values(":bucket", s(expiry_bucket(hour)))
                .into_paginator()
                .items()
                .send();
            while let Some(item) = pages.next().await {
                let state: EsimState = get_json(&item.map_err(unavailable)?, "state")?;
                if state.expires_at().is_some_and(|at| at >= from && at < until) {
                    states.push(state);
                }
            }
            hour += Duration::hours(1);
        }
        Ok(states)
    }

    async fn alert_status(&self, alert_id: &str) -> Result<Option<AlertStatus>, StoreError> {
        let status = self.status_at(item_key(alert_pk(alert_id), "ALERT")).await?;
        Ok(status.map(|status| parse_alert_status(status.as_deref())))
    }

    async fn claim_alert(&self, alert: &Alert, lease: &Lease, now: DateTime<Utc>) -> Result<AlertClaim, StoreError> {
        let pk = alert_pk(&alert.alert_id);
        let mut item = item_key(pk.clone(), "ALERT");
        item.insert("status".into(), s(AlertStatus::Claimed.as_str()));
        item.insert("attempt".into(), s(&lease.attempt));
        item.insert("lease_until".into(), n(lease.until.timestamp_millis()));
        item.insert("provider".into(), s(alert.provider.as_str()));
        item.insert("alert_type".into(), s(alert.alert_type.as_str()));
        item.insert("level".into(), s(&alert.level));
        item.insert("alert".into(), s(to_json(alert)?));
        item.insert("gsi1pk".into(), s(format!("ALERT#{}", day_bucket(alert.raised_at))));
        item.insert("gsi1sk".into(), s(format!("{}#{pk}", alert.raised_at.to_rfc3339())));
        item.insert("ttl".into(), self.ttl(alert.raised_at));
        let request = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let error = match claim_alert_expr(now).on_put(request).send().await {
            Ok(_) => return Ok(AlertClaim::Claimed),
            Err(e) => e,
        };
        let returned = match error.as_service_error() {
            Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
                c.item().cloned()
            }
            _ => return Err(unavailable(error)),
        };
        let old = self.old_item(returned.as_ref(), item_key(pk, "ALERT")).await?;
        let found = old
            .as_ref()
            .map(|item| (parse_alert_status(get_s(item, "status")), get_ms(item, "lease_until")));
        match alert_decision(found, now) {
            Decision::Found(outcome) => Ok(outcome),
            Decision::Take => Ok(AlertClaim::InProgress),
        }
    }

    async fn mark_alert_sent(
        &self,
        alert: &Alert,
        lease: &Lease,
        receipt: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let key = item_key(alert_pk(&alert.alert_id), "ALERT");
        self.update_held(
            key,
            mark_alert_sent_expr(&lease.attempt, receipt, now),
            "mark alert sent",
        )
        .await
    }

    async fn release_alert(&self, alert: &Alert, lease: &Lease) -> Result<(), StoreError> {
        let key = item_key(alert_pk(&alert.alert_id), "ALERT");
        self.update_held(key, release_alert_expr(&lease.attempt), "release alert")
            .await
    }
}

fn delivery_from_item(item: &Item) -> Result<StoredDelivery, StoreError> {
    Ok(StoredDelivery {
        status: parse_delivery_status(get_s(item, "status")),
        attempt: get_s(item, "attempt").map(str::to_string),
        lease_until: get_ms(item, "lease_until"),
        completed_at: get_s(item, "completed_at")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.to_utc()),
        last_error: get_s(item, "last_error").map(str::to_string),
        event: get_json(item, "event")?,
    })
}

fn alert_from_item(item: &Item) -> Result<StoredAlert, StoreError> {
    Ok(StoredAlert {
        status: parse_alert_status(get_s(item, "status")),
        attempt: get_s(item, "attempt").map(str::to_string),
        lease_until: get_ms(item, "lease_until"),
        sent_at: get_s(item, "sent_at")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.to_utc()),
        receipt: get_s(item, "receipt").map(str::to_string),
        alert: get_json(item, "alert")?,
        notifications: Vec::new(),
    })
}

/// A conflict record; one written before conflicts were counted has no count or times: seen once, then.
fn conflict_from_item(item: &Item) -> Result<StoredConflict, StoreError> {
    let event: Event = get_json(item, "event")?;
    let instant = |name: &str| {
        get_s(item, name)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.to_utc())
    };
    Ok(StoredConflict {
        count: get_n(item, "count").map_or(1, |c| c.max(1) as u64),
        first_seen_at: instant("first_seen_at").unwrap_or(event.received_at),
        last_seen_at: instant("last_seen_at").unwrap_or(event.received_at),
        event,
    })
}

fn filtered<T>(
    items: Vec<Item>,
    query: &ListQuery,
    parse: impl Fn(&Item) -> Result<T, StoreError>,
    at: impl Fn(&T) -> (ProviderId, DateTime<Utc>),
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for item in &items {
        let value = parse(item)?;
        let (provider, when) = at(&value);
        if query.admits(provider, when) {
            out.push(value);
        }
        if out.len() >= query.limit.unwrap_or(usize::MAX) {
            break;
        }
    }
    Ok(out)
}

#[async_trait]
impl StoreQuery for DynamoStore {
    async fn esim_state(&self, provider: ProviderId, key: &str) -> Result<Option<EsimState>, StoreError> {
        Ok(EventStore::load_state(self, provider, key).await?.map(|v| v.value))
    }

    async fn delivery(
        &self,
        provider: ProviderId,
        dedupe_key: &DedupeKey,
    ) -> Result<Option<StoredDelivery>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key(delivery_pk(provider, dedupe_key.as_str()), "EVENT")))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item.as_ref().map(delivery_from_item).transpose()
    }

    async fn list_deliveries(&self, query: &ListQuery) -> Result<Vec<StoredDelivery>, StoreError> {
        let items = self.list_items("EVENT", query).await?;
        filtered(items, query, delivery_from_item, |d| {
            (d.event.provider, d.event.received_at)
        })
    }

    async fn list_states(&self, query: &ListQuery) -> Result<Vec<EsimState>, StoreError> {
        let items = self.list_items("ESIM", query).await?;
        filtered(
            items,
            query,
            |item| get_json::<EsimState>(item, "state"),
            |s| (s.provider, s.updated_at),
        )
    }

    async fn list_alerts(&self, query: &ListQuery) -> Result<Vec<StoredAlert>, StoreError> {
        use crate::customers::notify::NotificationStore;
        let items = self.list_items("ALERT", query).await?;
        let mut alerts = filtered(items, query, alert_from_item, |a| (a.alert.provider, a.alert.raised_at))?;
        // Each alert's notifications share its partition: one query per alert listed.
        for alert in &mut alerts {
            alert.notifications = self.notifications(&alert.alert.alert_id).await?;
        }
        Ok(alerts)
    }

    async fn list_conflicts(&self, query: &ListQuery) -> Result<Vec<StoredConflict>, StoreError> {
        let items = self.list_items("CONFLICT", query).await?;
        filtered(items, query, conflict_from_item, |c| (c.event.provider, c.last_seen_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn placeholders(text: &str, sigil: char) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for (i, c) in text.char_indices() {
            if c == sigil {
                let end = text[i + 1..]
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map_or(text.len(), |e| i + 1 + e);
                found.insert(text[i..end].to_string());
            }
        }
        found
    }

    fn sample_event() -> Event {
        Event::new(
            ProviderId::EsimAccess,
            crate::model::EventKind::Order,
            DedupeKey::provider_id("n-1"),
            Utc::now(),
            crate::model::PayloadSha256::ZERO,
            serde_json::value::RawValue::from_string("{}".into()).unwrap(),
        )
    }

    /// DynamoDB rejects names or values that no expression uses (moto does not), and any that is missing.
    #[test]
    fn every_placeholder_is_defined_and_used() {
        let now = Utc::now();
        let all = [
            ("begin", begin_delivery_expr("h", now)),
            ("finish", finish_delivery_expr("a", now)),
            ("abandon", abandon_delivery_expr("a", "why")),
            ("rewrite-event", rewrite_event_expr("{}".into(), "order")),
            (
                "record-conflict",
                record_conflict_expr("{}".into(), &sample_event(), "p".into(), "s".into(), n(1)),
            ),
            ("state-new", save_state_expr(None)),
            ("state-next", save_state_expr(Some(3))),
            ("claim-alert", claim_alert_expr(now)),
            ("alert-sent", mark_alert_sent_expr("a", "r", now)),
            ("release-alert", release_alert_expr("a")),
        ];
        for (what, e) in all {
            let text = format!("{} {}", e.condition, e.update.unwrap_or(""));
            let used_names = placeholders(&text, '#');
            let used_values = placeholders(&text, ':');
            let defined_names: BTreeSet<String> = e.names.iter().map(|(p, _)| p.to_string()).collect();
            let defined_values: BTreeSet<String> = e.values.iter().map(|(p, _)| p.to_string()).collect();
            assert_eq!(used_names, defined_names, "{what}: names");
            assert_eq!(used_values, defined_values, "{what}: values");
        }
    }
}
