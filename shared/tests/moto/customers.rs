//! Telling the customer, on moto: the directory on DynamoDB (registered under every identifier, found by any,
//! replaced and erased whole) and the one alert scale on the operator topic.

use crate::common;

use crate::moto_rig;

use moto_rig::MotoRig;
use shared::customers::{Conflict, Contact, ContactFields, ContactLookup, ContactStore, EsimRef, Replace, Upserted};
use shared::model::ProviderId;

fn contact(pairs: &[(&str, &str)]) -> Contact {
    let value = serde_json::Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect(),
    );
    Contact::from_fields(&serde_json::from_value::<ContactFields>(value).unwrap()).unwrap()
}

#[tokio::test]
async fn contacts_are_found_by_any_identifier_replaced_and_erased_whole() {
    let rig = MotoRig::new("contacts", "2026-11-23T09:00:00Z").await;
    let store = rig.store.as_ref();
    let first = contact(&[
        ("provider", "esimaccess"),
        ("esim_ref", "T-1"),
        ("iccid", "8943108170001029631"),
        ("order_ref", "tx-1"),
        ("phone", "+34612345678"),
    ]);
    assert_eq!(store.upsert(&first).await.unwrap(), Upserted::Created);
    assert_eq!(store.upsert(&first).await.unwrap(), Upserted::Unchanged);
    for esim in [
        EsimRef::Esim("T-1".into()),
        EsimRef::Iccid("8943108170001029631".into()),
        EsimRef::Order("tx-1".into()),
    ] {
        let found = store
            .find(ProviderId::EsimAccess, std::slice::from_ref(&esim))
            .await
            .unwrap();
        assert_eq!(found.as_ref(), Some(&first), "{esim}");
    }
    let other_provider = store
        .find(ProviderId::Roamify, &[EsimRef::Esim("T-1".into())])
        .await
        .unwrap();
    assert!(other_provider.is_none());

    // The same eSIM sold again under another order: the old order reference no longer names it.
    let resold = contact(&[
        ("provider", "esimaccess"),
        ("esim_ref", "T-1"),
        ("order_ref", "tx-2"),
        ("email", "new@example.com"),
    ]);
    assert_eq!(store.upsert(&resold).await.unwrap(), Upserted::Updated);
    let by_old_order = store
        .find(ProviderId::EsimAccess, &[EsimRef::Order("tx-1".into())])
        .await
        .unwrap();
    assert!(by_old_order.is_none());
    let by_iccid = store
        .find(ProviderId::EsimAccess, &[EsimRef::Iccid("8943108170001029631".into())])
        .await
        .unwrap();
    assert!(by_iccid.is_none(), "identifiers of the replaced contact are gone");
    let found = store
        .find(
            ProviderId::EsimAccess,
            &[EsimRef::Order("nope".into()), EsimRef::Order("tx-2".into())],
        )
        .await
        .unwrap();
    assert_eq!(found, Some(resold.clone()));

    let removed = store
        .remove(ProviderId::EsimAccess, &EsimRef::Order("tx-2".into()))
        .await
        .unwrap();
    assert_eq!(removed, Some(resold));
    let after = store
        .find(ProviderId::EsimAccess, &[EsimRef::Esim("T-1".into())])
        .await
        .unwrap();
    assert!(after.is_none());
    assert!(store
        .remove(ProviderId::EsimAccess, &EsimRef::Esim("T-1".into()))
        .await
        .unwrap()
        .is_none());
}

