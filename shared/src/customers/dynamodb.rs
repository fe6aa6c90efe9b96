//! [`ContactStore`] on the events table: one item per identifier, `CONTACT#<provider>#<kind>#<value>` /
//! `CONTACT`, holding the whole contact (`contact`, JSON). Each eSIM's contact has partition keys of its own,
//! so no key is shared by many items; a lookup is one `BatchGetItem` of at most three keys, and a change is
//! one transaction (every identifier of a contact, all or none).

use super::{upsert_plan, Contact, ContactStore, EsimRef, Upserted};
use crate::model::ProviderId;
use crate::store::dynamodb::{get_json, item_key, s, to_json, unavailable, DynamoStore, Item};
use crate::store::StoreError;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, KeysAndAttributes, Put, TransactWriteItem};
use std::collections::HashMap;

const CONTACT_SK: &str = "CONTACT";

fn pk(provider: ProviderId, esim: &EsimRef) -> String {
    format!("CONTACT#{provider}#{}#{}", esim.kind(), esim.value())
}

fn build<T>(built: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    built.map_err(|e| StoreError::Unavailable(e.to_string()))
}

impl DynamoStore {
    /// The contacts stored under `refs`, by partition key (consistent reads).
    async fn contacts_under(
        &self,
        provider: ProviderId,
        refs: &[EsimRef],
    ) -> Result<HashMap<String, Contact>, StoreError> {
        let mut found = HashMap::new();
        if refs.is_empty() {
            return Ok(found);
        }
        let mut keys = KeysAndAttributes::builder().consistent_read(true);
        for esim in refs {
            keys = keys.keys(item_key(pk(provider, esim), CONTACT_SK));
        }
        let mut request = Some(HashMap::from([(self.table().to_string(), build(keys.build())?)]));
        // A batch may come back in parts (unprocessed keys under throttling): ask again for the rest.
        while let Some(items) = request.take().filter(|r| !r.is_empty()) {
            let output = self
                .client()
                .batch_get_item()
                .set_request_items(Some(items))
                .send()
                .await
                .map_err(unavailable)?;
            for item in output
                .responses
                .unwrap_or_default()
                .remove(self.table())
                .unwrap_or_default()
            {
                let key = item.get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                found.insert(key, get_json::<Contact>(&item, "contact")?);
            }
            request = output.unprocessed_keys;
        }
        Ok(found)
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        self.client()
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn delete_item(&self, key: String) -> Result<TransactWriteItem, StoreError> {
        let delete = build(
            Delete::builder()
                .table_name(self.table())
                .set_key(Some(item_key(key, CONTACT_SK)))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

#[async_trait]
impl ContactStore for DynamoStore {
    async fn find(&self, provider: ProviderId, refs: &[EsimRef]) -> Result<Option<Contact>, StoreError> {
        let mut found = self.contacts_under(provider, refs).await?;
        Ok(refs.iter().find_map(|esim| found.remove(&pk(provider, esim))))
    }

    async fn upsert(&self, contact: &Contact) -> Result<Upserted, StoreError> {
        let refs = contact.refs();
        let replaced: Vec<Contact> = self
            .contacts_under(contact.provider, &refs)
            .await?
            .into_values()
            .collect();
        let Some((outcome, stale)) = upsert_plan(contact, &replaced) else {
            return Ok(Upserted::Unchanged);
        };
        let document = to_json(contact)?;
        let mut items = Vec::new();
        for esim in &refs {
            let mut item: Item = item_key(pk(contact.provider, esim), CONTACT_SK);
            item.insert("contact".into(), s(document.clone()));
            item.insert("provider".into(), s(contact.provider.as_str()));
            let put = build(Put::builder().table_name(self.table()).set_item(Some(item)).build())?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        for esim in &stale {
            items.push(self.delete_item(pk(contact.provider, esim))?);
        }
        self.transact(items).await?;
        Ok(outcome)
    }

    async fn remove(&self, provider: ProviderId, esim: &EsimRef) -> Result<Option<Contact>, StoreError> {
        let Some(contact) = self.find(provider, std::slice::from_ref(esim)).await? else {
            return Ok(None);
        };
        let items = contact
            .refs()
            .iter()
            .map(|esim| self.delete_item(pk(provider, esim)))
            .collect::<Result<Vec<_>, _>>()?;
        self.transact(items).await?;
        Ok(Some(contact))
    }
}
