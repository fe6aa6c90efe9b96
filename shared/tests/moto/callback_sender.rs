//! Delivering partner callbacks, one endpoint at a time, to receivers on loopback through the real HTTP
//! poster, with an injected clock driving the retry schedule: a flaky endpoint gets the callback once after
//! four attempts, a dead one exhausts the schedule, `410` disables an endpoint, and another partner's endpoint
//! is served on time meanwhile. Every callback verifies with the partner's Standard Webhooks secret. What was
//! given up on is recovered, under the same `webhook-id`, once the endpoint is enabled again.

use chrono::{DateTime, Duration, Utc};
use shared::callbacks::delivery::Verdict;
use shared::callbacks::http::HttpPoster;
use shared::callbacks::notification::Notification;
use shared::callbacks::partner::{Partner, PartnerId, SIGNING_OVERLAP};
use shared::callbacks::recovery::{recover, MemoryJobQueue, Recovered};
use shared::callbacks::registry::{CallbackRegistry, Endpoint, MemoryRegistry, Registration};
use shared::callbacks::sender::{AttemptLog, CallbackJob, MemoryAttemptLog, NotificationMessage, Sender};
use shared::callbacks::signing::{verify, SigningSecret};
use shared::callbacks::url::StaticResolver;
use shared::callbacks::NotificationType;
use shared::clock::{Clock, FixedClock};
use shared::customers::records::{Channel, MemorySender};
use std::sync::Arc;

use crate::receiver;

use receiver::Receiver;

/// A receiver on loopback at `path` answering `statuses` in turn (then 200).
async fn receiver(path: &str, statuses: Vec<u16>) -> (String, Receiver) {
    let r = receiver::receiver(statuses.into_iter().map(receiver::status).collect()).await;
    (r.url(path), r)
}

struct Rig {
    registry: Arc<MemoryRegistry>,
    log: Arc<MemoryAttemptLog>,
    clock: Arc<FixedClock>,
    sender: Sender,
    secrets: Vec<(PartnerId, SigningSecret)>,
}

const T0: &str = "2026-12-01T10:00:00Z";

async fn rig(partners: &[(&str, &str)]) -> Rig {
    let registry = Arc::new(MemoryRegistry::default());
    let log = Arc::new(MemoryAttemptLog::default());
    let clock = Arc::new(FixedClock::at_rfc3339(T0));
    let mut secrets = Vec::new();
    for (id, url) in partners {
        let id = PartnerId::parse(id).unwrap();
        let (secret, _) = SigningSecret::generate().unwrap();
        let mut partner = Partner {
            id: id.clone(),
            name: id.to_string(),
            key_hashes: vec![],
            created_at: clock.now(),
            signing_keys: vec![],
            contact_email: None,
            scope: shared::callbacks::partner::Scope::All,
        };
        partner.rotate_signing_key(secret.clone(), clock.now(), SIGNING_OVERLAP);
        registry.save_partner(&partner).await.unwrap();
        let registration = Registration {
            partner: id.clone(),
            notification_type: NotificationType::ALL[0],
            url: url.to_string(),
            created_at: clock.now(),
            updated_at: clock.now(),
        };
        registry.save_registration(&registration).await.unwrap();
        let endpoint = Endpoint {
            url: url.to_string(),
            partner: id.clone(),
            subscription_arn: String::new(),
            failing_since: None,
            disabled_at: None,
            rate_limit: None,
        };
        registry.save_endpoint(&endpoint).await.unwrap();
        secrets.push((id, secret));
    }
    let poster = HttpPoster::new(Arc::new(StaticResolver(vec!["127.0.0.1".parse().unwrap()])), true).unwrap();
    let sender = Sender::new(registry.clone(), Arc::new(poster), log.clone(), clock.clone());
    Rig {
        registry,
        log,
        clock,
        sender,
        secrets,
    }
}

fn message(id: &str) -> NotificationMessage {
    let partner = PartnerId::parse("acme-test").unwrap();
    let at = DateTime::parse_from_rfc3339(T0).unwrap().to_utc();
    let echo = Notification::echo(
        &partner,
        NotificationType::ALL[0],
        shared::callbacks::notification::EchoSubject::Simulation(id.into()),
        at,
    );
    NotificationMessage {
        audience: "all".into(),
        ..NotificationMessage::from(&echo)
    }
}

