//! The table, scanned once (strongly consistent pages; a stopped run is finished by running it again, which
//! finds the rewritten items current). Records in place (deliveries, alerts, customer messages, counted
//! conflicts) get one `UpdateItem` each, conditional on the attributes it replaces being as read; a state is
//! put back whole at the same version, conditional on that version (every save moves it), so a save meanwhile
//! wins and the state is left for the next run; a partner gets its scope only while it has none. Items whose
//! key changes (conflicts from before counting, unsharded partner logs) move in one transaction with the
//! deletion of the old item ([`moves`]).

mod edit;
mod moves;

use super::{Outcome, Report};
use crate::alerts::Alert;
use crate::compat::{conflicts, documents, former, partners, sns, unsharded};
use crate::model::Event;
use crate::records::NotificationRecord;
use crate::state::EsimState;
use crate::store::dynamodb::events::state_item;
use crate::store::dynamodb::items::{from_item, pack_json, to_item, ClaimRecord, StateItem};
use crate::store::dynamodb::{
    condition_held, get_s, index_names, item_key, key_of, n, s, unavailable, Item, ASKING_INDEX, EXPIRY_INDEX,
    LISTING_INDEX,
};
use crate::store::keys::{item_kind, listing_entry, notification_outbox_entry, IndexKey, ItemKind, Listing};
use crate::store::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use edit::Edit;
use futures_util::future::join_all;
use serde_bytes::ByteBuf;
use std::collections::HashMap;

/// How many items are rewritten at once.
const IN_FLIGHT: usize = 16;

/// Each layout an item was found in (true) or not (false), for the report.
type Found = Vec<(&'static str, bool)>;

/// Migrates the table `table`; `dry_run` only counts.
pub async fn migrate_table(client: &Client, table: &str, dry_run: bool) -> Result<Report, StoreError> {
    let mut report = Report::new(dry_run);
    for layout in [
        documents::NAME,
        unsharded::LISTING,
        unsharded::EXPIRY,
        unsharded::PARTNER_LOGS,
        conflicts::NAME,
        partners::NAME,
        sns::NAME,
        former::DEDUPE_KEYS,
        former::ALERT_IDS,
    ] {
        report.applies(layout);
    }
    check_indexes(client, table, &mut report).await?;
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(unavailable)?;
        migrate_items(client, table, page.items(), &mut report).await?;
        match page.last_evaluated_key {
            Some(last) if !last.is_empty() => start = Some(last),
            _ => break,
        }
    }
    Ok(report)
}

/// Migrates `items` as they were read (a page of the scan) into `report`, [`IN_FLIGHT`] at a time; conflicts
/// from before counting one by one, as several fold into one record. An item the running system wrote since is
/// left (each write is conditional on what was read), and counted so.
pub async fn migrate_items(
    client: &Client,
    table: &str,
    items: &[HashMap<String, AttributeValue>],
    report: &mut Report,
) -> Result<(), StoreError> {
    let table = Table {
        client,
        name: table,
        dry_run: report.dry_run,
    };
    let (folded, apart): (Vec<&Item>, Vec<&Item>) = items.iter().partition(|item| {
        let (pk, sk) = key_of(item);
        item_kind(&pk, &sk) == ItemKind::Conflict && conflicts::is_per_delivery(&sk)
    });
    for chunk in apart.chunks(IN_FLIGHT) {
        let done = join_all(chunk.iter().map(|item| table.migrate(item))).await;
        for (item, result) in chunk.iter().zip(done) {
            settle(item, result, report)?;
        }
    }
    for item in folded {
        settle(item, table.migrate(item).await, report)?;
    }
    Ok(())
}

/// Counts one item's outcome; an unreadable one is left as it is, and named.
fn settle(item: &Item, result: Result<(Found, Outcome), StoreError>, report: &mut Report) -> Result<(), StoreError> {
    let (found, outcome) = match result {
        Ok(migrated) => migrated,
        Err(StoreError::Corrupt(why)) => {
            let (pk, sk) = key_of(item);
            report.unreadable.push(format!("{pk} / {sk}: {why}"));
            (vec![(layout_of(&pk, &sk), true)], Outcome::Left)
        }
        Err(error) => return Err(error),
    };
    report.count(&found, outcome);
    Ok(())
}

