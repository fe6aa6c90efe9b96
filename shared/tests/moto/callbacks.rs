//! Partner callbacks through the production path (API Gateway event → CallbacksApi → DynamoDB registry, echoes
//! published to the SNS topic) against moto. The rig's SQS queue, subscribed to the topic without a filter,
//! shows every message with its attributes, and the callback sender's fan-out tells which partner endpoints
//! each would be delivered to (the delivery itself: `callback_queue.rs`).

use crate::common;

use common::*;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use serde_json::{json, Value};
use shared::alerts::sink::sns::SnsSink;
use shared::backends::dynamodb::DynamoAttemptLog;
use shared::backends::dynamodb::DynamoRegistry;
use shared::callbacks::http::HttpPoster;
use shared::callbacks::notification::callback_body;
use shared::callbacks::offboard::{remove_partner, Removed};
use shared::callbacks::partner::{generate_key, Partner, PartnerId};
use shared::callbacks::queue::SqsJobQueue;
use shared::callbacks::registry::CallbackRegistry;
use shared::callbacks::sender::{CallbackJob, MemoryAttemptLog, NotificationMessage, Sender};
use shared::callbacks::sns::SnsTransport;
use shared::callbacks::url::StaticResolver;
use shared::callbacks::{CallbacksApi, NotificationType};
use shared::clock::Clock;
use shared::lambda::{handle_apigw, handle_callbacks_apigw};
use shared::pipeline::Pipeline;
use shared::service::Service;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::moto_rig;

use moto_rig::MotoRig;

const NOW: &str = "2026-04-22T18:00:00Z";

struct Callbacks {
    rig: MotoRig,
    api: CallbacksApi,
    /// Where recovered deliveries are queued (the callback sender's queue).
    jobs_url: String,
    registry: Arc<DynamoRegistry>,
    /// A name unique to this test, for partner ids and URLs.
    tag: String,
}

