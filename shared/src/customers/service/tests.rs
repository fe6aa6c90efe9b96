//! The customer side's rules on the in-memory store: the SMS cap per number across zones, quiet hours judged
//! again when the outbox sends, and what a crash between sending and recording leaves.

use super::*;
use crate::alerts::{Alert, AlertType, ALERT_SCHEMA_VERSION};
use crate::customers::records::{MemorySender, NotificationStatus};
use crate::customers::{ContactFields, ContactStore, CustomerSettings, QuietHours};
use crate::model::{DataUsage, DedupeKey, EsimIdentity, ProviderId};
use crate::store::{KvStore, MemoryBackend};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn lease(attempt: &str, now: DateTime<Utc>) -> Lease {
    Lease {
        attempt: attempt.into(),
        until: now + chrono::Duration::minutes(2),
    }
}

fn contact(esim: &str, phone: &str, zone: &str) -> Contact {
    Contact::from_fields(&ContactFields {
        provider: Some("esimaccess".into()),
        esim_ref: Some(esim.into()),
        phone: Some(phone.into()),
        time_zone: Some(zone.into()),
        channels: Some("sms".into()),
        ..ContactFields::default()
    })
    .unwrap()
}

fn alert(esim: &str, now: DateTime<Utc>) -> Alert {
    Alert {
        schema_version: ALERT_SCHEMA_VERSION,
        alert_id: format!("esimaccess#{esim}#-#low_data#10%"),
        alert_type: AlertType::LowData,
        level: "10%".into(),
        provider_level: None,
        provider: ProviderId::EsimAccess,
        esim: Some(EsimIdentity {
            key: esim.into(),
            iccid: None,
            refs: Default::default(),
        }),
        bundle: None,
        usage: Some(DataUsage {
            remaining_ratio: Some(0.1),
            ..DataUsage::default()
        }),
        expires_at: None,
        balance: None,
        event_dedupe_key: DedupeKey::provider_id(esim),
        occurred_at: now,
        raised_at: now,
        former_alert_id: None,
        customer_id: None,
        partner_id: None,
    }
}

struct Rig {
    store: Arc<KvStore<MemoryBackend>>,
    sender: Arc<MemorySender>,
    notifier: CustomerNotifier,
}

fn rig(quiet_hours: Option<QuietHours>) -> Rig {
    let store = Arc::new(KvStore::in_memory());
    let sender = Arc::new(MemorySender::default());
    let notifier = CustomerNotifier {
        contacts: store.clone(),
        notifications: store.clone(),
        sender: sender.clone(),
        settings: CustomerSettings {
            quiet_hours,
            sms_daily_cap: 3,
            ..CustomerSettings::default()
        },
    };
    Rig {
        store,
        sender,
        notifier,
    }
}

impl Rig {
    async fn tell(&self, esim: &str, now: DateTime<Utc>) -> Result<usize, NotifyError> {
        let alert = alert(esim, now);
        let contact = self.notifier.contact_for(&alert).await.unwrap().unwrap();
        self.notifier.notify(&alert, &contact, &lease(esim, now), now).await
    }

    async fn record(&self, esim: &str) -> NotificationRecord {
        let id = alert(esim, at("2026-12-01T00:00:00Z")).alert_id;
        self.store.notifications(&id).await.unwrap().remove(0)
    }
}

#[tokio::test]
async fn nine_contacts_sharing_a_phone_in_three_zones_get_the_cap_not_three_caps() {
    let rig = rig(None);
    let phone = "+34611000020";
    let zones = ["Europe/Madrid", "America/Los_Angeles", "Asia/Tokyo"];
    for i in 0..9 {
        rig.store
            .upsert(&contact(&format!("T-Z{i}"), phone, zones[i % 3]))
            .await
            .unwrap();
    }
    // 23:30 UTC: already tomorrow in Tokyo, still today in Madrid and Los Angeles.
    let now = at("2026-12-01T23:30:00Z");
    for i in 0..9 {
        rig.tell(&format!("T-Z{i}"), now).await.unwrap();
    }
    assert_eq!(rig.sender.sent().len(), 3, "{:?}", rig.sender.sent());
    let mut skipped = 0;
    for i in 0..9 {
        skipped += usize::from(rig.record(&format!("T-Z{i}")).await.status == NotificationStatus::Skipped);
    }
    assert_eq!(skipped, 6);
    // The window rolls: 24 hours after the first three, the number may have three more.
    rig.store.upsert(&contact("T-NEXT", phone, "Asia/Tokyo")).await.unwrap();
    rig.tell("T-NEXT", now + chrono::Duration::hours(23)).await.unwrap();
    assert_eq!(rig.sender.sent().len(), 3, "still within 24 hours");
    rig.store
        .upsert(&contact("T-LATER", phone, "Asia/Tokyo"))
        .await
        .unwrap();
    rig.tell("T-LATER", now + chrono::Duration::hours(24)).await.unwrap();
    assert_eq!(rig.sender.sent().len(), 4);
}

