//! Telling the customer on moto, through the production adapters: the directory and notification records on
//! DynamoDB, SMS by SNS `Publish` to the phone, email by SES v2 `SendEmail`, the outbox on the table's sparse
//! index. What was sent is read back from moto's own record (`/moto-api/data.json`).

use crate::common;

use crate::moto_rig;

use moto_rig::MotoRig;
use serde_json::{json, Value};
use shared::clock::Clock;
use shared::customers::email::SesEmailSender;
use shared::customers::records::{Channel, NotificationStatus, NotificationStore, Senders};
use shared::customers::service::CustomerNotifier;
use shared::customers::sms::SnsSmsSender;
use shared::customers::{Contact, ContactFields, ContactStore, CustomerSettings, EsimRef};
use shared::model::ProviderId;
use shared::pipeline::Pipeline;
use shared::service::Service;
use shared::store::StoreQuery;
use std::sync::Arc;

const FROM: &str = "alerts@travelsim.example";

mod downstream;

mod trust;

mod asking;

fn contact(pairs: &[(&str, &str)]) -> Contact {
    let value = Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect(),
    );
    Contact::from_fields(&serde_json::from_value::<ContactFields>(value).unwrap()).unwrap()
}

/// The production pipeline on moto: SNS SMS, SES email from a sender identity created as `init` does.
async fn pipeline(rig: &MotoRig, settings: CustomerSettings) -> Arc<Pipeline> {
    let ses = aws_sdk_sesv2::Client::new(&rig.sdk);
    ses.create_email_identity().email_identity(FROM).send().await.unwrap();
    let senders = Senders::default()
        .with(Channel::Sms, Arc::new(SnsSmsSender::new(rig.sns.clone(), None, None)))
        .with(Channel::Email, Arc::new(SesEmailSender::new(ses, FROM.into(), None)));
    let notifier = CustomerNotifier {
        contacts: rig.store.clone(),
        notifications: rig.store.clone(),
        sender: Arc::new(senders),
        settings,
    };
    let sink = Arc::new(shared::alerts::sink::sns::SnsSink::new(rig.sns.clone(), &rig.topic_arn));
    Arc::new(
        Pipeline::new(rig.store.clone(), sink, rig.clock.clone(), common::quick_settings())
            .with_customers(Arc::new(notifier)),
    )
}

fn brand() -> CustomerSettings {
    CustomerSettings {
        brand: "Travelsim".into(),
        ..Default::default()
    }
}

/// The SMS texts moto sent to `phone`.
async fn sms_to(phone: &str) -> Vec<String> {
    let data = moto_rig::moto_data().await;
    // Absent until moto sent the first one.
    data["sns"]["SMS"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|sms| sms["phone_number"] == phone)
        .map(|sms| sms["message"].as_str().unwrap().to_string())
        .collect()
}

