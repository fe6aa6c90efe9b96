//! Scopes on DynamoDB (moto): two partners of scope `own`, one of scope `all`, three eSIMs (one per owner, one
//! no one's). Each alert and event the pipeline publishes fans out to its owner and the `all` partner only;
//! a partner item stored before scopes reads as `all`.

use super::*;
use shared::callbacks::partner::Scope;
use shared::model::ProviderId;
use shared::ownership::assign;
use std::collections::BTreeSet;

impl Callbacks {
    /// Creates a partner of `scope` with callbacks for low data and data usage at its own URL; its id.
    async fn scoped_partner(&self, name: &str, scope: Scope) -> String {
        let (id, key) = self.partner(name).await;
        let mut partner = self
            .registry
            .partner(&PartnerId::parse(&id).unwrap())
            .await
            .unwrap()
            .unwrap();
        partner.scope = scope;
        self.registry.save_partner(&partner).await.unwrap();
        for kind in ["alert.low_data", "event.data_usage"] {
            let path = format!("/{id}/callbacks/{kind}");
            let (status, reply) = self
                .call("PUT", &path, Some(&key), Some(json!({"url": self.url(name)})))
                .await;
            assert!(status == 201 || status == 200, "{reply}");
        }
        id
    }
}

#[tokio::test]
async fn each_alert_and_event_reaches_its_owner_and_the_all_partner_only() {
    let t = Callbacks::new("cb-scopes").await;
    let acme = t.scoped_partner("acme", Scope::Own).await;
    let bee = t.scoped_partner("bee", Scope::Own).await;
    t.scoped_partner("ops", Scope::All).await;
    let now = t.rig.clock.now();
    let esims = ["8944500000000000111", "8944500000000000222", "8944500000000000333"];
    for (esim, owner) in esims.iter().zip([Some(&acme), Some(&bee), None]) {
        let owner = owner.and_then(|o| PartnerId::parse(o));
        assign(
            t.rig.store.as_ref(),
            ProviderId::EsimGo,
            esim,
            owner.as_ref(),
            now,
            |_| {},
        )
        .await
        .unwrap();
    }
    let sink = SnsSink::new(t.rig.sns.clone(), t.rig.topic_arn.clone()).with_event_notifications(true);
    let pipeline = Pipeline::new(
        t.rig.store.clone(),
        Arc::new(sink),
        t.rig.clock.clone(),
        quick_settings(),
    );
    for (n, esim) in esims.iter().enumerate() {
        let reading = usage_reading(
            ProviderId::EsimGo,
            esim,
            "esim_1GB_7D_IT_V2",
            (&format!("scoped-{n}"), now),
            150_000_000,
        );
        pipeline.process(&reading).await.unwrap();
    }

    let mut received: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for job in t.jobs_of(&t.rig.alerts().await).await {
        let body = body(&job);
        let name = body["notification_name"].as_str().unwrap().to_string();
        let esim = body["data"]["esim"]["key"].as_str().unwrap().to_string();
        let partner = job
            .url
            .trim_start_matches("https://")
            .split('-')
            .next()
            .unwrap()
            .to_string();
        received.entry(partner).or_default().insert((name, esim));
    }
    let both = |keys: &[&str]| -> BTreeSet<(String, String)> {
        keys.iter()
            .flat_map(|k| {
                [
                    ("alert.low_data".to_string(), k.to_string()),
                    ("event.data_usage".to_string(), k.to_string()),
                ]
            })
            .collect()
    };
    assert_eq!(received["acme"], both(&esims[..1]));
    assert_eq!(received["bee"], both(&esims[1..2]));
    assert_eq!(received["ops"], both(&esims));
}

#[tokio::test]
async fn a_partner_stored_before_scopes_keeps_hearing_of_all() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let t = Callbacks::new("cb-upgrade").await;
    let (id, _) = t.partner("old").await;
    let partner_id = PartnerId::parse(&id).unwrap();
    // The item as the release before scopes wrote it: no scope attribute.
    t.rig
        .store
        .client()
        .update_item()
        .table_name(t.rig.store.table())
        .key("pk", AttributeValue::S(format!("PARTNER#{id}")))
        .key("sk", AttributeValue::S("PARTNER".into()))
        .update_expression("REMOVE #scope")
        .expression_attribute_names("#scope", "scope")
        .send()
        .await
        .unwrap();
    let partner = t.registry.partner(&partner_id).await.unwrap().unwrap();
    assert_eq!(partner.scope, Scope::All);
    let mut narrowed = partner;
    narrowed.scope = Scope::Own;
    t.registry.save_partner(&narrowed).await.unwrap();
    assert_eq!(
        t.registry.partner(&partner_id).await.unwrap().unwrap().scope,
        Scope::Own
    );
}
