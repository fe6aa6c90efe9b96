//! The keys' tests: every key spelled out as stored (deployed tables and local files hold these), shards
//! stable, entries in their buckets, sortable text in order.

use super::*;
use crate::model::ProviderId;
use crate::records::NotificationStatus;
use chrono::TimeZone;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

#[test]
fn table_keys_are_spelled_as_stored() {
    let t = at("2026-12-02T07:08:09.5Z");
    assert_eq!(delivery_pk("roamify", "k"), "EVENT#roamify#k");
    assert_eq!(state_pk("airalo", "89"), "ESIM#airalo#89");
    assert_eq!(alert_pk("a"), "ALERT#a");
    assert_eq!(conflict_pk("roamify", "k"), "CONFLICT#roamify#k");
    assert_eq!((DELIVERY_SK, ALERT_SK, STATE_SK), ("EVENT", "ALERT", "STATE"));
    assert_eq!(
        listing_entry(Listing::Deliveries, "EVENT#roamify#k", t),
        IndexKey {
            pk: "EVENT#2026-12-02#91".into(),
            sk: "2026-12-02T07:08:09.500Z".into()
        }
    );
    assert_eq!(expiry_entry("ESIM#airalo#89", t).pk, "EXPIRY#2026-12-02T07#12");
    assert_eq!(outbox_entry("x", t).pk, "OUTBOX#2026-12-02T07#7");
    assert_eq!(
        asking_entry("airalo", "ESIM#airalo#89", t, true).pk,
        "ASK#airalo#2026-12-02T07#12"
    );
    assert_eq!(
        asking_entry("airalo", "ESIM#airalo#89", t, true).sk,
        "2026-12-02T07:08:09.500Z#routine"
    );
    assert_eq!(listing_buckets(Listing::Alerts, t).last().unwrap(), "ALERT#2026-12-02");
    assert_eq!(expiry_buckets(t).last().unwrap(), "EXPIRY#2026-12-02T07");
    assert_eq!(outbox_buckets(t)[3], "OUTBOX#2026-12-02T07#3");
    assert_eq!(asking_buckets("esimgo", t)[0], "ASK#esimgo#2026-12-02T07#0");
    assert_eq!(sort_instant("2026-12-02T07:08:09.500Z#EVENT#x"), Some(t));
    assert_eq!(
        sort_range(t, t),
        (
            "2026-12-02T07:08:09".to_string(),
            "2026-12-02T07:08:09.500Z".to_string()
        )
    );
}

#[test]
fn customer_keys_are_spelled_as_stored() {
    let t = at("2026-12-02T07:08:09.5Z");
    assert_eq!(contact_pk("airalo", "iccid", "89"), "CONTACT#airalo#iccid#89");
    assert_eq!(CONTACT_SK, "CONTACT");
    assert_eq!(notification_sk("sms"), "NOTIFY#sms");
    assert_eq!(NOTIFY_PREFIX, "NOTIFY#");
    assert_eq!(
        notification_outbox_entry("a", "sms", t),
        outbox_entry("a#NOTIFY#sms", t)
    );
    assert_eq!(notification_outbox_entry("a", "sms", t).pk, "OUTBOX#2026-12-02T07#10");
    assert_eq!(sms_window_pk("+34612345678"), "SMSCAP#1e41ef79cb1baa05fa88e837a70de6f6");
    assert_eq!(SMS_WINDOW_SK, "WINDOW");
}

#[test]
fn callback_keys_are_spelled_as_stored() {
    let t = at("2026-12-02T07:08:09.5Z");
    assert_eq!(partner_pk("acme"), "PARTNER#acme");
    assert_eq!((PARTNER_SK, PARTNER_LISTING), ("PARTNER", "PARTNER"));
    assert_eq!(callback_sk(7), "CALLBACK#007");
    assert_eq!(CALLBACK_PREFIX, "CALLBACK#");
    assert_eq!(
        endpoint_pk("https://example.com/hook"),
        "ENDPOINT#19f1352238b915338c91b6a9fdd2dd4be99a13c18e95bbfbf1443ee01fb616b6"
    );
    assert_eq!((ENDPOINT_SK, RATE_SK), ("ENDPOINT", "RATE"));
    assert_eq!(attempts_pk("p1", "n-9"), "ATTEMPTS#p1#87");
    assert_eq!(failed_pk("p1", "n-9"), "FAILED#p1#87");
    let (attempts, failed) = (attempts_pks("p1"), failed_pks("p1"));
    assert_eq!((attempts.len(), failed.len()), (129, 129));
    assert_eq!(
        (attempts[5].as_str(), attempts[128].as_str()),
        ("ATTEMPTS#p1#5", "ATTEMPTS#p1")
    );
    assert_eq!((failed[0].as_str(), failed[128].as_str()), ("FAILED#p1#0", "FAILED#p1"));
    assert_eq!(failed_pks_of("p1", "n-9"), ["FAILED#p1#87", "FAILED#p1"]);
    assert_eq!(attempt_sk(t, "n-9", 2), "2026-12-02T07:08:09.500Z#n-9#002");
    assert_eq!(failed_sk(t, "n-9"), "2026-12-02T07:08:09.500Z#n-9");
    assert_eq!(
        auth_failures_pk(&source_subject("198.51.100.7")),
        "AUTHFAIL#source#198.51.100.7"
    );
    assert_eq!(auth_failures_pk(&partner_subject("acme")), "AUTHFAIL#partner#acme");
}

