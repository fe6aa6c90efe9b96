//! [`ContactStore`] on the events table: one item per identifier, `CONTACT#<provider>#<kind>#<value>` /
//! `CONTACT`, holding the whole contact (`contact`, JSON). Each eSIM's contact has partition keys of its own,
//! so no key is shared by many items; a lookup is one `BatchGetItem` of at most three keys, and a change is
//! one transaction (every identifier of a contact, all or none) on condition that each item is still as read:
//! what [`upsert_plan`] decided from the read holds when the write lands, or the write is refused and decided
//! again from a fresh read.

use crate::customers::{upsert_plan, Conflict, Contact, ContactLookup, ContactStore, EsimRef, Replace, Upserted};
use crate::model::ProviderId;
use crate::store::dynamodb::{
    built, get_json, get_s, item_key, s, to_json, transaction_lost, unavailable, DynamoStore, Item,
};
use crate::store::keys::{contact_pk, CONTACT_SK};
use crate::store::StoreError;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use std::collections::HashMap;

/// Writers racing on one contact: each lost round means another changed it, so a few rounds settle it.
const REGISTER_TRIES: usize = 5;

fn pk(provider: ProviderId, esim: &EsimRef) -> String {
    contact_pk(provider, esim.kind(), esim.value())
}

/// A contact item as read: the contact and its document exactly as stored, for the write's condition.
struct Read {
    contact: Contact,
    document: String,
}

impl DynamoStore {
    /// The contact items under `refs`, by partition key (consistent reads, one batch).
    async fn contact_items(&self, provider: ProviderId, refs: &[EsimRef]) -> Result<HashMap<String, Read>, StoreError> {
        let keys = refs
            .iter()
            .map(|esim| item_key(pk(provider, esim), CONTACT_SK))
            .collect();
        let mut found = HashMap::new();
        for ((pk, _), item) in self.get_items(keys).await? {
            let document = get_s(&item, "contact").unwrap_or_default().to_string();
            let contact = get_json::<Contact>(&item, "contact")?;
            found.insert(pk, Read { contact, document });
        }
        Ok(found)
    }

    /// Applies `items` together; false when a condition failed (nothing applied).
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        let sent = self
            .client()
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(error) if transaction_lost(&error) => Ok(false),
            Err(error) => Err(unavailable(error)),
        }
    }

    /// Puts `document` under `key`, on condition that the item is still `was` (absent when `None`).
    fn put_contact(
        &self,
        key: String,
        provider: ProviderId,
        document: &str,
        was: Option<&str>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item: Item = item_key(key, CONTACT_SK);
        item.insert("contact".into(), s(document));
        item.insert("provider".into(), s(provider.as_str()));
        let put = Put::builder().table_name(self.table()).set_item(Some(item));
        let put = match was {
            Some(was) => put
                .condition_expression("#contact = :was")
                .expression_attribute_names("#contact", "contact")
                .expression_attribute_values(":was", s(was)),
            None => put.condition_expression("attribute_not_exists(pk)"),
        };
        Ok(TransactWriteItem::builder().put(built(put.build())?).build())
    }

    /// Deletes the item under `key`, on condition that it still holds `was` (or is already gone).
    fn delete_contact(&self, key: String, was: Option<&str>) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(self.table())
            .set_key(Some(item_key(key, CONTACT_SK)));
        let delete = match was {
            Some(was) => delete
                .condition_expression("attribute_not_exists(pk) OR #contact = :was")
                .expression_attribute_names("#contact", "contact")
                .expression_attribute_values(":was", s(was)),
            None => delete,
        };
        Ok(TransactWriteItem::builder().delete(built(delete.build())?).build())
    }
}

#[async_trait]
impl ContactLookup for DynamoStore {
    async fn find(&self, provider: ProviderId, refs: &[EsimRef]) -> Result<Option<Contact>, StoreError> {
        let mut found = self.contact_items(provider, refs).await?;
        Ok(refs
            .iter()
            .find_map(|esim| found.remove(&pk(provider, esim)))
            .map(|read| read.contact))
    }
}

#[async_trait]
impl ContactStore for DynamoStore {
    async fn stored_under(
        &self,
        provider: ProviderId,
        refs: &[EsimRef],
    ) -> Result<Vec<(EsimRef, Contact)>, StoreError> {
        let mut found = self.contact_items(provider, refs).await?;
        Ok(refs
            .iter()
            .filter_map(|esim| {
                found
                    .remove(&pk(provider, esim))
                    .map(|read| (esim.clone(), read.contact))
            })
            .collect())
    }

    async fn register(&self, contact: &Contact, replace: Replace) -> Result<Result<Upserted, Conflict>, StoreError> {
        let provider = contact.provider;
        let refs = contact.refs();
        let document = to_json(contact)?;
        for _ in 0..REGISTER_TRIES {
            let found = self.contact_items(provider, &refs).await?;
            let stored: Vec<(EsimRef, Contact)> = refs
                .iter()
                .filter_map(|esim| {
                    found
                        .get(&pk(provider, esim))
                        .map(|read| (esim.clone(), read.contact.clone()))
                })
                .collect();
            let (outcome, stale) = match upsert_plan(contact, &stored, replace) {
                Err(conflict) => return Ok(Err(conflict)),
                Ok(None) => return Ok(Ok(Upserted::Unchanged)),
                Ok(Some(plan)) => plan,
            };
            let mut items = Vec::new();
            for esim in &refs {
                let key = pk(provider, esim);
                let was = found.get(&key).map(|read| read.document.as_str());
                items.push(self.put_contact(key, provider, &document, was)?);
            }
            for esim in &stale {
                // Every item of a contact holds the same document: the one read for the contact it came from.
                let was = found
                    .values()
                    .find(|read| read.contact.refs().contains(esim))
                    .map(|read| read.document.as_str());
                items.push(self.delete_contact(pk(provider, esim), was)?);
            }
            if self.transact(items).await? {
                return Ok(Ok(outcome));
            }
        }
        Err(StoreError::Unavailable(
            "the contact kept changing while it was being registered; retry".into(),
        ))
    }

    async fn remove(&self, provider: ProviderId, esim: &EsimRef) -> Result<Option<Contact>, StoreError> {
        let Some(contact) = self.find(provider, std::slice::from_ref(esim)).await? else {
            return Ok(None);
        };
        let items = contact
            .refs()
            .iter()
            .map(|esim| self.delete_contact(pk(provider, esim), None))
            .collect::<Result<Vec<_>, _>>()?;
        // Unconditioned deletes fail only when another transaction holds an item: nothing was erased.
        if !self.transact(items).await? {
            return Err(StoreError::Unavailable(
                "another change to the contact was under way; retry".into(),
            ));
        }
        Ok(Some(contact))
    }
}
