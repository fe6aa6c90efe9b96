//! The embedded store for local runs (feature `sqlite`, which the CLI turns on): the key-value `EventStore`
//! over one SQLite file, its documents in `items` and their index entries in `entries` (a listing, timeline or
//! fleet page reads a range of those).

use crate::store::index::{IndexEntry, IndexRange};
use crate::store::{Change, Expected, KvBackend, Space, StoreError};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

pub struct SqliteBackend(Mutex<Connection>);

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {e}"))
}

/// SQLite counts in i64; a range asking for "all" asks for i64::MAX.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl SqliteBackend {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(unavailable)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS items (
                 space TEXT NOT NULL,
                 key   TEXT NOT NULL,
                 doc   TEXT NOT NULL,
                 entries TEXT,
                 PRIMARY KEY (space, key)
             );
             CREATE TABLE IF NOT EXISTS entries (
                 space TEXT NOT NULL,
                 idx   TEXT NOT NULL,
                 value TEXT NOT NULL,
                 key   TEXT NOT NULL,
                 PRIMARY KEY (space, idx, value, key)
             ) WITHOUT ROWID;",
        )
        .map_err(unavailable)?;
        // Each item lists its own entries (JSON pairs), so replacing them needs no second index on `entries`; a file
        // from before the indexes gets that column here.
        crate::compat::local::add_entries_column(&conn).map_err(unavailable)?;
        Ok(Self(Mutex::new(conn)))
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type Pairs = BTreeSet<(String, String)>;

fn put(transaction: &Transaction, space: Space, key: &str, document: &str) -> rusqlite::Result<usize> {
    transaction
        .prepare_cached(
            "INSERT INTO items (space, key, doc) VALUES (?1, ?2, ?3)
             ON CONFLICT (space, key) DO UPDATE SET doc = excluded.doc",
        )?
        .execute(params![space.as_str(), key, document])
}

/// The entries an item lists as its own.
fn listed_entries(transaction: &Transaction, space: Space, key: &str) -> rusqlite::Result<Pairs> {
    let listed: Option<Option<String>> = transaction
        .prepare_cached("SELECT entries FROM items WHERE space = ?1 AND key = ?2")?
        .query_row(params![space.as_str(), key], |r| r.get(0))
        .optional()?;
    Ok(listed
        .flatten()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default())
}

/// Moves an item's entries from `current` to `wanted`, touching only those that changed (most writes change
/// none: a delivery completed keeps its place in every index).
fn move_entries(
    transaction: &Transaction,
    space: Space,
    key: &str,
    current: &Pairs,
    wanted: &Pairs,
) -> rusqlite::Result<()> {
    let mut delete =
        transaction.prepare_cached("DELETE FROM entries WHERE space = ?1 AND idx = ?2 AND value = ?3 AND key = ?4")?;
    for (index, value) in current.difference(wanted) {
        delete.execute(params![space.as_str(), index, value, key])?;
    }
    let mut insert =
        transaction.prepare_cached("INSERT OR IGNORE INTO entries (space, idx, value, key) VALUES (?1, ?2, ?3, ?4)")?;
    for (index, value) in wanted.difference(current) {
        insert.execute(params![space.as_str(), index, value, key])?;
    }
    Ok(())
}

fn put_indexed(
    transaction: &Transaction,
    space: Space,
    key: &str,
    document: &str,
    entries: &[IndexEntry],
) -> rusqlite::Result<()> {
    let current = listed_entries(transaction, space, key)?;
    let wanted: Pairs = entries.iter().map(|e| (e.index.clone(), e.value.clone())).collect();
    move_entries(transaction, space, key, &current, &wanted)?;
    let listed = serde_json::to_string(&wanted).unwrap_or_default();
    transaction
        .prepare_cached(
            "INSERT INTO items (space, key, doc, entries) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (space, key) DO UPDATE SET doc = excluded.doc, entries = excluded.entries",
        )?
        .execute(params![space.as_str(), key, document, listed])?;
    Ok(())
}