/// The layout an unreadable item is counted under: the one whose rewrite needed to read it.
fn layout_of(pk: &str, sk: &str) -> &'static str {
    match item_kind(pk, sk) {
        ItemKind::Attempt | ItemKind::Failed => unsharded::PARTNER_LOGS,
        ItemKind::Conflict if conflicts::is_per_delivery(sk) => conflicts::NAME,
        _ => documents::NAME,
    }
}

/// The indexes this release reads, which only the template (or `esimhooks init`) can add.
async fn check_indexes(client: &Client, table: &str, report: &mut Report) -> Result<(), StoreError> {
    let indexes = index_names(client, table).await?;
    for wanted in [LISTING_INDEX, EXPIRY_INDEX, ASKING_INDEX] {
        if !indexes.iter().any(|i| i == wanted) {
            report.notes.push(format!(
                "the table has no `{wanted}` index, which this release reads: deploy the template (or run \
                 `esimhooks init --table {table}`)"
            ));
        }
    }
    Ok(())
}

/// A document in compact form: the one an item has, or its JSON text from before, packed byte for byte.
fn compact(doc: &Option<ByteBuf>, text: &Option<String>) -> Result<ByteBuf, StoreError> {
    match (doc, text) {
        (Some(doc), _) => Ok(doc.clone()),
        (None, Some(text)) => Ok(pack_json(text.as_bytes())),
        (None, None) => Err(StoreError::Corrupt("item has no document".into())),
    }
}

pub(super) struct Table<'a> {
    pub client: &'a Client,
    pub name: &'a str,
    pub dry_run: bool,
}

/// The outcome of an item found in no older layout.
fn current(found: Found) -> (Found, Outcome) {
    (found, Outcome::Current)
}

fn time(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    get_s(item, name)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.to_utc())
}

impl Table<'_> {
    async fn migrate(&self, item: &Item) -> Result<(Found, Outcome), StoreError> {
        let (pk, sk) = key_of(item);
        match item_kind(&pk, &sk) {
            ItemKind::Conflict if conflicts::is_per_delivery(&sk) => moves::fold_conflict(self, item).await,
            kind @ (ItemKind::Delivery | ItemKind::Alert | ItemKind::Notification | ItemKind::Conflict) => {
                self.record(kind, item).await
            }
            ItemKind::State => self.state(item).await,
            ItemKind::Partner => self.partner(item).await,
            ItemKind::Endpoint => {
                let subscribed = sns::subscription(get_s(item, "subscription_arn").unwrap_or_default()).is_some();
                Ok((vec![(sns::NAME, subscribed)], Outcome::Left))
            }
            kind @ (ItemKind::Attempt | ItemKind::Failed) => moves::shard_log(self, kind, item).await,
            ItemKind::Other => Ok((Vec::new(), Outcome::Current)),
        }
    }

    /// Runs `edit` on the item at `key`: true when its conditions held.
    async fn update(&self, item: &Item, edit: Edit) -> Result<bool, StoreError> {
        let (pk, sk) = key_of(item);
        let request = self
            .client
            .update_item()
            .table_name(self.name)
            .set_key(Some(item_key(pk, &sk)));
        condition_held(edit.on_update(request).send().await)
    }

    /// A record kept in place: its document packed (`compact-documents`), its listing or outbox entry moved
    /// into its shard (`unsharded-listing`).
    async fn record(&self, kind: ItemKind, item: &Item) -> Result<(Found, Outcome), StoreError> {
        let texts: Vec<&str> = documents::TEXT_ATTRIBUTES
            .into_iter()
            .filter(|a| item.contains_key(*a))
            .collect();
        let copies: Vec<&str> = documents::CLAIM_COPIES
            .into_iter()
            .filter(|a| item.contains_key(*a))
            .collect();
        let old_document = !texts.is_empty() || !copies.is_empty();
        let old_entry = get_s(item, "gsi1pk").is_some_and(unsharded::is_bucket);
        let mut found = vec![(documents::NAME, old_document)];
        if kind != ItemKind::Notification || item.contains_key("gsi1pk") {
            found.push((unsharded::LISTING, old_entry));
        }
        if !old_document && !old_entry {
            return Ok(current(found));
        }
        let mut edit = Edit::existing();
        if old_document {
            packed(item, kind, &texts, &mut edit)?;
            for copy in copies {
                edit.remove(copy);
            }
        }
        if old_entry {
            let entry = sharded_entry(kind, item)?;
            edit.unchanged(item, "gsi1pk");
            edit.unchanged(item, "gsi1sk");
            match entry {
                Some(entry) => {
                    edit.set("gsi1pk", s(entry.pk));
                    edit.set("gsi1sk", s(entry.sk));
                }
                None => {
                    edit.remove("gsi1pk");
                    edit.remove("gsi1sk");
                }
            }
        }
        let outcome = match self.dry_run || self.update(item, edit).await? {
            true => Outcome::Rewritten,
            false => Outcome::Left,
        };
        Ok((found, outcome))
    }

    /// An eSIM's state put back as a save writes it, at the version it has: its document compact, its expiry
    /// entry in its shard, without the copies and the state listing entry of before.
    async fn state(&self, item: &Item) -> Result<(Found, Outcome), StoreError> {
        let old_document = item.contains_key("state") || documents::STATE_COPIES.iter().any(|a| item.contains_key(*a));
        let old_entry = item.contains_key("gsi1pk") || get_s(item, "gsi2pk").is_some_and(unsharded::is_bucket);
        let found = vec![(documents::NAME, old_document), (unsharded::EXPIRY, old_entry)];
        if !old_document && !old_entry {
            return Ok(current(found));
        }
        let stored: StateItem = from_item(item.clone())?;
        let value: EsimState = stored.state()?;
        let doc = compact(&stored.doc, &stored.state)?;
        if self.dry_run {
            return Ok((found, Outcome::Rewritten));
        }
        let request = self
            .client
            .put_item()
            .table_name(self.name)
            .set_item(Some(to_item(&state_item(&value, stored.version, doc))?))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", n(stored.version as i64));
        let outcome = match condition_held(request.send().await)? {
            true => Outcome::Rewritten,
            false => Outcome::Left,
        };
        Ok((found, outcome))
    }

    /// A partner stored before scopes gets the scope it reads with, while it still has none.
    async fn partner(&self, item: &Item) -> Result<(Found, Outcome), StoreError> {
        let found = vec![(partners::NAME, !item.contains_key("scope"))];
        if item.contains_key("scope") {
            return Ok(current(found));
        }
        let mut edit = Edit::existing();
        edit.absent("scope");
        edit.set("scope", s(partners::scope_before_scopes().as_str()));
        let outcome = match self.dry_run || self.update(item, edit).await? {
            true => Outcome::Rewritten,
            false => Outcome::Left,
        };
        Ok((found, outcome))
    }
}

