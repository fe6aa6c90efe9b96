//! The local SQLite file `serve` and the CLI work on: the store's backend (`shared::store::sqlite`) with the
//! features' indexed spaces, which the store itself does not know.

pub use shared::store::sqlite::SqliteBackend;
use shared::store::{IndexedSpace, KvBackend, KvStore, StoreError};
use std::path::Path;

/// The features' indexed spaces, whose entries are written beside the store's own when a file is reindexed.
fn feature_spaces() -> Vec<IndexedSpace> {
    [shared::customers::INDEXED_SPACES, shared::callbacks::INDEXED_SPACES].concat()
}

/// The store in the file at `path`, its indexes written first when the file is from before they were.
pub fn open_store(path: &Path) -> Result<KvStore<SqliteBackend>, StoreError> {
    KvStore::open(SqliteBackend::open(path)?, &feature_spaces())
}

/// [`open_store`], with the index version the file had before it was opened (`esimhooks migrate` reports it).
pub fn open_counted(path: &Path) -> Result<(KvStore<SqliteBackend>, u32), StoreError> {
    let backend = SqliteBackend::open(path)?;
    let before = backend.index_version()?;
    Ok((KvStore::open(backend, &feature_spaces())?, before))
}
