//! The partner callback sender on SQS and DynamoDB (moto), its handler driven with SQS events as Lambda
//! delivers them: an alert from the topic fans out into a job per registered endpoint, the job is delivered
//! signed (verified by the reference `standardwebhooks` library), a failed attempt stays on the queue
//! invisible until its retry is due, an exhausted one goes to the dead-letter queue and is recoverable onto
//! the callbacks queue, and every attempt is in the partner's attempt log.

use crate::common;

use crate::moto_rig;

use common::*;
use moto_rig::MotoRig;
use serde_json::{json, Value};
use shared::backends::dynamodb::DynamoAttemptLog;
use shared::backends::dynamodb::DynamoRegistry;
use shared::callbacks::http::HttpPoster;
use shared::callbacks::partner::{Partner, PartnerId, SIGNING_OVERLAP};
use shared::callbacks::queue::{sns_envelope, QueueSender, SqsEvent, SqsJobQueue};
use shared::callbacks::recovery::recover;
use shared::callbacks::registry::{CallbackRegistry, Endpoint, Registration};
use shared::callbacks::sender::{AttemptLog, Sender};
use shared::callbacks::signing::SigningSecret;
use shared::callbacks::url::StaticResolver;
use shared::callbacks::NotificationType;
use shared::clock::Clock;
use shared::model::ProviderId;
use std::sync::Arc;

use crate::receiver;

use receiver::Receiver;

/// A receiver on loopback answering `statuses` in turn (then 200).
async fn receiver(statuses: Vec<u16>) -> (String, Receiver) {
    let r = receiver::receiver(statuses.into_iter().map(receiver::status).collect()).await;
    (r.url("/hooks"), r)
}

struct Queue {
    rig: MotoRig,
    sender: QueueSender,
    registry: Arc<DynamoRegistry>,
    log: Arc<DynamoAttemptLog>,
}

async fn queue(name: &str) -> Queue {
    // The reference verifier checks timestamps against the real clock: the rig's starts at it.
    let rig = MotoRig::new(name, &chrono::Utc::now().to_rfc3339()).await;
    let create = |suffix: &str| {
        rig.sqs
            .create_queue()
            .queue_name(format!("{name}-{suffix}-{}", std::process::id()))
    };
    let queue_url = create("jobs").send().await.unwrap().queue_url.unwrap();
    let dead_letter_url = create("dead").send().await.unwrap().queue_url.unwrap();
    let registry = Arc::new(DynamoRegistry::new(rig.store.client().clone(), rig.store.table()));
    let log = Arc::new(DynamoAttemptLog::new(rig.store.client().clone(), rig.store.table()));
    let poster = HttpPoster::new(Arc::new(StaticResolver(vec!["127.0.0.1".parse().unwrap()])), true).unwrap();
    let sender = QueueSender {
        sender: Sender::new(registry.clone(), Arc::new(poster), log.clone(), rig.clock.clone()),
        sqs: rig.sqs.clone(),
        queue_url,
        dead_letter_url,
    };
    Queue {
        rig,
        sender,
        registry,
        log,
    }
}

impl Queue {
    /// A partner with a signing secret and a callback for low-data alerts at `url`; returns its secret.
    async fn partner(&self, id: &str, url: &str) -> String {
        let now = self.rig.clock.now();
        let (secret, text) = SigningSecret::generate().unwrap();
        let id = PartnerId::parse(id).unwrap();
        let mut partner = Partner {
            id: id.clone(),
            name: id.to_string(),
            key_hashes: vec![],
            created_at: now,
            signing_keys: vec![],
            contact_email: None,
            scope: shared::callbacks::partner::Scope::All,
        };
        partner.rotate_signing_key(secret, now, SIGNING_OVERLAP);
        self.registry.save_partner(&partner).await.unwrap();
        let registration = Registration {
            partner: id.clone(),
            notification_type: NotificationType::for_alert(shared::alerts::AlertType::LowData),
            url: url.into(),
            created_at: now,
            updated_at: now,
        };
        self.registry.save_registration(&registration).await.unwrap();
        let endpoint = Endpoint {
            url: url.into(),
            partner: id,
            subscription_arn: String::new(),
            failing_since: None,
            disabled_at: None,
            rate_limit: None,
        };
        self.registry.save_endpoint(&endpoint).await.unwrap();
        text
    }

