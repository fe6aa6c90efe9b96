//! `NotificationStore`: a message per (alert, channel) is claimed once (a queued, failed or skipped one counts
//! as done), marked as being sent and finished by its holder only, released for the next attempt, and taken
//! over when its lease ends (flagged when the stopped attempt had begun sending); the outbox gives each due
//! message once; the SMS allowance counts a rolling 24 hours per number; erasure masks the recipient; and the
//! alert listings show who was told.

use super::{lease, low_data_alert, reading};
use chrono::{DateTime, Duration, Utc};
use shared::alerts::Alert;
use shared::customers::records::{
    Channel, NotificationClaim, NotificationRecord, NotificationStatus, NotificationStore,
};
use shared::model::ProviderId;
use shared::store::{EventStore, ListQuery, StoreQuery};

macro_rules! contracts {
    ($port:expr, [$($ignored:tt)*]) => {
        crate::common::conformance::emit!(notifications, $port, [
            a_message_is_claimed_once_per_channel_and_finished_by_its_holder,
            a_stopped_send_is_taken_over_and_flagged,
            the_outbox_gives_each_due_message_once,
            the_sms_allowance_counts_a_rolling_day_per_number,
            erasure_masks_the_recipient_in_every_record,
            alerts_are_listed_with_who_was_told,
        ], [$($ignored)*]);
    };
}
pub(crate) use contracts;

const PHONE: &str = "+34612345678";
const EMAIL: &str = "ana@example.com";

fn alert(iccid: &str, at: DateTime<Utc>) -> Alert {
    low_data_alert(&reading(
        ProviderId::Airalo,
        iccid,
        &format!("low-{iccid}"),
        at,
        100_000_000,
    ))
}

/// `alert`'s message by `channel` claimed by `attempt` until `until`: to the phone by SMS, else to the email
/// address (the store keeps the address whatever the channel).
fn claimed(alert: &Alert, channel: Channel, attempt: &str, until: DateTime<Utc>) -> NotificationRecord {
    let to = if channel == Channel::Sms { PHONE } else { EMAIL };
    NotificationRecord::claimed(alert, channel, to, Some("cust-1".into()), &lease(attempt, until))
}

fn done(mut record: NotificationRecord, status: NotificationStatus, at: DateTime<Utc>) -> NotificationRecord {
    record.status = status;
    record.message_id = Some(format!("id-{}", record.channel.as_str()));
    record.sent_at = Some(at);
    record.attempt = None;
    record.lease_until = None;
    record
}

/// An alert's records, by channel.
async fn told<S: NotificationStore + ?Sized>(store: &S, alert: &Alert) -> Vec<NotificationRecord> {
    let mut records = store.notifications(&alert.alert_id).await.unwrap();
    records.sort_by_key(|r| r.channel);
    records
}

const FRESH: NotificationClaim = NotificationClaim::Claimed {
    after_send_began: false,
};

pub async fn a_message_is_claimed_once_per_channel_and_finished_by_its_holder<S: NotificationStore + ?Sized>(
    store: &S,
    now: DateTime<Utc>,
) {
    let alert = alert("8944000000000000301", now);
    let until = now + Duration::minutes(1);
    let sms = claimed(&alert, Channel::Sms, "first", until);
    assert_eq!(store.claim_notification(&sms, now).await.unwrap(), FRESH);
    let twin = claimed(&alert, Channel::Sms, "twin", until);
    assert_eq!(
        store.claim_notification(&twin, now).await.unwrap(),
        NotificationClaim::InProgress
    );
    let email = claimed(&alert, Channel::Email, "twin", until);
    assert_eq!(
        store.claim_notification(&email, now).await.unwrap(),
        FRESH,
        "each channel its own"
    );

    let mut sending = sms.clone();
    sending.sending_at = Some(now);
    assert!(!store.mark_sending(&sending, "twin").await.unwrap(), "not the twin's");
    assert!(store.mark_sending(&sending, "first").await.unwrap());
    store
        .finish_notification(&done(sending.clone(), NotificationStatus::Sent, now), "twin")
        .await
        .unwrap();
    assert_eq!(told(store, &alert).await[0], sending, "a lost lease finishes nothing");
    let sent = done(sending, NotificationStatus::Sent, now);
    store.finish_notification(&sent, "first").await.unwrap();
    let failed = done(email, NotificationStatus::Failed, now);
    store.finish_notification(&failed, "twin").await.unwrap();
    assert_eq!(told(store, &alert).await, [sent, failed]);

    let later = until + Duration::hours(1);
    for channel in [Channel::Sms, Channel::Email] {
        let again = claimed(&alert, channel, "again", later + Duration::minutes(1));
        assert_eq!(
            store.claim_notification(&again, later).await.unwrap(),
            NotificationClaim::AlreadySent,
            "sent, and refused for good, are done"
        );
    }
    let skipped_alert = self::alert("8944000000000000302", now);
    let skipped = claimed(&skipped_alert, Channel::Sms, "first", until);
    store.claim_notification(&skipped, now).await.unwrap();
    store
        .finish_notification(&done(skipped, NotificationStatus::Skipped, now), "first")
        .await
        .unwrap();
    let again = claimed(&skipped_alert, Channel::Sms, "again", later + Duration::minutes(1));
    assert_eq!(
        store.claim_notification(&again, later).await.unwrap(),
        NotificationClaim::AlreadySent
    );
    assert!(store.notifications("no-such-alert").await.unwrap().is_empty());
}

