//! What an attacker or a careless provider sends, end to end through the real `Service` over in-memory
//! adapters: clocks far off, variants of a signed body, whitespace around a body, control characters.

mod common;

use common::*;
use serde_json::{json, Value};
use shared::clock::Clock;
use shared::model::{ProviderId, TimeSource, FLAG_TIME_AHEAD};
use shared::store::{ListQuery, StoreQuery};

const NOW: &str = "2026-11-23T10:00:00Z";

/// An eSIM Access delivery of `body` with the fixture token, received at the harness's time.
fn esimaccess_delivery(h: &Harness, body: &Value) -> shared::ingress::Delivery {
    let mut f = fixtures("esimaccess").into_iter().next().unwrap();
    f.request.body = body.to_string();
    delivery(&f, h.clock.now())
}

fn data_usage(id: &str, at: &str, remain: u64) -> Value {
    json!({
        "notifyType": "DATA_USAGE", "notifyId": id, "eventGenerateTime": at,
        "content": {"iccid": "8943108170001029631", "esimTranNo": "T-CLOCK", "transactionId": "tx-clock",
                    "totalVolume": 1000, "orderUsage": 1000 - remain, "remain": remain, "lastUpdateTime": at}
    })
}

/// A provider clock in 2099 must not freeze the eSIM's usage: the real, later readings still apply and alert.
#[tokio::test]
async fn a_far_future_provider_time_does_not_silence_later_readings() {
    let h = Harness::new(esimaccess_provider(false), NOW, quick_settings());
    let poisoned = data_usage("n-2099", "2099-01-01T00:00:00Z", 800);
    assert_eq!(h.service.handle(&esimaccess_delivery(&h, &poisoned)).await.status, 200);

    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    let event = &stored[0].event;
    assert_eq!(event.occurred_at, instant(NOW), "the receipt time stands in");
    assert_eq!(event.occurred_at_source, TimeSource::Received);
    assert!(event.flags.iter().any(|f| f == FLAG_TIME_AHEAD), "{:?}", event.flags);
    assert!(event.usage.as_ref().unwrap().measured_at.is_none());

    h.clock.advance(chrono::Duration::minutes(10));
    let real = data_usage("n-real-50", "2026-11-23T10:09:00Z", 50);
    assert_eq!(h.service.handle(&esimaccess_delivery(&h, &real)).await.status, 200);
    let state = h.esim_state(ProviderId::EsimAccess, "T-CLOCK").await;
    assert_eq!(state.usage.unwrap().value.remaining_bytes, Some(50));
    assert_eq!(h.published_alert("low_data").level, "10%");

    h.clock.advance(chrono::Duration::minutes(10));
    let empty = data_usage("n-real-0", "2026-11-23T10:19:00Z", 0);
    assert_eq!(h.service.handle(&esimaccess_delivery(&h, &empty)).await.status, 200);
    let state = h.esim_state(ProviderId::EsimAccess, "T-CLOCK").await;
    assert_eq!(state.usage.unwrap().value.remaining_bytes, Some(0));
}

/// Plausible provider times keep their order: a reading measured earlier but delivered later does not win,
/// and a time a little ahead of ours (clock skew within the limit) is kept as the provider's.
#[tokio::test]
async fn plausible_provider_times_keep_their_order() {
    let h = Harness::new(esimaccess_provider(false), NOW, quick_settings());
    let newer = data_usage("n-newer", "2026-11-23T10:03:00Z", 300);
    assert_eq!(h.service.handle(&esimaccess_delivery(&h, &newer)).await.status, 200);
    let older = data_usage("n-older", "2026-11-23T09:00:00Z", 900);
    assert_eq!(h.service.handle(&esimaccess_delivery(&h, &older)).await.status, 200);
    let state = h.esim_state(ProviderId::EsimAccess, "T-CLOCK").await;
    let usage = state.usage.unwrap();
    assert_eq!(usage.value.remaining_bytes, Some(300));
    assert_eq!(
        usage.at,
        instant("2026-11-23T10:03:00Z"),
        "3 minutes ahead is skew, not a wrong clock"
    );
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    assert!(stored.iter().all(|d| d.event.flags.is_empty()));
}

/// A time before any eSIM existed is a zeroed clock: the receipt time stands in, flagged.
#[tokio::test]
async fn an_implausibly_old_provider_time_is_replaced_by_the_receipt_time() {
    let h = Harness::new(esimaccess_provider(false), NOW, quick_settings());
    let zeroed = data_usage("n-1970", "1970-01-01T00:00:00Z", 500);
    assert_eq!(h.service.handle(&esimaccess_delivery(&h, &zeroed)).await.status, 200);
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    assert_eq!(stored[0].event.occurred_at, instant(NOW));
    assert!(stored[0]
        .event
        .flags
        .iter()
        .any(|f| f == "provider_time_implausibly_old"));
}