#[tokio::test]
async fn quiet_hours_are_judged_again_in_the_contacts_zone_when_the_outbox_sends() {
    let rig = rig(Some(QuietHours::default()));
    let phone = "+34611000021";
    rig.store
        .upsert(&contact("T-MOVE", phone, "Europe/Madrid"))
        .await
        .unwrap();
    // 22:05 UTC is 23:05 in Madrid: held until 08:00 Madrid (07:00 UTC).
    rig.tell("T-MOVE", at("2026-12-01T22:05:00Z")).await.unwrap();
    assert!(rig.sender.sent().is_empty());
    rig.store
        .upsert(&contact("T-MOVE", phone, "America/Los_Angeles"))
        .await
        .unwrap();
    // 07:00 UTC is 23:00 in Los Angeles: held again, until 08:00 there (16:00 UTC).
    let morning = at("2026-12-02T07:00:00Z");
    let report = rig.notifier.send_due(&lease("run-1", morning), morning).await.unwrap();
    assert_eq!((report.due, report.sent, report.held), (1, 0, 1), "{report:?}");
    assert!(rig.sender.sent().is_empty(), "not at 23:00 where the customer is");
    let record = rig.record("T-MOVE").await;
    assert_eq!(
        (record.status, record.due_at),
        (NotificationStatus::Queued, Some(at("2026-12-02T16:00:00Z")))
    );
    let early = at("2026-12-02T15:45:00Z");
    let report = rig.notifier.send_due(&lease("run-2", early), early).await.unwrap();
    assert_eq!(report.due, 0, "{report:?}");
    let later = at("2026-12-02T16:00:00Z");
    let report = rig.notifier.send_due(&lease("run-3", later), later).await.unwrap();
    assert_eq!((report.due, report.sent), (1, 1), "{report:?}");
    assert_eq!(rig.sender.sent().len(), 1);
}

#[tokio::test]
async fn a_message_left_being_sent_by_a_crash_is_sent_again_and_marked_a_possible_duplicate() {
    let rig = rig(None);
    rig.store
        .upsert(&contact("T-CRASH", "+34611000022", "Europe/Madrid"))
        .await
        .unwrap();
    let now = at("2026-12-01T12:00:00Z");
    let alert = alert("T-CRASH", now);
    // The attempt that crashed: claimed and marked as being sent, then nothing more was recorded.
    let crashed = lease("crashed", now);
    let mut record = NotificationRecord::claimed(&alert, Channel::Sms, "+34611000022", None, &crashed);
    assert!(matches!(
        rig.store.claim_notification(&record, now).await.unwrap(),
        NotificationClaim::Claimed {
            after_send_began: false
        }
    ));
    record.sending_at = Some(now);
    assert!(rig.store.mark_sending(&record, &crashed.attempt).await.unwrap());

    let retry_at = crashed.until + chrono::Duration::seconds(1);
    assert_eq!(
        rig.tell("T-CRASH", retry_at).await.unwrap(),
        1,
        "a late duplicate beats never"
    );
    let sent = rig.record("T-CRASH").await;
    assert_eq!(sent.status, NotificationStatus::Sent);
    assert!(sent.possible_duplicate, "{sent:?}");

    // An attempt that never began sending leaves no such mark.
    rig.store
        .upsert(&contact("T-CLEAN", "+34611000023", "Europe/Madrid"))
        .await
        .unwrap();
    rig.tell("T-CLEAN", now).await.unwrap();
    let clean = rig.record("T-CLEAN").await;
    assert!(clean.sending_at.is_some() && !clean.possible_duplicate, "{clean:?}");
}

#[tokio::test]
async fn a_claim_taken_over_by_another_attempt_is_not_sent_by_the_first() {
    let rig = rig(None);
    rig.store
        .upsert(&contact("T-LOST", "+34611000024", "Europe/Madrid"))
        .await
        .unwrap();
    let now = at("2026-12-01T12:00:00Z");
    let alert = alert("T-LOST", now);
    let contact = rig.notifier.contact_for(&alert).await.unwrap().unwrap();
    let mut record = NotificationRecord::claimed(&alert, Channel::Sms, "+34611000024", None, &lease("other", now));
    record.sending_at = Some(now);
    // Our attempt's claim is replaced before it marks the message as being sent.
    assert!(!rig.store.mark_sending(&record, "ours").await.unwrap());
    rig.store.claim_notification(&record, now).await.unwrap();
    let message = rig.notifier.message(&alert, &contact).unwrap();
    let mut ours = record.clone();
    ours.attempt = Some("ours".into());
    assert!(matches!(
        rig.notifier.deliver(ours, &message, "ours", now).await,
        Err(NotifyError::Busy("sms"))
    ));
    assert!(rig.sender.sent().is_empty());
}
