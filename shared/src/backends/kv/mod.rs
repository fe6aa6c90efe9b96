//! The key-value room: the features' ports on [`crate::store::KvStore`] (SQLite for `esimhooks serve`, memory in
//! tests), in the key spaces the features declare (`customers/spaces.rs`, `callbacks/spaces.rs`). Its items are
//! trait implementations on `KvStore`, so nothing here is named from outside.
//!
//! - [`customers`]: the directory ([`crate::customers::ContactStore`]), the customers' names
//!   ([`crate::store::Aliases`]) and [`crate::customers::records::NotificationStore`];
//! - [`callbacks`]: [`crate::callbacks::registry::CallbackRegistry`] and
//!   [`crate::callbacks::sender::AttemptLog`]. The local job queue and sender,
//!   [`crate::callbacks::local::LocalCallbacks`], is a runtime piece and stays with the callbacks.

mod callbacks;
mod customers;
