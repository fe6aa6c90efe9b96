//! Items whose key changes: each is written under its current key and the old one deleted in one transaction,
//! the deletion conditional on the old item being as read, so nothing the running system removed meanwhile
//! (a recovered delivery) comes back.
//!
//! - A conflict from before counting (`<received_at>#<sha256>`) is folded into the counted record of its
//!   payload (`<sha256>`): created as seen once, or counted in (first and last sighting moved, the record
//!   conditional on the count read, which every sighting adds to).
//! - An unsharded partner log entry (`ATTEMPTS#<partner>`, `FAILED#<partner>`) moves into the shard of its
//!   notification id, with its TTL.

use super::edit::Edit;
use super::{compact, time, Found, Table};
use crate::callbacks::sender::{AttemptRecord, FailedDelivery};
use crate::compat::{conflicts, documents, unsharded};
use crate::migrate::Outcome;
use crate::model::Event;
use crate::store::dynamodb::items::{from_item, ClaimRecord};
use crate::store::dynamodb::{get_items, get_n, get_s, item_key, key_of, n, s, transaction_lost, unavailable, Item};
use crate::store::keys::{attempts_pk, failed_pk, listing_entry, ItemKind, Listing};
use crate::store::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

/// Writes `items` together: false when a condition failed or a concurrent write got in the way.
async fn transact(table: &Table<'_>, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
    match table
        .client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(error) if transaction_lost(&error) => Ok(false),
        Err(error) => Err(unavailable(error)),
    }
}

fn outcome(written: bool) -> Outcome {
    match written {
        true => Outcome::Rewritten,
        false => Outcome::Left,
    }
}

/// The deletion of the item read as `read`, while every attribute in `unchanged` is as read.
fn delete_read(table: &Table<'_>, read: &Item, unchanged: &[&str]) -> Result<TransactWriteItem, StoreError> {
    let mut edit = Edit::existing();
    for attribute in unchanged {
        edit.unchanged(read, attribute);
    }
    let (pk, sk) = key_of(read);
    edit.delete(table.name, item_key(pk, &sk))
}

/// A conflict recorded once per delivery, folded into the counted record of its payload.
pub(super) async fn fold_conflict(table: &Table<'_>, item: &Item) -> Result<(Found, Outcome), StoreError> {
    let found = vec![
        (conflicts::NAME, true),
        (
            documents::NAME,
            documents::TEXT_ATTRIBUTES.iter().any(|a| item.contains_key(*a)),
        ),
        (
            unsharded::LISTING,
            get_s(item, "gsi1pk").is_some_and(unsharded::is_bucket),
        ),
    ];
    let record: ClaimRecord = from_item(item.clone())?;
    let event: Event = record.event()?;
    let doc = compact(&record.doc, &record.event)?;
    if table.dry_run {
        return Ok((found, Outcome::Rewritten));
    }
    let (pk, _) = key_of(item);
    let key = item_key(pk.clone(), event.payload_sha256.as_str());
    let target = get_items(table.client, table.name, vec![key.clone()])
        .await?
        .into_values()
        .next();
    let seen = event.received_at;
    let doc = AttributeValue::B(doc.into_vec().into());
    let write = match target {
        None => {
            let listed = listing_entry(Listing::Conflicts, &pk, seen);
            let mut counted = key;
            counted.extend([
                ("provider".to_string(), s(event.provider.as_str())),
                ("payload_sha256".to_string(), s(event.payload_sha256.as_str())),
                ("doc".to_string(), doc),
                ("count".to_string(), n(1)),
                ("first_seen_at".to_string(), s(seen.to_rfc3339())),
                ("last_seen_at".to_string(), s(seen.to_rfc3339())),
                ("gsi1pk".to_string(), s(listed.pk)),
                ("gsi1sk".to_string(), s(listed.sk)),
            ]);
            if let Some(ttl) = item.get("ttl") {
                counted.insert("ttl".into(), ttl.clone());
            }
            let mut edit = Edit::default();
            edit.absent("pk");
            edit.put(table.name, counted)?
        }
        Some(target) => {
            let received = from_item::<ClaimRecord>(target.clone())?.event::<Event>()?.received_at;
            let (count, first, last) = conflicts::seen(
                get_n(&target, "count"),
                time(&target, "first_seen_at"),
                time(&target, "last_seen_at"),
                received,
            );
            let (first_now, last_now) = (first.min(seen), last.max(seen));
            let listed = listing_entry(Listing::Conflicts, &pk, last_now);
            let mut edit = Edit::existing();
            edit.unchanged(&target, "count");
            edit.set("count", n(count as i64 + 1));
            edit.set("first_seen_at", s(first_now.to_rfc3339()));
            edit.set("last_seen_at", s(last_now.to_rfc3339()));
            edit.set("gsi1pk", s(listed.pk));
            edit.set("gsi1sk", s(listed.sk));
            if seen < first {
                // The record keeps the first delivery of its payload.
                edit.set("doc", doc);
            }
            edit.update(table.name, key)?
        }
    };
    let written = transact(table, vec![write, delete_read(table, item, &[])?]).await?;
    Ok((found, outcome(written)))
}

/// An entry of a partner's log from before sharding, moved into its shard.
pub(super) async fn shard_log(table: &Table<'_>, kind: ItemKind, item: &Item) -> Result<(Found, Outcome), StoreError> {
    let (pk, _) = key_of(item);
    let old = unsharded::is_bucket(&pk);
    let found = vec![(unsharded::PARTNER_LOGS, old)];
    if !old {
        return Ok((found, Outcome::Current));
    }
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
    let (field, sharded) = match kind {
        ItemKind::Attempt => {
            let json = get_s(item, "attempt").unwrap_or_default();
            let attempt: AttemptRecord = serde_json::from_str(json).map_err(corrupt)?;
            (
                "attempt",
                attempts_pk(attempt.partner.as_str(), &attempt.notification_id),
            )
        }
        _ => {
            let json = get_s(item, "failed").unwrap_or_default();
            let failed: FailedDelivery = serde_json::from_str(json).map_err(corrupt)?;
            (
                "failed",
                failed_pk(failed.job.partner.as_str(), &failed.job.notification_id),
            )
        }
    };
    if table.dry_run {
        return Ok((found, Outcome::Rewritten));
    }
    let mut moved = item.clone();
    moved.insert("pk".into(), s(sharded));
    let put = Edit::default().put(table.name, moved)?;
    let written = transact(table, vec![put, delete_read(table, item, &[field])?]).await?;
    Ok((found, outcome(written)))
}
