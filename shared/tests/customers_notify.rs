//! Telling the customer through the real `Service` and `Pipeline` over in-memory adapters: one SMS and one
//! email per alert, whatever the duplicates; refusals recorded; transient failures retried by the provider.

mod common;

use common::*;
use serde_json::json;
use shared::clock::{Clock, FixedClock};
use shared::customers::notify::{
    Channel, CustomerNotifier, MemorySender, NotificationStatus, NotificationStore, SendFailure,
};
use shared::customers::{Contact, ContactFields, ContactStore};
use shared::model::ProviderId;
use shared::notify::MemorySink;
use shared::pipeline::Pipeline;
use shared::service::Service;
use shared::store::{KvStore, ListQuery, MemoryBackend, StoreQuery};
use std::sync::Arc;

const NOW: &str = "2026-11-23T10:00:00Z";

struct Rig {
    service: Arc<Service>,
    store: Arc<KvStore<MemoryBackend>>,
    sink: Arc<MemorySink>,
    sender: Arc<MemorySender>,
    clock: Arc<FixedClock>,
}

async fn rig(contact: Option<&[(&str, &str)]>) -> Rig {
    let store = Arc::new(KvStore::in_memory());
    let sink = Arc::new(MemorySink::new());
    let sender = Arc::new(MemorySender::default());
    let clock = Arc::new(FixedClock::at_rfc3339(NOW));
    if let Some(pairs) = contact {
        let value = serde_json::Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
                .collect(),
        );
        let contact = Contact::from_fields(&serde_json::from_value::<ContactFields>(value).unwrap()).unwrap();
        store.upsert(&contact).await.unwrap();
    }
    let notifier = Arc::new(CustomerNotifier {
        contacts: store.clone(),
        notifications: store.clone(),
        sender: sender.clone(),
        brand: "Travelsim".into(),
        sms_parts: 1,
    });
    let pipeline = Pipeline::new(store.clone(), sink.clone(), clock.clone(), quick_settings()).with_customers(notifier);
    let service = Arc::new(Service::ready(
        esimaccess_provider(false),
        Arc::new(pipeline),
        128 * 1024,
    ));
    Rig {
        service,
        store,
        sink,
        sender,
        clock,
    }
}

const ANA: &[(&str, &str)] = &[
    ("provider", "esimaccess"),
    ("esim_ref", "T-ANA"),
    ("name", "Ana"),
    ("phone", "+34612345678"),
    ("email", "ana@example.es"),
    ("locale", "es"),
    ("time_zone", "Europe/Madrid"),
];

fn low_data(id: &str) -> String {
    json!({"notifyType": "DATA_USAGE", "notifyId": id, "eventGenerateTime": "2026-11-23T09:59:00Z",
           "content": {"iccid": "8943108170001029631", "esimTranNo": "T-ANA", "transactionId": "tx-ana",
                       "totalVolume": 1073741824, "orderUsage": 966367642, "remain": 107374182}})
    .to_string()
}

async fn post(rig: &Rig, body: &str) -> u16 {
    rig.service
        .handle(&signed_delivery(ProviderId::EsimAccess, body, rig.clock.now()))
        .await
        .status
}

#[tokio::test]
async fn a_low_data_alert_reaches_the_customer_once_per_channel_whatever_the_copies() {
    let rig = rig(Some(ANA)).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let service = rig.service.clone();
            let delivery = signed_delivery(ProviderId::EsimAccess, &low_data("n-1"), rig.clock.now());
            tokio::spawn(async move { service.handle(&delivery).await.status })
        })
        .collect();
    for task in tasks {
        let status = task.await.unwrap();
        assert!(status == 200 || status == 503, "{status}");
    }
    // Copies that met a twin still working were told to retry: their retries.
    assert_eq!(post(&rig, &low_data("n-1")).await, 200);
    // Another delivery of the same situation names the same alert.
    assert_eq!(post(&rig, &low_data("n-2")).await, 200);

    let sent = rig.sender.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let (sms, email) = (&sent[0], &sent[1]);
    assert_eq!((sms.0, sms.1.as_str()), (Channel::Sms, "+34612345678"));
    assert!(
        sms.2
            .starts_with("Travelsim: Hola Ana: a tu plan eSIM le quedan 102 MB"),
        "{}",
        sms.2
    );
    assert_eq!((email.0, email.1.as_str()), (Channel::Email, "ana@example.es"));
    assert_eq!(rig.sink.published().len(), 1, "the operator topic: one alert");

    let alert = rig.sink.published().remove(0);
    let mut records = rig.store.notifications(&alert.alert_id).await.unwrap();
    records.sort_by_key(|r| r.channel);
    assert_eq!(records.len(), 2);
    assert!(records
        .iter()
        .all(|r| r.status == NotificationStatus::Sent && r.message_id.is_some()));
    assert_eq!(records[0].sent_at, Some(rig.clock.now()));
}

#[tokio::test]
async fn an_esim_without_a_contact_behaves_as_before() {
    let rig = rig(None).await;
    assert_eq!(post(&rig, &low_data("n-1")).await, 200);
    assert!(rig.sender.sent().is_empty());
    assert_eq!(rig.sink.published().len(), 1);
}

#[tokio::test]
async fn a_refusal_is_recorded_and_not_retried_and_a_transient_failure_is_retried_by_the_provider() {
    let rig = rig(Some(ANA)).await;
    rig.sender.fail_next(vec![
        SendFailure::Permanent("the number is not valid".into()),
        SendFailure::Transient("throttled".into()),
    ]);
    // SMS refused for good (recorded), email throttled: the delivery answers 503 so the provider retries.
    assert_eq!(post(&rig, &low_data("n-1")).await, 503);
    assert_eq!(post(&rig, &low_data("n-1")).await, 200);
    let sent = rig.sender.sent();
    assert_eq!(
        sent.len(),
        1,
        "the email, on the retry; the refused SMS is not tried again: {sent:?}"
    );
    assert_eq!(sent[0].0, Channel::Email);
    assert_eq!(rig.sink.published().len(), 1);
    let alert = rig.sink.published().remove(0);
    let sms = rig
        .store
        .notifications(&alert.alert_id)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.channel == Channel::Sms)
        .unwrap();
    assert_eq!(sms.status, NotificationStatus::Failed);
    assert_eq!(sms.error.as_deref(), Some("the number is not valid"));
    let stored = rig.store.list_deliveries(&ListQuery::default()).await.unwrap();
    assert_eq!(stored.len(), 1);
}

#[tokio::test]
async fn only_the_channels_the_contact_allows() {
    let mut email_only = ANA.to_vec();
    email_only.push(("channels", "email"));
    let rig = rig(Some(&email_only)).await;
    assert_eq!(post(&rig, &low_data("n-1")).await, 200);
    let sent = rig.sender.sent();
    assert_eq!(sent.iter().map(|s| s.0).collect::<Vec<_>>(), [Channel::Email]);
}
