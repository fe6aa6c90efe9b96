//! Telling the customer through the real `Service` and `Pipeline` over in-memory adapters: one SMS and one
//! email per alert, whatever the duplicates; refusals recorded; transient failures retried by the provider.

use crate::common;

use common::*;
use serde_json::json;
use shared::alerts::sink::MemorySink;
use shared::clock::{Clock, FixedClock};
use shared::customers::records::{Channel, MemorySender, NotificationStatus, NotificationStore, SendFailure};
use shared::customers::service::CustomerNotifier;
use shared::customers::{Contact, ContactFields, ContactStore, CustomerSettings, EsimRef, QuietHours};
use shared::model::ProviderId;
use shared::pipeline::Pipeline;
use shared::service::Service;
use shared::store::{KvStore, ListQuery, MemoryBackend, StoreQuery};
use std::sync::Arc;

mod downstream;

const NOW: &str = "2026-11-23T10:00:00Z";

struct Rig {
    service: Arc<Service>,
    pipeline: Arc<Pipeline>,
    store: Arc<KvStore<MemoryBackend>>,
    sink: Arc<MemorySink>,
    sender: Arc<MemorySender>,
    clock: Arc<FixedClock>,
}

async fn rig(contact: Option<&[(&str, &str)]>) -> Rig {
    rig_with(contact, travelsim(), NOW).await
}

fn travelsim() -> CustomerSettings {
    CustomerSettings {
        brand: "Travelsim".into(),
        ..Default::default()
    }
}