fn delete(transaction: &Transaction, space: Space, key: &str) -> rusqlite::Result<()> {
    let current = listed_entries(transaction, space, key)?;
    move_entries(transaction, space, key, &current, &Pairs::new())?;
    transaction
        .prepare_cached("DELETE FROM items WHERE space = ?1 AND key = ?2")?
        .execute(params![space.as_str(), key])?;
    Ok(())
}

fn write(transaction: &Transaction, changes: &[Change]) -> rusqlite::Result<()> {
    for change in changes {
        match change {
            Change::Put {
                space,
                key,
                document,
                entries,
            } => match entries {
                Some(entries) => put_indexed(transaction, *space, key, document, entries),
                None => put(transaction, *space, key, document).map(|_| ()),
            },
            Change::Delete { space, key } => delete(transaction, *space, key),
        }?;
    }
    Ok(())
}

impl KvBackend for SqliteBackend {
    fn get(&self, space: Space, key: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .prepare_cached("SELECT doc FROM items WHERE space = ?1 AND key = ?2")
            .and_then(|mut s| s.query_row(params![space.as_str(), key], |r| r.get(0)).optional())
            .map_err(unavailable)
    }

    fn put(&self, space: Space, key: &str, document: &str) -> Result<(), StoreError> {
        self.apply(&[Change::put(space, key.to_string(), document.to_string())])
    }

    fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let transaction = conn.transaction().map_err(unavailable)?;
        write(&transaction, changes).map_err(unavailable)?;
        transaction.commit().map_err(unavailable)
    }

    /// The checks and the writes in one transaction that takes the file's write lock first, so no other process
    /// writes between them.
    fn apply_if(&self, expected: &[Expected], changes: &[Change]) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let transaction = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        for expected in expected {
            let found: Option<String> = transaction
                .prepare_cached("SELECT doc FROM items WHERE space = ?1 AND key = ?2")
                .and_then(|mut s| {
                    s.query_row(params![expected.space.as_str(), expected.key], |r| r.get(0))
                        .optional()
                })
                .map_err(unavailable)?;
            if found != expected.document {
                return Ok(false);
            }
        }
        write(&transaction, changes).map_err(unavailable)?;
        transaction.commit().map_err(unavailable)?;
        Ok(true)
    }

    fn list(&self, space: Space) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare("SELECT key, doc FROM items WHERE space = ?1")
            .map_err(unavailable)?;
        let rows = statement
            .query_map(params![space.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(unavailable)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
    }

    fn range(&self, space: Space, range: &IndexRange) -> Result<Vec<String>, StoreError> {
        let order = if range.descending { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT i.doc FROM entries e JOIN items i ON i.space = e.space AND i.key = e.key
             WHERE e.space = ?1 AND e.idx = ?2 AND e.value >= ?3 AND e.value < ?4
             ORDER BY e.value {order}, e.key {order} LIMIT ?5 OFFSET ?6"
        );
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&sql).map_err(unavailable)?;
        let rows = statement
            .query_map(
                params![
                    space.as_str(),
                    range.index,
                    range.from,
                    range.to,
                    count(range.limit),
                    count(range.skip)
                ],
                |r| r.get::<_, String>(0),
            )
            .map_err(unavailable)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
    }

    fn histogram(&self, space: Space, range: &IndexRange, prefix: usize) -> Result<Vec<(String, u64)>, StoreError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare(
                "SELECT substr(value, 1, ?5) AS head, COUNT(*) FROM entries
                 WHERE space = ?1 AND idx = ?2 AND value >= ?3 AND value < ?4
                 GROUP BY head ORDER BY head",
            )
            .map_err(unavailable)?;
        let rows = statement
            .query_map(
                params![space.as_str(), range.index, range.from, range.to, count(prefix)],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.unsigned_abs())),
            )
            .map_err(unavailable)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
    }

    fn clear_index(&self) -> Result<(), StoreError> {
        self.conn()
            .execute_batch("DELETE FROM entries; UPDATE items SET entries = NULL;")
            .map_err(unavailable)
    }

    fn index_version(&self) -> Result<u32, StoreError> {
        self.conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(unavailable)
    }

    fn set_index_version(&self, version: u32) -> Result<(), StoreError> {
        self.conn()
            .execute_batch(&format!("PRAGMA user_version = {version}"))
            .map_err(unavailable)
    }
}
