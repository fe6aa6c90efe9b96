//! The storage adapters of the features' ports, one room per backend: adding a backend means one folder here
//! (beside its event store in `store`). Each room implements the ports the features declare (the callback
//! registry and attempt log, the auth-failure counters, the customer directory and the notification records)
//! on that backend's store; the features keep their ports, types, rules and the key spaces and index entries
//! of their data. This module imports the features and `store`; only the wiring (`runtime`), the CLI and the
//! tests import it.
//!
//! - [`dynamodb`]: on the events table ([`crate::store::dynamodb::DynamoStore`] and its client), deployed;
//! - [`kv`]: on the key-value store ([`crate::store::KvStore`]: SQLite for `esimhooks serve`, memory in tests).

#[cfg(feature = "aws")]
pub mod dynamodb;
pub mod kv;
