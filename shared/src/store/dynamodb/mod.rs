//! [`EventStore`] on one DynamoDB table (layout in `docs/dynamodb.md`). Every claim is one conditional write;
//! a failed condition returns the old item (`ReturnValuesOnConditionCheckFailure=ALL_OLD`), whose fields the
//! shared rules in `store/mod.rs` turn into an outcome, so no second read is needed. Items are the serde types
//! of [`items`]; every key comes from [`super::keys`].

mod attributes;
pub(crate) mod conditions;
pub(crate) mod events;
pub(crate) mod items;
mod query;

pub(crate) use attributes::*;

use super::StoreError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

pub use super::keys::{alert_pk, ASKING_INDEX, EXPIRY_INDEX, LISTING_INDEX, LISTING_PROJECTION};

/// How many bucket queries run at once when a read fans out over shards.
const FAN_OUT: usize = 16;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// What writing a claim found.
pub(crate) enum ClaimWrite {
    /// The claim is ours; the item it replaced (a claim whose lease ran out), if any.
    Written(Option<Item>),
    /// Its condition failed: the item that stood in the way (returned with the failure, or read again; none
    /// when it vanished meanwhile).
    Refused(Option<Item>),
}

/// The DynamoDB store. `retention` sets the TTL of delivery, alert and conflict items (clean-up only:
/// correctness never depends on TTL, which DynamoDB applies within days and emulators never).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    retention: Duration,
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

    pub(crate) fn ttl(&self, from: DateTime<Utc>) -> AttributeValue {
        n(self.ttl_secs(from))
    }

    pub(crate) fn ttl_secs(&self, from: DateTime<Utc>) -> i64 {
        (from + self.retention).timestamp()
    }

    /// Runs an update that only applies while we hold the lease; a lost lease is logged, not an error.
    pub(crate) async fn update_held(&self, key: Item, expression: Expression, what: &str) -> Result<(), StoreError> {
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
    pub(crate) async fn status_at(&self, key: Item) -> Result<Option<Option<String>>, StoreError> {
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

    /// Puts a claim record under its condition (`ReturnValuesOnConditionCheckFailure=ALL_OLD`): deliveries,
    /// alerts and customer messages are all claimed this one way.
    pub(crate) async fn put_claim(&self, item: Item, condition: Expression) -> Result<ClaimWrite, StoreError> {
        let key = {
            let (pk, sk) = key_of(&item);
            item_key(pk, &sk)
        };
        // The replaced item costs no capacity to return, and is there only when a lease ran out.
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld);
        let error = match condition.on_put(request).send().await {
            Ok(output) => return Ok(ClaimWrite::Written(output.attributes)),
            Err(error) => error,
        };
        let returned = match error.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(failed)) => failed.item().cloned(),
            _ => return Err(unavailable(error)),
        };
        if returned.is_some() {
            return Ok(ClaimWrite::Refused(returned));
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
        Ok(ClaimWrite::Refused(output.item))
    }

    /// Creates the table with its indexes and TTL, if it does not exist. For `esimhooks init` and tests;
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
        let index = |name: &str, pk: &str, sk: &str, projection: Projection| {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(pk, KeyType::Hash)?)
                .key_schema(key(sk, KeyType::Range)?)
                .projection(projection)
                .build()
                .map_err(build)
        };
        let listed = Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(LISTING_PROJECTION.map(String::from).to_vec()))
            .build();
        let keys_only = Projection::builder().projection_type(ProjectionType::KeysOnly).build();
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
            .attribute_definitions(attr("gsi3pk")?)
            .attribute_definitions(attr("gsi3sk")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(index(LISTING_INDEX, "gsi1pk", "gsi1sk", listed)?)
            .global_secondary_indexes(index(EXPIRY_INDEX, "gsi2pk", "gsi2sk", keys_only.clone())?)
            .global_secondary_indexes(index(ASKING_INDEX, "gsi3pk", "gsi3sk", keys_only.clone())?)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_in_use_exception()) => {
                // A table made by an earlier release: add the index asking reads, where it is missing.
                if !index_names(client, table).await?.iter().any(|i| i == ASKING_INDEX) {
                    let create = CreateGlobalSecondaryIndexAction::builder()
                        .index_name(ASKING_INDEX)
                        .key_schema(key("gsi3pk", KeyType::Hash)?)
                        .key_schema(key("gsi3sk", KeyType::Range)?)
                        .projection(keys_only)
                        .build()
                        .map_err(build)?;
                    client
                        .update_table()
                        .table_name(table)
                        .attribute_definitions(attr("gsi3pk")?)
                        .attribute_definitions(attr("gsi3sk")?)
                        .global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().create(create).build())
                        .send()
                        .await
                        .map_err(unavailable)?;
                }
                return Ok(());
            }
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

    /// The items at `keys`, by (partition, sort) key (consistent reads, 100 keys a request; a part the table could not
    /// serve now is asked for again). Keys without an item are left out.
    pub(crate) async fn get_items(&self, keys: Vec<Item>) -> Result<HashMap<(String, String), Item>, StoreError> {
        get_items(&self.client, &self.table, keys).await
    }

    /// Every entry of an index under each of `buckets` whose sort key lies in `[from, to]`, the buckets queried
    /// [`FAN_OUT`] at a time. `newest` keeps at most that many entries per bucket, newest first.
    pub(crate) async fn query_buckets(
        &self,
        index: &str,
        buckets: Vec<(String, &'static str)>,
        (from, to): (String, String),
        newest: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        query_buckets(&self.client, &self.table, index, buckets, (from, to), newest).await
    }
}

