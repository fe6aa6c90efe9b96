//! Every provider in the list, from its spec and its fixtures: each fixture twice through the real `Service`
//! (verified, stored once, alerted once) at the fixtures' time, with the provider built as deployed (sender
//! allow-lists on). A
//! provider added to the list with fixtures is checked here without a line more.

use crate::common;

use common::*;
use shared::model::ProviderId;

#[tokio::test]
async fn every_providers_fixtures_are_stored_once_and_alert_once() {
    let schemas = Schemas::load();
    for &id in ProviderId::ALL {
        let h = Harness::new(deployed_provider(id), &fixture_clock(id), quick_settings());
        let all = fixtures(id.as_str());
        for f in &all {
            post_twice(&h, f).await;
        }
        assert_stored_once_and_alerted(&h, &all, &schemas).await;
    }
}

#[test]
fn every_provider_has_fixtures_and_a_keyring() {
    for &id in ProviderId::ALL {
        assert!(!fixtures(id.as_str()).is_empty(), "fixtures/{id}/");
        assert!(
            fixture_keyring(id).len() >= 2,
            "fixtures/secrets.json: {id}.keyring, current and rotated"
        );
        assert!(!fixture_clock(id).is_empty());
    }
}

#[test]
fn the_json_schema_names_every_provider() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_root().join("docs/schemas/event.schema.json")).unwrap())
            .unwrap();
    let mut named: Vec<&str> = schema["$defs"]["provider"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut listed: Vec<&str> = ProviderId::ALL.iter().map(|p| p.as_str()).collect();
    named.sort();
    listed.sort();
    assert_eq!(named, listed, "docs/schemas/event.schema.json $defs.provider");
}
