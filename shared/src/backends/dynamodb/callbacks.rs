//! [`CallbackRegistry`] on the events table (layout in `docs/dynamodb.md`):
//! - partner `PARTNER#<id>` / `PARTNER` (name, key_hashes, created_at, signing_keys as JSON: the
//!   Standard Webhooks secrets its callbacks are signed with, scope `own` or `all`, absent on partners
//!   stored before scopes, which hear of all; listed through the listing index, `PARTNER`);
//! - registration `PARTNER#<id>` / `CALLBACK#<type, 3 digits>` (url, created_at, updated_at), so one query
//!   reads a partner's registrations in type order and no key can reach another partner's;
//! - endpoint `ENDPOINT#<sha256 of the URL>` / `ENDPOINT` (url, partner, subscription_arn, failing_since,
//!   disabled_at and rate_limit when they apply);
//! - its send slots under a rate limit `ENDPOINT#<sha256 of the URL>` / `RATE` (`tat`: the next free slot,
//!   epoch ms; `ttl`), apart from the endpoint item, which a sender puts back as it read it before posting.

use crate::callbacks::partner::{Partner, PartnerId, Scope};
use crate::callbacks::registry::{CallbackRegistry, Endpoint, Registration};
use crate::notification::NotificationType;
use crate::store::dynamodb::{
    condition_held, get_items, get_n, get_s, item_key, key_of, s, to_json, unavailable, Item, LISTING_INDEX,
};
use crate::store::keys::{
    callback_sk, endpoint_pk, partner_pk, CALLBACK_PREFIX, ENDPOINT_SK, PARTNER_LISTING, PARTNER_SK,
};
use crate::store::StoreError;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

mod slots;

#[derive(Debug, Clone)]
pub struct DynamoRegistry {
    client: Client,
    table: String,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("callback registry item without a valid {what}"))
}

fn time(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    get_s(item, name)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| corrupt(name))
}

fn partner_id(item: &Item, name: &str) -> Result<PartnerId, StoreError> {
    get_s(item, name)
        .and_then(PartnerId::parse)
        .ok_or_else(|| corrupt(name))
}

fn optional_time(item: &Item, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(_) => time(item, name).map(Some),
    }
}

fn partner_from(item: &Item) -> Result<Partner, StoreError> {
    let key_hashes = match item.get("key_hashes") {
        Some(AttributeValue::L(values)) => values.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        _ => return Err(corrupt("key_hashes")),
    };
    let signing_keys = match get_s(item, "signing_keys") {
        Some(text) => serde_json::from_str(text).map_err(|_| corrupt("signing_keys"))?,
        None => Vec::new(),
    };
    Ok(Partner {
        id: partner_id(item, "partner")?,
        name: get_s(item, "name").unwrap_or_default().to_string(),
        key_hashes,
        created_at: time(item, "created_at")?,
        signing_keys,
        contact_email: get_s(item, "contact_email").map(str::to_string),
        scope: get_s(item, "scope").map_or(Ok(crate::compat::partners::scope_before_scopes()), |text| {
            Scope::parse(text).ok_or_else(|| corrupt("scope"))
        })?,
    })
}

fn registration_from(item: &Item) -> Result<Registration, StoreError> {
    let kind = get_s(item, "notification_type")
        .and_then(NotificationType::parse)
        .ok_or_else(|| corrupt("notification_type"))?;
    Ok(Registration {
        partner: partner_id(item, "partner")?,
        notification_type: kind,
        url: get_s(item, "url").ok_or_else(|| corrupt("url"))?.to_string(),
        created_at: time(item, "created_at")?,
        updated_at: time(item, "updated_at")?,
    })
}

impl DynamoRegistry {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl CallbackRegistry for DynamoRegistry {
    async fn partner(&self, id: &PartnerId) -> Result<Option<Partner>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key(partner_pk(id), PARTNER_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item.as_ref().map(partner_from).transpose()
    }