/// Runs the jobs as the queue would: each attempt at its due time, retries rescheduled by their verdict.
/// Returns each job's attempts as (time, verdict).
async fn run(rig: &Rig, jobs: Vec<CallbackJob>) -> Vec<Vec<(DateTime<Utc>, Verdict)>> {
    let mut queue: Vec<(DateTime<Utc>, usize, u32)> = (0..jobs.len()).map(|i| (rig.clock.now(), i, 1)).collect();
    let mut history = vec![Vec::new(); jobs.len()];
    while let Some(next) = queue
        .iter()
        .enumerate()
        .min_by_key(|(_, (due, i, _))| (*due, *i))
        .map(|(k, _)| k)
    {
        let (due, index, attempt) = queue.remove(next);
        rig.clock.set(due);
        let verdict = rig.sender.attempt(&jobs[index], attempt).await.unwrap();
        history[index].push((due, verdict));
        if let Verdict::RetryIn(delay) = verdict {
            queue.push((due + delay, index, attempt + 1));
        }
    }
    history
}

#[tokio::test]
async fn a_flaky_endpoint_gets_it_once_after_four_attempts_while_another_is_served_on_time() {
    let (flaky_url, flaky) = receiver("/flaky", vec![500, 503, 502]).await;
    let (steady_url, _steady) = receiver("/steady", vec![]).await;
    let rig = rig(&[("flaky-co", &flaky_url), ("steady-co", &steady_url)]).await;
    let jobs = rig.sender.fan_out(&message("sim-1")).await.unwrap();
    assert_eq!(jobs.len(), 2);
    let flaky_index = jobs.iter().position(|j| j.url == flaky_url).unwrap();
    let history = run(&rig, jobs).await;

    let t0 = DateTime::parse_from_rfc3339(T0).unwrap().to_utc();
    let attempts = &history[flaky_index];
    let times: Vec<Duration> = attempts.iter().map(|(at, _)| *at - t0).collect();
    assert_eq!(
        times,
        [
            Duration::zero(),
            Duration::seconds(5),
            Duration::seconds(305),
            Duration::seconds(2105)
        ],
        "the schedule: 5 s, 5 min, 30 min"
    );
    assert_eq!(attempts.last().unwrap().1, Verdict::Delivered);
    let other = &history[1 - flaky_index];
    assert_eq!(other.as_slice(), [(t0, Verdict::Delivered)], "served at once");

    let flaky_id = PartnerId::parse("flaky-co").unwrap();
    let logged = rig
        .log
        .attempts(&flaky_id, t0, t0 + chrono::Duration::days(3650), 100)
        .await
        .unwrap();
    assert_eq!(logged.len(), 4);
    assert_eq!(
        logged.iter().map(|a| a.status).collect::<Vec<_>>(),
        [Some(200), Some(502), Some(503), Some(500)],
        "newest first"
    );
    // Every request the receiver got verifies with the partner's secret, and carries the same id.
    let got = flaky.received();
    assert_eq!(got.len(), 4);
    let secret = &rig.secrets.iter().find(|(id, _)| *id == flaky_id).unwrap().1;
    for (request, (at, _)) in got.iter().zip(attempts) {
        let header = |name: &str| request.header(name);
        assert_eq!(header("webhook-id"), got[0].header("webhook-id"));
        let checked = verify(
            secret,
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
            request.body.as_bytes(),
            *at,
        );
        assert_eq!(checked, Ok(()));
    }
    let endpoint = rig.registry.endpoint(&flaky_url).await.unwrap().unwrap();
    assert_eq!(endpoint.failing_since, None, "a success clears the failure span");
}