    /// The messages now visible on `url`, as a Lambda SQS event.
    async fn receive(&self, url: &str) -> (SqsEvent, Vec<String>) {
        let received = self
            .rig
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let count = m
                    .attributes()
                    .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount))
                    .cloned()
                    .unwrap_or_else(|| "1".into());
                json!({"messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                       "attributes": {"ApproximateReceiveCount": count}})
            })
            .collect();
        let bodies = messages
            .iter()
            .map(|m| m.body().unwrap_or_default().to_string())
            .collect();
        (serde_json::from_value(json!({"Records": records})).unwrap(), bodies)
    }
}

/// An SQS event holding the low-data alert of eSIM Access's fixture as the topic delivers it to the queue.
async fn alert_from_topic() -> SqsEvent {
    let h = Harness::new(
        fixture_provider(ProviderId::EsimAccess),
        "2026-04-22T18:00:00Z",
        quick_settings(),
    );
    h.accept("esimaccess", &["data-usage-low"]).await;
    let rendered = shared::alerts::sink::render(&h.published_alert("low_data"));
    let message: Value = serde_json::from_str(&rendered.message).unwrap();
    let attributes: Vec<(&str, &str)> = rendered.attributes.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = sns_envelope(message["sqs"].as_str().unwrap(), &attributes);
    serde_json::from_value(json!({"Records": [{"messageId": "sns-1", "receiptHandle": "r-1", "body": body}]})).unwrap()
}

