//! Each provider's usage API read from answers as its docs show them, and the rules around a reading.

use super::*;
use crate::model::Lifecycle;
use crate::state::Facet;
use serde_json::json;

/// A reading of `remaining` bytes left of 1,000.
fn left(remaining: u64) -> Reading {
    Reading {
        usage: Some(DataUsage {
            total_bytes: Some(1_000),
            remaining_bytes: Some(remaining),
            ..DataUsage::default()
        }),
        ..Reading::default()
    }
}

fn answer(status: u16, body: serde_json::Value) -> ApiAnswer {
    ApiAnswer {
        status,
        retry_after: None,
        body: body.to_string().into_bytes(),
    }
}

fn api(provider: ProviderId) -> &'static UsageApi {
    provider.spec().usage_api.expect("a usage API")
}

fn read(provider: ProviderId, status: u16, body: serde_json::Value) -> Result<Reading, AskError> {
    (api(provider).read)(&answer(status, body), &Ask::Iccid("8944500000000000001".into()))
}

#[test]
fn credentials_take_each_providers_shape_and_never_show() {
    let key = ApiCredentials::parse("tok:en:with:colons", CredentialShape::Key).unwrap();
    assert_eq!((key.id.as_str(), key.secret), ("tok:en:with:colons", None));
    let code = ApiCredentials::parse("ac-1:sk-2", CredentialShape::KeyAndOptionalSecret).unwrap();
    assert_eq!((code.id.as_str(), code.secret.as_deref()), ("ac-1", Some("sk-2")));
    assert!(ApiCredentials::parse("ac-1", CredentialShape::KeyAndOptionalSecret).is_ok());
    assert!(ApiCredentials::parse("client-only", CredentialShape::ClientCredentials).is_err());
    assert!(ApiCredentials::parse(":secret", CredentialShape::ClientCredentials).is_err());
    assert!(ApiCredentials::parse("", CredentialShape::Key).is_err());
    assert!(ApiCredentials::parse("a\nb", CredentialShape::Key).is_err());
    assert_eq!(format!("{code:?}"), "ApiCredentials(••••)");
}

#[test]
fn esim_go_reads_the_active_data_assignment_in_bytes() {
    let body = json!({"bundles": [{"name": "esim_1GB_7D_GB_V2", "assignments": [
        {"id": "1", "callTypeGroup": "data", "initialQuantity": 1000000000u64, "remainingQuantity": 0,
         "assignmentDateTime": "2026-11-01T10:00:00Z", "bundleState": "depleted", "unlimited": false},
        {"id": "2", "callTypeGroup": "data", "initialQuantity": 1000000000u64, "remainingQuantity": 150000000u64,
         "assignmentDateTime": "2026-11-20T10:00:00Z", "bundleState": "active", "unlimited": false,
         "endTime": "2026-11-27T10:00:00Z"}]}]});
    let reading = read(ProviderId::EsimGo, 200, body).unwrap();
    let usage = reading.usage.unwrap();
    assert_eq!(
        (usage.total_bytes, usage.remaining_bytes),
        (Some(1_000_000_000), Some(150_000_000))
    );
    assert_eq!(reading.status.unwrap().lifecycle, Lifecycle::Active);
    assert!(reading.validity.unwrap().expires_at.is_some());
    let unlimited = json!({"bundles": [{"assignments": [{"initialQuantity": 0, "remainingQuantity": 0,
        "bundleState": "active", "unlimited": true}]}]});
    let usage = read(ProviderId::EsimGo, 200, unlimited).unwrap().usage.unwrap();
    assert!(usage.unlimited && usage.total_bytes.is_none(), "{usage:?}");
    assert_eq!(
        read(ProviderId::EsimGo, 400, json!({"message": "bad iccid"})),
        Err(AskError::UnknownEsim)
    );
    assert!(matches!(
        read(ProviderId::EsimGo, 200, json!({"nope": 1})),
        Err(AskError::Malformed(_))
    ));
}

#[test]
fn airalo_reads_megabytes_and_ignores_an_unlimited_plans_zeros() {
    let body = json!({"data": {"remaining": 767, "total": 2048, "expired_at": "2026-12-24 00:00:00",
        "is_unlimited": false, "status": "ACTIVE"}, "meta": {"message": "success"}});
    let reading = read(ProviderId::Airalo, 200, body).unwrap();
    let usage = reading.usage.unwrap();
    assert_eq!(
        (usage.total_bytes, usage.remaining_bytes),
        (Some(2_048_000_000), Some(767_000_000))
    );
    assert_eq!(
        reading.validity.unwrap().expires_at.unwrap().to_rfc3339(),
        "2026-12-24T00:00:00+00:00"
    );
    let unlimited = json!({"data": {"remaining": 0, "total": 0, "is_unlimited": true, "status": "ACTIVE"}});
    let usage = read(ProviderId::Airalo, 200, unlimited).unwrap().usage.unwrap();
    assert!(usage.unlimited && usage.remaining_bytes.is_none());
    assert_eq!(
        read(ProviderId::Airalo, 422, json!({"code": 73})),
        Err(AskError::UnknownEsim)
    );
    let token = (api(ProviderId::Airalo).token.as_ref().unwrap().read)(
        &answer(
            200,
            json!({"data": {"token_type": "Bearer", "expires_in": 31622400, "access_token": "t-1"}}),
        ),
        DateTime::UNIX_EPOCH,
    )
    .unwrap();
    assert_eq!(token.value, "t-1");
    assert_eq!(
        token.expires_at,
        DateTime::UNIX_EPOCH + chrono::Duration::hours(24),
        "a day at most"
    );
}