#[tokio::test]
async fn a_dead_endpoint_exhausts_the_schedule_and_410_disables() {
    let (dead_url, _dead) = receiver("/dead", vec![500; 20]).await;
    let (gone_url, _gone) = receiver("/gone", vec![410]).await;
    let rig = rig(&[("dead-co", &dead_url), ("gone-co", &gone_url)]).await;
    let jobs = rig.sender.fan_out(&message("sim-2")).await.unwrap();
    let dead_index = jobs.iter().position(|j| j.url == dead_url).unwrap();
    let history = run(&rig, jobs).await;
    let attempts = &history[dead_index];
    assert_eq!(attempts.len(), 8);
    assert_eq!(attempts.last().unwrap().1, Verdict::Exhausted);
    let t0 = DateTime::parse_from_rfc3339(T0).unwrap().to_utc();
    assert_eq!(
        attempts.last().unwrap().0 - t0,
        Duration::seconds(5 + 300 + 1800 + 7200 + 18000 + 36000 + 36000)
    );
    assert_eq!(history[1 - dead_index].as_slice(), [(t0, Verdict::DisableEndpoint)]);

    let disabled = rig.registry.endpoint(&gone_url).await.unwrap().unwrap();
    assert_eq!(disabled.disabled_at, Some(t0));
    let dying = rig.registry.endpoint(&dead_url).await.unwrap().unwrap();
    assert_eq!(dying.failing_since, Some(t0));
    // The next notification skips the disabled endpoint.
    let next = rig.sender.fan_out(&message("sim-3")).await.unwrap();
    assert_eq!(
        next.iter().map(|j| j.url.as_str()).collect::<Vec<_>>(),
        [dead_url.as_str()]
    );
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled() {
    let (dead_url, _dead) = receiver("/dead", vec![500; 20]).await;
    let rig = rig(&[("dead-co", &dead_url)]).await;
    let jobs = rig.sender.fan_out(&message("sim-4")).await.unwrap();
    assert_eq!(
        rig.sender.attempt(&jobs[0], 1).await.unwrap(),
        Verdict::RetryIn(Duration::seconds(5))
    );
    rig.clock.advance(Duration::days(5));
    let later = rig.sender.fan_out(&message("sim-5")).await.unwrap();
    assert_eq!(
        rig.sender.attempt(&later[0], 1).await.unwrap(),
        Verdict::DisableEndpoint
    );
    assert!(rig
        .registry
        .endpoint(&dead_url)
        .await
        .unwrap()
        .unwrap()
        .disabled_at
        .is_some());
}

#[tokio::test]
async fn a_disabled_endpoint_is_told_by_email_and_what_failed_is_recovered_once_it_is_enabled() {
    let (gone_url, gone) = receiver("/gone", vec![410]).await;
    let mut rig = rig(&[("gone-co", &gone_url)]).await;
    let id = PartnerId::parse("gone-co").unwrap();
    let mut partner = rig.registry.partner(&id).await.unwrap().unwrap();
    partner.contact_email = Some("ops@gone.example".into());
    rig.registry.save_partner(&partner).await.unwrap();
    let mailbox = Arc::new(MemorySender::default());
    rig.sender.notices = Some(mailbox.clone());
    let t0 = rig.clock.now();

    let first = rig.sender.fan_out(&message("sim-6")).await.unwrap();
    assert_eq!(run(&rig, first).await[0].as_slice(), [(t0, Verdict::DisableEndpoint)]);
    let sent = mailbox.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].0, sent[0].1.as_str()), (Channel::Email, "ops@gone.example"));
    assert!(sent[0].2.contains("disabled"), "{}", sent[0].2);

    // While disabled, a notification is given up on at once; nothing is posted and no second email goes out.
    rig.clock.advance(Duration::minutes(10));
    assert!(rig.sender.fan_out(&message("sim-7")).await.unwrap().is_empty());
    assert_eq!(gone.received().len(), 1);
    assert_eq!(mailbox.sent().len(), 1);
    let parked = rig.log.parked(&id, t0, 10).await.unwrap();
    assert_eq!(parked.len(), 2);

    // Enabled again (as a PUT of its callback does), recovery re-sends both, oldest first, same webhook-id.
    let mut endpoint = rig.registry.endpoint(&gone_url).await.unwrap().unwrap();
    endpoint.disabled_at = None;
    endpoint.failing_since = None;
    rig.registry.save_endpoint(&endpoint).await.unwrap();
    let queue = MemoryJobQueue::default();
    let partner = rig.registry.partner(&id).await.unwrap().unwrap();
    let recovered = recover(rig.log.as_ref(), &queue, &partner, t0, 100).await.unwrap();
    assert_eq!(recovered, Recovered { resent: 2, more: false });
    let jobs = queue.0.lock().unwrap().clone();
    let history = run(&rig, jobs).await;
    assert!(
        history.iter().all(|h| h.last().unwrap().1 == Verdict::Delivered),
        "{history:?}"
    );
    let got = gone.received();
    assert_eq!(got.len(), 3);
    let ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id").unwrap()).collect();
    assert_eq!(ids[1], ids[0], "the recovered callback keeps its webhook-id");
    assert_ne!(ids[2], ids[0]);
    assert!(
        rig.log.parked(&id, t0, 10).await.unwrap().is_empty(),
        "recovered ones are forgotten"
    );
}

