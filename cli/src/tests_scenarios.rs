//! `send --scenario` for every provider in the registry, end to end: signed deliveries over HTTP to the local
//! server, the production pipeline, the SQLite store. Each scenario must end in the state its last event says
//! (Roamify's, stamped minutes ahead of receipt, ended `active` after its `EXPIRED`).

use super::*;
use crate::tests::{secret_of, send, send_args, start};
use shared::model::{Lifecycle, FLAG_TIME_AHEAD};
use shared::store::{EventStore, ListQuery, StoreQuery};

#[tokio::test]
async fn every_scenario_ends_in_the_state_its_last_event_says() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scenarios.db");
    let server = start(&db).await;
    for (n, provider) in ProviderId::ALL.iter().enumerate() {
        let mut args = send_args(provider.as_str(), server.addr, secret_of(provider.as_str()));
        args.scenario = true;
        args.iccid = format!("894450000000000{n:04}");
        assert_eq!(send(args).await, Ok(0), "{provider} scenario");
    }
    server.stop().await;

    let store = sqlite::open_store(&db).unwrap();
    for &provider in ProviderId::ALL {
        let query = ListQuery {
            provider: Some(provider),
            ..ListQuery::default()
        };
        let mut events: Vec<_> = store
            .list_deliveries(&query)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.event)
            .collect();
        assert_eq!(
            events.len(),
            shared::simulate::scenario(provider).len(),
            "{provider}: every step stored"
        );
        for event in &events {
            // Stamped at or before now: believed as sent, never bounded.
            assert!(event.occurred_at <= event.received_at, "{provider}: {event:?}");
            assert!(
                !event.flags.iter().any(|f| f == FLAG_TIME_AHEAD),
                "{provider}: {:?}",
                event.flags
            );
        }
        // Sent one after another, so the last received is the scenario's last step.
        events.sort_by_key(|e| e.received_at);
        let last = events.last().unwrap();
        let key = &last
            .esim
            .as_ref()
            .unwrap_or_else(|| panic!("{provider}: the last step names the eSIM"))
            .key;
        let state = store.load_state(provider, key).await.unwrap().unwrap().value;
        let mut compared = 0;
        if let Some(status) = &last.status {
            assert_eq!(
                state.status.as_ref().map(|f| &f.value),
                Some(status),
                "{provider} status"
            );
            compared += 1;
        }
        if let Some(usage) = &last.usage {
            assert_eq!(state.usage.as_ref().map(|f| &f.value), Some(usage), "{provider} usage");
            compared += 1;
        }
        if let Some(validity) = &last.validity {
            assert_eq!(
                state.validity.as_ref().map(|f| &f.value),
                Some(validity),
                "{provider} validity"
            );
            compared += 1;
        }
        assert!(compared > 0, "{provider}: the last step sets some of the eSIM's state");
        if provider == ProviderId::Roamify {
            assert_eq!(state.status.unwrap().value.lifecycle, Lifecycle::Expired);
        }
    }
}
