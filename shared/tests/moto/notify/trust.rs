//! What the customer can trust, on DynamoDB through the production pipeline: one cap per phone number across
//! time zones, quiet hours judged again where the contact is when the outbox sends, and a message left being
//! sent by a crash sent again and marked.

use super::{contact, low_data, pipeline, sms_to, MotoRig};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shared::clock::Clock;
use shared::customers::records::{
    Channel, MemorySender, NotificationClaim, NotificationRecord, NotificationStatus, NotificationStore,
};
use shared::customers::service::CustomerNotifier;
use shared::customers::{ContactStore, CustomerSettings};
use shared::model::ProviderId;
use shared::pipeline::Pipeline;
use shared::service::Service;
use shared::store::dynamodb::DynamoStore;
use shared::store::{StoreError, StoreQuery};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn settings(quiet_hours: Option<shared::customers::QuietHours>) -> CustomerSettings {
    CustomerSettings {
        brand: "Travelsim".into(),
        quiet_hours,
        ..Default::default()
    }
}

fn sms_contact(esim: &str, phone: &str, zone: &str) -> shared::customers::Contact {
    contact(&[
        ("provider", "esimaccess"),
        ("esim_ref", esim),
        ("phone", phone),
        ("time_zone", zone),
        ("channels", "sms"),
    ])
}

async fn deliver(service: &Service, rig: &MotoRig, esim: &str) -> u16 {
    let delivery = super::common::signed_delivery(ProviderId::EsimAccess, &low_data(esim, esim), rig.clock.now());
    service.handle(&delivery).await.status
}

#[tokio::test]
async fn nine_contacts_sharing_a_phone_in_three_zones_get_three_sms() {
    // 23:30 UTC: tomorrow in Madrid and Tokyo, today in Los Angeles.
    let rig = MotoRig::new("cap-zones", "2026-12-01T23:30:00Z").await;
    let phone = "+34611000030";
    let zones = ["Europe/Madrid", "America/Los_Angeles", "Asia/Tokyo"];
    for i in 0..9 {
        let esim = format!("T-N{i}");
        rig.store
            .upsert(&sms_contact(&esim, phone, zones[i % 3]))
            .await
            .unwrap();
    }
    let service = Service::ready(
        super::common::fixture_provider(ProviderId::EsimAccess),
        pipeline(&rig, settings(None)).await,
        128 * 1024,
    );
    for i in 0..9 {
        assert_eq!(deliver(&service, &rig, &format!("T-N{i}")).await, 200);
    }
    assert_eq!(sms_to(phone).await.len(), 3);
    let alerts = rig.store.list_alerts(&rig.window()).await.unwrap();
    let skipped = alerts
        .iter()
        .flat_map(|a| a.notifications.iter())
        .filter(|n| n.status == NotificationStatus::Skipped)
        .count();
    assert_eq!(skipped, 6);
}

#[tokio::test]
async fn a_held_message_waits_again_when_the_contact_moved_into_night() {
    // 22:05 UTC is 23:05 in Madrid.
    let rig = MotoRig::new("quiet-moved", "2026-12-01T22:05:00Z").await;
    let phone = "+34611000031";
    rig.store
        .upsert(&sms_contact("T-MOVED", phone, "Europe/Madrid"))
        .await
        .unwrap();
    let pipeline = pipeline(&rig, settings(Some(Default::default()))).await;
    let service = Service::ready(
        super::common::fixture_provider(ProviderId::EsimAccess),
        pipeline.clone(),
        128 * 1024,
    );
    assert_eq!(deliver(&service, &rig, "T-MOVED").await, 200);
    rig.store
        .upsert(&sms_contact("T-MOVED", phone, "America/Los_Angeles"))
        .await
        .unwrap();
    // 07:00 UTC: morning in Madrid, 23:00 in Los Angeles.
    rig.clock.set(super::common::instant("2026-12-02T07:00:00Z"));
    let report = pipeline.send_due_notifications().await.unwrap();
    assert_eq!((report.due, report.sent, report.held), (1, 0, 1), "{report:?}");
    assert!(sms_to(phone).await.is_empty());
    rig.clock.set(super::common::instant("2026-12-02T16:00:00Z"));
    let report = pipeline.send_due_notifications().await.unwrap();
    assert_eq!((report.due, report.sent), (1, 1), "{report:?}");
    assert_eq!(sms_to(phone).await.len(), 1);
}

