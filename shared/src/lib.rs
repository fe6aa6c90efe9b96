//! esimhooks shared library: everything between "a provider POSTed some bytes" and "the event is stored once
//! and its alerts are published once". The Lambda binaries in `functions/` and the `esimhooks` CLI are thin
//! wiring around [`service::Service`].
//!
//! Flow of one delivery (see `docs/architecture.md`):
//! [`ingress::Delivery`] → [`providers::Provider::authenticate`] → [`auth::Verified`] →
//! [`providers::Provider::normalize`] → [`model::Event`] → [`pipeline`] (claim, store, state, alerts) → reply.

pub mod alert_document;
pub mod alerts;
pub mod api_error;
pub mod apigw;
pub mod auth;
#[cfg(feature = "aws")]
pub mod aws;
pub mod backends;
pub mod callbacks;
pub mod clock;
pub mod compat;
pub mod config;
pub mod customers;
pub mod due;
pub mod ingress;
pub mod lambda;
pub mod metrics;
pub mod migrate;
pub mod model;
pub mod notification;
pub mod ownership;
pub mod pipeline;
pub mod providers;
pub mod reconcile;
pub mod records;
pub mod replay;
pub mod reply;
#[cfg(feature = "aws")]
pub mod runtime;
pub mod service;
pub mod simulate;
pub mod sms_length;
pub mod sqs_event;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod time;

/// The former path of [`alerts::sink`], kept for code outside the workspace.
pub use alerts::sink as notify;