pub async fn a_stopped_send_is_taken_over_and_flagged<S: NotificationStore + ?Sized>(store: &S, now: DateTime<Utc>) {
    let alert = alert("8944000000000000311", now);
    let ends = now + Duration::seconds(30);
    // Stopped before calling the channel: released, the next attempt claims it at once, unflagged.
    let email = claimed(&alert, Channel::Email, "failed", ends);
    store.claim_notification(&email, now).await.unwrap();
    store
        .release_notification(&alert.alert_id, Channel::Email, "someone-else")
        .await
        .unwrap();
    let retry = claimed(&alert, Channel::Email, "retry", ends);
    assert_eq!(
        store.claim_notification(&retry, now).await.unwrap(),
        NotificationClaim::InProgress,
        "only the holder releases it"
    );
    store
        .release_notification(&alert.alert_id, Channel::Email, "failed")
        .await
        .unwrap();
    assert_eq!(store.claim_notification(&retry, now).await.unwrap(), FRESH);

    // Stopped while calling it: taken over when its lease ends, flagged as possibly sent twice.
    let mut sms = claimed(&alert, Channel::Sms, "stopped", ends);
    store.claim_notification(&sms, now).await.unwrap();
    sms.sending_at = Some(now);
    assert!(store.mark_sending(&sms, "stopped").await.unwrap());
    let next = claimed(&alert, Channel::Sms, "next", ends + Duration::minutes(1));
    let just_before = ends - Duration::milliseconds(1);
    assert_eq!(
        store.claim_notification(&next, just_before).await.unwrap(),
        NotificationClaim::InProgress
    );
    assert_eq!(
        store.claim_notification(&next, ends).await.unwrap(),
        NotificationClaim::Claimed { after_send_began: true },
        "a lease ends at its `until`"
    );
    assert!(
        !store.mark_sending(&sms, "stopped").await.unwrap(),
        "the stopped attempt lost it"
    );
    let records = told(store, &alert).await;
    assert_eq!(records[0].attempt.as_deref(), Some("next"));
}

/// `alert`'s SMS waiting in the outbox until `due`.
fn queued(alert: &Alert, due: DateTime<Utc>) -> NotificationRecord {
    let mut record = claimed(alert, Channel::Sms, "held", due);
    record.status = NotificationStatus::Queued;
    record.attempt = None;
    record.lease_until = None;
    record.due_at = Some(due);
    record.alert = Some(alert.clone());
    record
}

/// (alert id, due) of the records due at `at`.
async fn due<S: NotificationStore + ?Sized>(store: &S, at: DateTime<Utc>) -> Vec<(String, Option<DateTime<Utc>>)> {
    let records = store.due_notifications(at).await.unwrap();
    records.into_iter().map(|r| (r.alert_id, r.due_at)).collect()
}

pub async fn the_outbox_gives_each_due_message_once<S: NotificationStore + ?Sized>(store: &S, now: DateTime<Utc>) {
    let hours = |h| now + Duration::hours(h);
    let (early, late, future, stale) = (
        alert("8944000000000000321", hours(-30)),
        alert("8944000000000000322", hours(-40)),
        alert("8944000000000000323", hours(-1)),
        alert("8944000000000000324", hours(-60)),
    );
    for (alert, due_at) in [
        (&early, hours(-2)),
        (&late, hours(-1)),
        (&future, hours(1)),
        (&stale, hours(-50)),
    ] {
        let record = queued(alert, due_at);
        assert_eq!(store.claim_notification(&record, now).await.unwrap(), FRESH);
    }
    let sms = claimed(&early, Channel::Sms, "live", now + Duration::minutes(1));
    assert_eq!(
        store.claim_notification(&sms, now).await.unwrap(),
        NotificationClaim::AlreadySent,
        "a queued message is the outbox's to send"
    );
    let (early_id, late_id) = (early.alert_id.clone(), late.alert_id.clone());
    assert_eq!(
        due(store, now).await,
        [(early_id.clone(), Some(hours(-2))), (late_id.clone(), Some(hours(-1)))],
        "due by now, earliest first, within the last 48 hours"
    );

    let ends = now + Duration::minutes(5);
    let mut taken = queued(&early, hours(-2));
    taken.status = NotificationStatus::Claimed;
    taken.attempt = Some("run-1".into());
    taken.lease_until = Some(ends);
    assert!(store.claim_due(&taken, now).await.unwrap());
    let mut twin = taken.clone();
    twin.attempt = Some("run-2".into());
    assert!(!store.claim_due(&twin, now).await.unwrap(), "claimed by the first run");
    assert_eq!(due(store, now).await, [(late_id.clone(), Some(hours(-1)))]);
    assert_eq!(
        due(store, ends).await,
        [(early_id, Some(hours(-2))), (late_id.clone(), Some(hours(-1)))],
        "a run that stopped leaves it due when its lease ends"
    );
    store
        .finish_notification(&done(taken, NotificationStatus::Sent, now), "run-1")
        .await
        .unwrap();
    assert_eq!(due(store, ends).await, [(late_id, Some(hours(-1)))]);
    assert!(!store.claim_due(&twin, ends).await.unwrap(), "sent");

    let not_queued = alert("8944000000000000325", now);
    let live = claimed(&not_queued, Channel::Sms, "live", ends);
    store.claim_notification(&live, now).await.unwrap();
    let mut stolen = live.clone();
    stolen.attempt = Some("outbox".into());
    assert!(
        !store.claim_due(&stolen, ends + Duration::hours(1)).await.unwrap(),
        "only outbox records"
    );
}

