use super::*;

fn partner() -> PartnerId {
    PartnerId::parse("acme-travel").unwrap()
}

#[test]
fn echo_goes_to_one_partner_and_says_it_is_a_test() {
    let now = Utc::now();
    let n = Notification::echo(
        &partner(),
        NotificationType::DataUsage,
        EchoSubject::Simulation("run-7".into()),
        now,
    );
    let attributes = n.attributes();
    assert!(attributes.contains(&(TYPE_ATTRIBUTE, "11".into())));
    assert!(attributes.contains(&(AUDIENCE_ATTRIBUTE, "acme-travel".into())));
    let body: Value = serde_json::from_str(&n.message()).unwrap();
    assert_eq!(body["test"], true);
    assert_eq!(body["subject"]["simulation_id"], "run-7");
    assert_eq!(body["data"]["kind"], "data_usage");
    assert_eq!(body["data"]["esim"]["key"], "sim-run-7");
    assert!(body["data"].get("raw").is_none());
    assert!(body["notification_id"].as_str().unwrap().starts_with("ntf_"));
}

#[test]
fn real_notifications_have_stable_ids_and_go_to_everyone() {
    let now = Utc::now();
    let sample = Notification::echo(
        &partner(),
        NotificationType::LowData,
        EchoSubject::Esim("E1".into()),
        now,
    );
    let alert: Alert = serde_json::from_value(sample.body.data).unwrap();
    let first = Notification::for_alert(&alert);
    let again = Notification::for_alert(&alert);
    assert_eq!(first.body.notification_id, again.body.notification_id);
    assert_eq!(first.audience, AUDIENCE_ALL);
    assert_eq!(first.body.notification_type, 1);
    assert!(!first.body.test);
}

#[test]
fn event_notifications_keep_their_fields_whatever_the_raw_body_holds() {
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(300), "]".repeat(300));
    let raw = serde_json::value::RawValue::from_string(deep).expect("valid JSON, only deep");
    let event = Event::new(
        ProviderId::EsimAccess,
        crate::model::EventKind::DataUsage,
        DedupeKey::provider_id("n-1"),
        Utc::now(),
        PayloadSha256::ZERO,
        raw,
    );
    let notification = Notification::for_event(&event, None).expect("data usage is followed");
    assert_eq!(notification.body.data["kind"], "data_usage");
    assert_eq!(notification.body.data["dedupe_key"], event.dedupe_key.as_str());
    assert!(notification.body.data.get("raw").is_none());
}
