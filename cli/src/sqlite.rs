//! The local SQLite file `serve` and the CLI work on: the store's backend (`shared::store::sqlite`) with the
//! features' indexed spaces, which the store itself does not know.

pub use shared::store::sqlite::SqliteBackend;
use shared::store::{IndexedSpace, KvStore, StoreError};
use std::path::Path;

/// The features' indexed spaces, whose entries are written beside the store's own when a file is reindexed.
fn feature_spaces() -> Vec<IndexedSpace> {
    [shared::customers::INDEXED_SPACES, shared::callbacks::INDEXED_SPACES].concat()
}

/// The store in the file at `path`, its indexes written first when the file is from before they were.
pub fn open_store(path: &Path) -> Result<KvStore<SqliteBackend>, StoreError> {
    KvStore::open(SqliteBackend::open(path)?, &feature_spaces())
}
