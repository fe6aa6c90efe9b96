//! The storage ports' conformance suite (`shared/tests/common/conformance/`) on the local stores: the
//! key-value store in memory and on a SQLite file opened as the CLI opens it, the memory registry, and the
//! memory counter of authentication failures (`serve`'s, on SQLite too). DynamoDB runs it in
//! `shared/tests/moto/conformance.rs`.

use crate::common::conformance::suite;
use shared::store::sqlite::SqliteBackend;
use shared::store::KvStore;
use std::sync::Arc;

/// The key-value store in memory.
mod memory {
    use super::*;
    use shared::callbacks::throttle::MemoryAuthFailures;

    suite! {
        events: Arc::new(KvStore::in_memory());
        indexes: Arc::new(KvStore::in_memory());
        query: Arc::new(KvStore::in_memory());
        contacts: Arc::new(KvStore::in_memory());
        notifications: Arc::new(KvStore::in_memory());
        registry: Arc::new(KvStore::in_memory());
        attempt_log: Arc::new(KvStore::in_memory());
        auth_failures: Arc::new(MemoryAuthFailures::default());
    }
}

/// The registry's own memory double.
mod memory_registry {
    use super::*;
    use shared::callbacks::registry::MemoryRegistry;

    suite! {
        registry: Arc::new(MemoryRegistry::default());
    }
}

/// The key-value store on a fresh SQLite file, with the features' indexed spaces (`cli/src/sqlite.rs`); the
/// file goes with it.
struct Sqlite {
    store: KvStore<SqliteBackend>,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Sqlite {
    type Target = KvStore<SqliteBackend>;

    fn deref(&self) -> &Self::Target {
        &self.store
    }
}

fn sqlite_file() -> Sqlite {
    let dir = tempfile::tempdir().unwrap();
    let features = [shared::customers::INDEXED_SPACES, shared::callbacks::INDEXED_SPACES].concat();
    let backend = SqliteBackend::open(&dir.path().join("esimhooks.db")).unwrap();
    Sqlite {
        store: KvStore::open(backend, &features).unwrap(),
        _dir: dir,
    }
}

/// The key-value store on SQLite (authentication failures are counted in memory there too: see `memory`).
mod sqlite {
    use super::*;

    suite! {
        events: sqlite_file();
        indexes: sqlite_file();
        query: sqlite_file();
        contacts: sqlite_file();
        notifications: sqlite_file();
        registry: sqlite_file();
        attempt_log: sqlite_file();
    }
}
