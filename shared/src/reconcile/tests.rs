//! Each provider's usage API read from answers as its docs show them, and the rules around a reading.

use super::*;
use crate::model::Lifecycle;
use crate::state::Facet;
use serde_json::json;

/// A reading of `remaining` bytes left of 1,000.
pub(super) fn left(remaining: u64) -> Reading {
    Reading {
        usage: Some(DataUsage {
            total_bytes: Some(1_000),
            remaining_bytes: Some(remaining),
            ..DataUsage::default()
        }),
        ..Reading::default()
    }
}

pub(super) fn answer(status: u16, body: serde_json::Value) -> ApiAnswer {
    ApiAnswer {
        status,
        retry_after: None,
        body: body.to_string().into_bytes(),
    }
}

pub(super) fn api(provider: ProviderId) -> &'static UsageApi {
    provider.spec().usage_api.expect("a usage API")
}

pub(super) fn read(provider: ProviderId, status: u16, body: serde_json::Value) -> Result<Reading, AskError> {
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
        owner: None,
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
        routine: false,
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
