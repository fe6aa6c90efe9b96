//! Partner callbacks: partners register a URL per notification type through an API-key-authenticated API
//! (`api.rs`), and esimhooks delivers alerts and events to it signed the Standard Webhooks way
//! (`signing.rs`), one endpoint at a time, with retries, an attempt log and recovery (`sender.rs`,
//! `recovery.rs`); see `docs/callbacks.md`.
//!
//! Deployed, notifications reach the sender through the alerts topic and an SQS queue (`queue.rs`), and
//! partners, endpoints and attempts live in DynamoDB (`backends/dynamodb/`: `callbacks.rs`, `attempts.rs`).
//! Locally, `serve` keeps all of it, the queue included, in its SQLite store (`backends/kv/callbacks.rs`, the
//! queue and sender in `local.rs`), in the key spaces declared in `spaces.rs`.

pub mod api;
pub mod delivery;
#[cfg(feature = "aws")]
pub mod http;
pub mod local;
pub mod notification;
pub mod offboard;
pub mod partner;
#[cfg(feature = "aws")]
pub mod queue;
pub mod rate;
pub mod recovery;
pub mod registry;
#[cfg(any(test, feature = "testing"))]
pub mod scoped;
pub mod sender;
pub mod signing;
#[cfg(feature = "aws")]
pub mod sns;
pub mod spaces;
pub mod throttle;
pub mod transport;
pub mod url;

pub use api::CallbacksApi;
// What partners receive is read by the alert sinks too (`alerts::sink`): a module of its own, also reachable here.
pub use crate::notification::NotificationType;
pub use notification::{EchoSubject, Notification};
pub use partner::{Partner, PartnerId};
pub use spaces::INDEXED_SPACES;

// Former paths of the DynamoDB adapters, now in `backends::dynamodb`: kept for code written against them.
#[cfg(feature = "aws")]
#[doc(hidden)]
pub use crate::backends::dynamodb::attempts;
#[cfg(feature = "aws")]
#[doc(hidden)]
pub use crate::backends::dynamodb::auth_failures as throttle_dynamodb;
#[cfg(feature = "aws")]
#[doc(hidden)]
pub use crate::backends::dynamodb::callbacks as dynamodb;
