//! The integration tests that need nothing but this crate: the real `Service` over in-memory adapters, every
//! provider's fixtures, hostile input, logs, schemas and the constant-time lint. One binary, so the test build
//! links once (`cargo test -p shared --test it`).

#[path = "../common/mod.rs"]
mod common;

mod airalo;
mod alert_scale;
mod callbacks_faults;
mod conformance;
mod customers_api;
mod customers_notify;
mod esimaccess;
mod esimgo;
mod gigastore;
mod hostile;
mod logs;
mod oneglobal;
mod ordering;
mod providers;
mod roamify;
mod schema_drift;
mod standard_webhooks;
mod store_reads;
mod timing_safe;
