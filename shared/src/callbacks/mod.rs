//! Partner callbacks: partners register an HTTPS URL per notification type through an API-key-authenticated
//! API, and get alerts and events as signed SNS HTTPS deliveries with SNS's retries (`docs/callbacks.md`).
//!
//! [`api::CallbacksApi`] serves the API over two ports: a [`registry::CallbackRegistry`] (DynamoDB) that
//! keeps partners and registrations, and a [`transport::CallbackTransport`] (SNS) that holds one filtered
//! subscription per registered URL and publishes.

pub mod api;
#[cfg(feature = "aws")]
pub mod attempts;
pub mod delivery;
#[cfg(feature = "aws")]
pub mod dynamodb;
#[cfg(feature = "aws")]
pub mod http;
pub mod local;
pub mod notification;
pub mod offboard;
pub mod partner;
#[cfg(feature = "aws")]
pub mod queue;
pub mod recovery;
pub mod registry;
pub mod sender;
pub mod signing;
#[cfg(feature = "aws")]
pub mod sns;
pub mod transport;
pub mod types;
pub mod url;

pub use api::CallbacksApi;
pub use notification::{EchoSubject, Notification};
pub use partner::{Partner, PartnerId};
pub use types::NotificationType;
