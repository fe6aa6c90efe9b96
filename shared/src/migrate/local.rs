//! The local file (and the in-memory store): conflicts kept as the bare event under a key per delivery
//! (`conflicts-before-counting`), folded into the counted record of their payload, and partners without a
//! scope (`partners-before-scopes`). Each rewrite applies only while every document it read is as read
//! ([`KvBackend::apply_if`]: one transaction on the SQLite file, which `serve` may be writing at the same
//! time). A file from before the indexes (`local-file-before-indexes`) was brought up to date when it was
//! opened ([`opened`]).

use super::{Outcome, Report};
use crate::callbacks::local::PARTNERS;
use crate::callbacks::partner::Partner;
use crate::compat::{conflicts, former, local, partners};
use crate::store::keys::conflict_key;
use crate::store::{Change, Expected, KvBackend, KvStore, Space, StoreError, StoredConflict};

/// Counts the file itself under `local-file-before-indexes`: its index version before this release opened it
/// (0: from before the indexes; a later version only means they were rebuilt, as every release may).
pub fn opened(report: &mut Report, version_before: u32) {
    let outcome = match version_before {
        0 => Outcome::Rewritten,
        _ => Outcome::Current,
    };
    report.count(&[(local::NAME, outcome != Outcome::Current)], outcome);
}

/// Rewrites every older document of the store; `dry_run` only counts them.
pub fn migrate_store<B: KvBackend>(store: &KvStore<B>, dry_run: bool) -> Result<Report, StoreError> {
    let mut report = Report::new(dry_run);
    for layout in [conflicts::NAME, partners::NAME, former::DEDUPE_KEYS, former::ALERT_IDS] {
        report.applies(layout);
    }
    for (key, document) in store.backend().list(Space::CONFLICTS)? {
        let outcome = settled(
            fold_conflict(store, &key, &document, dry_run),
            Space::CONFLICTS,
            &key,
            &mut report,
        )?;
        report.count(&[(conflicts::NAME, outcome != Outcome::Current)], outcome);
    }
    for (key, document) in store.backend().list(PARTNERS)? {
        let outcome = settled(scope(store, &key, &document, dry_run), PARTNERS, &key, &mut report)?;
        report.count(&[(partners::NAME, outcome != Outcome::Current)], outcome);
    }
    Ok(report)
}

/// An unreadable document is left as it is, and named.
fn settled(
    outcome: Result<Outcome, StoreError>,
    space: Space,
    key: &str,
    report: &mut Report,
) -> Result<Outcome, StoreError> {
    match outcome {
        Err(StoreError::Corrupt(why)) => {
            report.unreadable.push(format!("{}/{key}: {why}", space.as_str()));
            Ok(Outcome::Left)
        }
        other => other,
    }
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn written(applied: bool) -> Outcome {
    match applied {
        true => Outcome::Rewritten,
        false => Outcome::Left,
    }
}

/// A bare event of before counting, folded into the record of its payload under the current key: the record
/// of a payload seen once, or counted into the one already there; the old document goes.
fn fold_conflict<B: KvBackend>(
    store: &KvStore<B>,
    key: &str,
    document: &str,
    dry_run: bool,
) -> Result<Outcome, StoreError> {
    if serde_json::from_str::<StoredConflict>(document).is_ok() {
        return Ok(Outcome::Current);
    }
    let event = conflicts::bare_event(document).map_err(corrupt)?;
    if dry_run {
        return Ok(Outcome::Rewritten);
    }
    let counted = conflict_key(event.provider, event.dedupe_key.as_str(), event.payload_sha256.as_str());
    let _guard = store.locked();
    let there = match counted == key {
        true => None,
        false => store.backend().get(Space::CONFLICTS, &counted)?,
    };
    let record = match &there {
        Some(doc) => {
            let mut record: StoredConflict = serde_json::from_str(doc).map_err(corrupt)?;
            if event.received_at < record.first_seen_at {
                // The record keeps the first delivery of its payload.
                record.event = event.clone();
            }
            record.seen_again(&event);
            record
        }
        None => StoredConflict::first(event),
    };
    let mut expected = vec![Expected {
        space: Space::CONFLICTS,
        key: key.to_string(),
        document: Some(document.to_string()),
    }];
    let mut changes = vec![store.indexed_change(Space::CONFLICTS, &counted, &record)?];
    if counted != key {
        expected.push(Expected {
            space: Space::CONFLICTS,
            key: counted,
            document: there,
        });
        changes.push(Change::delete(Space::CONFLICTS, key.to_string()));
    }
    Ok(written(store.backend().apply_if(&expected, &changes)?))
}

/// A partner with its scope written down, as the store writes a partner: the scope one stored without it has.
fn scope<B: KvBackend>(store: &KvStore<B>, key: &str, document: &str, dry_run: bool) -> Result<Outcome, StoreError> {
    let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(document).map_err(corrupt)?;
    if fields.contains_key("scope") {
        return Ok(Outcome::Current);
    }
    let partner: Partner = serde_json::from_str(document).map_err(corrupt)?;
    if dry_run {
        return Ok(Outcome::Rewritten);
    }
    let current = serde_json::to_string(&partner).map_err(corrupt)?;
    let _guard = store.locked();
    let expected = [Expected {
        space: PARTNERS,
        key: key.to_string(),
        document: Some(document.to_string()),
    }];
    let changes = [Change::put(PARTNERS, key.to_string(), current)];
    Ok(written(store.backend().apply_if(&expected, &changes)?))
}
