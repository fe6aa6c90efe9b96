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