#[tokio::test]
async fn an_alert_reaches_each_partner_signed_retries_stay_on_the_queue_and_exhausted_ones_are_dead_lettered() {
    let mut q = queue("cbq").await;
    // The first retry ten minutes out, not five seconds: on a busy machine a 5 s retry came back into view
    // before the test read the queue again.
    q.sender.sender.schedule = shared::callbacks::delivery::RetrySchedule::parse("10m,5m,30m,2h,5h,10h,10h").unwrap();
    let (good_url, good) = receiver(vec![]).await;
    let (flaky_url, flaky) = receiver(vec![503]).await;
    let good_secret = q.partner("good-co", &good_url).await;
    q.partner("flaky-co", &flaky_url).await;

    // The topic's message fans out into one job per endpoint, sent back to the queue.
    let fanned = q.sender.handle(alert_from_topic().await).await;
    assert!(fanned.failures.is_empty(), "{fanned:?}");
    let (jobs, bodies) = q.receive(&q.sender.queue_url).await;
    assert_eq!(jobs.records.len(), 2, "{bodies:?}");

    // First attempts: one delivered, one kept (503) and invisible until its retry is due.
    let first = q.sender.handle(jobs).await;
    assert_eq!(first.failures.len(), 1);
    let (visible, _) = q.receive(&q.sender.queue_url).await;
    assert!(visible.records.is_empty(), "the retry waits out its delay");
    assert_eq!(flaky.received().len(), 1);

    // The delivered callback verifies with the reference library, with the partner's secret.
    let got = good.received();
    assert_eq!(got.len(), 1);
    let (headers, body) = (got[0].headers_json(), &got[0].body);
    let verdicts = reference_verdicts(&[json!({"secret": good_secret, "headers": headers, "body": body})]);
    assert_eq!(verdicts, ["verified"]);
    let callback: Value = serde_json::from_str(body).unwrap();
    assert_eq!(callback["data"]["type"], "low_data");
    assert_eq!(headers["webhook-id"], callback["notification_id"]);

    // An attempt that is the schedule's last (the eighth receive) and fails goes to the dead-letter queue.
    let (dead_url, dead) = receiver(vec![500]).await;
    q.partner("dead-co", &dead_url).await;
    let flaky_job = bodies.iter().find(|b| b.contains(&flaky_url)).unwrap();
    let dead_job = flaky_job.replace(&flaky_url, &dead_url).replace("flaky-co", "dead-co");
    let last_attempt: SqsEvent =
        serde_json::from_value(json!({"Records": [{"messageId": "m-8", "receiptHandle": "r-8",
        "body": dead_job, "attributes": {"ApproximateReceiveCount": "8"}}]}))
        .unwrap();
    let exhausted = q.sender.handle(last_attempt).await;
    assert!(exhausted.failures.is_empty(), "dead-lettered, not kept");
    assert_eq!(dead.received().len(), 1);
    let (dead_letters, dead_bodies) = q.receive(&q.sender.dead_letter_url).await;
    assert_eq!(dead_letters.records.len(), 1);
    assert!(dead_bodies[0].contains(&dead_url));

    // The attempt log.
    let since = q.rig.clock.now() - chrono::Duration::days(1);
    let flaky = q
        .log
        .attempts(
            &PartnerId::parse("flaky-co").unwrap(),
            since,
            since + chrono::Duration::days(3650),
            10,
        )
        .await
        .unwrap();
    assert_eq!(flaky.len(), 1);
    assert_eq!(flaky[0].status, Some(503));
    let good = q
        .log
        .attempts(
            &PartnerId::parse("good-co").unwrap(),
            since,
            since + chrono::Duration::days(3650),
            10,
        )
        .await
        .unwrap();
    assert_eq!((good.len(), good[0].status), (1, Some(200)));

    // The exhausted delivery is kept for recovery, which queues it again for a fresh schedule.
    let dead_co = PartnerId::parse("dead-co").unwrap();
    assert_eq!(q.log.parked(&dead_co, since, 10).await.unwrap().len(), 1);
    let jobs = SqsJobQueue {
        sqs: q.sender.sqs.clone(),
        queue_url: q.sender.queue_url.clone(),
    };
    let dead_co_partner = q.registry.partner(&dead_co).await.unwrap().unwrap();
    let recovered = recover(q.log.as_ref(), &jobs, &dead_co_partner, since, 100)
        .await
        .unwrap();
    assert_eq!((recovered.resent, recovered.more), (1, false));
    let (again, again_bodies) = q.receive(&q.sender.queue_url).await;
    assert_eq!(again.records.len(), 1);
    assert!(again_bodies[0].contains(&dead_url));
    assert!(q.log.parked(&dead_co, since, 10).await.unwrap().is_empty());
    let delivered = q.sender.handle(again).await;
    assert!(delivered.failures.is_empty(), "the endpoint works again: delivered");
    assert_eq!(dead.received().len(), 2);
}