#[test]
fn local_store_keys_are_spelled_as_stored() {
    let t = at("2026-12-02T07:08:09.5Z");
    let roamify = ProviderId::parse("roamify").unwrap();
    assert_eq!(delivery_key(roamify, "k"), "roamify#k");
    assert_eq!(state_key(roamify, "89"), "roamify#89");
    assert_eq!(conflict_key(roamify, "k", "ab12"), "roamify#k#ab12");
    assert_eq!(duplicates_key(roamify, t), "roamify#2026-12-02T07:08:09.500000000Z");
    assert_eq!(contact_key(roamify, "iccid", "89"), "roamify#iccid#89");
    assert_eq!(notification_key("a", "email"), "a#email");
    assert_eq!(allowance_key("+34612345678"), "1e41ef79cb1baa05fa88e837a70de6f6");
    assert_eq!(registration_key("acme", 7), "acme#00007");
    assert_eq!(job_key("acme", "n-9"), "acme#n-9");
    assert_eq!(
        attempt_key("acme", t, "n-9", 2),
        "acme#2026-12-02T07:08:09.500Z#n-9#002"
    );
    assert_eq!(failed_key("acme", t, "n-9"), "acme#2026-12-02T07:08:09.500Z#n-9");
    assert_eq!(arrival_key("https://example.com/hook"), "rate#https://example.com/hook");
    assert_eq!(by_provider("time", Some(roamify)), "time@roamify");
    assert_eq!(by_provider("time", None), "time");
    assert_eq!(told_index(NotificationStatus::Sent, roamify), "told-SENT@roamify");
    assert_eq!(esim_prefix(roamify, "89"), "roamify#89#");
    assert_eq!(
        esim_entry(roamify, "89", t),
        "roamify#89#2026-12-02T07:08:09.500000000Z"
    );
    assert_eq!(lifecycle_prefix("active"), "active#");
    assert_eq!(lifecycle_entry("active", t), "active#2026-12-02T07:08:09.500000000Z");
    assert_eq!(partner_prefix("acme"), "acme#");
    assert_eq!(partner_entry("acme", t), "acme#2026-12-02T07:08:09.500000000Z");
    assert_eq!(attempt_entry("acme", t, 2), "acme#2026-12-02T07:08:09.500000000Z#00002");
    assert_eq!(&sort_time(t)[..HOUR_PREFIX], "2026-12-02T07");
}

#[test]
fn shards_are_stable_and_spread() {
    // The hash is part of stored keys: it must never change.
    assert_eq!(shard_of("", 1 << 31), 0x811c_9dc5 % (1 << 31));
    assert_eq!(shard_of("a", u32::MAX), 0xe40c_292c);
    let mut counts = [0u32; LISTING_SHARDS as usize];
    for i in 0..128_000 {
        counts[shard_of(&delivery_pk("roamify", &format!("evt-{i}")), LISTING_SHARDS) as usize] += 1;
    }
    let (low, high) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    assert!(*low > 800 && *high < 1200, "uneven shards: {low}..{high}");
}