/// On DynamoDB, a row (registered with `Replace::SameContact`, as `customers import` does) whose
/// identifier names a stored contact with other identifiers, or whose identifiers name two stored contacts, is
/// refused and changes nothing; the same contact with more identifiers is an update; `Replace::Any` (the
/// deliberate path) still replaces.
#[tokio::test]
async fn a_row_never_replaces_another_contact_on_dynamodb() {
    let rig = MotoRig::new("contact-conflicts", "2026-11-23T09:00:00Z").await;
    let store = rig.store.as_ref();
    let alice = contact(&[
        ("provider", "esimaccess"),
        ("iccid", "8900000000000000001"),
        ("esim_ref", "E1"),
        ("order_ref", "O1"),
        ("phone", "+34600000001"),
    ]);
    let bob = contact(&[
        ("provider", "esimaccess"),
        ("iccid", "8900000000000000002"),
        ("order_ref", "O1"),
    ]);
    assert_eq!(
        store.register(&alice, Replace::SameContact).await.unwrap(),
        Ok(Upserted::Created)
    );
    let refused = store.register(&bob, Replace::SameContact).await.unwrap().unwrap_err();
    assert_eq!(
        refused.to_string(),
        "order_ref O1 already names a contact that also has iccid 8900000000000000001, esim_ref E1"
    );
    for esim in alice.refs() {
        let found = store
            .find(ProviderId::EsimAccess, std::slice::from_ref(&esim))
            .await
            .unwrap();
        assert_eq!(found.as_ref(), Some(&alice), "{esim}");
    }
    let absent = store
        .find(ProviderId::EsimAccess, &[EsimRef::Iccid("8900000000000000002".into())])
        .await
        .unwrap();
    assert!(absent.is_none());

    let dave = contact(&[("provider", "esimaccess"), ("iccid", "8900000000000000004")]);
    let ordered = contact(&[("provider", "esimaccess"), ("order_ref", "O4")]);
    for one in [&dave, &ordered] {
        assert_eq!(
            store.register(one, Replace::SameContact).await.unwrap(),
            Ok(Upserted::Created)
        );
    }
    let joined = contact(&[
        ("provider", "esimaccess"),
        ("iccid", "8900000000000000004"),
        ("order_ref", "O4"),
    ]);
    let two = store.register(&joined, Replace::SameContact).await.unwrap();
    assert!(matches!(two, Err(Conflict::TwoContacts { .. })), "{two:?}");
    let more = contact(&[
        ("provider", "esimaccess"),
        ("iccid", "8900000000000000004"),
        ("esim_ref", "E4"),
        ("phone", "+34600000004"),
    ]);
    assert_eq!(
        store.register(&more, Replace::SameContact).await.unwrap(),
        Ok(Upserted::Updated)
    );
    assert_eq!(
        store.register(&more, Replace::SameContact).await.unwrap(),
        Ok(Upserted::Unchanged)
    );
    let by_e4 = store
        .find(ProviderId::EsimAccess, &[EsimRef::Esim("E4".into())])
        .await
        .unwrap();
    assert_eq!(by_e4, Some(more));

    assert_eq!(store.register(&bob, Replace::Any).await.unwrap(), Ok(Upserted::Updated));
    let by_e1 = store
        .find(ProviderId::EsimAccess, &[EsimRef::Esim("E1".into())])
        .await
        .unwrap();
    assert!(by_e1.is_none(), "replaced on purpose, Alice goes whole");
}

/// The check is atomic with the write: eight rows claiming one order reference for eight different eSIMs, all
/// at once, make one contact; the other seven are refused (each write is conditioned on the items it read), and
/// no eSIM of theirs is left registered.
#[tokio::test]
async fn concurrent_rows_claiming_one_identifier_make_one_contact() {
    let rig = MotoRig::new("contact-race", "2026-11-23T09:00:00Z").await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = rig.store.clone();
            let row = contact(&[
                ("provider", "roamify"),
                ("iccid", &format!("89000000000000001{i:02}")),
                ("order_ref", "r-shared"),
            ]);
            tokio::spawn(async move { store.register(&row, Replace::SameContact).await.unwrap() })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(Upserted::Created) => created += 1,
            Ok(other) => panic!("{other:?}"),
            Err(conflict) => assert!(
                conflict.to_string().starts_with("order_ref r-shared already names"),
                "{conflict}"
            ),
        }
    }
    assert_eq!(created, 1);
    let winner = rig
        .store
        .find(ProviderId::Roamify, &[EsimRef::Order("r-shared".into())])
        .await
        .unwrap()
        .unwrap();
    for i in 0..8 {
        let iccid = format!("89000000000000001{i:02}");
        let found = rig
            .store
            .find(ProviderId::Roamify, &[EsimRef::Iccid(iccid.clone())])
            .await
            .unwrap();
        assert_eq!(
            found.is_some(),
            winner.iccid.as_deref() == Some(iccid.as_str()),
            "{iccid}"
        );
    }
}

