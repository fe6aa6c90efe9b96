use super::*;
use crate::model::{DataUsage, DedupeKey, ProviderId, StatusChange, Validity};
use crate::state::{Asking, Facet};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn facet<T>(value: T, when: &str) -> Option<Facet<T>> {
    Some(Facet {
        value,
        at: at(when),
        event_key: DedupeKey::provider_id("k"),
    })
}

fn state(remaining: u64, rate: Option<f64>, lifecycle: Lifecycle) -> EsimState {
    EsimState {
        provider: ProviderId::EsimGo,
        key: "8944500000000000001".into(),
        iccid: None,
        refs: Default::default(),
        status: facet(
            StatusChange {
                lifecycle,
                provider_status: "x".into(),
                profile_status: None,
            },
            "2026-12-01T00:00:00Z",
        ),
        usage: facet(
            DataUsage {
                total_bytes: Some(1_000_000),
                remaining_bytes: Some(remaining),
                ..DataUsage::default()
            },
            "2026-12-06T12:00:00Z",
        ),
        validity: None,
        bundle: None,
        usage_rate: rate,
        asking: None,
        owner: None,
        first_seen_at: at("2026-12-01T00:00:00Z"),
        updated_at: at("2026-12-06T12:00:00Z"),
        last_event_key: DedupeKey::provider_id("k"),
    }
}

#[test]
fn a_level_is_watched_with_headroom_and_each_answer_projects_again() {
    let (alerts, rules) = (AlertRules::default(), DueRules::default());
    // 600 kB left of 1 MB at 100 B/s: the 20 % level (200 kB) in 4,000 s, at four times the rate in 1,000 s.
    let mut esim = state(600_000, Some(100.0), Lifecycle::Active);
    let read = at("2026-12-06T12:00:00Z");
    assert_eq!(
        next_ask(&esim, &alerts, &rules, true),
        Some((read + Duration::seconds(1_000), Why::Crossing))
    );
    assert_eq!(
        due_now(&esim, &alerts, &rules, true, read + Duration::seconds(999)),
        None
    );
    assert_eq!(
        due_now(&esim, &alerts, &rules, true, read + Duration::seconds(1_000)),
        Some(Why::Crossing)
    );
    // Asked then, and the answer repeated the state: projected again from then, not before a period.
    esim.asking = Some(Asking {
        asked_at: Some(read + Duration::seconds(1_000)),
        heard_at: Some(read + Duration::seconds(1_000)),
        next: None,
        routine: false,
    });
    assert_eq!(
        next_ask(&esim, &alerts, &rules, true),
        Some((read + Duration::seconds(2_000), Why::Crossing))
    );
    // Close to the level, the period before the crossing at the measured rate comes first; never sooner
    // than a period after the last ask.
    let close = state(210_000, Some(100.0), Lifecycle::Active);
    assert_eq!(
        next_ask(&close, &alerts, &rules, true).unwrap().0,
        read + Duration::seconds(100) - rules.period
    );
    let mut asked = close.clone();
    asked.asking = Some(Asking {
        asked_at: Some(read),
        ..Asking::default()
    });
    assert_eq!(next_ask(&asked, &alerts, &rules, true).unwrap().0, read + rules.period);
    // Half left: 300 kB to the 20 % level at 100 B/s, asked when four times that would reach it.
    let below = state(500_000, Some(100.0), Lifecycle::Active);
    assert_eq!(
        next_ask(&below, &alerts, &rules, true).unwrap().0,
        read + Duration::seconds(750)
    );
    let lower = state(150_000, Some(10.0), Lifecycle::Active);
    assert_eq!(
        next_ask(&lower, &alerts, &rules, true).unwrap().0,
        read + Duration::seconds(1_250),
        "below 20 %: 50 kB to the 10 % level at 10 B/s"
    );
}