#[test]
fn an_entry_lands_in_one_of_its_days_buckets() {
    let at = DateTime::parse_from_rfc3339("2026-12-02T23:59:59.5Z").unwrap().to_utc();
    let entry = listing_entry(Listing::Alerts, &alert_pk("x"), at);
    assert!(listing_buckets(Listing::Alerts, at).contains(&entry.pk));
    assert_eq!(entry.sk, "2026-12-02T23:59:59.500Z");
    let asked = asking_entry("airalo", &state_pk("airalo", "89"), at, false);
    let routine = asking_entry("airalo", &state_pk("airalo", "89"), at, true);
    assert_eq!(
        (asked.pk.as_str(), is_routine_ask(&asked.sk)),
        (routine.pk.as_str(), false)
    );
    assert!(is_routine_ask(&routine.sk) && routine.sk.starts_with(&asked.sk));
    assert!(asking_buckets("airalo", at).contains(&asked.pk));
    assert!(!asking_buckets("roamify", at).contains(&asked.pk));
    assert!(!asking_buckets("airalo", at + chrono::Duration::hours(1)).contains(&asked.pk));
    let ends = expiry_entry(&state_pk("airalo", "89"), at);
    assert!(expiry_buckets(at).contains(&ends.pk));
    assert!(!expiry_buckets(at + chrono::Duration::hours(1)).contains(&ends.pk));
    let held = outbox_entry("a#sms", at);
    assert!(outbox_buckets(at).contains(&held.pk));
    assert!(attempts_pks("p1").contains(&attempts_pk("p1", "n-9")));
    assert!(failed_pks("p1").contains(&failed_pk("p1", "n-9")));
}

#[test]
fn times_sort_as_text_as_they_do_in_time() {
    let times = [
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::nanoseconds(1),
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::milliseconds(120),
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 6).unwrap(),
        Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap(),
    ];
    let texts: Vec<String> = times.iter().map(|t| sort_time(*t)).collect();
    let mut sorted = texts.clone();
    sorted.sort();
    assert_eq!(texts, sorted);
    assert!(texts.iter().all(|t| t.len() == 30), "{texts:?}");
    let far = DateTime::<Utc>::MAX_UTC;
    assert_eq!(sort_time(far), "9999-12-31T23:59:59.999999999Z");
    assert!(sort_time(DateTime::<Utc>::MIN_UTC) < texts[0]);
}

#[test]
fn ratios_sort_as_text_as_they_do_as_numbers() {
    let ratios = [f64::NEG_INFINITY, -0.5, 0.0, 0.05, 0.1, 0.19999, 0.2, 0.999, 1.0, 7.0];
    let texts: Vec<String> = ratios.iter().map(|r| sort_ratio(*r)).collect();
    let mut sorted = texts.clone();
    sorted.sort();
    assert_eq!(texts, sorted);
    assert_eq!(sort_ratio(f64::NAN), "0.000000");
    assert_eq!(sort_ratio(7.0), "1.000000");
}

#[test]
fn a_sort_range_holds_both_forms_of_every_instant_inside_it() {
    let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().to_utc();
    let (since, until) = (at("2026-12-02T10:00:00.250Z"), at("2026-12-02T11:00:00.500Z"));
    let (from, to) = sort_range(since, until);
    let inside = |sk: &str| from.as_str() <= sk && sk <= to.as_str();
    for t in [
        "2026-12-02T10:00:00.250Z",
        "2026-12-02T10:30:00Z",
        "2026-12-02T11:00:00.499999Z",
    ] {
        let t = at(t);
        assert!(inside(&instant(t)), "{t}");
        assert!(inside(&format!("{}#EVENT#x#1", t.to_rfc3339())), "older form of {t}");
    }
    for t in [
        "2026-12-02T09:59:59.999Z",
        "2026-12-02T11:00:00.501Z",
        "2026-12-02T11:00:01Z",
    ] {
        assert!(!inside(&instant(at(t))), "{t}");
    }
}

#[test]
fn a_window_range_leaves_out_the_entries_at_its_end() {
    let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().to_utc();
    let since = at("2026-12-02T10:00:00Z");
    let (from, to) = window_range(since, at("2026-12-02T11:00:00Z"));
    let inside = |sk: &str| from.as_str() <= sk && sk <= to.as_str();
    for t in ["2026-12-02T10:59:59.999Z", "2026-12-02T10:59:59.999500Z"] {
        let t = at(t);
        assert!(inside(&instant(t)), "{t}");
        assert!(inside(&format!("{}#EVENT#x#1", t.to_rfc3339())), "older form of {t}");
    }
    let end = at("2026-12-02T11:00:00Z");
    assert!(!inside(&instant(end)));
    assert!(!inside(&format!("{}#EVENT#x#1", end.to_rfc3339())), "older form");
    // Within `until`'s millisecond, entries before it are in.
    let (_, to) = window_range(since, at("2026-12-02T11:00:00.000500Z"));
    assert!(instant(end) <= to);
}