/// Contact fields through `PUT /customers/...` on DynamoDB: a top-up link without a host or with a
/// quote, and an email whose domain label starts and ends with `-`, are refused with the field named, and
/// nothing is stored; the same contact with good fields is created.
#[tokio::test]
async fn a_put_with_a_hostless_topup_link_or_a_bad_email_stores_nothing_on_dynamodb() {
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
    let rig = MotoRig::new("contact-fields", "2026-11-23T09:00:00Z").await;
    // eSIM Access is asked: an eSIM a contact names that nothing was heard of is filed to be asked.
    let plan = shared::reconcile::due::AskingPlan {
        providers: vec![ProviderId::EsimAccess],
        ..Default::default()
    };
    let named =
        shared::reconcile::named::NamedEsims::new(rig.store.clone(), plan, Default::default(), rig.clock.clone());
    let api = shared::customers::api::CustomersApi::new(rig.store.clone()).with_named(named);
    let text = std::fs::read_to_string(common::repo_root().join("events/customers/00-put-contact.json")).unwrap();
    let put = |body: serde_json::Value| {
        let mut event: ApiGatewayV2httpRequest = serde_json::from_str(&text).unwrap();
        event.raw_path = Some("/customers/esimaccess/T-FIELDS".into());
        event.raw_query_string = Some(String::new());
        event.body = Some(body.to_string());
        shared::lambda::handle_customers_apigw(&api, event)
    };
    for (field, value) in [
        ("topup_url", "https:///javascript:alert(1)"),
        ("topup_url", "https://shop.example/\"onclick=\"x"),
        ("email", "a@-x-.es"),
    ] {
        let refused = put(serde_json::json!({ field: value, "name": "Ana" })).await;
        let body = common::response_json(&refused);
        assert_eq!(refused.status_code, 400, "{field}={value}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().starts_with(field), "{body}");
    }
    let nothing = rig
        .store
        .find(ProviderId::EsimAccess, &[EsimRef::Esim("T-FIELDS".into())])
        .await
        .unwrap();
    assert!(nothing.is_none());
    let good = serde_json::json!({"topup_url": "https://shop.example/t/1", "email": "ana@x-y.es"});
    let created = put(good).await;
    assert_eq!(common::response_json(&created)["outcome"], "created");
    use shared::clock::Clock;
    use shared::store::StoreQuery;
    let filed = rig
        .store
        .filed_to_ask(ProviderId::EsimAccess, rig.clock.now(), 10)
        .await
        .unwrap();
    assert_eq!(
        filed.iter().map(|state| state.key.as_str()).collect::<Vec<_>>(),
        ["T-FIELDS"],
        "found in the asking index, due now"
    );
    assert!(filed[0].usage.is_none());
}

/// On the operator topic, an Airalo notice is published at its place on the scale with its own label as the
/// `provider_level` attribute, and our own reading of the same situation publishes nothing more.
#[tokio::test]
async fn the_operator_topic_gets_the_scaled_level_and_the_providers_label() {
    let rig = MotoRig::new("alert-scale", "2026-11-23T09:00:00Z").await;
    let sink = std::sync::Arc::new(shared::alerts::sink::sns::SnsSink::new(rig.sns.clone(), &rig.topic_arn));
    let pipeline = std::sync::Arc::new(shared::pipeline::Pipeline::new(
        rig.store.clone(),
        sink,
        rig.clock.clone(),
        common::quick_settings(),
    ));
    let service = shared::service::Service::ready(common::fixture_provider(ProviderId::Airalo), pipeline, 128 * 1024);
    let body = serde_json::json!({"level": "90%", "package_name": "bonbon-7gb-10days", "remaining_percentage": 10,
                                  "iccid": "8912345678901234567"})
    .to_string();
    use shared::clock::Clock;
    let delivery = common::signed_delivery(ProviderId::Airalo, &body, rig.clock.now());
    assert_eq!(service.handle(&delivery).await.status, 200);
    let envelopes = rig.alerts().await;
    assert_eq!(envelopes.len(), 1);
    let attributes = &envelopes[0]["MessageAttributes"];
    assert_eq!(attributes["level"]["Value"], "10%");
    assert_eq!(attributes["provider_level"]["Value"], "90%");
    let document: serde_json::Value = serde_json::from_str(envelopes[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(
        (document["schema_version"].clone(), document["level"].clone()),
        (serde_json::json!(2), serde_json::json!("10%"))
    );
}

/// On DynamoDB: a low-data delivery for an eSIM with a contact, twenty copies at once: one SMS and one email,
/// recorded beside the alert, which the alert listing shows.
#[tokio::test]
async fn concurrent_copies_tell_the_customer_once_per_channel_on_dynamodb() {
    use shared::customers::records::{Channel, MemorySender, NotificationStatus};
    use shared::customers::service::CustomerNotifier;
    use shared::store::StoreQuery;
    use std::sync::Arc;
    let rig = MotoRig::new("notify", "2026-11-23T10:00:00Z").await;
    let contact_fields = [
        ("provider", "esimaccess"),
        ("esim_ref", "T-ANA"),
        ("phone", "+34612345678"),
        ("email", "ana@example.es"),
        ("locale", "fr"),
    ];
    rig.store.upsert(&contact(&contact_fields)).await.unwrap();
    let sender = Arc::new(MemorySender::default());
    let notifier = Arc::new(CustomerNotifier {
        contacts: rig.store.clone(),
        notifications: rig.store.clone(),
        sender: sender.clone(),
        settings: shared::customers::CustomerSettings {
            brand: "Travelsim".into(),
            ..Default::default()
        },
    });
    let sink = Arc::new(shared::alerts::sink::sns::SnsSink::new(rig.sns.clone(), &rig.topic_arn));
    let settings = common::storm_settings();
    let pipeline =
        shared::pipeline::Pipeline::new(rig.store.clone(), sink, rig.clock.clone(), settings).with_customers(notifier);
    let service = Arc::new(shared::service::Service::ready(
        common::fixture_provider(ProviderId::EsimAccess),
        Arc::new(pipeline),
        128 * 1024,
    ));
    let body = serde_json::json!({"notifyType": "DATA_USAGE", "notifyId": "n-1",
        "content": {"esimTranNo": "T-ANA", "totalVolume": 1073741824, "orderUsage": 966367642, "remain": 107374182}})
    .to_string();
    use shared::clock::Clock;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let service = service.clone();
            let delivery = common::signed_delivery(ProviderId::EsimAccess, &body, rig.clock.now());
            tokio::spawn(async move { service.handle(&delivery).await.status })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    // SMS and email go out at the same time: once each, in either order.
    let mut sent = sender.sent();
    sent.sort_by_key(|s| s.0);
    let channels: Vec<Channel> = sent.iter().map(|s| s.0).collect();
    assert_eq!(channels, [Channel::Sms, Channel::Email], "{sent:?}");
    assert!(
        sent[0].2.starts_with("Travelsim: Bonjour, il reste 102 MB"),
        "{}",
        sent[0].2
    );
    assert_eq!(rig.alerts().await.len(), 1);
    let alerts = rig.store.list_alerts(&rig.window()).await.unwrap();
    assert_eq!(alerts.len(), 1);
    let told = &alerts[0].notifications;
    assert_eq!(told.len(), 2);
    assert!(told
        .iter()
        .all(|n| n.status == NotificationStatus::Sent && n.message_id.is_some()));
}

/// Customer SMS through SNS on moto: published straight to the number (moto keeps it in its data); a number on
/// the opt-out list (moto: ending in 99) is refused for good, not retried.
#[tokio::test]
async fn sms_go_straight_to_the_number_and_opted_out_numbers_are_refused() {
    use shared::customers::records::{Channel, CustomerSender, SendFailure};
    use shared::customers::sms::SnsSmsSender;
    let rig = MotoRig::new("sms", "2026-11-23T10:00:00Z").await;
    let sender = SnsSmsSender::new(rig.sns.clone(), Some("Travelsim".into()), None);
    let message = shared::customers::CustomerMessage {
        locale: "en".into(),
        sms: "Travelsim: Hi Ana, your eSIM plan has 10% of its data left.".into(),
        ..Default::default()
    };
    let id = sender.send(Channel::Sms, "+34612345678", &message).await.unwrap();
    assert!(!id.is_empty());
    let data = moto_rig::moto_data().await.to_string();
    assert!(
        data.contains("+34612345678") && data.contains("has 10% of its data left"),
        "{data}"
    );
    let refused = sender.send(Channel::Sms, "+34612345699", &message).await.unwrap_err();
    assert!(
        matches!(refused, SendFailure::Permanent(ref why) if why.contains("opted out")),
        "{refused:?}"
    );
    assert!(matches!(
        sender.send(Channel::Email, "a@b.example", &message).await,
        Err(SendFailure::Permanent(_))
    ));
}