fn unique_tag() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!("t{}x{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

impl Callbacks {
    async fn new(name: &str) -> Self {
        let rig = MotoRig::new(name, NOW).await;
        let registry = Arc::new(DynamoRegistry::new(rig.store.client().clone(), rig.store.table()));
        let transport = SnsTransport::new(rig.sns.clone(), rig.topic_arn.clone());
        let resolver = StaticResolver(vec!["93.184.215.14".parse().unwrap()]);
        let attempts = DynamoAttemptLog::new(rig.store.client().clone(), rig.store.table());
        let jobs_url = rig
            .sqs
            .create_queue()
            .queue_name(format!("{name}-jobs-{}", unique_tag()))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let jobs = SqsJobQueue {
            sqs: rig.sqs.clone(),
            queue_url: jobs_url.clone(),
        };
        let api = CallbacksApi::new(
            registry.clone(),
            Arc::new(transport),
            Arc::new(resolver),
            rig.clock.clone(),
        )
        .with_attempt_log(Arc::new(attempts))
        .with_job_queue(Arc::new(jobs));
        Self {
            rig,
            api,
            jobs_url,
            registry,
            tag: unique_tag(),
        }
    }

    /// Creates a partner as `esimhooks partners add` does; returns its id and key.
    async fn partner(&self, name: &str) -> (String, String) {
        let id = format!("{name}-{}", self.tag);
        let key = generate_key().unwrap();
        let mut partner = Partner {
            id: PartnerId::parse(&id).unwrap(),
            name: name.into(),
            key_hashes: vec![],
            created_at: self.rig.clock.now(),
            signing_keys: Vec::new(),
            contact_email: None,
            scope: shared::callbacks::partner::Scope::All,
        };
        partner.add_key(&key);
        self.registry.save_partner(&partner).await.unwrap();
        (id, key)
    }

    fn url(&self, name: &str) -> String {
        format!("https://{name}-{}.partner.example/esim-events", self.tag)
    }

    async fn call(&self, method: &str, path_and_query: &str, key: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let mut headers = json!({"content-type": "application/json"});
        if let Some(key) = key {
            headers["authorization"] = json!(format!("Bearer {key}"));
        }
        let event: ApiGatewayV2httpRequest = serde_json::from_value(json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7", "userAgent": "test"},
                "requestId": "callbacks-test",
                "stage": "$default",
                "timeEpoch": 0
            },
            "body": body.map(|b| b.to_string()),
            "isBase64Encoded": false
        }))
        .unwrap();
        let response = handle_callbacks_apigw(&self.api, event).await;
        (response.status_code as u16, response_json(&response))
    }

    /// The endpoint records of `urls` that exist, by URL, with their partner.
    async fn endpoints(&self, urls: &[&str]) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for url in urls {
            if let Some(endpoint) = self.registry.endpoint(url).await.unwrap() {
                out.insert(url.to_string(), endpoint.partner.to_string());
            }
        }
        out
    }

    /// The callback jobs the sender makes of what the topic carried (`envelopes`, as its SQS subscriber got
    /// them): one per registered endpoint.
    async fn jobs_of(&self, envelopes: &[Value]) -> Vec<CallbackJob> {
        let log = Arc::new(MemoryAttemptLog::default());
        let resolver = Arc::new(StaticResolver(vec!["93.184.215.14".parse().unwrap()]));
        let poster = Arc::new(HttpPoster::new(resolver, false).unwrap());
        let sender = Sender::new(self.registry.clone(), poster, log, self.rig.clock.clone());
        let mut jobs = Vec::new();
        for envelope in envelopes {
            let attribute = |name: &str| {
                envelope["MessageAttributes"][name]["Value"]
                    .as_str()
                    .map(str::to_string)
            };
            let Some(kind) = attribute("notification_type")
                .as_deref()
                .and_then(NotificationType::parse)
            else {
                continue;
            };
            let (notification_id, body) = callback_body(envelope["Message"].as_str().unwrap()).unwrap();
            let message = NotificationMessage {
                notification_type: kind,
                audience: attribute("audience").unwrap_or_else(|| "all".into()),
                owner: attribute("owner").and_then(|o| shared::callbacks::PartnerId::parse(&o)),
                notification_id,
                body,
            };
            jobs.extend(sender.fan_out(&message).await.unwrap());
        }
        jobs
    }
}

/// The body of a callback job.
fn body(job: &CallbackJob) -> Value {
    serde_json::from_str(&job.body).unwrap()
}