    async fn save_partner(&self, partner: &Partner) -> Result<(), StoreError> {
        let hashes = partner.key_hashes.iter().map(|h| s(h.as_str())).collect();
        let mut item = item_key(partner_pk(&partner.id), PARTNER_SK);
        item.extend([
            ("partner".to_string(), s(partner.id.as_str())),
            ("name".to_string(), s(partner.name.as_str())),
            ("key_hashes".to_string(), AttributeValue::L(hashes)),
            ("created_at".to_string(), s(partner.created_at.to_rfc3339())),
            ("signing_keys".to_string(), s(to_json(&partner.signing_keys)?)),
            ("scope".to_string(), s(partner.scope.as_str())),
            ("gsi1pk".to_string(), s(PARTNER_LISTING)),
            ("gsi1sk".to_string(), s(partner.id.as_str())),
        ]);
        if let Some(email) = &partner.contact_email {
            item.insert("contact_email".to_string(), s(email.as_str()));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// The listing index projects keys only for partners: the entries name them, one batch read fetches them.
    async fn partners(&self) -> Result<Vec<Partner>, StoreError> {
        let mut keys = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(LISTING_INDEX)
                .key_condition_expression("gsi1pk = :listing")
                .expression_attribute_values(":listing", s(PARTNER_LISTING))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for entry in output.items() {
                let (pk, sk) = key_of(entry);
                keys.push(item_key(pk, &sk));
            }
            match output.last_evaluated_key {
                Some(last) => start = Some(last),
                None => break,
            }
        }
        let found = get_items(&self.client, &self.table, keys).await?;
        let mut partners = found.values().map(partner_from).collect::<Result<Vec<_>, _>>()?;
        partners.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        Ok(partners)
    }

    async fn registrations(&self, partner: &PartnerId) -> Result<Vec<Registration>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(partner_pk(partner)))
            .expression_attribute_values(":prefix", s(CALLBACK_PREFIX))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        // One item per notification type: a single page always holds them all.
        output.items().iter().map(registration_from).collect()
    }

    async fn save_registration(&self, registration: &Registration) -> Result<Option<Registration>, StoreError> {
        let kind = registration.notification_type;
        let mut item = item_key(partner_pk(&registration.partner), &callback_sk(kind.number()));
        item.extend([
            ("partner".to_string(), s(registration.partner.as_str())),
            ("notification_type".to_string(), s(kind.number().to_string())),
            ("url".to_string(), s(registration.url.as_str())),
            ("created_at".to_string(), s(registration.created_at.to_rfc3339())),
            ("updated_at".to_string(), s(registration.updated_at.to_rfc3339())),
        ]);
        let output = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        output.attributes.as_ref().map(registration_from).transpose()
    }

    async fn delete_registration(
        &self,
        partner: &PartnerId,
        notification_type: NotificationType,
    ) -> Result<Option<Registration>, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item_key(
                partner_pk(partner),
                &callback_sk(notification_type.number()),
            )))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        output.attributes.as_ref().map(registration_from).transpose()
    }

    async fn endpoint(&self, url: &str) -> Result<Option<Endpoint>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key(endpoint_pk(url), ENDPOINT_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        Ok(Some(Endpoint {
            url: get_s(&item, "url").ok_or_else(|| corrupt("url"))?.to_string(),
            partner: partner_id(&item, "partner")?,
            subscription_arn: get_s(&item, "subscription_arn")
                .ok_or_else(|| corrupt("subscription_arn"))?
                .to_string(),
            failing_since: optional_time(&item, "failing_since")?,
            disabled_at: optional_time(&item, "disabled_at")?,
            rate_limit: match item.get("rate_limit") {
                None => None,
                Some(_) => Some(
                    get_n(&item, "rate_limit")
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| corrupt("rate_limit"))?,
                ),
            },
        }))
    }

    async fn save_endpoint(&self, endpoint: &Endpoint) -> Result<bool, StoreError> {
        let mut item = item_key(endpoint_pk(&endpoint.url), ENDPOINT_SK);
        item.extend([
            ("url".to_string(), s(endpoint.url.as_str())),
            ("partner".to_string(), s(endpoint.partner.as_str())),
            ("subscription_arn".to_string(), s(endpoint.subscription_arn.as_str())),
        ]);
        for (name, at) in [
            ("failing_since", endpoint.failing_since),
            ("disabled_at", endpoint.disabled_at),
        ] {
            if let Some(at) = at {
                item.insert(name.to_string(), s(at.to_rfc3339()));
            }
        }
        if let Some(rate) = endpoint.rate_limit {
            item.insert("rate_limit".to_string(), AttributeValue::N(rate.to_string()));
        }
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR #partner = :partner")
            .expression_attribute_names("#partner", "partner")
            .expression_attribute_values(":partner", s(endpoint.partner.as_str()))
            .send()
            .await;
        condition_held(result)
    }

    async fn delete_endpoint(&self, url: &str) -> Result<(), StoreError> {
        self.delete(item_key(endpoint_pk(url), ENDPOINT_SK)).await
    }

    async fn delete_partner(&self, id: &PartnerId) -> Result<(), StoreError> {
        self.delete(item_key(partner_pk(id), PARTNER_SK)).await
    }

    async fn reserve_slot(&self, url: &str, rate_limit: u32, now: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError> {
        slots::reserve_slot(&self.client, &self.table, &endpoint_pk(url), rate_limit, now).await
    }
}

impl DynamoRegistry {
    async fn delete(&self, key: Item) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