pub async fn the_sms_allowance_counts_a_rolling_day_per_number<S: NotificationStore + ?Sized>(
    store: &S,
    now: DateTime<Utc>,
) {
    let other = "+34600000009";
    assert!(store.take_sms_allowance(PHONE, now, 2).await.unwrap());
    let hour = now + Duration::hours(1);
    assert!(store.take_sms_allowance(PHONE, hour, 2).await.unwrap());
    assert!(
        !store.take_sms_allowance(PHONE, hour, 2).await.unwrap(),
        "the cap reached"
    );
    assert!(store.take_sms_allowance(other, hour, 2).await.unwrap(), "per number");
    assert!(store.take_sms_allowance(PHONE, hour, 3).await.unwrap(), "a higher cap");
    assert!(
        !store.take_sms_allowance(PHONE, hour, 3).await.unwrap(),
        "a refusal counts nothing"
    );
    let day = now + Duration::hours(24);
    let almost = day - Duration::milliseconds(1);
    assert!(!store.take_sms_allowance(PHONE, almost, 3).await.unwrap());
    assert!(
        store.take_sms_allowance(PHONE, day, 3).await.unwrap(),
        "the first send left the window"
    );
    assert!(!store.take_sms_allowance(PHONE, day, 3).await.unwrap());
}

pub async fn erasure_masks_the_recipient_in_every_record<S: NotificationStore + ?Sized>(store: &S, now: DateTime<Utc>) {
    let (first, second) = (alert("8944000000000000331", now), alert("8944000000000000332", now));
    let until = now + Duration::minutes(1);
    for alert in [&first, &second] {
        for channel in [Channel::Sms, Channel::Email] {
            let record = claimed(alert, channel, "a", until);
            store.claim_notification(&record, now).await.unwrap();
            store
                .finish_notification(&done(record, NotificationStatus::Sent, now), "a")
                .await
                .unwrap();
        }
    }
    assert_eq!(store.mask_recipient(PHONE, "+34•••678").await.unwrap(), 2);
    for alert in [&first, &second] {
        let to: Vec<String> = told(store, alert).await.into_iter().map(|r| r.to).collect();
        assert_eq!(to, ["+34•••678", EMAIL]);
    }
    assert_eq!(store.mask_recipient(PHONE, "+34•••678").await.unwrap(), 0);
}

pub async fn alerts_are_listed_with_who_was_told<S: EventStore + StoreQuery + NotificationStore + ?Sized>(
    store: &S,
    now: DateTime<Utc>,
) {
    let alert = alert("8944000000000000341", now);
    let until = now + Duration::minutes(1);
    store.claim_alert(&alert, &lease("a", until), now).await.unwrap();
    let sms = claimed(&alert, Channel::Sms, "a", until);
    store.claim_notification(&sms, now).await.unwrap();
    let sent = done(sms, NotificationStatus::Sent, now);
    store.finish_notification(&sent, "a").await.unwrap();
    let email = claimed(&alert, Channel::Email, "a", until);
    store.claim_notification(&email, now).await.unwrap();

    let window = ListQuery {
        since: Some(now - Duration::hours(1)),
        until: Some(now + Duration::hours(1)),
        ..ListQuery::default()
    };
    let listed = store.list_alerts(&window).await.unwrap();
    assert_eq!(listed.len(), 1);
    let mut who = listed[0].notifications.clone();
    who.sort_by_key(|r| r.channel);
    assert_eq!(who, [sent, email]);
}