#[tokio::test]
async fn register_list_update_and_delete_keep_the_endpoints_in_step() {
    let t = Callbacks::new("cb-crud").await;
    let (acme, key) = t.partner("acme").await;
    let (first_url, second_url) = (t.url("crm"), t.url("app"));
    let partners = t.registry.partners().await.unwrap();
    assert_eq!(partners.len(), 1, "listed through the partner index");
    assert!(partners[0].accepts(&key) && partners[0].id.as_str() == acme);

    let (status, created) = t
        .call(
            "PUT",
            &format!("/{acme}/callbacks/1"),
            Some(&key),
            Some(json!({"url": first_url})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["notification_name"], "alert.low_data");
    assert_eq!(created["url"], first_url);
    assert_eq!(created["endpoint_status"], "active");
    let (status, _) = t
        .call(
            "PUT",
            &format!("/{acme}/callbacks/alert.expiry"),
            Some(&key),
            Some(json!({"url": first_url})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = t
        .call(
            "PUT",
            &format!("/{acme}/callbacks/11"),
            Some(&key),
            Some(json!({"url": second_url})),
        )
        .await;
    assert_eq!(status, 201);

    // One endpoint per URL, the partner's own; no SNS subscription (esimhooks delivers callbacks itself).
    let endpoints = t.endpoints(&[&first_url, &second_url]).await;
    assert_eq!(endpoints.len(), 2, "{endpoints:?}");
    assert!(endpoints.values().all(|partner| *partner == acme));
    assert!(t
        .rig
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(&t.rig.topic_arn)
        .send()
        .await
        .unwrap()
        .subscriptions()
        .iter()
        .all(|s| s.protocol() != Some("https")));

    // Paged listing.
    let (status, page) = t
        .call("GET", &format!("/{acme}/callbacks?limit=2"), Some(&key), None)
        .await;
    assert_eq!(status, 200);
    let types: Vec<u64> = page["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["notification_type"].as_u64().unwrap())
        .collect();
    assert_eq!(types, [1, 2]);
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, rest) = t
        .call(
            "GET",
            &format!("/{acme}/callbacks?limit=2&cursor={cursor}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(rest["callbacks"][0]["notification_type"], 11);
    assert_eq!(rest["callbacks"][0]["endpoint_status"], "active");
    assert_eq!(rest["next_cursor"], Value::Null);

    // Update: type 2 moves to the second URL; type 1 keeps the first URL's endpoint.
    let (status, updated) = t
        .call(
            "PUT",
            &format!("/{acme}/callbacks/2"),
            Some(&key),
            Some(json!({"url": second_url})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["url"], second_url);
    assert_eq!(t.endpoints(&[&first_url, &second_url]).await.len(), 2);

    // Delete: the last type at a URL takes its endpoint with it; a second delete is a 404.
    let (status, deleted) = t
        .call("DELETE", &format!("/{acme}/callbacks/1"), Some(&key), None)
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert!(t.endpoints(&[&first_url]).await.is_empty());
    let (status, again) = t
        .call("DELETE", &format!("/{acme}/callbacks/1"), Some(&key), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(again["error"]["code"], "not_found");
    let (_, listed) = t.call("GET", &format!("/{acme}/callbacks"), Some(&key), None).await;
    assert_eq!(listed["callbacks"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn requests_that_must_fail_do_and_say_why() {
    let t = Callbacks::new("cb-refuse").await;
    let (acme, key) = t.partner("acme").await;
    let (globex, globex_key) = t.partner("globex").await;
    let url = t.url("crm");
    let put = |partner: &str, kind: &str| format!("/{partner}/callbacks/{kind}");
    assert_eq!(
        t.call("PUT", &put(&acme, "1"), Some(&key), Some(json!({"url": url})))
            .await
            .0,
        201
    );

    /// method, path, key, body, expected status, words in the error message
    type Case<'a> = (&'a str, String, Option<&'a str>, Option<Value>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "PUT",
            put(&acme, "99"),
            Some(&key),
            Some(json!({"url": url})),
            400,
            "not supported",
        ),
        (
            "PUT",
            put(&acme, "2"),
            Some(&key),
            Some(json!({"url": "http://hooks.example.com/x"})),
            400,
            "https://",
        ),
        (
            "PUT",
            put(&acme, "2"),
            Some(&key),
            Some(json!({"url": "https://10.0.0.8/x"})),
            400,
            "private",
        ),
        (
            "PUT",
            put(&acme, "2"),
            Some(&key),
            Some(json!({"url": "https://localhost/x"})),
            400,
            "private",
        ),
        (
            "PUT",
            put(&acme, "2"),
            Some(&key),
            Some(json!({"address": url})),
            400,
            "url",
        ),
        (
            "PUT",
            put(&acme, "2"),
            Some(&key),
            Some(json!(["not", "an", "object"])),
            400,
            "JSON object",
        ),
        ("PUT", put(&acme, "2"), None, Some(json!({"url": url})), 401, "API key"),
        (
            "PUT",
            put(&acme, "2"),
            Some("ehk_wrong"),
            Some(json!({"url": url})),
            401,
            "API key",
        ),
        (
            "PUT",
            put("nobody-here", "2"),
            Some(&key),
            Some(json!({"url": url})),
            401,
            "API key",
        ),
        // Another partner's callbacks are invisible and untouchable with that partner's key...
        (
            "GET",
            format!("/{acme}/callbacks"),
            Some(&globex_key),
            None,
            401,
            "API key",
        ),
        ("DELETE", put(&acme, "1"), Some(&globex_key), None, 401, "API key"),
        // ...and its URL cannot be taken over.
        (
            "PUT",
            put(&globex, "1"),
            Some(&globex_key),
            Some(json!({"url": url})),
            409,
            "another partner",
        ),
        ("POST", put(&acme, "1"), Some(&key), None, 405, "not allowed"),
        (
            "GET",
            "/nowhere".to_string(),
            Some(&key),
            None,
            404,
            "no callbacks route",
        ),
    ];
    for (method, path, key, body, status, message) in cases {
        let (got, reply) = t.call(method, &path, key, body).await;
        assert_eq!(got, status, "{method} {path}: {reply}");
        let text = reply["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{method} {path}: {text}");
    }
    let (_, listed) = t
        .call("GET", &format!("/{globex}/callbacks"), Some(&globex_key), None)
        .await;
    assert_eq!(listed["callbacks"], json!([]), "globex sees none of acme's callbacks");
    assert_eq!(
        t.endpoints(&[&url]).await.len(),
        1,
        "refused requests changed no endpoint"
    );
}

#[tokio::test]
async fn echo_reaches_only_the_partners_url_with_the_right_attributes() {
    let t = Callbacks::new("cb-echo").await;
    let (acme, key) = t.partner("acme").await;
    let (globex, globex_key) = t.partner("globex").await;
    let (acme_url, globex_url) = (t.url("acme-app"), t.url("globex-app"));
    for (partner, key, url) in [(&acme, &key, &acme_url), (&globex, &globex_key, &globex_url)] {
        let (status, _) = t
            .call(
                "PUT",
                &format!("/{partner}/callbacks/11"),
                Some(key),
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(status, 201);
    }
    t.rig.alerts().await; // start from an empty queue

    let echo = format!("/v1/callbacks/echo/{acme}/11");
    let (status, sent) = t
        .call("POST", &echo, Some(&key), Some(json!({"simulation_id": "run-42"})))
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["status"], "sent");
    assert_eq!(sent["url"], acme_url);

    // Published once, with the attributes the sender fans out by.
    let messages = t.rig.alerts().await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let attributes = &messages[0]["MessageAttributes"];
    assert_eq!(attributes["notification_type"]["Value"], "11");
    assert_eq!(attributes["audience"]["Value"], acme);
    assert_eq!(attributes["test"]["Value"], "true");
    assert!(
        attributes.get("alert_type").is_none(),
        "email and SMS filters must not match an echo"
    );

    // For acme's URL only, as a test notification about the simulation.
    let jobs = t.jobs_of(&messages).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].url, acme_url);
    let callback = body(&jobs[0]);
    assert_eq!(callback["notification_id"], sent["notification_id"]);
    assert_eq!(callback["notification_type"], 11);
    assert_eq!(callback["test"], true);
    assert_eq!(callback["partner_id"], acme);
    assert_eq!(callback["subject"], json!({"simulation_id": "run-42"}));
    assert_eq!(callback["data"]["kind"], "data_usage");
    assert!(jobs.iter().all(|j| j.url != globex_url));

    let (status, _) = t
        .call(
            "POST",
            &echo,
            Some(&key),
            Some(json!({"esim_ref": "89012345678901234567"})),
        )
        .await;
    assert_eq!(status, 200);
    let second = t.jobs_of(&t.rig.alerts().await).await;
    assert_eq!(second.len(), 1);
    assert_eq!(body(&second[0])["subject"], json!({"esim_ref": "89012345678901234567"}));

    let refused: Vec<(String, Option<Value>, u16, &str)> = vec![
        (
            echo.clone(),
            Some(json!({"esim_ref": "E1", "simulation_id": "S1"})),
            400,
            "not both",
        ),
        (echo.clone(), Some(json!({})), 400, "exactly one"),
        (echo.clone(), None, 400, "exactly one"),
        (echo.clone(), Some(json!({"simulation_id": 7})), 400, "must be a string"),
        (
            format!("/v1/callbacks/echo/{acme}/42"),
            Some(json!({"simulation_id": "S1"})),
            400,
            "not supported",
        ),
        (
            format!("/v1/callbacks/echo/{acme}/1"),
            Some(json!({"simulation_id": "S1"})),
            404,
            "no callback is registered",
        ),
    ];
    for (path, body, status, message) in refused {
        let (got, reply) = t.call("POST", &path, Some(&key), body.clone()).await;
        assert_eq!(got, status, "{path} {body:?}: {reply}");
        assert!(reply["error"]["message"].as_str().unwrap().contains(message), "{reply}");
    }
    let (status, _) = t
        .call("POST", &echo, Some(&globex_key), Some(json!({"simulation_id": "x"})))
        .await;
    assert_eq!(status, 401, "a partner cannot fire another partner's echo");
    assert!(t.rig.alerts().await.is_empty(), "nothing refused was published");
}

#[tokio::test]
async fn real_alerts_and_events_reach_the_partner_urls_registered_for_them() {
    let t = Callbacks::new("cb-real").await;
    let (acme, key) = t.partner("acme").await;
    let (alerts_url, usage_url) = (t.url("alerts"), t.url("usage"));
    for (kind, url) in [("alert.low_data", &alerts_url), ("event.data_usage", &usage_url)] {
        let (status, _) = t
            .call(
                "PUT",
                &format!("/{acme}/callbacks/{kind}"),
                Some(&key),
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(status, 201);
    }
    let sink = SnsSink::new(t.rig.sns.clone(), t.rig.topic_arn.clone()).with_event_notifications(true);
    let pipeline = Pipeline::new(
        t.rig.store.clone(),
        Arc::new(sink),
        t.rig.clock.clone(),
        quick_settings(),
    );
    let service = Service::ready(
        deployed_provider(shared::model::ProviderId::EsimAccess),
        Arc::new(pipeline),
        128 * 1024,
    );
    let event: ApiGatewayV2httpRequest = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("events/esimaccess/05-data-usage-low.json")).unwrap(),
    )
    .unwrap();
    for _ in 0..2 {
        let response = handle_apigw(&service, event.clone()).await;
        assert_eq!(response.status_code, 200);
    }

    let jobs = t.jobs_of(&t.rig.alerts().await).await;
    let alerts: Vec<Value> = jobs.iter().filter(|j| j.url == alerts_url).map(body).collect();
    assert_eq!(alerts.len(), 1, "the low-data alert, once: {alerts:?}");
    assert_eq!(alerts[0]["notification_name"], "alert.low_data");
    assert_eq!(alerts[0]["test"], false);
    assert_eq!(alerts[0]["data"]["type"], "low_data");
    let usage: Vec<Value> = jobs.iter().filter(|j| j.url == usage_url).map(body).collect();
    assert_eq!(
        usage.len(),
        1,
        "the usage event, once (the duplicate is not offered again): {usage:?}"
    );
    assert_eq!(usage[0]["notification_name"], "event.data_usage");
    assert_eq!(usage[0]["data"]["kind"], "data_usage");
    assert!(
        usage[0]["data"].get("raw").is_none(),
        "partners get the normalized event, not the raw body"
    );
}

#[tokio::test]
async fn removing_a_partner_deletes_its_endpoints_and_records_and_no_one_elses() {
    let c = Callbacks::new("callbacks_remove").await;
    let (acme, acme_key) = c.partner("acme").await;
    let (bee, bee_key) = c.partner("bee").await;
    let (acme_url, acme_crm, bee_url) = (c.url("acme"), c.url("acme-crm"), c.url("bee"));
    for (partner, key, kind, url) in [
        (&acme, &acme_key, 1, &acme_url),
        (&acme, &acme_key, 2, &acme_url),
        (&acme, &acme_key, 11, &acme_crm),
        (&bee, &bee_key, 1, &bee_url),
    ] {
        let path = format!("/{partner}/callbacks/{kind}");
        let (status, reply) = c.call("PUT", &path, Some(key), Some(json!({"url": url}))).await;
        assert_eq!(status, 201, "{reply}");
    }
    assert_eq!(c.endpoints(&[&acme_url, &acme_crm, &bee_url]).await.len(), 3);

    let id = PartnerId::parse(&acme).unwrap();
    let transport = SnsTransport::new(c.rig.sns.clone(), c.rig.topic_arn.clone());
    let removed = remove_partner(c.registry.as_ref(), &transport, &id).await.unwrap();
    assert_eq!(
        removed,
        Some(Removed {
            callbacks: 3,
            endpoints: 2
        })
    );

    let after = c.endpoints(&[&acme_url, &acme_crm, &bee_url]).await;
    assert_eq!(after.keys().collect::<Vec<_>>(), [&bee_url], "{after:?}");
    assert!(c.registry.partner(&id).await.unwrap().is_none());
    assert!(c.registry.registrations(&id).await.unwrap().is_empty());
    assert!(c.registry.endpoint(&acme_url).await.unwrap().is_none());
    let acme_list = c
        .call("GET", &format!("/{acme}/callbacks"), Some(&acme_key), None)
        .await;
    assert_eq!(acme_list.0, 401);
    let bee_list = c.call("GET", &format!("/{bee}/callbacks"), Some(&bee_key), None).await;
    assert_eq!(
        (bee_list.0, bee_list.1["callbacks"][0]["url"].clone()),
        (200, json!(bee_url))
    );
}

/// `POST /{partnerId}/secret/rotate`: a new signing secret shown once; the previous one signs for the overlap.
#[tokio::test]
async fn a_partner_rotates_its_signing_secret_and_both_sign_for_the_overlap() {
    use shared::callbacks::signing::SigningSecret;
    let c = Callbacks::new("rotate-secret").await;
    let (id, key) = c.partner("acme").await;
    let (first, _) = c.call("POST", &format!("/{id}/secret/rotate"), Some(&key), None).await;
    assert_eq!(first, 200);
    let (status, body) = c.call("POST", &format!("/{id}/secret/rotate"), Some(&key), None).await;
    assert_eq!(status, 200, "{body}");
    let secret = SigningSecret::parse(body["secret"].as_str().unwrap()).unwrap();
    let until = body["previous_secrets_sign_until"].as_str().unwrap();
    assert_eq!(
        until,
        (c.rig.clock.now() + chrono::Duration::hours(24)).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    );
    let stored = c
        .registry
        .partner(&PartnerId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let signing = stored.signing_secrets(c.rig.clock.now());
    assert_eq!((signing.len(), &signing[0]), (2, &secret));
    let (refused, _) = c
        .call("POST", &format!("/{id}/secret/rotate"), Some("ehk_wrong"), None)
        .await;
    assert_eq!(refused, 401);
    let (wrong_method, _) = c.call("GET", &format!("/{id}/secret/rotate"), Some(&key), None).await;
    assert_eq!(wrong_method, 405);
}

/// `GET /{partnerId}/callbacks/attempts`: the partner's own attempts, newest first, filtered and paged.
#[tokio::test]
async fn a_partner_reads_its_attempts_filtered_and_paged() {
    use shared::callbacks::delivery::Verdict;
    use shared::callbacks::sender::{AttemptLog, AttemptRecord};
    let c = Callbacks::new("attempts").await;
    let (id, key) = c.partner("acme").await;
    let (other, _) = c.partner("other").await;
    let log = DynamoAttemptLog::new(c.rig.store.client().clone(), c.rig.store.table());
    let now = c.rig.clock.now();
    for (i, (partner, status, verdict, kind)) in [
        (&id, Some(500), Verdict::RetryIn(chrono::Duration::seconds(5)), 1u16),
        (&id, Some(200), Verdict::Delivered, 1),
        (&id, None, Verdict::RetryIn(chrono::Duration::minutes(5)), 2),
        (&other, Some(200), Verdict::Delivered, 1),
    ]
    .into_iter()
    .enumerate()
    {
        let record = AttemptRecord {
            partner: PartnerId::parse(partner).unwrap(),
            url: "https://acme.example/hooks".into(),
            notification_id: format!("ntf_{i}"),
            notification_type: kind,
            attempt: 1,
            at: now - chrono::Duration::minutes(10 - i as i64),
            status,
            error: status.is_none().then(|| "timed out".into()),
            latency_ms: 12,
            verdict,
            owner: None,
        };
        log.record(&record).await.unwrap();
    }
    let (status, all) = c
        .call("GET", &format!("/{id}/callbacks/attempts"), Some(&key), None)
        .await;
    assert_eq!(status, 200, "{all}");
    let ids: Vec<&str> = all["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["notification_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ntf_2", "ntf_1", "ntf_0"], "newest first, only its own");
    let (_, failed) = c
        .call(
            "GET",
            &format!("/{id}/callbacks/attempts?status=failed&type=1"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(failed["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(failed["attempts"][0]["status"], 500);
    let (_, page) = c
        .call("GET", &format!("/{id}/callbacks/attempts?limit=2"), Some(&key), None)
        .await;
    assert_eq!(page["attempts"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, rest) = c
        .call(
            "GET",
            &format!("/{id}/callbacks/attempts?limit=2&cursor={}", cursor.replace('+', "%2B")),
            Some(&key),
            None,
        )
        .await;
    let rest: Vec<&str> = rest["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["notification_id"].as_str().unwrap())
        .collect();
    assert_eq!(rest, ["ntf_0"]);
    let (bad, _) = c
        .call(
            "GET",
            &format!("/{id}/callbacks/attempts?status=maybe"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(bad, 400);
    let (refused, _) = c
        .call("GET", &format!("/{other}/callbacks/attempts"), Some(&key), None)
        .await;
    assert_eq!(refused, 401, "another partner's log needs its key");
}

/// `POST /{partnerId}/callbacks/recover`: every delivery to the partner given up on since `since` is queued
/// again on the sender's queue and forgotten; another partner's, and older ones, stay.
#[tokio::test]
async fn a_partner_recovers_what_failed_since_a_time_and_only_that() {
    use shared::callbacks::sender::{AttemptLog, FailedDelivery};
    let c = Callbacks::new("recover").await;
    let (id, key) = c.partner("acme").await;
    let (other, _) = c.partner("other").await;
    let log = DynamoAttemptLog::new(c.rig.store.client().clone(), c.rig.store.table());
    let now = c.rig.clock.now();
    for (n, (partner, hours_ago)) in [(&id, 30), (&id, 5), (&id, 1), (&other, 1)].into_iter().enumerate() {
        let failed = FailedDelivery {
            job: CallbackJob {
                notification_id: format!("ntf_{n}"),
                notification_type: 1,
                partner: PartnerId::parse(partner).unwrap(),
                url: format!("https://{partner}.example/cb"),
                body: format!("{{\"n\":{n}}}"),
                owner: None,
            },
            failed_at: now - chrono::Duration::hours(hours_ago),
            attempts: 8,
        };
        log.park(&failed).await.unwrap();
    }
    let path = format!("/{id}/callbacks/recover");
    let since = (now - chrono::Duration::hours(6)).to_rfc3339();
    let (status, answer) = c.call("POST", &path, Some(&key), Some(json!({"since": since}))).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        (answer["resent"].as_u64(), answer["more"].as_bool()),
        (Some(2), Some(false))
    );
    let received = c
        .rig
        .sqs
        .receive_message()
        .queue_url(&c.jobs_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let mut ids: Vec<String> = received
        .messages()
        .iter()
        .map(|m| {
            serde_json::from_str::<Value>(m.body().unwrap()).unwrap()["job"]["notification_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["ntf_1", "ntf_2"]);
    let (_, again) = c.call("POST", &path, Some(&key), Some(json!({"since": since}))).await;
    assert_eq!(again["resent"], 0, "recovered ones are forgotten");
    let left = log
        .parked(&PartnerId::parse(&id).unwrap(), now - chrono::Duration::days(30), 10)
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "the one before since stays");
    assert_eq!(
        log.parked(&PartnerId::parse(&other).unwrap(), now - chrono::Duration::days(1), 10)
            .await
            .unwrap()
            .len(),
        1
    );

    for (body, expected) in [
        (None, 400),
        (Some(json!({"since": "yesterday"})), 400),
        (
            Some(json!({"since": (now + chrono::Duration::hours(1)).to_rfc3339()})),
            400,
        ),
    ] {
        let (status, answer) = c.call("POST", &path, Some(&key), body).await;
        assert_eq!(status, expected, "{answer}");
    }
    let (refused, _) = c
        .call(
            "POST",
            &format!("/{other}/callbacks/recover"),
            Some(&key),
            Some(json!({"since": since})),
        )
        .await;
    assert_eq!(refused, 401, "another partner's failures need its key");
}

mod scopes;

#[tokio::test]
async fn failures_are_counted_on_the_table_and_throttle_the_api() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use shared::backends::dynamodb::DynamoAuthFailures;
    use shared::callbacks::throttle::{AuthFailures, FailureThrottle, Limits, Subject, Window};
    let mut t = Callbacks::new("cb-throttle").await;
    let counters = Arc::new(DynamoAuthFailures::new(
        t.rig.store.client().clone(),
        t.rig.store.table(),
    ));
    let window = Window::at(t.rig.clock.now());
    let source = Subject::source("198.51.100.9".parse().unwrap());
    assert_eq!(counters.count(&source, window).await.unwrap(), 0);
    // Concurrent failures (Lambda instances at once) are all counted: ADD is atomic.
    futures_util::future::join_all((0..12).map(|_| counters.add(&source, window)))
        .await
        .into_iter()
        .for_each(|added| added.unwrap());
    assert_eq!(counters.count(&source, window).await.unwrap(), 12);
    let next = Window::at(window.end());
    assert_eq!(
        counters.count(&source, next).await.unwrap(),
        0,
        "a new window starts at 0"
    );
    assert_eq!(counters.count(&Subject::partner("acme"), window).await.unwrap(), 0);
    let item = t
        .rig
        .store
        .client()
        .get_item()
        .table_name(t.rig.store.table())
        .key("pk", AttributeValue::S("AUTHFAIL#source#198.51.100.9".into()))
        .key("sk", AttributeValue::S(shared::store::keys::instant(window.start)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let ttl = item["ttl"].as_n().unwrap().parse::<i64>().unwrap();
    assert_eq!(ttl, (window.end() + chrono::Duration::hours(1)).timestamp());

    // The API on those counters: three failures from the test's source, then even the right key waits.
    let (acme, key) = t.partner("acme").await;
    let limits = Limits {
        per_source: 3,
        per_partner: 50,
    };
    t.api = CallbacksApi::new(
        t.registry.clone(),
        Arc::new(SnsTransport::new(t.rig.sns.clone(), t.rig.topic_arn.clone())),
        Arc::new(StaticResolver(vec![])),
        t.rig.clock.clone(),
    )
    .with_failure_throttle(FailureThrottle::new(counters, limits));
    let list = format!("/{acme}/callbacks");
    for _ in 0..3 {
        assert_eq!(t.call("GET", &list, Some("ehk_wrong"), None).await.0, 401);
    }
    let (status, refused) = t.call("GET", &list, Some(&key), None).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (429, Some("too_many_failures"))
    );
    t.rig.clock.set(window.end());
    assert_eq!(t.call("GET", &list, Some(&key), None).await.0, 200);
}
