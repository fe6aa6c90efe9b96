//! Asking providers, deployed, on moto: deliveries file each eSIM in the table's asking index, the scheduler
//! reads it (no scan) and queues the due eSIMs on SQS, a worker asks and applies the answer once, and the eSIM
//! is filed for its next ask so the next pass queues nothing.

use super::*;
use shared::reconcile::client::{ApiTransport, Reconciler};
use shared::reconcile::due::AskingPlan;
use shared::reconcile::fanout::{schedule_asks, work_job, AskJob, JobOutcome};
use shared::reconcile::{ApiAnswer, ApiRequest, Asked};
use std::sync::Mutex;

/// eSIM Go's API answering every eSIM with `remaining` of 1 GB, recording the paths asked.
struct EsimGoAnswers {
    remaining: u64,
    asked: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl ApiTransport for EsimGoAnswers {
    async fn send(&self, url: &str, request: &ApiRequest) -> Result<ApiAnswer, shared::reconcile::NoAnswer> {
        self.asked.lock().unwrap().push(request.path.clone());
        assert!(
            url.starts_with("http://127.0.0.1:9/")
                && request.headers.iter().any(|(h, _)| h.eq_ignore_ascii_case("x-api-key")),
            "{url} {request:?}"
        );
        let body = json!({"bundles": [{"name": "esim_1GB_7D_GB_V2", "assignments": [{"id": "1",
            "callTypeGroup": "data", "initialQuantity": 1_000_000_000u64, "remainingQuantity": self.remaining,
            "assignmentDateTime": "2026-11-20T10:00:00Z", "bundleState": "active", "unlimited": false}]}]});
        Ok(ApiAnswer {
            status: 200,
            retry_after: None,
            body: body.to_string().into_bytes(),
        })
    }
}

fn usage(iccid: &str, remaining: u64, id: &str, at: chrono::DateTime<chrono::Utc>) -> shared::model::Event {
    common::usage_reading(ProviderId::EsimGo, iccid, "esim_1GB_7D_GB_V2", (id, at), remaining)
}

#[tokio::test]
async fn the_asking_index_queues_due_esims_and_a_worker_asks_each_once() {
    let rig = MotoRig::new("asking", "2026-12-06T12:00:00Z").await;
    let plan = AskingPlan {
        providers: vec![ProviderId::EsimGo],
        ..AskingPlan::default()
    };
    let mut settings = common::quick_settings();
    settings.asking = plan.clone();
    let sink = Arc::new(shared::alerts::sink::sns::SnsSink::new(rig.sns.clone(), &rig.topic_arn));
    let pipeline = Pipeline::new(rig.store.clone(), sink, rig.clock.clone(), settings.clone());
    let (busy, idle) = ("8944500000000000101", "8944500000000000102");
    let noon = common::instant("2026-12-06T12:00:00Z");
    pipeline.process(&usage(busy, 1_000_000_000, "u1", noon)).await.unwrap();
    pipeline.process(&usage(idle, 950_000_000, "u2", noon)).await.unwrap();
    rig.clock.set(noon + chrono::Duration::hours(1));
    // A new plan used 100 MB in its first hour (its average too): 700 MB to the 20 % level, reached at four
    // times that rate 105 minutes on.
    pipeline
        .process(&usage(busy, 900_000_000, "u3", rig.clock.now()))
        .await
        .unwrap();
    let at = |minutes: i64| noon + chrono::Duration::minutes(60 + minutes);
    let filed = |until| rig.store.filed_to_ask(ProviderId::EsimGo, until, 100);
    assert!(filed(at(104)).await.unwrap().is_empty());
    let found: Vec<String> = filed(at(106)).await.unwrap().into_iter().map(|s| s.key).collect();
    assert_eq!(found, [busy]);
    let silent: Vec<String> = filed(noon + chrono::Duration::hours(12))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.key)
        .collect();
    assert_eq!(silent, [busy, idle], "the idle eSIM is filed for silence, 12 h on");

