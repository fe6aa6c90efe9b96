//! The DynamoDB room: the features' ports on the events table (layout in `docs/dynamodb.md`; every key from
//! `store/keys.rs`), beside the events' own adapter, [`crate::store::dynamodb::DynamoStore`].
//!
//! - [`customers`]: [`crate::customers::records::NotificationStore`] and, in `customers/contacts.rs`, the
//!   directory ([`crate::customers::ContactLookup`], [`crate::customers::ContactStore`]), on `DynamoStore`;
//! - [`callbacks`]: [`DynamoRegistry`], the partners, registrations, endpoints and send slots;
//! - [`attempts`]: [`DynamoAttemptLog`], the callback attempt log and deliveries given up on;
//! - [`auth_failures`]: [`DynamoAuthFailures`], the API's failed-key counters.

pub mod attempts;
pub mod auth_failures;
pub mod callbacks;
mod customers;

pub use attempts::DynamoAttemptLog;
pub use auth_failures::DynamoAuthFailures;
pub use callbacks::DynamoRegistry;
