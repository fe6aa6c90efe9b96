//! The customers' own data in the key-value store: its key spaces and index entries, declared beside its types
//! ("features own their data"); the adapter that reads and writes them is `backends/kv/customers.rs`.

use super::Contact;
use crate::store::index::{IndexEntry, Indexed};
use crate::store::{IndexedSpace, Space};

/// A contact's document under each of its identifiers.
pub(crate) const CONTACTS: Space = Space::new("contacts");
/// Per-phone daily SMS counts.
pub(crate) const ALLOWANCES: Space = Space::new("allowances");

/// The customer side's spaces with index entries, for rebuilding them ([`crate::store::KvStore::reindex`]).
pub const INDEXED_SPACES: &[IndexedSpace] = &[IndexedSpace::of::<Contact>(CONTACTS)];

/// The index of contacts by customer id.
pub(crate) const CUSTOMER_INDEX: &str = "customer";

impl Indexed for Contact {
    fn entries(&self) -> Vec<IndexEntry> {
        let customer = self.customer_id.as_deref().filter(|c| !c.is_empty());
        customer
            .map(|customer| IndexEntry {
                index: CUSTOMER_INDEX.into(),
                value: customer.to_string(),
            })
            .into_iter()
            .collect()
    }
}
