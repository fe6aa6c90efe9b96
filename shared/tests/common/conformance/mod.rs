//! The storage ports' contracts, written once and run on every backend: each contract is a generic async
//! function of the port and the instant it starts at, asserting what the trait's documentation promises. A
//! backend runs the suite by handing [`suite!`] a fresh port per group (anything that derefs to it):
//! `shared/tests/it/conformance.rs` (memory, SQLite) and `shared/tests/moto/conformance.rs` (DynamoDB).
//!
//! One file per port group; each lists its contracts once, in its `contracts!`.

use super::{instant, usage_reading};
use chrono::{DateTime, Duration, Utc};
use shared::alerts::{Alert, AlertRules};
use shared::model::{Event, PayloadSha256, ProviderId};
use shared::state::{merge, EsimState};
use shared::store::{Begin, EventStore, Lease};

pub mod attempt_log;
pub mod auth_failures;
pub mod contacts;
pub mod events;
pub mod indexes;
pub mod notifications;
pub mod query;
pub mod registry;

/// When every contract starts: late in the day, so listings cross midnight.
pub fn start() -> DateTime<Utc> {
    instant("2026-05-04T22:00:00Z")
}

pub fn lease(attempt: &str, until: DateTime<Utc>) -> Lease {
    Lease {
        attempt: attempt.into(),
        until,
    }
}

/// A usage reading of `provider`'s eSIM `iccid`, keyed `id` and received at `at`, with `remaining` bytes of
/// 1 GB left; its payload is its own (hashed from `id`).
pub fn reading(provider: ProviderId, iccid: &str, id: &str, at: DateTime<Utc>, remaining: u64) -> Event {
    let mut event = usage_reading(provider, iccid, "plan-1", (id, at), remaining);
    event.payload_sha256 = PayloadSha256::of(id.as_bytes());
    event
}

/// Stores `event` as the pipeline does: claimed, merged into its eSIM's state, completed; the state after.
pub async fn store_reading<S: EventStore + ?Sized>(store: &S, event: &Event) -> EsimState {
    let held = lease("storing", event.received_at + Duration::minutes(5));
    let begun = store.begin_delivery(event, &held, event.received_at).await.unwrap();
    assert_eq!(begun, Begin::Started, "{}", event.dedupe_key);
    let key = &event.esim.as_ref().expect("a reading names its eSIM").key;
    let current = store.load_state(event.provider, key).await.unwrap();
    let version = current.as_ref().map(|v| v.version);
    let merged = merge(current.map(|v| v.value), event).expect("a reading names its eSIM");
    assert!(store.save_state(&merged.state, version).await.unwrap());
    store.finish_delivery(event, &held, event.received_at).await.unwrap();
    merged.state
}

/// The low-data alert of a reading with 10 % left, raised at its receipt.
pub fn low_data_alert(event: &Event) -> Alert {
    let state = merge(None, event).expect("a reading names its eSIM").state;
    let mut alerts = shared::alerts::evaluate(event, Some(&state), &AlertRules::default(), event.received_at);
    assert_eq!(alerts.len(), 1, "one low-data alert");
    alerts.remove(0)
}

/// Runs the contracts of each group named on the ports given for it, each test on a fresh one:
///
/// ```ignore
/// suite! {
///     events: Arc::new(KvStore::in_memory());
///     query: Arc::new(KvStore::in_memory()), ignore { some_contract: "why this backend differs" };
/// }
/// ```
///
/// Every group is a module of [`crate::common::conformance`] with its contracts listed in its `contracts!`; a
/// contract named under `ignore` runs only with `--ignored`.
macro_rules! suite {
    ($($group:ident: $port:expr $(, ignore { $($ignored:ident: $reason:literal),* $(,)? })?;)*) => {
        $( crate::common::conformance::$group::contracts!($port, [$($($ignored: $reason),*)?]); )*
    };
}
pub(crate) use suite;

/// A module `$group` with one `#[tokio::test]` per contract in `[$test]`, each calling
/// `conformance::$group::$test(&*$port, start())`; those in `[$ignored]` are `#[ignore = $reason]`.
macro_rules! emit {
    ($group:ident, $port:expr, [$($test:ident),* $(,)?], [$($ignored:ident: $reason:literal),* $(,)?]) => {
        crate::common::conformance::emit!(@with ($) $group, $port, [$($test),*], [$($ignored: $reason),*]);
    };
    // `$d` is a `$`, for the inner macro's own metavariables: it tells the ignored contracts from the others.
    (@with ($d:tt) $group:ident, $port:expr, [$($test:ident),*], [$($ignored:ident: $reason:literal),*]) => {
        mod $group {
            #[allow(unused_imports)]
            use super::*;

            macro_rules! contract {
                $(($ignored) => {
                    #[ignore = $reason]
                    #[tokio::test]
                    async fn $ignored() {
                        let port = $port;
                        crate::common::conformance::$group::$ignored(&*port, crate::common::conformance::start()).await;
                    }
                };)*
                ($d name:ident) => {
                    #[tokio::test]
                    async fn $d name() {
                        let port = $port;
                        crate::common::conformance::$group::$d name(&*port, crate::common::conformance::start()).await;
                    }
                };
            }

            $(contract!($test);)*
        }
    };
}
pub(crate) use emit;
