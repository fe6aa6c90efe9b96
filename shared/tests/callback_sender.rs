//! Delivering partner callbacks, one endpoint at a time, to receivers on loopback through the real HTTP
//! poster, with an injected clock driving the retry schedule: a flaky endpoint gets the callback once after
//! four attempts, a dead one exhausts the schedule, `410` disables an endpoint, and another partner's endpoint
//! is served on time meanwhile. Every callback verifies with the partner's Standard Webhooks secret.

use chrono::{DateTime, Duration, Utc};
use shared::callbacks::delivery::Verdict;
use shared::callbacks::http::HttpPoster;
use shared::callbacks::notification::Notification;
use shared::callbacks::partner::{Partner, PartnerId, SIGNING_OVERLAP};
use shared::callbacks::registry::{CallbackRegistry, Endpoint, MemoryRegistry, Registration};
use shared::callbacks::sender::{AttemptLog, CallbackJob, MemoryAttemptLog, NotificationMessage, Sender};
use shared::callbacks::signing::{verify, SigningSecret};
use shared::callbacks::url::StaticResolver;
use shared::callbacks::NotificationType;
use shared::clock::{Clock, FixedClock};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request a receiver got: its headers (lower-case names) and body.
type Received = (Vec<(String, String)>, String);

/// A receiver on loopback answering with `statuses` in turn (then 200); keeps each request.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

async fn receiver(path: &str, statuses: Vec<u16>) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://partner.test:{}{path}", listener.local_addr().unwrap().port());
    let got = Arc::new(Mutex::new(Vec::new()));
    let log = got.clone();
    tokio::spawn(async move {
        let mut statuses = statuses.into_iter();
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 8192];
            let (head, body) = loop {
                let n = stream.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= length || n == 0 {
                        break (head.to_string(), body.to_string());
                    }
                }
            };
            let headers = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            log.lock().unwrap().push((headers, body));
            let status = statuses.next().unwrap_or(200);
            let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            stream.write_all(answer.as_bytes()).await.unwrap();
            let _ = stream.shutdown().await;
        }
    });
    Receiver { url, got }
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
    let flaky = receiver("/flaky", vec![500, 503, 502]).await;
    let steady = receiver("/steady", vec![]).await;
    let rig = rig(&[("flaky-co", &flaky.url), ("steady-co", &steady.url)]).await;
    let jobs = rig.sender.fan_out(&message("sim-1")).await.unwrap();
    assert_eq!(jobs.len(), 2);
    let flaky_index = jobs.iter().position(|j| j.url == flaky.url).unwrap();
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
    let got = flaky.got.lock().unwrap().clone();
    assert_eq!(got.len(), 4);
    let secret = &rig.secrets.iter().find(|(id, _)| *id == flaky_id).unwrap().1;
    for ((headers, body), (at, _)) in got.iter().zip(attempts) {
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(
            header("webhook-id"),
            Some(got[0].0.iter().find(|(k, _)| k == "webhook-id").unwrap().1.as_str())
        );
        let checked = verify(
            secret,
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
            body.as_bytes(),
            *at,
        );
        assert_eq!(checked, Ok(()));
    }
    let endpoint = rig.registry.endpoint(&flaky.url).await.unwrap().unwrap();
    assert_eq!(endpoint.failing_since, None, "a success clears the failure span");
}

#[tokio::test]
async fn a_dead_endpoint_exhausts_the_schedule_and_410_disables() {
    let dead = receiver("/dead", vec![500; 20]).await;
    let gone = receiver("/gone", vec![410]).await;
    let rig = rig(&[("dead-co", &dead.url), ("gone-co", &gone.url)]).await;
    let jobs = rig.sender.fan_out(&message("sim-2")).await.unwrap();
    let dead_index = jobs.iter().position(|j| j.url == dead.url).unwrap();
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

    let disabled = rig.registry.endpoint(&gone.url).await.unwrap().unwrap();
    assert_eq!(disabled.disabled_at, Some(t0));
    let dying = rig.registry.endpoint(&dead.url).await.unwrap().unwrap();
    assert_eq!(dying.failing_since, Some(t0));
    // The next notification skips the disabled endpoint.
    let next = rig.sender.fan_out(&message("sim-3")).await.unwrap();
    assert_eq!(
        next.iter().map(|j| j.url.as_str()).collect::<Vec<_>>(),
        [dead.url.as_str()]
    );
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled() {
    let dead = receiver("/dead", vec![500; 20]).await;
    let rig = rig(&[("dead-co", &dead.url)]).await;
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
        .endpoint(&dead.url)
        .await
        .unwrap()
        .unwrap()
        .disabled_at
        .is_some());
}
