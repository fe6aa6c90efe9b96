use super::*;

#[test]
fn payload_sha256_is_the_hex_digest_and_reads_back_only_as_written() {
    let abc = PayloadSha256::of(b"abc");
    assert_eq!(
        abc.as_str(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let json = serde_json::to_string(&abc).unwrap();
    assert_eq!(json, format!("\"{abc}\""));
    assert_eq!(serde_json::from_str::<PayloadSha256>(&json).unwrap(), abc);
    assert_eq!(PayloadSha256::parse(&"0".repeat(64)), Some(PayloadSha256::ZERO));
    let upper = abc.to_ascii_uppercase();
    for bad in [
        &upper[..],
        &abc[..63],
        &format!("{abc}0"),
        &"g".repeat(64),
        "",
        &"é".repeat(32),
    ] {
        assert_eq!(PayloadSha256::parse(bad), None, "{bad}");
        assert!(serde_json::from_value::<PayloadSha256>(serde_json::json!(bad)).is_err());
    }
}

#[test]
fn schema_drift_is_an_unrecognized_payload_or_a_missing_promised_field() {
    let raw = serde_json::value::RawValue::from_string("{}".into()).unwrap();
    let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let mut event = Event::new(
        ProviderId::Roamify,
        EventKind::DataUsage,
        DedupeKey::provider_id("d-1"),
        at,
        PayloadSha256::ZERO,
        raw,
    );
    assert!(!event.shows_schema_drift());
    event.flags.push(FLAG_TIME_AHEAD.into());
    assert!(!event.shows_schema_drift(), "hostile input is not drift");
    event.flags.push("usage_amounts_missing".into());
    assert!(event.shows_schema_drift());
    event.flags.clear();
    event.kind = EventKind::Unrecognized;
    assert!(event.shows_schema_drift());
}

#[test]
fn lifecycle_names_are_their_serialized_names() {
    for lifecycle in Lifecycle::ALL {
        let serialized = serde_json::to_value(lifecycle).unwrap();
        assert_eq!(serialized, serde_json::Value::String(lifecycle.as_str().into()));
        assert_eq!(Lifecycle::parse(&lifecycle.as_str().to_uppercase()), Some(lifecycle));
    }
    assert_eq!(Lifecycle::parse("gone"), None);
}

/// A status event received at `received_at`, stamped `provider_time` by the provider.
fn status_event(key: &str, received_at: DateTime<Utc>, provider_time: DateTime<Utc>, lifecycle: Lifecycle) -> Event {
    let raw = serde_json::value::RawValue::from_string("{}".into()).unwrap();
    let mut event = Event::new(
        ProviderId::Roamify,
        EventKind::EsimStatus,
        DedupeKey::provider_id(key),
        received_at,
        PayloadSha256::ZERO,
        raw,
    );
    event.set_occurred_at(Some(provider_time));
    event.esim = Some(EsimIdentity {
        key: "8944500000000000001".into(),
        iccid: Some("8944500000000000001".into()),
        refs: BTreeMap::new(),
    });
    event.status = Some(StatusChange {
        lifecycle,
        provider_status: lifecycle.as_str().into(),
        profile_status: None,
    });
    event
}

#[test]
fn a_provider_time_beyond_the_limit_is_bounded_to_it_and_flagged() {
    let received = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let minutes = chrono::Duration::minutes;
    let within = status_event("within", received, received + minutes(3), Lifecycle::Active);
    assert_eq!(
        within.occurred_at,
        received + minutes(3),
        "skew within the limit is believed"
    );
    assert!(within.flags.is_empty());

    let ahead = status_event("ahead", received, received + minutes(10), Lifecycle::Active);
    assert_eq!(ahead.occurred_at, received + PROVIDER_CLOCK_AHEAD_LIMIT);
    assert_eq!(ahead.occurred_at_source, TimeSource::Provider);
    assert_eq!(ahead.flags, [FLAG_TIME_AHEAD]);

    let zeroed = status_event("zeroed", received, DateTime::UNIX_EPOCH, Lifecycle::Active);
    assert_eq!(
        zeroed.occurred_at, received,
        "a zeroed clock gives way to the receipt time"
    );
    assert_eq!(zeroed.occurred_at_source, TimeSource::Received);
    assert_eq!(zeroed.flags, [FLAG_TIME_TOO_OLD]);
}

/// An event believed 4 minutes ahead, then one received a second later 6 minutes ahead. Replacing
/// the second's time by its receipt time ranked it below the first, leaving the eSIM active after it expired.
#[test]
fn a_later_event_ahead_of_the_limit_never_ranks_below_an_earlier_believed_one() {
    let received = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let minutes = chrono::Duration::minutes;
    let active = status_event("a", received, received + minutes(4), Lifecycle::Active);
    let later = received + chrono::Duration::seconds(1);
    let expired = status_event("b", later, received + minutes(6), Lifecycle::Expired);
    assert!(expired.occurred_at > active.occurred_at);
    for order in [[&active, &expired], [&expired, &active]] {
        let first = crate::state::merge(None, order[0]).unwrap().state;
        let last = crate::state::merge(Some(first), order[1]).unwrap().state;
        assert_eq!(last.status.unwrap().value.lifecycle, Lifecycle::Expired);
    }
}
