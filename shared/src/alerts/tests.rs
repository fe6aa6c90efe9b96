use super::*;
use crate::model::{Bundle, DataUsage, DedupeKey, PayloadSha256, ProviderId, StatusChange, Validity};
use crate::state::merge;
use serde_json::value::RawValue;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-04-22T18:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn event(key: &str) -> Event {
    let mut e = Event::new(
        ProviderId::EsimAccess,
        EventKind::DataUsage,
        DedupeKey::provider_id(key),
        now(),
        PayloadSha256::ZERO,
        RawValue::from_string("{}".into()).unwrap(),
    );
    e.esim = Some(EsimIdentity {
        key: "T1".into(),
        iccid: Some("8910".into()),
        refs: Default::default(),
    });
    e.bundle = Some(Bundle {
        reference: Some("TX1".into()),
        name: None,
    });
    e
}

fn usage_event(key: &str, ratio: f64, minutes: i64) -> Event {
    let mut e = event(key);
    e.set_occurred_at(Some(now() - Duration::hours(1) + Duration::minutes(minutes)));
    e.usage = Some(DataUsage {
        remaining_ratio: Some(ratio),
        ..Default::default()
    });
    e
}

fn alerts_for(e: &Event, state: Option<EsimState>) -> (Vec<Alert>, EsimState) {
    let merged = merge(state, e).unwrap().state;
    (evaluate(e, Some(&merged), &AlertRules::default(), now()), merged)
}

#[test]
fn low_data_fires_the_most_severe_level_reached() {
    let (a, _) = alerts_for(&usage_event("a", 0.5, 0), None);
    assert!(a.is_empty());
    let (a, _) = alerts_for(&usage_event("a", 0.15, 0), None);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].level, "20%");
    let (a, _) = alerts_for(&usage_event("a", 0.0997, 0), None);
    assert_eq!(a[0].level, "10%");
    assert_eq!(a[0].alert_id, "esimaccess#T1#TX1#low_data#10%");
    let (a, _) = alerts_for(&usage_event("a", 0.1000000001, 0), None);
    assert_eq!(a[0].level, "10%");
}

#[test]
fn stale_usage_is_judged_on_the_newest_state() {
    let (_, state) = alerts_for(&usage_event("new", 0.05, 30), None);
    let (a, _) = alerts_for(&usage_event("old", 0.15, 0), Some(state));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].level, "10%", "an older 15% reading must not raise the 20% level");
}

#[test]
fn unlimited_never_raises_low_data() {
    let mut e = usage_event("a", 0.01, 0);
    e.usage.as_mut().unwrap().unlimited = true;
    assert!(alerts_for(&e, None).0.is_empty());
}

#[test]
fn expiry_window_and_ended() {
    let mut e = event("v");
    e.kind = EventKind::Validity;
    e.validity = Some(Validity {
        expires_at: Some(now() + Duration::hours(23)),
        ..Default::default()
    });
    let (a, _) = alerts_for(&e, None);
    assert_eq!((a[0].alert_type, a[0].level.as_str()), (AlertType::Expiry, "24h"));
    e.validity = Some(Validity {
        expires_at: Some(now() + Duration::hours(25)),
        ..Default::default()
    });
    assert!(alerts_for(&e, None).0.is_empty());
    e.validity = Some(Validity {
        expires_at: Some(now() - Duration::minutes(1)),
        ..Default::default()
    });
    assert_eq!(alerts_for(&e, None).0[0].level, "ended");
}

#[test]
fn expired_status_raises_ended_only_when_it_is_the_current_status() {
    let mut expired = event("x1");
    expired.kind = EventKind::EsimStatus;
    expired.status = Some(StatusChange {
        lifecycle: Lifecycle::Expired,
        provider_status: "EXPIRED".into(),
        profile_status: None,
    });
    let (a, state) = alerts_for(&expired, None);
    assert_eq!(a[0].level, "ended");
    let mut newer = expired.clone();
    newer.dedupe_key = DedupeKey::provider_id("x2");
    newer.set_occurred_at(Some(now()));
    newer.status.as_mut().unwrap().lifecycle = Lifecycle::Deleted;
    let (_, state) = alerts_for(&newer, Some(state));
    let mut stale = expired.clone();
    stale.dedupe_key = DedupeKey::provider_id("x0");
    stale.set_occurred_at(Some(now() - Duration::days(3)));
    assert!(alerts_for(&stale, Some(state)).0.is_empty());
}

#[test]
fn sweep_raises_the_window_alert_with_the_delivery_paths_id() {
    let mut e = event("v");
    e.kind = EventKind::Validity;
    e.validity = Some(Validity {
        expires_at: Some(now() + Duration::hours(72)),
        ..Default::default()
    });
    let (on_delivery, state) = alerts_for(&e, None);
    assert!(on_delivery.is_empty(), "3 days out: nothing yet");
    let rules = AlertRules::default();
    assert!(upcoming_expiry(&state, &rules, now()).is_none());
    let later = now() + Duration::hours(50);
    let swept = upcoming_expiry(&state, &rules, later).unwrap();
    assert_eq!(swept.level, "24h");
    assert_eq!(swept.alert_id, "esimaccess#T1#TX1#expiry#24h");
    // Had the delivery come inside the window, it would have raised the very same id.
    let inside = evaluate(&e, Some(&state), &rules, later);
    assert_eq!(inside[0].alert_id, swept.alert_id);
    assert!(
        upcoming_expiry(&state, &rules, now() + Duration::hours(73)).is_none(),
        "past ends are not swept"
    );
    // The eSIM's owner is named by both, so its partner hears of the sweep's alert as of the delivery's.
    let mut owned = state.clone();
    owned.owner = crate::model::PartnerId::parse("acme");
    assert_eq!(upcoming_expiry(&owned, &rules, later).unwrap().partner_id, owned.owner);
    assert_eq!(evaluate(&e, Some(&owned), &rules, later)[0].partner_id, owned.owner);
    assert_eq!(swept.partner_id, None);
}

#[test]
fn sweep_skips_finished_esims() {
    let mut e = event("v");
    e.validity = Some(Validity {
        expires_at: Some(now() + Duration::hours(2)),
        ..Default::default()
    });
    e.status = Some(StatusChange {
        lifecycle: Lifecycle::Cancelled,
        provider_status: "CANCEL".into(),
        profile_status: None,
    });
    let (_, state) = alerts_for(&e, None);
    assert!(upcoming_expiry(&state, &AlertRules::default(), now()).is_none());
}

#[test]
fn levels_are_sanitized() {
    let rules = AlertRules::new(vec![10, 0, 20, 10, 150], Duration::hours(1));
    assert_eq!(rules.low_data_levels(), &[20, 10]);
}