/// The table, with the first record of a sent message lost: what a crash between the channel's answer and
/// the record leaves.
struct LosesFirstRecord {
    table: Arc<DynamoStore>,
    lost: AtomicBool,
}

#[async_trait]
impl NotificationStore for LosesFirstRecord {
    async fn claim_notification(
        &self,
        record: &NotificationRecord,
        now: DateTime<Utc>,
    ) -> Result<NotificationClaim, StoreError> {
        self.table.claim_notification(record, now).await
    }
    async fn mark_sending(&self, record: &NotificationRecord, attempt: &str) -> Result<bool, StoreError> {
        self.table.mark_sending(record, attempt).await
    }
    async fn finish_notification(&self, record: &NotificationRecord, attempt: &str) -> Result<(), StoreError> {
        if record.status == NotificationStatus::Sent && !self.lost.swap(true, Ordering::SeqCst) {
            return Err(StoreError::Unavailable("the process stopped here".into()));
        }
        self.table.finish_notification(record, attempt).await
    }
    async fn release_notification(&self, alert_id: &str, channel: Channel, attempt: &str) -> Result<(), StoreError> {
        self.table.release_notification(alert_id, channel, attempt).await
    }
    async fn notifications(&self, alert_id: &str) -> Result<Vec<NotificationRecord>, StoreError> {
        self.table.notifications(alert_id).await
    }
    async fn due_notifications(&self, now: DateTime<Utc>) -> Result<Vec<NotificationRecord>, StoreError> {
        self.table.due_notifications(now).await
    }
    async fn claim_due(&self, record: &NotificationRecord, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.table.claim_due(record, now).await
    }
    async fn take_sms_allowance(&self, to: &str, now: DateTime<Utc>, cap: u32) -> Result<bool, StoreError> {
        self.table.take_sms_allowance(to, now, cap).await
    }
    async fn mask_recipient(&self, to: &str, masked: &str) -> Result<usize, StoreError> {
        self.table.mask_recipient(to, masked).await
    }
}

#[tokio::test]
async fn a_crash_between_send_and_record_sends_again_marked_as_a_possible_duplicate() {
    let rig = MotoRig::new("crash-send", "2026-12-01T12:00:00Z").await;
    let phone = "+34611000032";
    rig.store
        .upsert(&sms_contact("T-CRASH", phone, "Europe/Madrid"))
        .await
        .unwrap();
    let sender = Arc::new(MemorySender::default());
    let notifier = CustomerNotifier {
        contacts: rig.store.clone(),
        notifications: Arc::new(LosesFirstRecord {
            table: rig.store.clone(),
            lost: AtomicBool::new(false),
        }),
        sender: sender.clone(),
        settings: settings(None),
    };
    let sink = Arc::new(shared::alerts::sink::sns::SnsSink::new(rig.sns.clone(), &rig.topic_arn));
    let pipeline = Arc::new(
        Pipeline::new(
            rig.store.clone(),
            sink,
            rig.clock.clone(),
            super::common::quick_settings(),
        )
        .with_customers(Arc::new(notifier)),
    );
    let service = Service::ready(
        super::common::fixture_provider(ProviderId::EsimAccess),
        pipeline,
        128 * 1024,
    );
    assert_eq!(
        deliver(&service, &rig, "T-CRASH").await,
        503,
        "the record was lost: the provider retries"
    );
    assert_eq!(sender.sent().len(), 1);
    let alerts = rig.store.list_alerts(&rig.window()).await.unwrap();
    let left = &alerts[0].notifications[0];
    assert!(
        left.status == NotificationStatus::Claimed && left.sending_at.is_some(),
        "{left:?}"
    );

    rig.clock.set(super::common::instant("2026-12-01T12:05:00Z"));
    assert_eq!(deliver(&service, &rig, "T-CRASH").await, 200);
    assert_eq!(
        sender.sent().len(),
        2,
        "sent again: a late duplicate beats a customer never told"
    );
    let alerts = rig.store.list_alerts(&rig.window()).await.unwrap();
    let sent = &alerts[0].notifications[0];
    assert_eq!(sent.status, NotificationStatus::Sent);
    assert!(sent.possible_duplicate, "{sent:?}");
    rig.clock.set(super::common::instant("2026-12-01T12:10:00Z"));
    assert_eq!(deliver(&service, &rig, "T-CRASH").await, 200);
    assert_eq!(sender.sent().len(), 2, "recorded: never a third");
}
