//! What an attacker or a careless provider sends, end to end through the real `Service` over in-memory
//! adapters: clocks far off, variants of a signed body, whitespace around a body, control characters.

use crate::common;

use common::*;
use serde_json::{json, Value};
use shared::clock::Clock;
use shared::model::{ProviderId, TimeSource, FLAG_TIME_AHEAD, PROVIDER_CLOCK_AHEAD_LIMIT};
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
    let h = Harness::new(fixture_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let poisoned = data_usage("n-2099", "2099-01-01T00:00:00Z", 800);
    assert_eq!(h.service.handle(&esimaccess_delivery(&h, &poisoned)).await.status, 200);

    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    let event = &stored[0].event;
    let bound = instant(NOW) + PROVIDER_CLOCK_AHEAD_LIMIT;
    assert_eq!(event.occurred_at, bound, "bounded to receipt + limit");
    assert_eq!(event.occurred_at_source, TimeSource::Provider);
    assert!(event.flags.iter().any(|f| f == FLAG_TIME_AHEAD), "{:?}", event.flags);
    assert_eq!(event.usage.as_ref().unwrap().measured_at, Some(bound));

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
    let h = Harness::new(fixture_provider(ProviderId::EsimAccess), NOW, quick_settings());
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
    let h = Harness::new(fixture_provider(ProviderId::EsimAccess), NOW, quick_settings());
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

/// An Airalo delivery of `body` carrying `signature` (hex HMAC-SHA512), as an attacker replays it.
fn airalo_with_signature(h: &Harness, body: &str, signature: &str) -> shared::ingress::Delivery {
    let mut d = signed_delivery(ProviderId::Airalo, body, h.clock.now());
    d.headers.insert("airalo-signature", signature.parse().unwrap());
    d
}

/// Airalo's signature may cover its SDK's re-encoding, so every whitespace or `\u` spelling of a signed body
/// verifies: they are one delivery, stored once and alerted once, not a new account-balance alert each.
#[tokio::test]
async fn variants_of_one_signed_airalo_body_are_one_delivery() {
    let h = Harness::new(fixture_provider(ProviderId::Airalo), NOW, quick_settings());
    let body = r#"{"message":"Surpassed 80% of the credit limit balance","remaining":225.35}"#;
    let signature = hmac_sha512_hex(&fixture_secret(ProviderId::Airalo), body.as_bytes());
    let mut outcomes = Vec::new();
    for spaces in 0..200 {
        let variant = body.replacen('{', &format!("{{{}", " ".repeat(spaces)), 1);
        let reply = h.service.handle(&airalo_with_signature(&h, &variant, &signature)).await;
        assert_eq!(reply.status, 200, "{spaces}: {}", reply.body);
        outcomes.push(serde_json::from_str::<Value>(&reply.body).unwrap()["outcome"].clone());
    }
    for variant in [
        body.replace("Surpassed", "\\u0053urpassed"),
        body.replace("80%", "80\\u0025"),
        format!("\t{body}\n"),
    ] {
        let reply = h.service.handle(&airalo_with_signature(&h, &variant, &signature)).await;
        outcomes.push(serde_json::from_str::<Value>(&reply.body).unwrap()["outcome"].clone());
    }
    assert_eq!(outcomes[0], "stored");
    assert!(outcomes[1..].iter().all(|o| o == "duplicate"), "{outcomes:?}");
    assert_eq!(h.store.list_deliveries(&ListQuery::default()).await.unwrap().len(), 1);
    assert!(h.store.list_conflicts(&ListQuery::default()).await.unwrap().is_empty());
    assert_eq!(h.sink.published().len(), 1, "one account_balance alert");
}

/// A delivery stored under the raw body's hash, before bodies were keyed by their canonical form, is still a
/// duplicate of the same body delivered again.
#[tokio::test]
async fn an_airalo_delivery_stored_under_its_raw_hash_still_deduplicates() {
    use shared::model::{DedupeBasis, DedupeKey, PayloadSha256};
    use shared::store::{EventStore, Lease};
    let h = Harness::new(fixture_provider(ProviderId::Airalo), NOW, quick_settings());
    let pretty = "{\n  \"message\": \"Surpassed 90% of the credit limit balance\",\n  \"remaining\": 20.5\n}";
    let delivery = signed_delivery(ProviderId::Airalo, pretty, h.clock.now());
    let provider = fixture_provider(ProviderId::Airalo);
    let mut legacy = provider.normalize(provider.authenticate(&delivery).unwrap()).unwrap();
    assert_eq!(legacy.dedupe_basis, DedupeBasis::CanonicalBody);
    let raw_key = DedupeKey::body_hash(&PayloadSha256::of(pretty.as_bytes()));
    assert_eq!(legacy.former_dedupe_key.as_ref(), Some(&raw_key));
    assert_ne!(legacy.dedupe_key, raw_key);
    // As the earlier code stored it: keyed by the raw hash, completed.
    legacy.dedupe_key = raw_key;
    legacy.dedupe_basis = DedupeBasis::BodyHash;
    let lease = Lease {
        attempt: "earlier".into(),
        until: h.clock.now() + chrono::Duration::seconds(30),
    };
    h.store.begin_delivery(&legacy, &lease, h.clock.now()).await.unwrap();
    h.store.finish_delivery(&legacy, &lease, h.clock.now()).await.unwrap();

    let reply = h.service.handle(&delivery).await;
    assert_eq!(
        serde_json::from_str::<Value>(&reply.body).unwrap()["outcome"],
        "duplicate"
    );
    assert!(h.sink.published().is_empty());
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    assert_eq!(stored.len(), 1);
    // Replay keeps the stored identity: nothing new, nothing published.
    let replayed = shared::replay::replay_one(&h.pipeline, &stored[0].event, false)
        .await
        .unwrap();
    assert_eq!(replayed, shared::replay::Replayed::Unchanged);
    assert!(h.sink.published().is_empty());
}

/// Hostile text in a delivery: the event keeps it only cleaned (the raw payload keeps the bytes), an
/// implausible ICCID names no eSIM, and nothing an alert carries has a control character or a forged line.
#[tokio::test]
async fn control_characters_never_reach_an_alert_and_bad_iccids_name_no_esim() {
    use shared::alerts::sink::render;
    use shared::text::is_unsafe;
    let h = Harness::new(fixture_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let hostile_iccid = "8943\r\nALERT fake\u{7}\u{1b}[31m";
    let body = json!({
        "notifyType": "DATA_USAGE", "notifyId": "n-hostile", "eventGenerateTime": "2026-11-23T09:59:00Z",
        "content": {"iccid": hostile_iccid, "esimTranNo": "T-HOSTILE",
                    "transactionId": "tx-9\r\nVerify your account at http://evil.example\u{2028}now",
                    "totalVolume": 1000, "orderUsage": 950, "remain": 50}
    });
    assert_eq!(h.service.handle(&esimaccess_delivery(&h, &body)).await.status, 200);

    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    let event = &stored[0].event;
    assert!(
        event.flags.iter().any(|f| f == "iccid_implausible"),
        "{:?}",
        event.flags
    );
    let esim = event.esim.as_ref().unwrap();
    assert_eq!((esim.key.as_str(), esim.iccid.as_deref()), ("T-HOSTILE", None));
    assert!(
        event.raw.get().contains("\\r\\nALERT fake"),
        "the raw payload keeps the bytes"
    );
    let event_json = serde_json::to_string(&serde_json::to_value(event).unwrap()["bundle"]).unwrap();
    assert!(!event_json.contains("\\r") && !event_json.contains("\\n") && !event_json.contains("\\u2028"));

    let alert = h.published_alert("low_data");
    let rendered = render(&alert);
    let document = rendered.document.to_string();
    for forbidden in ["\\r", "\\n", "\\u0007", "\\u001b", "\u{2028}"] {
        assert!(!document.contains(forbidden), "{forbidden} in {document}");
    }
    assert!(!alert.alert_id.chars().any(is_unsafe));
    for text in [&rendered.sms_text, &rendered.subject] {
        assert!(!text.chars().any(is_unsafe), "{text:?}");
    }
    assert_eq!(rendered.email_text.lines().count(), 6, "{}", rendered.email_text);
    assert!(rendered.sms_text.contains("T-HOSTILE") && !rendered.sms_text.contains("ALERT fake"));

    // With nothing else naming the eSIM, an implausible ICCID gives no state and no per-eSIM alert.
    let esimgo = Harness::new(fixture_provider(ProviderId::EsimGo), NOW, quick_settings());
    let utilisation = json!({"alertType": "Utilisation", "iccid": hostile_iccid,
        "bundle": {"id": "b-1", "initialQuantity": 1000, "remainingQuantity": 10}})
    .to_string();
    let reply = esimgo
        .service
        .handle(&signed_delivery(ProviderId::EsimGo, &utilisation, esimgo.clock.now()))
        .await;
    assert_eq!(reply.status, 200);
    let stored = esimgo.store.list_deliveries(&ListQuery::default()).await.unwrap();
    assert!(stored[0].event.esim.is_none() && stored[0].event.flags.contains(&"iccid_implausible".into()));
    assert!(
        esimgo.sink.published().is_empty(),
        "no alert keyed by a forged identity"
    );
}

/// Every text field is bounded: an identifier of 30,000 characters is cut, so keys stay within DynamoDB's limits.
#[tokio::test]
async fn overlong_identifiers_are_bounded() {
    let h = Harness::new(fixture_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let long = "T".repeat(30_000);
    let body = json!({"notifyType": "ESIM_STATUS", "notifyId": long, "content": {"esimTranNo": long,
        "transactionId": long, "esimStatus": "IN_USE"}});
    assert_eq!(h.service.handle(&esimaccess_delivery(&h, &body)).await.status, 200);
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    let event = &stored[0].event;
    assert_eq!(event.dedupe_key.as_str().len(), shared::text::MAX_TEXT_BYTES);
    assert_eq!(event.esim.as_ref().unwrap().key.len(), shared::text::MAX_TEXT_BYTES);
    assert_eq!(event.raw.get().len(), body.to_string().len());
}

/// The same conflicting payload again, or a hundred copies at once, is one conflict record with its count.
#[tokio::test]
async fn a_repeated_conflict_is_one_record_with_a_count() {
    use shared::store::{KvBackend, Space};
    use std::sync::Arc;
    let h = Arc::new(Harness::new(
        fixture_provider(ProviderId::EsimAccess),
        NOW,
        quick_settings(),
    ));
    let status = |s: &str| json!({"notifyType": "ESIM_STATUS", "notifyId": "reused", "content": {"esimTranNo": "T-R", "esimStatus": s}});
    assert_eq!(
        h.service
            .handle(&esimaccess_delivery(&h, &status("IN_USE")))
            .await
            .status,
        200
    );
    for _ in 0..2 {
        let reply = h.service.handle(&esimaccess_delivery(&h, &status("CANCEL"))).await;
        assert_eq!(
            serde_json::from_str::<Value>(&reply.body).unwrap()["outcome"],
            "conflict"
        );
    }
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let h = h.clone();
            let delivery = esimaccess_delivery(&h, &status("REVOKED"));
            tokio::spawn(async move { h.service.handle(&delivery).await.status })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let mut conflicts = h.store.list_conflicts(&ListQuery::default()).await.unwrap();
    conflicts.sort_by_key(|c| c.count);
    let counts: Vec<u64> = conflicts.iter().map(|c| c.count).collect();
    assert_eq!(counts, [2, 100]);
    assert!(conflicts[0].event.raw.get().contains("CANCEL"));

    // A record written before conflicts were counted (the bare event) still reads: seen once.
    let legacy = serde_json::to_string(&conflicts[0].event).unwrap();
    h.store
        .backend()
        .put(
            Space::CONFLICTS,
            "esimaccess#reused#2026-01-01T00:00:00+00:00#0",
            &legacy,
        )
        .unwrap();
    // As a store opened from an older file does: entries are written for what was stored before them.
    let features = [shared::customers::INDEXED_SPACES, shared::callbacks::INDEXED_SPACES].concat();
    h.store.reindex(&features).unwrap();
    let conflicts = h.store.list_conflicts(&ListQuery::default()).await.unwrap();
    assert_eq!(conflicts.len(), 3);
    assert!(conflicts.iter().any(|c| c.count == 1));
}

/// A provider's own id that looks like a body hash is still the provider's id: its padded variants are the
/// same delivery by that id (found by fuzzing the canonical keys).
#[tokio::test]
async fn a_provider_id_that_looks_like_a_body_hash_keeps_its_basis() {
    use shared::model::DedupeBasis;
    let provider = fixture_provider(ProviderId::Airalo);
    let body = r#"{"request_id":"sha256:4NhR3gKmqCWK7IWppurpDX3Cg","data":{"id":9666}}"#;
    let mut keys = Vec::new();
    for variant in [body.to_string(), format!("\n \t{body} \r\n")] {
        let delivery = signed_delivery(ProviderId::Airalo, &variant, instant(NOW));
        let event = provider.normalize(provider.authenticate(&delivery).unwrap()).unwrap();
        assert_eq!(event.dedupe_basis, DedupeBasis::ProviderId);
        keys.push(event.dedupe_key);
    }
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[0].as_str(), "sha256:4NhR3gKmqCWK7IWppurpDX3Cg");
}
