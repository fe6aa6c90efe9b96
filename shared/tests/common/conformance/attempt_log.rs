//! `AttemptLog`: a partner's attempts listed newest first from `since` to before `until`, at most `limit`,
//! no other partner's; deliveries given up on parked, listed oldest first from `since`, until recovered.

use chrono::{DateTime, Duration, Utc};
use shared::callbacks::delivery::Verdict;
use shared::callbacks::partner::PartnerId;
use shared::callbacks::sender::{AttemptLog, AttemptRecord, CallbackJob, FailedDelivery};

macro_rules! contracts {
    ($port:expr, [$($ignored:tt)*]) => {
        crate::common::conformance::emit!(attempt_log, $port, [
            attempts_are_listed_newest_first_per_partner,
            deliveries_given_up_on_are_parked_until_recovered,
        ], [$($ignored)*]);
    };
}
pub(crate) use contracts;

fn id(text: &str) -> PartnerId {
    PartnerId::parse(text).expect("a partner id")
}

fn job(partner: &str, notification: &str) -> CallbackJob {
    CallbackJob {
        notification_id: notification.into(),
        notification_type: 1,
        partner: id(partner),
        url: format!("https://{partner}.example/hooks"),
        body: format!("{{\"notification_id\":\"{notification}\"}}"),
        owner: None,
    }
}

fn attempt(partner: &str, notification: &str, attempt: u32, at: DateTime<Utc>) -> AttemptRecord {
    let job = job(partner, notification);
    AttemptRecord {
        partner: job.partner,
        url: job.url,
        notification_id: job.notification_id,
        notification_type: job.notification_type,
        attempt,
        at,
        status: Some(503),
        error: None,
        latency_ms: 12,
        verdict: Verdict::RetryIn(Duration::seconds(5)),
        owner: None,
    }
}

pub async fn attempts_are_listed_newest_first_per_partner<L: AttemptLog + ?Sized>(log: &L, now: DateTime<Utc>) {
    let seconds = |s| now + Duration::seconds(s);
    let records = [
        attempt("acme", "n-1", 1, seconds(0)),
        attempt("acme", "n-1", 2, seconds(5)),
        attempt("acme", "n-2", 1, seconds(60)),
        attempt("bee", "n-3", 1, seconds(30)),
        attempt("acme", "n-3", 1, seconds(7200)),
    ];
    for record in &records {
        log.record(record).await.unwrap();
    }
    let [first, second, third, bees, late] = records;
    let listed = |partner: &str, since: i64, until: i64, limit: usize| {
        let partner = id(partner);
        async move {
            log.attempts(&partner, seconds(since), seconds(until), limit)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        listed("acme", 0, 3600, 10).await,
        [third.clone(), second.clone(), first.clone()]
    );
    assert_eq!(listed("acme", 0, 3600, 2).await, [third.clone(), second.clone()]);
    assert_eq!(
        listed("acme", 5, 3600, 10).await,
        [third.clone(), second.clone()],
        "from `since`"
    );
    assert_eq!(listed("acme", 0, 60, 10).await, [second, first], "to before `until`");
    assert_eq!(listed("acme", 0, 7201, 1).await, [late]);
    assert_eq!(listed("bee", 0, 3600, 10).await, [bees]);
    assert!(listed("ops", 0, 3600, 10).await.is_empty());
}

pub async fn deliveries_given_up_on_are_parked_until_recovered<L: AttemptLog + ?Sized>(log: &L, now: DateTime<Utc>) {
    let failed = |partner: &str, notification: &str, minutes: i64, attempts: u32| FailedDelivery {
        job: job(partner, notification),
        failed_at: now + Duration::minutes(minutes),
        attempts,
    };
    let (first, later, theirs) = (
        failed("acme", "n-1", 0, 8),
        failed("acme", "n-2", 60, 0),
        failed("bee", "n-3", 30, 8),
    );
    for parked in [&later, &theirs, &first] {
        log.park(parked).await.unwrap();
    }
    let parked = |partner: &str, minutes: i64, limit: usize| {
        let partner = id(partner);
        async move {
            log.parked(&partner, now + Duration::minutes(minutes), limit)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        parked("acme", 0, 10).await,
        [first.clone(), later.clone()],
        "oldest first"
    );
    assert_eq!(parked("acme", 0, 1).await, std::slice::from_ref(&first));
    assert_eq!(
        parked("acme", 1, 10).await,
        std::slice::from_ref(&later),
        "from `since`"
    );
    assert_eq!(parked("bee", 0, 10).await, [theirs]);
    log.unpark(&first).await.unwrap();
    assert_eq!(parked("acme", 0, 10).await, std::slice::from_ref(&later), "recovered");
    log.unpark(&first).await.unwrap();
    log.unpark(&later).await.unwrap();
    assert!(parked("acme", 0, 10).await.is_empty());
}
