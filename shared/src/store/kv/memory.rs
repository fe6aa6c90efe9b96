//! Documents and their index entries in maps: the in-memory backend for unit tests and benchmarks.

use crate::store::index::{IndexEntry, IndexRange};
use crate::store::kv::{Change, KvBackend, KvStore, Space};
use crate::store::StoreError;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Mutex;

#[derive(Debug, Default)]
struct Maps {
    documents: BTreeMap<(Space, String), String>,
    /// (space, index, value, key), in the order a range reads them.
    entries: BTreeSet<(Space, String, String, String)>,
    /// Each document's entries, to replace them when it is written again.
    entries_of: HashMap<(Space, String), Vec<IndexEntry>>,
    index_version: u32,
}

impl Maps {
    fn set_entries(&mut self, space: Space, key: &str, entries: &[IndexEntry]) {
        for old in self.entries_of.remove(&(space, key.to_string())).unwrap_or_default() {
            self.entries.remove(&(space, old.index, old.value, key.to_string()));
        }
        for entry in entries {
            self.entries
                .insert((space, entry.index.clone(), entry.value.clone(), key.to_string()));
        }
        if !entries.is_empty() {
            self.entries_of.insert((space, key.to_string()), entries.to_vec());
        }
    }
}

#[derive(Debug, Default)]
pub struct MemoryBackend(Mutex<Maps>);

impl KvStore<MemoryBackend> {
    /// An empty store: nothing to index, so no feature's spaces are needed.
    pub fn in_memory() -> Self {
        Self::new(MemoryBackend::default())
    }
}

impl Default for KvStore<MemoryBackend> {
    fn default() -> Self {
        Self::in_memory()
    }
}

impl MemoryBackend {
    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl KvBackend for MemoryBackend {
    fn get(&self, space: Space, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.maps().documents.get(&(space, key.to_string())).cloned())
    }

    fn put(&self, space: Space, key: &str, document: &str) -> Result<(), StoreError> {
        self.maps()
            .documents
            .insert((space, key.to_string()), document.to_string());
        Ok(())
    }

    fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        let mut maps = self.maps();
        for change in changes {
            match change {
                Change::Put {
                    space,
                    key,
                    document,
                    entries,
                } => {
                    maps.documents.insert((*space, key.clone()), document.clone());
                    if let Some(entries) = entries {
                        maps.set_entries(*space, key, entries);
                    }
                }
                Change::Delete { space, key } => {
                    maps.documents.remove(&(*space, key.clone()));
                    maps.set_entries(*space, key, &[]);
                }
            }
        }
        Ok(())
    }

    fn list(&self, space: Space) -> Result<Vec<(String, String)>, StoreError> {
        let maps = self.maps();
        Ok(maps
            .documents
            .range((space, String::new())..)
            .take_while(|((s, _), _)| *s == space)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn range(&self, space: Space, range: &IndexRange) -> Result<Vec<String>, StoreError> {
        let maps = self.maps();
        let from = (space, range.index.clone(), range.from.clone(), String::new());
        let to = (space, range.index.clone(), range.to.clone(), String::new());
        let entries = maps.entries.range((Bound::Included(from), Bound::Excluded(to)));
        let keys: Box<dyn Iterator<Item = _>> = if range.descending {
            Box::new(entries.rev())
        } else {
            Box::new(entries)
        };
        Ok(keys
            .skip(range.skip)
            .take(range.limit)
            .filter_map(|(_, _, _, key)| maps.documents.get(&(space, key.clone())).cloned())
            .collect())
    }

    fn histogram(&self, space: Space, range: &IndexRange, prefix: usize) -> Result<Vec<(String, u64)>, StoreError> {
        let maps = self.maps();
        let from = (space, range.index.clone(), range.from.clone(), String::new());
        let to = (space, range.index.clone(), range.to.clone(), String::new());
        let mut counts: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for (_, _, value, _) in maps.entries.range((Bound::Included(from), Bound::Excluded(to))) {
            let head = value.get(..prefix).unwrap_or(value);
            *counts.entry(head.to_string()).or_default() += 1;
        }
        Ok(counts.into_iter().collect())
    }

    fn clear_index(&self) -> Result<(), StoreError> {
        let mut maps = self.maps();
        maps.entries.clear();
        maps.entries_of.clear();
        Ok(())
    }

    fn index_version(&self) -> Result<u32, StoreError> {
        Ok(self.maps().index_version)
    }

    fn set_index_version(&self, version: u32) -> Result<(), StoreError> {
        self.maps().index_version = version;
        Ok(())
    }
}