/// See [`DynamoStore::get_items`].
pub(crate) async fn get_items(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
) -> Result<HashMap<(String, String), Item>, StoreError> {
    let mut found = HashMap::new();
    for chunk in keys.chunks(100) {
        let keys = KeysAndAttributes::builder()
            .set_keys(Some(chunk.to_vec()))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut request = Some(HashMap::from([(table.to_string(), keys)]));
        while let Some(items) = request.take().filter(|r| !r.is_empty()) {
            let output = client
                .batch_get_item()
                .set_request_items(Some(items))
                .send()
                .await
                .map_err(unavailable)?;
            for item in output.responses.unwrap_or_default().remove(table).unwrap_or_default() {
                found.insert(key_of(&item), item);
            }
            request = output.unprocessed_keys;
        }
    }
    Ok(found)
}

/// See [`DynamoStore::query_buckets`]: `buckets` pairs a partition key value with the index attribute that
/// holds it (`gsi1pk`, `gsi2pk`, or `pk` on the table itself when `index` is empty).
pub(crate) async fn query_buckets(
    client: &Client,
    table: &str,
    index: &str,
    buckets: Vec<(String, &'static str)>,
    (from, to): (String, String),
    newest: Option<usize>,
) -> Result<Vec<Item>, StoreError> {
    let mut found = Vec::new();
    for wave in buckets.chunks(FAN_OUT) {
        let mut running = tokio::task::JoinSet::new();
        for (bucket, attribute) in wave.iter().cloned() {
            let sort = match attribute {
                "gsi1pk" => "gsi1sk",
                "gsi2pk" => "gsi2sk",
                "gsi3pk" => "gsi3sk",
                _ => "sk",
            };
            let mut request = client
                .query()
                .table_name(table)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#pk", attribute)
                .expression_attribute_names("#sk", sort)
                .expression_attribute_values(":pk", s(bucket))
                .expression_attribute_values(":from", s(from.as_str()))
                .expression_attribute_values(":to", s(to.as_str()))
                .scan_index_forward(newest.is_none());
            if !index.is_empty() {
                request = request.index_name(index);
            } else {
                request = request.consistent_read(true);
            }
            if let Some(limit) = newest {
                request = request.limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000));
            }
            running.spawn(async move {
                let mut pages = request.into_paginator().items().send();
                let mut items = Vec::new();
                while let Some(item) = pages.next().await {
                    items.push(item.map_err(unavailable)?);
                    if newest.is_some_and(|limit| items.len() >= limit) {
                        break;
                    }
                }
                Ok::<_, StoreError>(items)
            });
        }
        while let Some(done) = running.join_next().await {
            found.extend(done.map_err(|e| StoreError::Unavailable(e.to_string()))??);
        }
    }
    Ok(found)
}

/// The (partition, sort) key of an item or index entry.
pub(crate) fn key_of(item: &Item) -> (String, String) {
    let text = |name| get_s(item, name).unwrap_or_default().to_string();
    (text("pk"), text("sk"))
}
