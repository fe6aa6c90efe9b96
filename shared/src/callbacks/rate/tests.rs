use super::*;
use crate::callbacks::delivery::{Response, Verdict};
use crate::callbacks::partner::{Partner, PartnerId, Scope};
use crate::callbacks::registry::{CallbackRegistry, Endpoint, MemoryRegistry};
use crate::callbacks::sender::{AttemptLog, CallbackJob, MemoryAttemptLog, Poster, Sender};
use crate::clock::FixedClock;
use crate::store::KvStore;
use bytes::Bytes;
use serde_json::json;
use std::sync::Mutex;

const T0: &str = "2026-12-01T10:00:00Z";

fn t0() -> DateTime<Utc> {
    FixedClock::at_rfc3339(T0).now()
}

fn ms(n: i64) -> Duration {
    Duration::milliseconds(n)
}

/// Whether every one-second window of `times` (sorted) holds at most `rate` of them.
fn within(times: &[DateTime<Utc>], rate: usize) -> bool {
    times.windows(rate + 1).all(|w| w[rate] - w[0] >= Duration::seconds(1))
}

#[test]
fn the_step_never_lets_one_more_into_a_second() {
    assert_eq!(
        [1, 3, 5, 7, 1000].map(step_ms),
        [1000, 334, 200, 143, 1],
        "1/rate, rounded up to a millisecond"
    );
    for rate in 1..=MAX_RATE_LIMIT {
        assert!(i64::from(rate) * step_ms(rate) >= 1000, "{rate}");
    }
}

#[test]
fn a_slot_is_the_arrival_time_or_now_when_that_has_gone_by() {
    assert_eq!(
        reserve(None, 5_000, 5),
        Reservation {
            slot_ms: 5_000,
            tat_ms: 5_200
        }
    );
    assert_eq!(
        reserve(Some(5_600), 5_000, 5).slot_ms,
        5_600,
        "busy: the next free slot"
    );
    assert_eq!(
        reserve(Some(4_000), 5_000, 5).slot_ms,
        5_000,
        "idle: nothing saved up, no burst"
    );
    // A burst at one instant is spread 200 ms apart, every second holding five.
    let mut tat = None;
    let slots: Vec<DateTime<Utc>> = (0..25)
        .map(|_| {
            let taken = reserve(tat, t0().timestamp_millis(), 5);
            tat = Some(taken.tat_ms);
            at_ms(taken.slot_ms)
        })
        .collect();
    assert_eq!(slots[24] - slots[0], ms(4_800));
    assert!(within(&slots, 5));
    assert!(!within(&slots, 4));
}

#[test]
fn a_slot_near_enough_is_waited_for_and_a_later_one_deferred() {
    let now = t0();
    let lead = DEFAULT_LEAD;
    assert_eq!(pace(now - ms(1), now, lead), Pace::Now);
    assert_eq!(pace(now, now, lead), Pace::Now);
    assert_eq!(pace(now + ms(1), now, lead), Pace::Wait);
    assert_eq!(pace(now + lead, now, lead), Pace::Wait);
    assert_eq!(pace(now + lead + ms(1), now, lead), Pace::Defer);
    assert!(still_held(now, now));
    assert!(still_held(now + ms(1), now));
    assert!(!still_held(now - ms(1), now), "its queue was late: a new slot");
}

#[test]
fn the_put_field_is_a_whole_number_from_1_to_1000_null_or_absent() {
    let field = |value: Value| {
        let Value::Object(fields) = json!({"url": "https://x.example", "rate_limit": value}) else {
            unreachable!()
        };
        rate_limit_field(&fields)
    };
    assert_eq!(rate_limit_field(&Map::new()), Ok(RateChange::Keep));
    assert_eq!(field(Value::Null), Ok(RateChange::Set(None)));
    assert_eq!(field(json!(1)), Ok(RateChange::Set(Some(1))));
    assert_eq!(field(json!(1000)), Ok(RateChange::Set(Some(1000))));
    for bad in [
        json!(0),
        json!(1001),
        json!(-5),
        json!(2.5),
        json!("5"),
        json!(true),
        json!(u64::MAX),
    ] {
        let refused = field(bad.clone()).unwrap_err().to_string();
        assert!(refused.contains("from 1 to 1000"), "{bad}: {refused}");
    }
    assert_eq!(RateChange::Keep.apply(Some(5)), Some(5));
    assert_eq!(RateChange::Set(None).apply(Some(5)), None);
    assert_eq!(RateChange::Set(Some(9)).apply(None), Some(9));
}

#[tokio::test]
async fn the_memory_and_local_stores_reserve_slots_in_turn_per_url() {
    let memory = MemoryRegistry::default();
    let local = KvStore::in_memory();
    let stores: [&dyn CallbackRegistry; 2] = [&memory, &local];
    for store in stores {
        let now = t0();
        let mut slots = Vec::new();
        for _ in 0..4 {
            slots.push(store.reserve_slot("https://a.example/h", 4, now).await.unwrap());
        }
        assert_eq!(slots, [now, now + ms(250), now + ms(500), now + ms(750)]);
        assert_eq!(
            store.reserve_slot("https://b.example/h", 4, now).await.unwrap(),
            now,
            "each URL its own"
        );
        // Its rate changed: the next slot is where the last left off, then the new step.
        assert_eq!(
            store.reserve_slot("https://a.example/h", 1, now).await.unwrap(),
            now + ms(1_000)
        );
        assert_eq!(
            store.reserve_slot("https://a.example/h", 1, now).await.unwrap(),
            now + ms(2_000)
        );
        let later = now + Duration::minutes(1);
        assert_eq!(
            store.reserve_slot("https://a.example/h", 1, later).await.unwrap(),
            later,
            "idle since: the slot is now"
        );
    }
}