/// Sets `doc` from the JSON text of a record from before the compact form (byte for byte, so it reads exactly
/// as the text did), and removes the text; each text must still be as read.
fn packed(item: &Item, kind: ItemKind, texts: &[&str], edit: &mut Edit) -> Result<(), StoreError> {
    for text in texts {
        edit.unchanged(item, text);
        edit.remove(text);
    }
    if item.contains_key("doc") {
        return Ok(());
    }
    let attribute = match kind {
        ItemKind::Alert => "alert",
        ItemKind::Notification => "notification",
        _ => "event",
    };
    let text = get_s(item, attribute).ok_or_else(|| StoreError::Corrupt(format!("no document (`{attribute}`)")))?;
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map_err(|e| StoreError::Corrupt(format!("{attribute}: {e}")))?;
    edit.absent("doc");
    edit.set("doc", AttributeValue::B(pack_json(text.as_bytes()).into_vec().into()));
    Ok(())
}

/// Where the current code lists a record: its listing entry by its own time, or a held message's outbox entry
/// (none once it is no longer held).
fn sharded_entry(kind: ItemKind, item: &Item) -> Result<Option<IndexKey>, StoreError> {
    let (pk, _) = key_of(item);
    let record: ClaimRecord = from_item(item.clone())?;
    Ok(match kind {
        ItemKind::Delivery => Some(listing_entry(
            Listing::Deliveries,
            &pk,
            record.event::<Event>()?.received_at,
        )),
        ItemKind::Alert => Some(listing_entry(Listing::Alerts, &pk, record.alert::<Alert>()?.raised_at)),
        ItemKind::Conflict => {
            let last = match time(item, "last_seen_at") {
                Some(at) => at,
                None => record.event::<Event>()?.received_at,
            };
            Some(listing_entry(Listing::Conflicts, &pk, last))
        }
        _ => {
            let held: NotificationRecord = record.notification()?;
            match (held.in_outbox(), held.due_at) {
                (true, Some(due)) => Some(notification_outbox_entry(&held.alert_id, held.channel.as_str(), due)),
                _ => None,
            }
        }
    })
}
