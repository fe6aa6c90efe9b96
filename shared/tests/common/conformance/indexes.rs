//! The reads by index rather than by window: `EventStore::expiring_states` (plans ending in `[from, until)`,
//! for the expiry sweep) and `StoreQuery::filed_to_ask` (the states a provider is asked about by then, those
//! filed for a level or a plan's end first, each earliest first). An entry moves when its state is saved again.
//!
//! A state never filed is left out: the local stores take it as filed now, the deployed table's index has no
//! entry for it (as the trait says); and filings older than the table's lookback (48 hours) are not asked of.

use chrono::{DateTime, Duration, Utc};
use shared::model::{DedupeKey, ProviderId, Validity};
use shared::state::{Asking, EsimState, Facet};
use shared::store::{EventStore, StoreQuery};

macro_rules! contracts {
    ($port:expr, [$($ignored:tt)*]) => {
        crate::common::conformance::emit!(indexes, $port, [
            plans_ending_in_a_window_are_found_by_their_end,
            the_states_filed_to_ask_come_levels_first_then_routine,
        ], [$($ignored)*]);
    };
}
pub(crate) use contracts;

/// A state of `provider`'s eSIM `key`, first seen at `at`.
fn state(provider: ProviderId, key: &str, at: DateTime<Utc>) -> EsimState {
    EsimState::first(provider, key.into(), at, DedupeKey::provider_id(format!("first-{key}")))
}

fn ending(mut state: EsimState, end: Option<DateTime<Utc>>) -> EsimState {
    state.validity = end.map(|end| Facet {
        value: Validity {
            expires_at: Some(end),
            ..Validity::default()
        },
        at: state.updated_at,
        event_key: state.last_event_key.clone(),
    });
    state
}

/// The keys of `states`, by plan end then key.
fn by_end(mut states: Vec<EsimState>) -> Vec<String> {
    states.sort_by(|a, b| (a.expires_at(), &a.key).cmp(&(b.expires_at(), &b.key)));
    states.into_iter().map(|s| s.key).collect()
}

pub async fn plans_ending_in_a_window_are_found_by_their_end<S: EventStore + ?Sized>(store: &S, now: DateTime<Utc>) {
    let minutes = |m| Some(now + Duration::minutes(m));
    let plans = [
        (ProviderId::Airalo, "at-from", minutes(0)),
        (ProviderId::Airalo, "in-an-hour", minutes(60)),
        (ProviderId::Airalo, "a-minute-before-until", minutes(24 * 60 - 1)),
        (ProviderId::Roamify, "roamify-soon", minutes(10)),
        (ProviderId::Airalo, "at-until", minutes(24 * 60)),
        (ProviderId::Airalo, "ended", minutes(-1)),
        (ProviderId::Airalo, "no-end", None),
    ];
    for (provider, key, end) in plans {
        assert!(store
            .save_state(&ending(state(provider, key, now), end), None)
            .await
            .unwrap());
    }
    let day = now + Duration::hours(24);
    assert_eq!(
        by_end(store.expiring_states(now, day).await.unwrap()),
        ["at-from", "roamify-soon", "in-an-hour", "a-minute-before-until"]
    );
    assert_eq!(
        by_end(store.expiring_states(now - Duration::hours(1), now).await.unwrap()),
        ["ended"]
    );

    // A plan extended past the window, and one whose end is no longer known, leave it.
    let extended = ending(state(ProviderId::Airalo, "in-an-hour", now), minutes(30 * 60));
    assert!(store.save_state(&extended, Some(1)).await.unwrap());
    let unknown = state(ProviderId::Airalo, "a-minute-before-until", now);
    assert!(store.save_state(&unknown, Some(1)).await.unwrap());
    assert_eq!(
        by_end(store.expiring_states(now, day).await.unwrap()),
        ["at-from", "roamify-soon"]
    );
    assert_eq!(
        by_end(store.expiring_states(day, day + Duration::hours(7)).await.unwrap()),
        ["at-until", "in-an-hour"]
    );
}

pub async fn the_states_filed_to_ask_come_levels_first_then_routine<S: EventStore + StoreQuery + ?Sized>(
    store: &S,
    now: DateTime<Utc>,
) {
    let filed = |provider, key: &str, next: Option<i64>, routine| {
        let mut state = state(provider, key, now - Duration::hours(4));
        state.asking = Some(Asking {
            asked_at: Some(now - Duration::hours(4)),
            next: next.map(|m| now + Duration::minutes(m)),
            routine,
            ..Asking::default()
        });
        state
    };
    let states = [
        filed(ProviderId::Airalo, "level-2h-ago", Some(-120), false),
        filed(ProviderId::Airalo, "routine-3h-ago", Some(-180), true),
        filed(ProviderId::Airalo, "level-1h-ago", Some(-60), false),
        filed(ProviderId::Airalo, "routine-30m-ago", Some(-30), true),
        filed(ProviderId::Airalo, "level-in-an-hour", Some(60), false),
        filed(ProviderId::Airalo, "not-filed", None, false),
        filed(ProviderId::Roamify, "roamify-1h-ago", Some(-60), false),
    ];
    for state in &states {
        assert!(store.save_state(state, None).await.unwrap());
    }
    let asked = |until: DateTime<Utc>, limit| async move {
        let found = store.filed_to_ask(ProviderId::Airalo, until, limit).await.unwrap();
        found.into_iter().map(|s| s.key).collect::<Vec<_>>()
    };
    assert_eq!(
        asked(now, 10).await,
        ["level-2h-ago", "level-1h-ago", "routine-3h-ago", "routine-30m-ago"]
    );
    assert_eq!(asked(now, 3).await, ["level-2h-ago", "level-1h-ago", "routine-3h-ago"]);

    // Asked and filed again later: it moves to its new place.
    let mut moved = states[0].clone();
    moved.asking = Some(Asking {
        asked_at: Some(now),
        next: Some(now + Duration::hours(6)),
        routine: false,
        ..Asking::default()
    });
    assert!(store.save_state(&moved, Some(1)).await.unwrap());
    let later = now + Duration::hours(6);
    assert_eq!(
        asked(later, 10).await,
        [
            "level-1h-ago",
            "level-in-an-hour",
            "level-2h-ago",
            "routine-3h-ago",
            "routine-30m-ago"
        ],
        "its old entry gone; filed at `until` itself"
    );
}
