//! Schema drift, counted: every stored delivery's EMF line says whether it shows the provider's payloads may
//! have changed (stored unrecognized, or missing what its type promises), so the per-provider share can be
//! alarmed on (template.yaml, `<Provider>SchemaDriftAlarm`). Read here through the service's metrics output.

use crate::common;

use common::*;
use serde_json::{json, Value};
use shared::clock::Clock;
use shared::model::ProviderId;
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn the_drift_count_rises_with_unrecognized_deliveries_and_only_them() {
    let mut rig = Harness::new(
        fixture_provider(ProviderId::EsimAccess),
        "2026-11-23T09:00:00Z",
        quick_settings(),
    );
    let lines = Arc::new(Mutex::new(Vec::<Value>::new()));
    let kept = lines.clone();
    rig.service = rig.service.with_metrics_to(Arc::new(move |line: &str| {
        kept.lock().unwrap().push(serde_json::from_str(line).unwrap())
    }));
    let now = rig.clock.now();
    let post = |body: Value| signed_delivery(ProviderId::EsimAccess, &body.to_string(), now);
    let usage = |id: &str, remain: Value| {
        json!({"notifyType": "DATA_USAGE", "notifyId": id, "eventGenerateTime": "2026-11-23T08:59:00Z",
            "content": {"iccid": "8943108170001029631", "esimTranNo": "25052822150009", "totalVolume": 1073741824,
            "orderUsage": 536870912, "remain": remain, "lastUpdateTime": "2026-11-23T08:30:00Z"}})
    };
    let sent = [
        usage("d-1", json!(536870912)),
        json!({"notifyType": "TELEPORT_STARTED", "notifyId": "d-2", "content": {"iccid": "8943108170001029631"}}),
        json!({"notifyType": "SOMETHING_NEW", "notifyId": "d-3", "content": {}}),
    ];
    for body in sent {
        let reply = rig.service.handle(&post(body)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let lines = lines.lock().unwrap().clone();
    let drift: Vec<u64> = lines.iter().map(|l| l["SchemaDrift"].as_u64().unwrap()).collect();
    assert_eq!(drift, [0, 1, 1], "{lines:?}");
    assert!(lines.iter().all(|l| l["Stored"] == 1 && l["provider"] == "esimaccess"));
    let declared = lines[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap();
    assert!(
        declared.iter().any(|m| m["Name"] == "SchemaDrift"),
        "declared as a metric"
    );
    // A duplicate is not counted again.
    let again = rig
        .service
        .handle(&post(
            json!({"notifyType": "SOMETHING_NEW", "notifyId": "d-3", "content": {}}),
        ))
        .await;
    assert_eq!(again.status, 200);
}
