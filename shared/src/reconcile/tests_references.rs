//! eSIMs asked by the provider's own references rather than their key: Gigastore's customer uid, and eSIM
//! Access's `esimTranNo`s ten to a call.

use super::*;
use serde_json::json;

use super::tests::{answer, api, left, read};

/// Gigastore's customer as its docs show it: two packages, the first used up, 1.5 GB left of the second.
fn gigastore_customer() -> serde_json::Value {
    json!({"customer": {"email": null, "uid": "261ef0b4-aaaa-bbbb-cccc-000000000001"},
        "totalAvailableBalance": {"sizeValue": 1.5, "sizeUnit": "GB"},
        "activatedItems": [
            {"uid": "p-1", "balance": {"activatedAt": "2026-11-01T10:00:00Z", "expiresAt": "2026-12-01T10:00:00Z",
             "size": {"sizeValue": 500, "sizeUnit": "MB"}, "availableBalance": {"sizeValue": 0, "sizeUnit": "GB"}}},
            {"uid": "p-2", "balance": {"activatedAt": "2026-12-01T10:00:00Z", "expiresAt": "2026-12-31T10:00:00Z",
             "size": {"sizeValue": 2, "sizeUnit": "GB"}, "availableBalance": {"sizeValue": 1.5, "sizeUnit": "GB"}}}],
        "relatedEsims": [{"iccid": "8944500000000000001", "imsi": "260210000000001"}]})
}

#[test]
fn gigastore_is_asked_by_its_customer_and_reads_sizes_with_their_units() {
    let gigastore = api(ProviderId::Gigastore);
    let known = Ask::Known {
        key: "8944500000000000001".into(),
        reference: "261ef0b4-aaaa-bbbb-cccc-000000000001".into(),
    };
    let credentials = ApiCredentials::parse("client:secret", gigastore.credentials).unwrap();
    let now = DateTime::UNIX_EPOCH;
    let request = (gigastore.request)(&credentials, Some("t-1"), &known, now).unwrap();
    assert_eq!(
        request.path,
        "/gigastore/activations/customers/261ef0b4-aaaa-bbbb-cccc-000000000001"
    );
    assert!(request.headers.contains(&("authorization", "Bearer t-1".into())));
    let by_iccid = (gigastore.request)(
        &credentials,
        Some("t-1"),
        &Ask::Iccid("8944500000000000001".into()),
        now,
    );
    assert_eq!(by_iccid.unwrap().path, "/gigastore/activations/customers");
    let hostile = Ask::Esim("../reseller/x".into());
    assert!(matches!(
        (gigastore.request)(&credentials, None, &hostile, now),
        Err(AskError::Unaskable(_))
    ));
    let token = (gigastore.token.as_ref().unwrap().request)(&credentials);
    assert_eq!(
        token.headers[1],
        ("authorization", "Basic Y2xpZW50OnNlY3JldA==".into()),
        "Basic client:secret"
    );
    let read_token = gigastore.token.as_ref().unwrap().read;
    let token = read_token(
        &answer(
            200,
            json!({"accessToken": "t-2", "expiresIn": 86400, "tokenType": "Bearer"}),
        ),
        now,
    )
    .unwrap();
    assert_eq!(
        (token.value.as_str(), token.expires_at),
        ("t-2", now + chrono::Duration::hours(24))
    );

    let reading = (gigastore.read)(&answer(200, gigastore_customer()), &known).unwrap();
    let usage = reading.usage.unwrap();
    assert_eq!(
        (usage.total_bytes, usage.remaining_bytes),
        (Some(2_000_000_000), Some(1_500_000_000)),
        "decimal units; the used-up package no longer counts"
    );
    assert_eq!(
        reading.validity.unwrap().expires_at.unwrap().to_rfc3339(),
        "2026-12-31T10:00:00+00:00"
    );
    let esim = reading.esim.unwrap();
    assert_eq!(esim.key, "8944500000000000001");
    assert_eq!(
        esim.refs.get("uid").map(String::as_str),
        Some("261ef0b4-aaaa-bbbb-cccc-000000000001")
    );

    // Known by ICCID only: found in the list of every customer, or unknown.
    let list = json!([{"customer": {"uid": "other"}, "activatedItems": [], "relatedEsims": [{"iccid": "8944500000000000009"}]},
        gigastore_customer()]);
    let found = read(ProviderId::Gigastore, 200, list.clone()).unwrap();
    assert_eq!(found.usage.unwrap().remaining_bytes, Some(1_500_000_000));
    let elsewhere = (gigastore.read)(&answer(200, list), &Ask::Iccid("8944500000000000002".into()));
    assert_eq!(elsewhere, Err(AskError::UnknownEsim));
    assert_eq!(read(ProviderId::Gigastore, 404, json!({})), Err(AskError::UnknownEsim));
    let odd_unit = json!([{"activatedItems": [{"balance": {"size": {"sizeValue": 1, "sizeUnit": "PB"}}}],
        "relatedEsims": [{"iccid": "8944500000000000001"}]}]);
    assert!(matches!(
        read(ProviderId::Gigastore, 200, odd_unit),
        Err(AskError::Malformed(_))
    ));
    assert!(matches!(
        read(ProviderId::Gigastore, 200, json!({"x": 1})),
        Err(AskError::Malformed(_))
    ));
}