#[test]
fn a_reading_near_a_level_without_a_rate_is_asked_within_the_hour() {
    let (alerts, rules) = (AlertRules::default(), DueRules::default());
    let read = at("2026-12-06T12:00:00Z");
    // 30 % left, no rate: within 15 points of the 20 % level.
    let near = state(300_000, None, Lifecycle::Active);
    assert_eq!(
        next_ask(&near, &alerts, &rules, true),
        Some((read + Duration::hours(1), Why::Nearing))
    );
    // Airalo's 75 % webhook: a percentage, no amounts.
    let mut percent = state(0, None, Lifecycle::Active);
    let usage = &mut percent.usage.as_mut().unwrap().value;
    (usage.total_bytes, usage.remaining_bytes, usage.remaining_ratio) = (None, None, Some(0.25));
    assert_eq!(next_ask(&percent, &alerts, &rules, true).unwrap().1, Why::Nearing);
    // Far from any level, or past the lowest: silence only.
    assert_eq!(
        next_ask(&state(600_000, None, Lifecycle::Active), &alerts, &rules, true)
            .unwrap()
            .1,
        Why::Stale
    );
    assert_eq!(
        next_ask(&state(50_000, None, Lifecycle::Active), &alerts, &rules, true)
            .unwrap()
            .1,
        Why::Stale
    );
}

#[test]
fn an_esim_named_without_its_usage_is_asked_once() {
    let (alerts, rules) = (AlertRules::default(), DueRules::default());
    let mut ordered = state(0, None, Lifecycle::Pending);
    ordered.usage = None;
    assert_eq!(
        next_ask(&ordered, &alerts, &rules, true),
        Some((at("2026-12-01T00:00:00Z"), Why::Unheard))
    );
    ordered.asking = Some(Asking {
        asked_at: Some(at("2026-12-01T00:05:00Z")),
        ..Asking::default()
    });
    assert_eq!(
        next_ask(&ordered, &alerts, &rules, true),
        None,
        "pending, asked: wait for news"
    );
    let mut active = ordered.clone();
    active.status.as_mut().unwrap().value.lifecycle = Lifecycle::Active;
    assert_eq!(
        next_ask(&active, &alerts, &rules, true),
        Some((at("2026-12-07T00:00:00Z"), Why::Stale)),
        "active without usage: silence counts"
    );
}

#[test]
fn an_answer_that_repeats_the_state_counts_as_heard_from() {
    let (alerts, rules) = (AlertRules::default(), DueRules::default());
    let mut quiet = state(600_000, None, Lifecycle::Active);
    quiet.asking = Some(Asking {
        asked_at: Some(at("2026-12-07T00:00:00Z")),
        heard_at: Some(at("2026-12-06T21:00:00Z")),
        next: None,
        routine: false,
    });
    assert_eq!(
        next_ask(&quiet, &alerts, &rules, true),
        Some((at("2026-12-07T12:00:00Z"), Why::Stale))
    );
}

#[test]
fn filing_never_moves_an_entry_later_and_a_finished_esim_leaves_the_index() {
    let (alerts, rules) = (AlertRules::default(), DueRules::default());
    let now = at("2026-12-06T12:30:00Z");
    let mut esim = state(600_000, Some(100.0), Lifecycle::Active);
    // Due 12:16:40, already past: filed now.
    assert_eq!(filed_at(&esim, &alerts, &rules, true, now), Some(now));
    esim.asking = Some(Asking {
        next: Some(at("2026-12-06T12:20:00Z")),
        ..Asking::default()
    });
    assert_eq!(
        filed_at(&esim, &alerts, &rules, true, now),
        Some(at("2026-12-06T12:20:00Z"))
    );
    esim.usage_rate = Some(1.0);
    esim.asking = Some(Asking {
        next: Some(at("2026-12-08T00:00:00Z")),
        ..Asking::default()
    });
    assert_eq!(
        filed_at(&esim, &alerts, &rules, true, now),
        Some(at("2026-12-07T00:00:00Z")),
        "earlier: the stale ask"
    );
    let mut used_up = state(0, Some(100.0), Lifecycle::Active);
    used_up.asking = esim.asking.clone();
    assert_eq!(filed_at(&used_up, &alerts, &rules, true, now), None);
}

