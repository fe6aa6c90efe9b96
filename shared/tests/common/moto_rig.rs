//! The AWS side of the integration tests on moto: a table, a topic and an SQS queue subscribed to the topic so
//! the alerts can be read back, all with names unique to the test. Included by the suites that need moto.
#![allow(dead_code)] // each suite uses its own part

use aws_config::SdkConfig;
use serde_json::Value;
use shared::store::dynamodb::DynamoStore;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub fn endpoint() -> String {
    std::env::var("ESIMHOOKS_TEST_ENDPOINT")
        .expect("ESIMHOOKS_TEST_ENDPOINT is not set: run the tests with scripts/test.sh, which starts moto")
}

fn unique(name: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "esimhooks-{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub struct MotoRig {
    pub clock: Arc<shared::clock::FixedClock>,
    pub sdk: SdkConfig,
    pub store: Arc<DynamoStore>,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub topic_arn: String,
    pub queue_url: String,
}

impl MotoRig {
    /// A rig whose clock starts at `now` (RFC 3339).
    pub async fn new(name: &str, now: &str) -> Self {
        let sdk = shared::aws::sdk_config_at(&endpoint()).await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let sns = aws_sdk_sns::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let table = unique(name);
        DynamoStore::create_table(&ddb, &table).await.expect("create table");
        let topic_arn = sns
            .create_topic()
            .name(unique(name))
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let queue_url = subscribed_queue(&sqs, &sns, &topic_arn, &unique(name), None).await;
        let store = Arc::new(DynamoStore::new(ddb, table, chrono::Duration::days(400)));
        let clock = Arc::new(shared::clock::FixedClock::at_rfc3339(now));
        Self {
            clock,
            sdk,
            store,
            sns,
            sqs,
            topic_arn,
            queue_url,
        }
    }

    /// A day either side of the rig's clock: what a test's listings read.
    pub fn window(&self) -> shared::store::ListQuery {
        use shared::clock::Clock;
        let now = self.clock.now();
        shared::store::ListQuery {
            since: Some(now - chrono::Duration::days(1)),
            until: Some(now + chrono::Duration::days(1)),
            ..shared::store::ListQuery::default()
        }
    }

    /// Every SNS envelope the queue received since the last call (moto delivers before Publish returns).
    pub async fn alerts(&self) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let batch = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let messages = batch.messages.unwrap_or_default();
            if messages.is_empty() {
                return out;
            }
            for m in messages {
                out.push(serde_json::from_str(m.body().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

/// A new queue named `name` subscribed to `topic_arn` (with `filter_policy`, a JSON filter on message
/// attributes, where given); its URL.
pub async fn subscribed_queue(
    sqs: &aws_sdk_sqs::Client,
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    name: &str,
    filter_policy: Option<&str>,
) -> String {
    let queue_url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(arn.clone())
        .send()
        .await
        .unwrap();
    let queue_arn = attributes.attributes.unwrap().remove(&arn).unwrap();
    let mut subscribe = sns.subscribe().topic_arn(topic_arn).protocol("sqs").endpoint(queue_arn);
    if let Some(filter) = filter_policy {
        subscribe = subscribe.attributes("FilterPolicy", filter);
    }
    subscribe.send().await.unwrap();
    queue_url
}

/// moto's record of what it was asked to do (`GET /moto-api/data.json`): SMS sent, emails sent, and more.
///
/// moto builds this answer by walking every backend while other tests change them, and answers 500 when a
/// backend changed under it; such an answer is asked again.
pub async fn moto_data() -> Value {
    let mut last = String::new();
    for attempt in 0..20u64 {
        let (status, body) = moto_get("/moto-api/data.json").await;
        if status == 200 {
            if let Ok(value) = serde_json::from_str(&body) {
                return value;
            }
        }
        last = format!("status {status}: {}", body.chars().take(300).collect::<String>());
        tokio::time::sleep(std::time::Duration::from_millis(50 * (attempt + 1))).await;
    }
    panic!("moto's data.json never answered with JSON; last answer {last}");
}

/// One plain HTTP/1.0 GET to moto: (status, body).
async fn moto_get(path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let endpoint = endpoint();
    let address = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}