#[test]
fn a_known_esim_is_asked_by_the_ref_its_providers_api_wants() {
    let now = DateTime::UNIX_EPOCH;
    let event = |provider| {
        let mut event = reading_event(
            provider,
            &Ask::Iccid("8944500000000000001".into()),
            left(500),
            b"{}",
            now,
        )
        .unwrap();
        event.esim.as_mut().unwrap().refs =
            crate::model::refs_sent([("uid", Some("u-1".to_string())), ("imsi", Some("2602".to_string()))]);
        crate::state::merge(None, &event).unwrap().state
    };
    assert_eq!(
        Ask::of_state(&event(ProviderId::Gigastore)),
        Ask::Known {
            key: "8944500000000000001".into(),
            reference: "u-1".into()
        }
    );
    assert_eq!(
        Ask::of_state(&event(ProviderId::EsimGo)),
        Ask::Iccid("8944500000000000001".into())
    );
}

#[test]
fn esim_access_reads_a_batch_of_usages_in_either_shape_keeping_each_ones_bytes() {
    let batch = api(ProviderId::EsimAccess).batch.as_ref().expect("usage/query");
    let credentials = ApiCredentials::parse("ac-1:sk-2", CredentialShape::KeyAndOptionalSecret).unwrap();
    let request = (batch.request)(&credentials, None, &["T-1", "T-2"], DateTime::UNIX_EPOCH).unwrap();
    assert_eq!(
        (request.method, request.path.as_str()),
        ("POST", "/api/v1/open/esim/usage/query")
    );
    let body = request.body.clone().unwrap();
    assert_eq!(body, br#"{"esimTranNoList":["T-1","T-2"]}"#);
    let header = |name| request.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
    let signed = crate::providers::esimaccess_signature(
        &credentials,
        "sk-2",
        &body,
        &header("rt-timestamp").unwrap(),
        &header("rt-requestid").unwrap(),
    );
    assert_eq!(header("rt-signature"), Some(signed), "signed over the exact bytes sent");

    let documented = br#"{"success":true,"errorCode":"0","errorMsg":null,"obj":{"esimUsageList":[
        {"esimTranNo":"T-1","dataUsage":1453344832,"totalData":5368709120,"lastUpdateTime":"2025-03-19T18:00:00+0000"},
        {"esimTranNo":"T-2", "dataUsage":0,"totalData":1073741824}]}}"#;
    let read = |body: &[u8]| {
        (batch.read)(&ApiAnswer {
            status: 200,
            retry_after: None,
            body: body.to_vec(),
        })
    };
    let readings = read(documented).unwrap();
    assert_eq!(readings.len(), 2);
    let (reference, reading, bytes) = &readings[0];
    assert_eq!(reference, "T-1");
    assert_eq!(
        reading.usage.clone().unwrap().complete().remaining_bytes,
        Some(5_368_709_120 - 1_453_344_832)
    );
    assert_eq!(reading.read_at.unwrap().to_rfc3339(), "2025-03-19T18:00:00+00:00");
    assert_eq!(
        std::str::from_utf8(bytes).unwrap(),
        r#"{"esimTranNo":"T-1","dataUsage":1453344832,"totalData":5368709120,"lastUpdateTime":"2025-03-19T18:00:00+0000"}"#,
        "the item's own bytes, exactly"
    );
    assert_eq!(readings[1].1.read_at, None);
    let bare = br#"{"success":true,"errorCode":"0","obj":[{"esimTranNo":"T-3","dataUsage":1,"totalData":2}]}"#;
    assert_eq!(read(bare).unwrap()[0].0, "T-3");
    assert!(matches!(
        read(br#"{"success":false,"errorCode":"101003","errorMsg":"signature mismatch"}"#),
        Err(AskError::Credentials(_))
    ));
    assert!(matches!(
        read(br#"{"success":true,"errorCode":"0"}"#),
        Err(AskError::Malformed(_))
    ));
    assert!(matches!(read(b"not json"), Err(AskError::Malformed(_))));
}

#[test]
fn asks_by_the_providers_reference_share_a_call_and_others_go_alone() {
    let asks = [
        Ask::Esim("T-1".into()),
        Ask::Esim("T-2".into()),
        Ask::Iccid("8944500000000000001".into()),
        Ask::Esim("T-3".into()),
        Ask::Known {
            key: "8944500000000000002".into(),
            reference: "T-4".into(),
        },
        Ask::Esim("T-5".into()),
    ];
    assert_eq!(super::run::calls(&asks, 2), [0..2, 2..3, 3..5, 5..6]);
    assert_eq!(super::run::calls(&asks, 10), [0..2, 2..3, 3..6]);
    assert_eq!(super::run::calls(&asks, 1).len(), 6);
    assert!(super::run::calls(&[], 10).is_empty());
}