/// Answers 200 to every post and keeps the bodies.
#[derive(Default)]
struct Capture(Mutex<Vec<String>>);

#[async_trait]
impl Poster for Capture {
    async fn post(&self, _url: &str, _headers: &[(&str, String)], body: Bytes) -> (Response, std::time::Duration) {
        let body = String::from_utf8_lossy(&body).into_owned();
        self.0.lock().unwrap().push(body);
        let ok = Response::Status {
            code: 200,
            retry_after_seconds: None,
        };
        (ok, std::time::Duration::from_millis(5))
    }
}

const URL: &str = "https://hooks.acme.example/esim";

struct Rig {
    clock: Arc<FixedClock>,
    registry: Arc<MemoryRegistry>,
    log: Arc<MemoryAttemptLog>,
    posted: Arc<Capture>,
    sender: Sender,
}

async fn rig(rate_limit: Option<u32>) -> Rig {
    let clock = Arc::new(FixedClock::at_rfc3339(T0));
    let registry = Arc::new(MemoryRegistry::default());
    let partner = Partner {
        id: PartnerId::parse("acme").unwrap(),
        name: "Acme".into(),
        key_hashes: vec![],
        created_at: clock.now(),
        signing_keys: Vec::new(),
        contact_email: None,
        scope: Scope::All,
    };
    registry.save_partner(&partner).await.unwrap();
    let endpoint = Endpoint {
        url: URL.into(),
        partner: partner.id,
        subscription_arn: String::new(),
        failing_since: None,
        disabled_at: None,
        rate_limit,
    };
    registry.save_endpoint(&endpoint).await.unwrap();
    let log = Arc::new(MemoryAttemptLog::default());
    let posted = Arc::new(Capture::default());
    let mut sender = Sender::new(registry.clone(), posted.clone(), log.clone(), clock.clone());
    sender.pause = Arc::new(NoWait);
    Rig {
        clock,
        registry,
        log,
        posted,
        sender,
    }
}

fn job(n: u32) -> CallbackJob {
    CallbackJob {
        notification_id: format!("ntf_{n}"),
        notification_type: 1,
        partner: PartnerId::parse("acme").unwrap(),
        url: URL.into(),
        body: format!("{{\"n\":{n}}}"),
        owner: None,
    }
}

impl Rig {
    /// The attempts logged, oldest first, as (time, attempt number).
    async fn logged(&self) -> Vec<(DateTime<Utc>, u32)> {
        let acme = PartnerId::parse("acme").unwrap();
        let since = t0() - Duration::days(1);
        let mut all = self
            .log
            .attempts(&acme, since, since + Duration::days(2), 100)
            .await
            .unwrap();
        all.reverse();
        all.iter().map(|a| (a.at, a.attempt)).collect()
    }
}

#[tokio::test]
async fn the_sender_posts_in_each_slot_and_defers_what_is_further_off_without_an_attempt() {
    let rig = rig(Some(1)).await;
    let now = rig.clock.now();
    let s = Duration::seconds;
    // 1/s with a lead of 2 s: now, then two waited for, then deferred to the slot three seconds on.
    for n in 0..3 {
        assert_eq!(rig.sender.attempt(&job(n), 1).await.unwrap(), Verdict::Delivered);
    }
    assert_eq!(
        rig.sender.attempt(&job(3), 4).await.unwrap(),
        Verdict::Deferred(now + s(3))
    );
    assert_eq!(rig.logged().await, [(now, 1), (now + s(1), 1), (now + s(2), 1)]);
    assert_eq!(
        rig.posted.0.lock().unwrap().len(),
        3,
        "nothing posted for the deferred one"
    );

    // Taken up again before its slot, it keeps it (no second reservation) and is attempt 4 still.
    rig.clock.set(now + ms(1_500));
    assert_eq!(
        rig.sender.attempt_in(&job(3), 4, Some(now + s(3))).await.unwrap(),
        Verdict::Delivered
    );
    assert_eq!(rig.logged().await.last(), Some(&(now + s(3), 4)));
    assert_eq!(
        rig.registry.reserve_slot(URL, 1, rig.clock.now()).await.unwrap(),
        now + s(4),
        "one slot per job"
    );
    // One its queue brought back after its slot takes a new one (here beyond the lead: deferred again).
    assert_eq!(
        rig.sender.attempt_in(&job(4), 1, Some(now + ms(1_000))).await.unwrap(),
        Verdict::Deferred(now + s(5))
    );
    assert_eq!(rig.logged().await.len(), 4);
}

#[tokio::test]
async fn without_a_limit_a_held_slot_is_ignored_and_everything_goes_at_once() {
    let rig = rig(None).await;
    let now = rig.clock.now();
    for n in 0..10 {
        let slot = Some(now + Duration::seconds(60));
        assert_eq!(
            rig.sender.attempt_in(&job(n), 1, slot).await.unwrap(),
            Verdict::Delivered
        );
    }
    assert!(rig.logged().await.iter().all(|(at, _)| *at == now));
}