#[test]
fn esim_access_reads_its_profile_and_signs_as_documented() {
    let body = json!({"success": true, "errorCode": "0", "errorMsg": null, "obj": {"esimList": [{
        "esimTranNo": "23120118156818", "orderNo": "B23120118131854", "transactionId": "tx-1",
        "iccid": "8943108170000775671", "smdpStatus": "ENABLED", "expiredTime": "2026-12-29T18:34:17+0000",
        "totalVolume": 5368709120u64, "orderUsage": 4831838208u64, "esimStatus": "IN_USE"}],
        "pager": {"pageSize": 5, "pageNum": 1, "total": 1}}});
    let reading = read(ProviderId::EsimAccess, 200, body).unwrap();
    assert_eq!(
        reading.esim.as_ref().unwrap().key,
        "23120118156818",
        "keyed by esimTranNo, as webhooks are"
    );
    let usage = reading.usage.unwrap().complete();
    assert_eq!(usage.remaining_bytes, Some(536_870_912));
    assert_eq!(reading.status.unwrap().lifecycle, Lifecycle::Active);
    let unknown = json!({"success": false, "errorCode": "310403", "errorMsg": "iccid not in order"});
    assert_eq!(read(ProviderId::EsimAccess, 200, unknown), Err(AskError::UnknownEsim));
    let signature = json!({"success": false, "errorCode": "101003", "errorMsg": "signature mismatch"});
    assert!(matches!(
        read(ProviderId::EsimAccess, 200, signature),
        Err(AskError::Credentials(_))
    ));
    // The documentation's own vector.
    let credentials = ApiCredentials {
        id: "11111".into(),
        secret: Some("1111".into()),
    };
    let signed = crate::providers::esimaccess_signature(
        &credentials,
        "1111",
        br#"{"imsi":"326543826"}"#,
        "1628670421",
        "4ce9d9cdac9e4e17b3a2c66c358c1ce2",
    );
    assert_eq!(
        signed,
        "7eb765e27df5373dea2dbc8c41a7d9557743e46c8054750f3d851b3fd01d0835"
    );
}

