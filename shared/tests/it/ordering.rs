//! Property: whatever order deliveries arrive in, an eSIM's state ends at its newest status and its newest
//! usage reading, every delivery is stored once, and no alert is published twice.

use crate::common;

use chrono::Duration;
use common::*;
use proptest::prelude::*;
use serde_json::json;
use shared::model::ProviderId;
use shared::store::{EventStore, ListQuery, StoreQuery};
use std::collections::HashSet;

const STATUSES: [&str; 5] = ["IN_USE", "USED_UP", "SUSPENDED", "USED_EXPIRED", "CANCEL"];

#[derive(Debug, Clone)]
enum Delivery {
    Status { minute: i64, status: usize },
    Usage { minute: i64, remaining_permille: u64 },
}

fn body(index: usize, delivery: &Delivery) -> String {
    let base = instant("2026-04-22T10:00:00Z");
    let at = |m: i64| (base + Duration::minutes(m)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let content = |extra: serde_json::Value| {
        let mut c = json!({"iccid": "8910300000059824319", "esimTranNo": "T-PROP", "transactionId": "tx-prop"});
        c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        c
    };
    match delivery {
        Delivery::Status { minute, status } => json!({"notifyType": "ESIM_STATUS", "notifyId": format!("s{index}"),
            "eventGenerateTime": at(*minute), "content": content(json!({"esimStatus": STATUSES[*status]}))}),
        Delivery::Usage { minute, remaining_permille } => json!({"notifyType": "DATA_USAGE", "notifyId": format!("u{index}"),
            "eventGenerateTime": at(*minute + 1), "content": content(json!({"totalVolume": 1000, "orderUsage": 1000 - remaining_permille,
            "remain": remaining_permille, "lastUpdateTime": at(*minute)}))}),
    }
    .to_string()
}

fn deliveries() -> impl Strategy<Value = (Vec<Delivery>, Vec<usize>)> {
    // Distinct minutes per kind, so "newest" is well defined; ties between kinds do not interact.
    let one = prop_oneof![
        (0..5usize).prop_map(|status| (true, status as u64)),
        (0..1000u64).prop_map(|remaining| (false, remaining)),
    ];
    proptest::collection::vec(one, 1..10).prop_flat_map(|items| {
        let deliveries: Vec<Delivery> = items
            .iter()
            .enumerate()
            .map(|(i, (is_status, v))| {
                let minute = i as i64 * 7 % 61; // distinct for up to 61 items
                if *is_status {
                    Delivery::Status {
                        minute,
                        status: *v as usize,
                    }
                } else {
                    Delivery::Usage {
                        minute,
                        remaining_permille: *v,
                    }
                }
            })
            .collect();
        let order: Vec<usize> = (0..deliveries.len()).collect();
        (Just(deliveries), Just(order).prop_shuffle())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn any_arrival_order_ends_in_the_newest_state((deliveries, order) in deliveries()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let h = Harness::new(fixture_provider(ProviderId::EsimAccess), "2026-04-22T12:00:00Z", quick_settings());
            let mut template = fixtures("esimaccess").into_iter().next().unwrap();
            for &i in &order {
                template.request.body = body(i, &deliveries[i]);
                let reply = h.service.handle(&delivery(&template, instant("2026-04-22T12:00:00Z"))).await;
                prop_assert_eq!(reply.status, 200);
            }
            let newest_status = deliveries.iter().filter_map(|d| match d {
                Delivery::Status { minute, status } => Some((*minute, STATUSES[*status])),
                _ => None,
            }).max();
            let newest_usage = deliveries.iter().filter_map(|d| match d {
                Delivery::Usage { minute, remaining_permille } => Some((*minute, *remaining_permille)),
                _ => None,
            }).max();
            let state = h.store.load_state(ProviderId::EsimAccess, "T-PROP").await.unwrap().unwrap().value;
            prop_assert_eq!(state.status.map(|f| f.value.provider_status), newest_status.map(|(_, s)| s.to_string()));
            prop_assert_eq!(state.usage.and_then(|f| f.value.remaining_bytes), newest_usage.map(|(_, r)| r));
            prop_assert_eq!(h.store.list_deliveries(&ListQuery::default()).await.unwrap().len(), deliveries.len());
            let ids: Vec<String> = h.sink.published().into_iter().map(|a| a.alert_id).collect();
            let unique: HashSet<&String> = ids.iter().collect();
            prop_assert_eq!(unique.len(), ids.len(), "an alert was published twice: {:?}", ids);
            Ok(())
        })?;
    }
}
