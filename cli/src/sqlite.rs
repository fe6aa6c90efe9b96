//! The embedded store for local runs: the shared key-value `EventStore` over one SQLite file.

use rusqlite::{params, Connection, OptionalExtension};
use shared::store::{KvBackend, KvStore, Space, StoreError};
use std::path::Path;
use std::sync::Mutex;

pub struct SqliteBackend(Mutex<Connection>);

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {e}"))
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
                 PRIMARY KEY (space, key)
             );",
        )
        .map_err(unavailable)?;
        Ok(Self(Mutex::new(conn)))
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl KvBackend for SqliteBackend {
    fn get(&self, space: Space, key: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row(
                "SELECT doc FROM items WHERE space = ?1 AND key = ?2",
                params![space.as_str(), key],
                |r| r.get(0),
            )
            .optional()
            .map_err(unavailable)
    }

    fn put(&self, space: Space, key: &str, document: &str) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO items (space, key, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT (space, key) DO UPDATE SET doc = excluded.doc",
                params![space.as_str(), key, document],
            )
            .map(|_| ())
            .map_err(unavailable)
    }

    fn apply(&self, changes: &[(Space, String, Option<String>)]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let transaction = conn.transaction().map_err(unavailable)?;
        for (space, key, document) in changes {
            match document {
                Some(document) => transaction.execute(
                    "INSERT INTO items (space, key, doc) VALUES (?1, ?2, ?3)
                     ON CONFLICT (space, key) DO UPDATE SET doc = excluded.doc",
                    params![space.as_str(), key, document],
                ),
                None => transaction.execute(
                    "DELETE FROM items WHERE space = ?1 AND key = ?2",
                    params![space.as_str(), key],
                ),
            }
            .map_err(unavailable)?;
        }
        transaction.commit().map_err(unavailable)
    }

    fn list(&self, space: Space) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare("SELECT doc FROM items WHERE space = ?1")
            .map_err(unavailable)?;
        let rows = statement
            .query_map(params![space.as_str()], |r| r.get::<_, String>(0))
            .map_err(unavailable)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
    }
}

pub fn open_store(path: &Path) -> Result<KvStore<SqliteBackend>, StoreError> {
    Ok(KvStore::new(SqliteBackend::open(path)?))
}