#[test]
fn roamify_and_1global_read_their_units() {
    let roamify = json!({"status": "success", "data": {"iccid": "8944500000000000001", "status": "ACTIVE",
        "expiredAt": 1798761600, "allowedData": 1048576, "remainingData": 104858}});
    let usage = read(ProviderId::Roamify, 200, roamify).unwrap().usage.unwrap();
    assert_eq!(
        (usage.total_bytes, usage.remaining_bytes),
        (Some(1_073_741_824), Some(107_374_592))
    );
    let bare = json!({"status": "EXPIRED", "allowedData": 1048576, "remainingData": 0});
    assert_eq!(
        read(ProviderId::Roamify, 200, bare).unwrap().status.unwrap().lifecycle,
        Lifecycle::Expired
    );
    let oneglobal = json!({"data": [
        {"status": "EXPIRED", "created_date": "2026-01-01T00:00:00Z", "initial_balance": "1", "current_balance": "0",
         "balance_units": "Bytes"},
        {"status": "ACTIVE", "created_date": "2026-11-01T00:00:00Z", "expiry_date": "2026-12-01T00:00:00Z",
         "initial_balance": "1073741824", "current_balance": "214748364", "balance_units": "Bytes"}]});
    let reading = read(ProviderId::OneGlobal, 200, oneglobal).unwrap();
    let usage = reading.usage.unwrap();
    assert_eq!(
        (usage.total_bytes, usage.remaining_bytes),
        (Some(1_073_741_824), Some(214_748_364))
    );
    assert_eq!(
        read(ProviderId::OneGlobal, 200, json!({"data": []})),
        Err(AskError::UnknownEsim)
    );
}

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
fn a_reading_is_keyed_by_what_it_says_and_adds_nothing_the_state_holds() {
    let now = DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z").unwrap().to_utc();
    let ask = Ask::Iccid("8944500000000000001".into());
    let reading = left;
    let first = reading_event(ProviderId::EsimGo, &ask, reading(150), br#" {"a": 1}"#, now).unwrap();
    let again = reading_event(ProviderId::EsimGo, &ask, reading(150), br#"{"a": 2}"#, now).unwrap();
    let other = reading_event(ProviderId::EsimGo, &ask, reading(140), br#"{"a": 1}"#, now).unwrap();
    assert_eq!(first.dedupe_key, again.dedupe_key, "the same facts in other bytes");
    assert_ne!(first.dedupe_key, other.dedupe_key);
    assert_eq!(first.raw_body(), r#" {"a": 1}"#, "the answer's bytes kept exactly");
    assert_eq!(first.provider_event_type.as_deref(), Some(ASKED_EVENT_TYPE));
    assert_eq!(first.usage.as_ref().unwrap().remaining_ratio, Some(0.15));
    let state = EsimState {
        provider: ProviderId::EsimGo,
        key: "8944500000000000001".into(),
        iccid: None,
        refs: Default::default(),
        status: None,
        usage: Some(Facet {
            value: first.usage.clone().unwrap(),
            at: now,
            event_key: first.dedupe_key.clone(),
        }),
        validity: None,
        bundle: None,
        usage_rate: None,
        asking: None,
        first_seen_at: now,
        updated_at: now,
        last_event_key: first.dedupe_key.clone(),
    };
    assert!(adds_nothing(&reading(150), Some(&state)));
    assert!(!adds_nothing(&reading(140), Some(&state)));
    assert!(
        !adds_nothing(&reading(150), None),
        "an eSIM never heard of gets its state"
    );
    let ahead = Reading {
        read_at: Some(now + chrono::Duration::hours(1)),
        ..reading(150)
    };
    let bounded = reading_event(ProviderId::EsimGo, &ask, ahead, b"{}", now).unwrap();
    assert_eq!(bounded.occurred_at, now + crate::model::PROVIDER_CLOCK_AHEAD_LIMIT);
}

#[test]
fn a_lagging_apis_answer_never_outranks_a_fresher_webhook() {
    let now = DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z").unwrap().to_utc();
    let ask = Ask::Esim("T-1".into());
    let reading = Reading {
        usage: Some(DataUsage {
            total_bytes: Some(1_000),
            used_bytes: Some(900),
            ..DataUsage::default()
        }),
        ..Reading::default()
    };
    let asked = reading_event(ProviderId::EsimAccess, &ask, reading.clone(), b"{}", now).unwrap();
    let measured = asked.usage.as_ref().unwrap().measured_at;
    assert_eq!(
        measured,
        Some(now - chrono::Duration::hours(3)),
        "eSIM Access: updated within 2-3 hours"
    );
    // A webhook measured an hour before the answer keeps the state.
    let mut webhook = asked.clone();
    webhook.dedupe_key = DedupeKey::provider_id("n-1");
    webhook.usage = Some(DataUsage {
        total_bytes: Some(1_000),
        remaining_bytes: Some(50),
        measured_at: Some(now - chrono::Duration::hours(1)),
        ..DataUsage::default()
    });
    let state = crate::state::merge(None, &webhook).unwrap().state;
    let after = crate::state::merge(Some(state), &asked).unwrap().state;
    assert_eq!(after.usage.unwrap().value.remaining_bytes, Some(50));
    let fresh = reading_event(
        ProviderId::EsimGo,
        &Ask::Iccid("8944500000000000001".into()),
        reading,
        b"{}",
        now,
    )
    .unwrap();
    assert_eq!(
        fresh.usage.unwrap().measured_at,
        None,
        "eSIM Go's answer is as fresh as its receipt"
    );
}

#[test]
fn answers_giving_the_total_and_the_used_amount_are_keyed_by_what_is_left() {
    // eSIM Access answers with the total and the used amount only: each new amount is a new reading.
    let now = DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z").unwrap().to_utc();
    let ask = Ask::Esim("T-1".into());
    let used = |bytes: u64| Reading {
        usage: Some(DataUsage {
            total_bytes: Some(1_000),
            used_bytes: Some(bytes),
            ..DataUsage::default()
        }),
        ..Reading::default()
    };
    let key = |bytes| {
        reading_event(ProviderId::EsimAccess, &ask, used(bytes), b"{}", now)
            .unwrap()
            .dedupe_key
    };
    assert_ne!(key(500), key(900));
    assert_eq!(key(900), key(900));
}

#[test]
fn an_answer_that_repeated_the_state_starts_the_next_rate() {
    // 600 left at 10:00; an answer at 12:00 said the same; 400 left at 13:00: 200 in an hour, not in three.
    let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().to_utc();
    let ask = Ask::Iccid("8944500000000000001".into());
    let reading = left;
    let first = reading_event(
        ProviderId::EsimGo,
        &ask,
        reading(600),
        b"{}",
        at("2026-12-06T10:00:00Z"),
    )
    .unwrap();
    let mut state = crate::state::merge(None, &first).unwrap().state;
    state.asking = Some(crate::state::Asking {
        asked_at: Some(at("2026-12-06T12:00:00Z")),
        heard_at: Some(at("2026-12-06T12:00:00Z")),
        next: None,
    });
    let later = reading_event(
        ProviderId::EsimGo,
        &ask,
        reading(400),
        b"{}",
        at("2026-12-06T13:00:00Z"),
    )
    .unwrap();
    let merged = crate::state::merge(Some(state), &later).unwrap().state;
    let rate = merged.usage_rate.unwrap();
    assert!((rate - 200.0 / 3600.0).abs() < 1e-9, "{rate}");
}