#[test]
fn silence_and_a_near_end_make_an_esim_due_and_an_ended_one_never() {
    let (alerts, rules) = (AlertRules::default(), DueRules::default());
    let quiet = state(600_000, None, Lifecycle::Active);
    assert_eq!(
        next_ask(&quiet, &alerts, &rules, true),
        Some((at("2026-12-07T00:00:00Z"), Why::Stale))
    );
    let mut ending = state(600_000, None, Lifecycle::Active);
    ending.validity = facet(
        Validity {
            expires_at: Some(at("2026-12-06T20:00:00Z")),
            ..Validity::default()
        },
        "2026-12-01T00:00:00Z",
    );
    assert_eq!(
        next_ask(&ending, &alerts, &rules, false),
        Some((at("2026-12-05T20:00:00Z"), Why::EndNear))
    );
    assert_eq!(
        next_ask(&ending, &alerts, &rules, true).unwrap().1,
        Why::Stale,
        "the provider warns of ends itself"
    );
    assert_eq!(
        due_now(&ending, &alerts, &rules, false, at("2026-12-06T19:00:00Z")),
        Some(Why::EndNear)
    );
    assert_eq!(
        due_now(&ending, &alerts, &rules, false, at("2026-12-06T21:00:00Z")),
        None,
        "ended"
    );
    let mut asked = ending.clone();
    asked.asking = Some(Asking {
        asked_at: Some(at("2026-12-06T19:00:00Z")),
        ..Asking::default()
    });
    assert_eq!(
        due_now(&asked, &alerts, &rules, false, at("2026-12-06T19:30:00Z")),
        None,
        "asked once in the window"
    );
    // Ended before its end-near ask: filed for silence, not found early every pass.
    let ended_at = at("2026-12-06T21:00:00Z");
    assert_eq!(
        filed_at(&ending, &alerts, &rules, false, ended_at),
        Some(at("2026-12-07T00:00:00Z"))
    );
    assert_eq!(
        due_now(&ending, &alerts, &rules, false, at("2026-12-07T00:00:00Z")),
        Some(Why::Stale)
    );
    for done in [
        Lifecycle::Expired,
        Lifecycle::Deleted,
        Lifecycle::Depleted,
        Lifecycle::Cancelled,
    ] {
        assert_eq!(
            next_ask(&state(600_000, Some(100.0), done), &alerts, &rules, false),
            None,
            "{done:?}"
        );
    }
    assert_eq!(
        next_ask(&state(0, Some(100.0), Lifecycle::Active), &alerts, &rules, false),
        None
    );
}

#[test]
fn silence_and_a_usage_never_heard_are_routine_a_level_is_not() {
    let (alerts, rules) = (AlertRules::default(), DueRules::default());
    let now = at("2026-12-06T12:00:00Z");
    // 25 % left, used fast: the 20 % level is near.
    let near = state(250_000, Some(100.0), Lifecycle::Active);
    assert_eq!(filing(&near, &alerts, &rules, true, now).map(|(_, r)| r), Some(false));
    // 90 % left, no use: asked for silence.
    let quiet = state(900_000, None, Lifecycle::Active);
    let (_, routine) = filing(&quiet, &alerts, &rules, true, now).unwrap();
    assert!(routine);
    assert!(Why::Unheard.routine() && Why::Stale.routine());
    assert!(!Why::Crossing.routine() && !Why::Nearing.routine() && !Why::EndNear.routine());
}

#[test]
fn a_rate_measured_over_a_quiet_spell_gives_way_to_the_plans_average() {
    let (alerts, rules) = (AlertRules::default(), DueRules::default());
    let read = at("2026-12-06T12:00:00Z");
    // 400 kB of 1 MB used in the day since it was first seen (4.63 B/s), 1 B/s over the night just past:
    // 400 kB to the 20 % level, at four times the average in 21,600 s rather than 100,000.
    let mut quiet = state(600_000, Some(1.0), Lifecycle::Active);
    quiet.first_seen_at = read - Duration::days(1);
    assert_eq!(
        next_ask(&quiet, &alerts, &rules, true),
        Some((read + Duration::seconds(21_600), Why::Crossing))
    );
    // A faster measured rate is kept; an eSIM first seen within the hour has no average.
    quiet.usage_rate = Some(100.0);
    assert_eq!(
        next_ask(&quiet, &alerts, &rules, true).unwrap().0,
        read + Duration::seconds(1_000)
    );
    let mut new = state(600_000, Some(1.0), Lifecycle::Active);
    new.first_seen_at = read - Duration::minutes(30);
    assert_eq!(
        next_ask(&new, &alerts, &rules, true),
        Some((read + Duration::hours(12), Why::Stale)),
        "projected from its own 1 B/s the level is 27.8 h away: silence comes first"
    );
}