/// A Lambda SQS event of job messages, each with its receive count.
fn jobs_event(records: &[(String, u32)]) -> SqsEvent {
    let records: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(n, (body, count))| {
            json!({"messageId": format!("m-{n}"), "receiptHandle": format!("r-{n}"), "body": body,
                   "attributes": {"ApproximateReceiveCount": count.to_string()}})
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

/// A rate-limited endpoint on DynamoDB and SQS: send slots are reserved per URL with conditional updates
/// (concurrent senders get distinct ones; an idle endpoint starts from now), and a job whose slot is beyond the
/// lead goes back on the queue as a new, delayed message carrying its slot and the attempts made, so it comes
/// back as the same attempt, is posted in its slot, and takes no second slot.
#[tokio::test]
async fn a_rate_limited_endpoint_is_paced_through_the_queue_without_spending_attempts() {
    use chrono::{DateTime, Duration, Utc};
    use shared::callbacks::rate::{at_ms, NoWait};
    let mut q = queue("cbrate").await;
    q.sender.sender.pause = Arc::new(NoWait);
    let t0 = at_ms(q.rig.clock.now().timestamp_millis());
    q.rig.clock.set(t0);
    let ms = Duration::milliseconds;

    // The reservations themselves, at 4 a second.
    let other = "https://slots.partner.example/hooks";
    let mut slots = Vec::new();
    for _ in 0..3 {
        slots.push(q.registry.reserve_slot(other, 4, t0).await.unwrap());
    }
    assert_eq!(slots, [t0, t0 + ms(250), t0 + ms(500)]);
    let busy = t0 + Duration::seconds(10);
    let racing = (0..8).map(|_| q.registry.reserve_slot(other, 4, busy));
    let mut raced: Vec<DateTime<Utc>> = futures_util::future::join_all(racing)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    raced.sort();
    let expected: Vec<DateTime<Utc>> = (0..8).map(|k| busy + ms(250 * k)).collect();
    assert_eq!(raced, expected, "concurrent senders, distinct slots");
    let idle = t0 + Duration::minutes(1);
    assert_eq!(q.registry.reserve_slot(other, 4, idle).await.unwrap(), idle);

    // An endpoint limited to one a second; its rate is kept on the endpoint item.
    let (url, paced) = receiver(vec![]).await;
    q.partner("paced-co", &url).await;
    let mut endpoint = q.registry.endpoint(&url).await.unwrap().unwrap();
    endpoint.rate_limit = Some(1);
    q.registry.save_endpoint(&endpoint).await.unwrap();
    assert_eq!(q.registry.endpoint(&url).await.unwrap().unwrap().rate_limit, Some(1));
    let job = |n: u32| {
        json!({"job": {"notification_id": format!("ntf_paced_{n}"), "notification_type": 1,
                       "partner": "paced-co", "url": url, "body": format!("{{\"n\":{n}}}")}})
        .to_string()
    };

    // Three first attempts in one batch: the slot now and the next two, waited for (the lead is 2 s).
    let first = q
        .sender
        .handle(jobs_event(&[(job(0), 1), (job(1), 1), (job(2), 1)]))
        .await;
    assert!(first.failures.is_empty(), "{first:?}");
    assert_eq!(paced.received().len(), 3);
    // A third attempt (a retry) finds the next slot 3 s off: deferred, not posted, its message let go.
    let deferred = q.sender.handle(jobs_event(&[(job(3), 3)])).await;
    assert!(deferred.failures.is_empty(), "{deferred:?}");
    assert_eq!(paced.received().len(), 3);

    // It comes back as a new message (delayed 1 s: its slot less the lead), with its slot and attempts made.
    let mut back = None;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let (event, bodies) = q.receive(&q.sender.queue_url).await;
        if !event.records.is_empty() {
            back = Some((event, bodies));
            break;
        }
    }
    let (event, bodies) = back.expect("the deferred job comes back");
    assert_eq!(event.records.len(), 1);
    let message: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(message["attempts_before"], 2, "{message}");
    let slot = t0 + Duration::seconds(3);
    assert_eq!(
        message["slot"].as_str().map(|s| s.parse::<DateTime<Utc>>().unwrap()),
        Some(slot)
    );

    q.rig.clock.set(t0 + ms(1_500));
    let delivered = q.sender.handle(event).await;
    assert!(delivered.failures.is_empty(), "{delivered:?}");
    assert_eq!(paced.received().len(), 4);
    let since = t0 - Duration::days(1);
    let id = PartnerId::parse("paced-co").unwrap();
    let mut logged = q.log.attempts(&id, since, since + Duration::days(2), 10).await.unwrap();
    logged.reverse();
    let seen: Vec<(DateTime<Utc>, u32)> = logged.iter().map(|a| (a.at, a.attempt)).collect();
    let second = Duration::seconds(1);
    assert_eq!(
        seen,
        [(t0, 1), (t0 + second, 1), (t0 + second * 2, 1), (slot, 3)],
        "each in its slot; the deferral spent no attempt"
    );
    assert_eq!(
        q.registry.reserve_slot(&url, 1, t0 + ms(1_500)).await.unwrap(),
        slot + second,
        "the deferred job took one slot, not two"
    );
}
