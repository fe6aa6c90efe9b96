//! The storage ports' conformance suite (`shared/tests/common/conformance/`) on DynamoDB: the store, the
//! callback registry, the attempt log and the authentication failure counters, each test on a fresh table
//! on moto. The local stores run it in `shared/tests/it/conformance.rs`.

use crate::common::conformance::suite;
use crate::moto_rig::MotoRig;
use shared::backends::dynamodb::DynamoAttemptLog;
use shared::backends::dynamodb::DynamoAuthFailures;
use shared::backends::dynamodb::DynamoRegistry;
use shared::store::dynamodb::DynamoStore;
use std::sync::Arc;

/// A store on a fresh table.
async fn store() -> Arc<DynamoStore> {
    MotoRig::new("conformance", "2026-05-04T22:00:00Z").await.store
}

async fn registry() -> Arc<DynamoRegistry> {
    let store = store().await;
    Arc::new(DynamoRegistry::new(store.client().clone(), store.table()))
}

async fn attempt_log() -> Arc<DynamoAttemptLog> {
    let store = store().await;
    Arc::new(DynamoAttemptLog::new(store.client().clone(), store.table()))
}

async fn auth_failures() -> Arc<DynamoAuthFailures> {
    let store = store().await;
    Arc::new(DynamoAuthFailures::new(store.client().clone(), store.table()))
}

mod dynamodb {
    use super::*;

    suite! {
        events: store().await;
        indexes: store().await;
        query: store().await;
        contacts: store().await;
        notifications: store().await;
        registry: registry().await;
        attempt_log: attempt_log().await;
        auth_failures: auth_failures().await;
    }
}