    rig.clock.set(at(106));
    let schedule = || {
        schedule_asks(
            &plan,
            &settings.rules,
            rig.store.as_ref(),
            &pipeline,
            rig.clock.as_ref(),
        )
    };
    let (jobs, report) = schedule().await.unwrap();
    assert_eq!((report[0].queued, report[0].refiled), (1, 0));
    let queue = rig
        .sqs
        .create_queue()
        .queue_name(format!("asks-{}", std::process::id()))
        .send()
        .await
        .unwrap();
    let queue = queue.queue_url.unwrap();
    let bodies: Vec<String> = jobs.iter().map(|j| serde_json::to_string(j).unwrap()).collect();
    shared::aws::send_messages(&rig.sqs, &queue, &bodies).await.unwrap();
    let received = rig
        .sqs
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let jobs: Vec<AskJob> = received
        .messages
        .unwrap_or_default()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].provider, jobs[0].esim.as_str(), jobs[0].why.as_str()),
        (ProviderId::EsimGo, busy, "next level near")
    );

    let answers = Arc::new(EsimGoAnswers {
        remaining: 150_000_000,
        asked: Mutex::new(Vec::new()),
    });
    let reconciler = Reconciler::configured(
        ProviderId::EsimGo,
        Some("go-key"),
        Some("http://127.0.0.1:9"),
        answers.clone(),
    )
    .unwrap()
    .unwrap();
    let rules = (&settings.rules, &plan);
    let work = |job| {
        work_job(
            job,
            &reconciler,
            &pipeline,
            rig.store.as_ref(),
            rig.clock.as_ref(),
            rules,
        )
    };
    let done = work(&jobs[0]).await;
    assert!(
        matches!(
            done.as_slice(),
            [Ok(JobOutcome::Asked(Asked::Applied(
                shared::pipeline::Outcome::Stored { alerts: 1 }
            )))]
        ),
        "{done:?}"
    );
    let alerts = rig.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0]["Message"].as_str().unwrap().contains("\"level\":\"20%\""),
        "{}",
        alerts[0]["Message"]
    );

    // The same job again (queued twice, or redelivered): not due, not asked; the next pass queues nothing.
    let again = work(&jobs[0]).await;
    assert!(matches!(again.as_slice(), [Ok(JobOutcome::NotDue)]), "{again:?}");
    assert_eq!(answers.asked.lock().unwrap().len(), 1);
    let (jobs, _) = schedule().await.unwrap();
    assert!(jobs.is_empty(), "{jobs:?}");
    let state = rig.store.esim_state(ProviderId::EsimGo, busy).await.unwrap().unwrap();
    let asking = state.asking.unwrap();
    assert_eq!(asking.asked_at, Some(at(106)));
    assert!(
        asking
            .next
            .is_some_and(|next| next >= at(106) + chrono::Duration::minutes(15)),
        "{asking:?}"
    );
    assert!(rig.alerts().await.is_empty());
}

/// A pass that cannot ask every eSIM filed by now takes those filed for a level first: a routine ask (silence)
/// filed earlier waits, on DynamoDB (the asking index's sort keys) as in the local stores; one filed at the
/// pass's own instant is found.
#[tokio::test]
async fn routine_asks_wait_behind_those_for_a_level() {
    let rig = MotoRig::new("routine-asks", "2026-12-06T12:00:00Z").await;
    routine_asks_wait_in("dynamodb", rig.store.as_ref()).await;
    routine_asks_wait_in("memory", &shared::store::kv::KvStore::in_memory()).await;
}

async fn routine_asks_wait_in(name: &str, store: &(impl shared::store::EventStore + shared::store::StoreQuery)) {
    let noon = common::instant("2026-12-06T12:00:00Z");
    let filed = |key: &str, next, routine| {
        let mut state = shared::state::EsimState::first(
            ProviderId::EsimGo,
            key.into(),
            noon,
            shared::model::DedupeKey::provider_id(key),
        );
        state.asking = Some(shared::state::Asking {
            next: Some(next),
            routine,
            ..Default::default()
        });
        state
    };
    let silent = filed("8944500000000000201", noon, true);
    let near = filed("8944500000000000202", noon + chrono::Duration::minutes(30), false);
    let at_the_pass = filed("8944500000000000203", noon + chrono::Duration::hours(1), true);
    for state in [&silent, &near, &at_the_pass] {
        assert!(store.save_state(state, None).await.unwrap(), "{name}");
    }
    let keys = |limit| async move {
        let found = store
            .filed_to_ask(ProviderId::EsimGo, noon + chrono::Duration::hours(1), limit)
            .await
            .unwrap();
        found.into_iter().map(|s| s.key).collect::<Vec<_>>()
    };
    assert_eq!(keys(1).await, [near.key.as_str()], "{name}");
    assert_eq!(
        keys(10).await,
        [near.key.as_str(), silent.key.as_str(), at_the_pass.key.as_str()],
        "{name}"
    );
}