/// The (subject, body) of the emails moto sent to `address`.
async fn email_to(address: &str) -> Vec<(String, String)> {
    let data = moto_rig::moto_data().await;
    data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["destinations"]["ToAddresses"][0] == address && m["source"] == FROM)
        .map(|m| {
            (
                m["subject"].as_str().unwrap().to_string(),
                m["body"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn low_data(esim: &str, id: &str) -> String {
    json!({"notifyType": "DATA_USAGE", "notifyId": id, "content": {"esimTranNo": esim,
           "totalVolume": 1073741824u64, "orderUsage": 966367642u64, "remain": 107374182u64}})
    .to_string()
}

/// Done when: a low-data delivery for an eSIM with a contact, 1000 copies at once, sends exactly one SMS to
/// that number and one email to that address, in the contact's language, the SMS within one GSM-7 part.
#[tokio::test]
async fn a_thousand_concurrent_copies_send_one_sms_and_one_email() {
    let rig = MotoRig::new("thousand", "2026-11-23T10:00:00Z").await;
    let phone = "+34611000001";
    let email = "claire@example.fr";
    let fields = [
        ("provider", "esimaccess"),
        ("esim_ref", "T-CLAIRE"),
        ("name", "Claire"),
        ("phone", phone),
        ("email", email),
        ("locale", "fr"),
        ("customer_id", "cus_claire"),
    ];
    rig.store.upsert(&contact(&fields)).await.unwrap();
    let service = Arc::new(Service::ready(
        common::fixture_provider(ProviderId::EsimAccess),
        pipeline(&rig, brand()).await,
        128 * 1024,
    ));
    let body = low_data("T-CLAIRE", "n-1");
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let service = service.clone();
            let delivery = common::signed_delivery(ProviderId::EsimAccess, &body, rig.clock.now());
            tokio::spawn(async move { service.handle(&delivery).await.status })
        })
        .collect();
    let mut statuses = std::collections::BTreeMap::new();
    for task in tasks {
        *statuses.entry(task.await.unwrap()).or_insert(0) += 1;
    }
    assert!(statuses.keys().all(|s| *s == 200 || *s == 503), "{statuses:?}");
    // The copies told to come back (a twin was still working) come back.
    let retry = common::signed_delivery(ProviderId::EsimAccess, &body, rig.clock.now());
    assert_eq!(service.handle(&retry).await.status, 200);

    let sms = sms_to(phone).await;
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert!(sms[0].starts_with("Travelsim: Bonjour Claire"), "{}", sms[0]);
    let measured = shared::alerts::sink::sms::measure(&sms[0]);
    assert_eq!(measured.segments, 1, "{measured:?}");
    let emails = email_to(email).await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert!(emails[0].0.starts_with("Travelsim"), "{:?}", emails[0]);
    assert!(
        !emails[0].1.contains("T-CLAIRE"),
        "no internal reference: {}",
        emails[0].1
    );
    let envelopes = rig.alerts().await;
    assert_eq!(envelopes.len(), 1);
    let alert: Value = serde_json::from_str(envelopes[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(alert["customer_id"], "cus_claire");
    assert!(!envelopes[0].to_string().contains(phone));
}

/// Done when: an Airalo `90%` notice for an eSIM already alerted at `10%` by amounts sends no second message.
#[tokio::test]
async fn an_airalo_notice_after_the_same_level_by_amounts_sends_nothing_more() {
    let rig = MotoRig::new("airalo-once", "2026-11-23T10:00:00Z").await;
    let phone = "+34611000002";
    let iccid = "8912345678901234502";
    rig.store
        .upsert(&contact(&[("provider", "airalo"), ("iccid", iccid), ("phone", phone)]))
        .await
        .unwrap();
    let pipeline = pipeline(&rig, brand()).await;
    pipeline
        .process(&common::airalo_reading(iccid, rig.clock.now()))
        .await
        .unwrap();
    assert_eq!(sms_to(phone).await.len(), 1);
    let service = Service::ready(common::fixture_provider(ProviderId::Airalo), pipeline, 128 * 1024);
    let notice = json!({"level": "90%", "package_name": common::AIRALO_PACKAGE, "remaining_percentage": 10,
                        "iccid": iccid})
    .to_string();
    let delivery = common::signed_delivery(ProviderId::Airalo, &notice, rig.clock.now());
    assert_eq!(service.handle(&delivery).await.status, 200);
    assert_eq!(sms_to(phone).await.len(), 1, "no second message");
}

/// Done when: with an injected clock, a message due at 23:00 local is sent at 08:00 local by the scheduled
/// run, once; an opted-out number and a removed contact get nothing.
#[tokio::test]
async fn quiet_hours_hold_a_message_in_the_outbox_until_morning_on_dynamodb() {
    // 22:00 UTC is 23:00 in Madrid.
    let rig = MotoRig::new("quiet", "2026-12-01T22:00:00Z").await;
    let madrid = |esim: &'static str, phone: &'static str| {
        contact(&[
            ("provider", "esimaccess"),
            ("esim_ref", esim),
            ("phone", phone),
            ("time_zone", "Europe/Madrid"),
            ("channels", "sms"),
        ])
    };
    // moto treats numbers ending in 99 as opted out.
    let (told, opted_out, removed) = ("+34611000003", "+34611000099", "+34611000004");
    for (esim, phone) in [("T-Q1", told), ("T-Q2", opted_out), ("T-Q3", removed)] {
        rig.store.upsert(&madrid(esim, phone)).await.unwrap();
    }
    let pipeline = pipeline(&rig, brand()).await;
    let service = Service::ready(
        common::fixture_provider(ProviderId::EsimAccess),
        pipeline.clone(),
        128 * 1024,
    );
    for esim in ["T-Q1", "T-Q2", "T-Q3"] {
        let delivery = common::signed_delivery(ProviderId::EsimAccess, &low_data(esim, esim), rig.clock.now());
        assert_eq!(service.handle(&delivery).await.status, 200);
    }
    assert!(sms_to(told).await.is_empty(), "nothing at night");
    assert_eq!(rig.alerts().await.len(), 3, "the operator is told at once");
    rig.store
        .remove(ProviderId::EsimAccess, &EsimRef::Esim("T-Q3".into()))
        .await
        .unwrap()
        .unwrap();

    rig.clock.set(common::instant("2026-12-02T06:45:00Z"));
    let early = pipeline.send_due_notifications().await.unwrap();
    assert_eq!(early.due, 0, "{early:?}");
    rig.clock.set(common::instant("2026-12-02T07:00:00Z"));
    // More than a run sends in place (two, here): the batch goes to the workers, one job a message.
    let handed = std::sync::Mutex::new(Vec::new());
    let queued = pipeline
        .send_due_notifications_or(2, |held| async {
            handed.lock().unwrap().extend(held);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!((queued.due, queued.queued, queued.sent), (3, 3, 0));
    assert!(sms_to(told).await.is_empty(), "handed over, not sent");
    let handed = handed.into_inner().unwrap();
    let mut morning = shared::customers::service::OutboxReport::default();
    for (alert, channel) in handed.iter().chain(handed.iter()) {
        let one = pipeline.send_queued_notification(alert, *channel).await.unwrap();
        (morning.due, morning.sent, morning.not_sent, morning.retry) = (
            morning.due + one.due,
            morning.sent + one.sent,
            morning.not_sent + one.not_sent,
            morning.retry + one.retry,
        );
    }
    assert_eq!(
        (morning.due, morning.sent, morning.not_sent, morning.retry),
        (3, 1, 2, 0),
        "each job once, a redelivered one sends nothing"
    );
    rig.clock.set(common::instant("2026-12-02T07:15:00Z"));
    let again = pipeline.send_due_notifications().await.unwrap();
    assert_eq!(again.due, 0, "{again:?}");

    assert_eq!(sms_to(told).await.len(), 1);
    assert!(sms_to(opted_out).await.is_empty());
    assert!(sms_to(removed).await.is_empty());
    let alerts = rig.store.list_alerts(&rig.window()).await.unwrap();
    let statuses: std::collections::BTreeMap<String, NotificationStatus> = alerts
        .iter()
        .flat_map(|a| a.notifications.iter())
        .map(|n| (n.to.clone(), n.status))
        .collect();
    assert_eq!(statuses[told], NotificationStatus::Sent);
    assert_eq!(statuses[opted_out], NotificationStatus::Failed);
    assert_eq!(statuses[removed], NotificationStatus::Skipped);
}

/// The SMS cap and erasure on DynamoDB: the cap counts per phone over a rolling 24 hours, racing senders
/// cannot both take the last allowance, and removing a contact masks it in the notification records that named
/// it.
#[tokio::test]
async fn the_sms_cap_counts_per_phone_over_24_hours_and_erasure_masks_past_records() {
    let rig = MotoRig::new("cap", "2026-11-23T10:00:00Z").await;
    let now = rig.clock.now();
    let store = rig.store.as_ref();
    let mut taken = Vec::new();
    for _ in 0..4 {
        taken.push(store.take_sms_allowance("+34611000005", now, 3).await.unwrap());
    }
    assert_eq!(taken, [true, true, true, false]);
    let almost = now + chrono::Duration::hours(24) - chrono::Duration::seconds(1);
    assert!(!store.take_sms_allowance("+34611000005", almost, 3).await.unwrap());
    let day_later = now + chrono::Duration::hours(24) + chrono::Duration::seconds(1);
    assert!(store.take_sms_allowance("+34611000005", day_later, 3).await.unwrap());
    assert!(store.take_sms_allowance("+34611000006", now, 3).await.unwrap());
    let racing: Vec<_> = (0..12)
        .map(|_| {
            let store = rig.store.clone();
            tokio::spawn(async move { store.take_sms_allowance("+34611000008", now, 3).await })
        })
        .collect();
    let mut granted = 0;
    for task in racing {
        // A sender that lost every round is told to retry (its delivery answers 503), never granted.
        granted += usize::from(task.await.unwrap().unwrap_or(false));
    }
    assert_eq!(granted, 3);

    let phone = "+34611000007";
    let fields = [
        ("provider", "esimaccess"),
        ("esim_ref", "T-ERASE"),
        ("phone", phone),
        ("email", "erase@example.com"),
    ];
    rig.store.upsert(&contact(&fields)).await.unwrap();
    let service = Service::ready(
        common::fixture_provider(ProviderId::EsimAccess),
        pipeline(&rig, brand()).await,
        128 * 1024,
    );
    let delivery = common::signed_delivery(ProviderId::EsimAccess, &low_data("T-ERASE", "n-e"), rig.clock.now());
    assert_eq!(service.handle(&delivery).await.status, 200);
    let removed = store
        .remove(ProviderId::EsimAccess, &EsimRef::Esim("T-ERASE".into()))
        .await
        .unwrap()
        .unwrap();
    let masked = shared::customers::service::mask_past_notifications(store, &removed)
        .await
        .unwrap();
    assert_eq!(masked, 2);
    let alerts = rig.store.list_alerts(&rig.window()).await.unwrap();
    let records = serde_json::to_string(&alerts).unwrap();
    assert!(
        !records.contains("611000007") && !records.contains("erase@example.com"),
        "{records}"
    );
    assert!(records.contains("SENT"));
}