async fn rig_with(contact: Option<&[(&str, &str)]>, settings: CustomerSettings, now: &str) -> Rig {
    let store = Arc::new(KvStore::in_memory());
    let sink = Arc::new(MemorySink::new());
    let sender = Arc::new(MemorySender::default());
    let clock = Arc::new(FixedClock::at_rfc3339(now));
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
        settings,
    });
    let pipeline =
        Arc::new(Pipeline::new(store.clone(), sink.clone(), clock.clone(), quick_settings()).with_customers(notifier));
    let service = Arc::new(Service::ready(
        fixture_provider(ProviderId::EsimAccess),
        pipeline.clone(),
        128 * 1024,
    ));
    Rig {
        service,
        pipeline,
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

    // Counted through the indexes as reading every alert and its messages counts them.
    let counts = rig.store.alert_counts(&ListQuery::default()).await.unwrap();
    let alerts = rig.store.list_alerts(&ListQuery::default()).await.unwrap();
    assert_eq!(counts, shared::store::read::count_alerts(&alerts));
    let esimaccess = &counts[&ProviderId::EsimAccess];
    assert_eq!(
        (
            esimaccess.alerts,
            esimaccess.sent,
            esimaccess.notifications_sent,
            esimaccess.notifications_failed
        ),
        (1, 1, 1, 1)
    );
    let later = ListQuery {
        since: Some(rig.clock.now() + chrono::Duration::minutes(1)),
        ..ListQuery::default()
    };
    assert!(rig.store.alert_counts(&later).await.unwrap().is_empty());
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

#[tokio::test]
async fn a_message_due_at_23_local_waits_for_08_local_and_goes_once() {
    // 22:00 UTC is 23:00 in Madrid.
    let rig = rig_with(Some(ANA), travelsim(), "2026-12-01T22:00:00Z").await;
    assert_eq!(post(&rig, &low_data("n-1")).await, 200);
    assert!(rig.sender.sent().is_empty(), "nothing at night");
    assert_eq!(rig.sink.published().len(), 1, "the operator is told at once");
    let alert = rig.sink.published().remove(0);
    let queued = rig.store.notifications(&alert.alert_id).await.unwrap();
    assert_eq!(queued.len(), 2);
    assert!(queued.iter().all(|n| n.status == NotificationStatus::Queued));
    assert_eq!(queued[0].due_at, Some(at("2026-12-02T07:00:00Z")), "08:00 in Madrid");
    // A redelivery at night queues nothing more.
    assert_eq!(post(&rig, &low_data("n-2")).await, 200);

    rig.clock.set(at("2026-12-02T06:59:00Z"));
    let early = rig.pipeline.send_due_notifications().await.unwrap();
    assert_eq!((early.due, early.sent), (0, 0));
    assert!(rig.sender.sent().is_empty());

    rig.clock.set(at("2026-12-02T07:00:00Z"));
    let morning = rig.pipeline.send_due_notifications().await.unwrap();
    assert_eq!((morning.due, morning.sent, morning.retry), (2, 2, 0));
    let sent = rig.sender.sent();
    assert_eq!(
        sent.iter().map(|s| s.0).collect::<Vec<_>>(),
        [Channel::Sms, Channel::Email]
    );
    assert!(sent[0].2.starts_with("Travelsim: Hola Ana"), "{}", sent[0].2);

    rig.clock.set(at("2026-12-02T07:15:00Z"));
    let again = rig.pipeline.send_due_notifications().await.unwrap();
    assert_eq!(again.due, 0, "sent once");
    assert_eq!(post(&rig, &low_data("n-3")).await, 200);
    assert_eq!(rig.sender.sent().len(), 2);
    let records = rig.store.notifications(&alert.alert_id).await.unwrap();
    assert!(records
        .iter()
        .all(|n| n.status == NotificationStatus::Sent && n.alert.is_none() && n.due_at.is_none()));
}

#[tokio::test]
async fn a_queued_message_fails_over_to_the_next_run_and_a_contact_removed_meanwhile_gets_nothing() {
    let rig = rig_with(Some(ANA), travelsim(), "2026-12-01T22:00:00Z").await;
    assert_eq!(post(&rig, &low_data("n-1")).await, 200);
    rig.clock.set(at("2026-12-02T07:30:00Z"));
    rig.sender.fail_next(vec![SendFailure::Transient("throttled".into())]);
    let first = rig.pipeline.send_due_notifications().await.unwrap();
    assert_eq!((first.sent, first.retry), (1, 1), "{first:?}");
    let second = rig.pipeline.send_due_notifications().await.unwrap();
    assert_eq!((second.due, second.sent), (1, 1), "the throttled one, on the next run");

    let rig = rig_with(Some(ANA), travelsim(), "2026-12-01T22:00:00Z").await;
    assert_eq!(post(&rig, &low_data("n-1")).await, 200);
    let removed = rig
        .store
        .remove(ProviderId::EsimAccess, &EsimRef::Esim("T-ANA".into()))
        .await
        .unwrap();
    assert!(removed.is_some());
    rig.clock.set(at("2026-12-02T07:30:00Z"));
    let report = rig.pipeline.send_due_notifications().await.unwrap();
    assert_eq!((report.due, report.sent, report.not_sent), (2, 0, 2));
    assert!(rig.sender.sent().is_empty());
}

#[tokio::test]
async fn at_most_the_daily_cap_of_sms_per_customer() {
    let settings = CustomerSettings {
        quiet_hours: None,
        sms_daily_cap: 2,
        ..travelsim()
    };
    let mut sms_only = ANA.to_vec();
    sms_only.push(("channels", "sms"));
    let rig = rig_with(Some(&sms_only), settings, NOW).await;
    // Three eSIMs of one customer (one phone) run low on one day.
    for esim in ["T-BOB", "T-CAT"] {
        let mut fields = sms_only.clone();
        fields[1] = ("esim_ref", esim);
        let value = serde_json::to_value(fields.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()).unwrap();
        let contact = Contact::from_fields(&serde_json::from_value::<ContactFields>(value).unwrap()).unwrap();
        rig.store.upsert(&contact).await.unwrap();
    }
    for esim in ["T-ANA", "T-BOB", "T-CAT"] {
        let body = json!({"notifyType": "DATA_USAGE", "notifyId": format!("n-{esim}"), "content": {"esimTranNo": esim,
               "totalVolume": 1073741824u64, "orderUsage": 966367642u64, "remain": 107374182u64}});
        assert_eq!(post(&rig, &body.to_string()).await, 200);
    }
    let alerts = rig.sink.published();
    assert_eq!(alerts.len(), 3, "{alerts:?}");
    assert_eq!(rig.sender.sent().len(), 2, "capped at 2 a day");
    let mut statuses = Vec::new();
    for alert in &alerts {
        statuses.extend(rig.store.notifications(&alert.alert_id).await.unwrap());
    }
    let skipped: Vec<_> = statuses
        .iter()
        .filter(|n| n.status == NotificationStatus::Skipped)
        .collect();
    assert!(!skipped.is_empty());
    assert_eq!(
        skipped[0].error.as_deref(),
        Some("SMS cap of 2 in 24 hours reached for this number")
    );
}

#[tokio::test]
async fn the_operators_alert_names_the_customer_id_and_nothing_else_of_the_contact() {
    let mut with_id = ANA.to_vec();
    with_id.push(("customer_id", "cus_42"));
    let rig = rig(Some(&with_id)).await;
    assert_eq!(post(&rig, &low_data("n-1")).await, 200);
    let alert = rig.sink.published().remove(0);
    assert_eq!(alert.customer_id.as_deref(), Some("cus_42"));
    let document = serde_json::to_string(&alert).unwrap();
    assert!(
        !document.contains("612345678") && !document.contains("ana@"),
        "{document}"
    );
}

#[tokio::test]
async fn turned_off_no_contact_is_looked_up_and_nobody_is_told() {
    let settings = CustomerSettings {
        enabled: false,
        ..travelsim()
    };
    let rig = rig_with(Some(ANA), settings, NOW).await;
    assert_eq!(post(&rig, &low_data("n-1")).await, 200);
    assert!(rig.sender.sent().is_empty());
    let alert = rig.sink.published().remove(0);
    assert_eq!(alert.customer_id, None);
}

#[tokio::test]
async fn removing_a_contact_masks_it_in_past_notifications() {
    let rig = rig(Some(ANA)).await;
    assert_eq!(post(&rig, &low_data("n-1")).await, 200);
    let contact = rig
        .store
        .remove(ProviderId::EsimAccess, &EsimRef::Esim("T-ANA".into()))
        .await
        .unwrap()
        .unwrap();
    let masked = shared::customers::service::mask_past_notifications(rig.store.as_ref(), &contact)
        .await
        .unwrap();
    assert_eq!(masked, 2);
    let alert = rig.sink.published().remove(0);
    let records = rig.store.notifications(&alert.alert_id).await.unwrap();
    let document = serde_json::to_string(&records).unwrap();
    assert!(
        !document.contains("612345678") && !document.contains("ana@example.es"),
        "{document}"
    );
    assert!(records.iter().all(|n| n.status == NotificationStatus::Sent));
    assert_eq!(QuietHours::parse("off"), Ok(None));
}

fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

#[tokio::test]
async fn the_operators_own_words_from_a_file_and_a_language_of_their_own() {
    let file = std::env::temp_dir().join(format!("esimhooks-messages-{}.json", std::process::id()));
    std::fs::write(
        &file,
        r#"{"pt": {"greeting_named": "Olá {name},", "low_data_amount": "{greeting} restam {data_left} em {plan}."}}"#,
    )
    .unwrap();
    let path = file.display().to_string();
    let env = |name: &str| (name == "ESIMHOOKS_MESSAGES_FILE").then(|| path.clone());
    let settings = shared::config::Settings::from_env(&env).unwrap().customers;
    std::fs::remove_file(&file).unwrap();
    let mut portuguese = ANA.to_vec();
    portuguese[6] = ("locale", "pt-BR");
    let rig = rig_with(
        Some(&portuguese),
        CustomerSettings {
            brand: "Travelsim".into(),
            ..settings
        },
        NOW,
    )
    .await;
    assert_eq!(post(&rig, &low_data("n-1")).await, 200);
    let sent = rig.sender.sent();
    // The SMS folds the wording's `á` into GSM-7: 160 septets a part, not 70 UCS-2 units.
    assert_eq!(
        sent[0].2, "Travelsim: Ola Ana, restam 102 MB em your eSIM plan.",
        "{sent:?}"
    );

    let broken = |name: &str| (name == "ESIMHOOKS_MESSAGES_FILE").then(|| "/nonexistent/messages.json".to_string());
    assert!(shared::config::Settings::from_env(&broken).is_err());
}

/// Counts the directory reads the pipeline makes.
struct CountingLookup {
    inner: Arc<KvStore<MemoryBackend>>,
    reads: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl shared::customers::ContactLookup for CountingLookup {
    async fn find(&self, provider: ProviderId, refs: &[EsimRef]) -> Result<Option<Contact>, shared::store::StoreError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.find(provider, refs).await
    }
}

/// The cost of the directory on the delivery path: one read per alert raised (none for a delivery that raises
/// none, none at all when turned off).
#[tokio::test]
async fn one_directory_read_per_alert_and_none_without_one() {
    for enabled in [true, false] {
        let store = Arc::new(KvStore::in_memory());
        let lookup = Arc::new(CountingLookup {
            inner: store.clone(),
            reads: Default::default(),
        });
        let notifier = Arc::new(CustomerNotifier {
            contacts: lookup.clone(),
            notifications: store.clone(),
            sender: Arc::new(MemorySender::default()),
            settings: CustomerSettings { enabled, ..travelsim() },
        });
        let clock = Arc::new(FixedClock::at_rfc3339(NOW));
        let pipeline = Pipeline::new(
            store.clone(),
            Arc::new(MemorySink::new()),
            clock.clone(),
            quick_settings(),
        )
        .with_customers(notifier);
        let service = Service::ready(fixture_provider(ProviderId::EsimAccess), Arc::new(pipeline), 128 * 1024);
        let quiet = json!({"notifyType": "DATA_USAGE", "notifyId": "n-0", "eventGenerateTime": "2026-11-23T09:00:00Z", "content": {"esimTranNo": "T-ANA",
                           "totalVolume": 1073741824u64, "orderUsage": 1000, "remain": 1073740824u64}});
        for body in [quiet.to_string(), low_data("n-1"), low_data("n-1")] {
            let delivery = signed_delivery(ProviderId::EsimAccess, &body, clock.now());
            assert_eq!(service.handle(&delivery).await.status, 200);
        }
        let reads = lookup.reads.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(reads, if enabled { 1 } else { 0 }, "enabled: {enabled}");
    }
}