/// Answers 200 to every post and keeps the bodies.
#[derive(Default)]
struct Capture(std::sync::Mutex<Vec<String>>);

#[async_trait::async_trait]
impl shared::callbacks::sender::Poster for Capture {
    async fn post(
        &self,
        _url: &str,
        _headers: &[(&str, String)],
        body: bytes::Bytes,
    ) -> (shared::callbacks::delivery::Response, std::time::Duration) {
        self.0.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
        let ok = shared::callbacks::delivery::Response::Status {
            code: 200,
            retry_after_seconds: None,
        };
        (ok, std::time::Duration::from_millis(3))
    }
}

/// The local sender (`serve`) looking every second: a burst of 25 to an endpoint limited to 5 a second goes
/// out 200 ms apart, each in its reserved slot (a deferral waits in the store, then a moment in place), so no
/// one-second window holds more than five; none is dropped and none spends an attempt.
#[tokio::test]
async fn a_rate_limited_endpoint_receives_a_burst_within_its_rate_none_dropped_no_attempt_spent() {
    use shared::callbacks::local::LocalCallbacks;
    use shared::store::KvStore;
    const URL: &str = "https://hooks.paced.example/esim";
    let store = Arc::new(KvStore::in_memory());
    let clock = Arc::new(FixedClock::at_rfc3339(T0));
    let t0 = clock.now();
    let id = PartnerId::parse("paced-co").unwrap();
    let partner = Partner {
        id: id.clone(),
        name: "Paced".into(),
        key_hashes: vec![],
        created_at: t0,
        signing_keys: vec![],
        contact_email: None,
        scope: shared::callbacks::partner::Scope::All,
    };
    store.save_partner(&partner).await.unwrap();
    let registration = Registration {
        partner: id.clone(),
        notification_type: NotificationType::ALL[0],
        url: URL.into(),
        created_at: t0,
        updated_at: t0,
    };
    store.save_registration(&registration).await.unwrap();
    let endpoint = Endpoint {
        url: URL.into(),
        partner: id.clone(),
        subscription_arn: String::new(),
        failing_since: None,
        disabled_at: None,
        rate_limit: Some(5),
    };
    store.save_endpoint(&endpoint).await.unwrap();
    let posted = Arc::new(Capture::default());
    let mut local = LocalCallbacks::new(store.clone(), posted.clone(), clock.clone());
    // The wait in place returns at once, saying its slot came: each attempt is logged at its post time.
    local.sender_mut().pause = Arc::new(shared::callbacks::rate::NoWait);
    let local = Arc::new(local);
    for n in 0..25 {
        assert_eq!(local.offer(&message(&format!("burst-{n}"))).await.unwrap(), 1);
    }
    for tick in 0..8 {
        clock.set(t0 + Duration::seconds(tick));
        local.deliver_due().await.unwrap();
    }

    let mut bodies = posted.0.lock().unwrap().clone();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 25, "every one posted, once");
    let mut logged = store.attempts(&id, t0, t0 + Duration::hours(1), 100).await.unwrap();
    logged.reverse();
    assert_eq!(logged.len(), 25, "deferrals are not attempts");
    assert!(logged.iter().all(|a| a.attempt == 1 && a.verdict == Verdict::Delivered));
    let times: Vec<DateTime<Utc>> = logged.iter().map(|a| a.at).collect();
    for five_later in times.windows(6) {
        assert!(five_later[5] - five_later[0] >= Duration::seconds(1), "{times:?}");
    }
    assert_eq!(
        (times[0], times[24]),
        (t0, t0 + Duration::milliseconds(4_800)),
        "and no slower than the rate"
    );
}
