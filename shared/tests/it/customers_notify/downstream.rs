//! Telling customers downstream of the topic, as deployed: the webhook function's pipeline names the contact
//! on the operator's alert and tells nobody; the customer sender, handed the published alert in SNS's envelope
//! on its queue, tells each channel once, keeps a message that failed for now and drops what is no alert.

use super::*;
use shared::alerts::sink::render;
use shared::pipeline::CustomerQueue;
use shared::sqs_event::{sns_envelope, SqsEvent};

struct Downstream {
    /// The webhook function: names, tells nobody.
    service: Arc<Service>,
    sink: Arc<MemorySink>,
    /// The customer sender over the same table.
    queue: CustomerQueue,
    sender: Arc<MemorySender>,
    clock: Arc<FixedClock>,
}

async fn downstream(contact: &[(&str, &str)]) -> Downstream {
    let told = rig(Some(contact)).await;
    let webhook = Arc::new(
        Pipeline::new(
            told.store.clone(),
            told.sink.clone(),
            told.clock.clone(),
            quick_settings(),
        )
        .with_customers_told_downstream(told.store.clone()),
    );
    let service = Arc::new(Service::ready(
        fixture_provider(ProviderId::EsimAccess),
        webhook,
        128 * 1024,
    ));
    Downstream {
        service,
        sink: told.sink,
        queue: CustomerQueue {
            pipeline: told.pipeline,
        },
        sender: told.sender,
        clock: told.clock,
    }
}

/// An SQS trigger's event of `bodies`, message ids `m-0`, `m-1`...
fn sqs_event(bodies: &[String]) -> SqsEvent {
    let records: Vec<_> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| json!({"messageId": format!("m-{i}"), "receiptHandle": "r", "body": body}))
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

/// The published alert as the topic puts it on the customer sender's queue.
fn on_the_queue(alert: &shared::alerts::Alert) -> String {
    let rendered = render(alert);
    let message: serde_json::Value = serde_json::from_str(&rendered.message).unwrap();
    let attributes: Vec<(&str, &str)> = rendered.attributes.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sns_envelope(message["sqs"].as_str().unwrap(), &attributes)
}

#[tokio::test]
async fn the_webhook_names_the_contact_and_the_customer_sender_tells_each_channel_once() {
    let mut with_id = ANA.to_vec();
    with_id.push(("customer_id", "cus_42"));
    let rig = downstream(&with_id).await;
    let delivery = signed_delivery(ProviderId::EsimAccess, &low_data("n-1"), rig.clock.now());
    assert_eq!(rig.service.handle(&delivery).await.status, 200);
    let published = rig.sink.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].customer_id.as_deref(), Some("cus_42"));
    assert!(rig.sender.sent().is_empty(), "the webhook function told someone");

    let body = on_the_queue(&published[0]);
    let answer = rig.queue.handle(sqs_event(std::slice::from_ref(&body))).await;
    assert!(answer.failures.is_empty(), "{answer:?}");
    let sent = rig.sender.sent();
    assert_eq!(
        sent.iter()
            .map(|(channel, to, _)| (*channel, to.as_str()))
            .collect::<Vec<_>>(),
        [(Channel::Sms, "+34612345678"), (Channel::Email, "ana@example.es")]
    );
    assert!(sent[0].2.contains("Travelsim"), "{}", sent[0].2);
    // SQS delivers at least once: the same alert again tells nobody again.
    let answer = rig.queue.handle(sqs_event(&[body.clone(), body])).await;
    assert!(answer.failures.is_empty(), "{answer:?}");
    assert_eq!(rig.sender.sent().len(), 2);
}

#[tokio::test]
async fn a_message_that_failed_for_now_is_kept_and_sent_on_its_next_receive() {
    let rig = downstream(ANA).await;
    let delivery = signed_delivery(ProviderId::EsimAccess, &low_data("n-1"), rig.clock.now());
    assert_eq!(rig.service.handle(&delivery).await.status, 200);
    let body = on_the_queue(&rig.sink.published()[0]);
    rig.sender.fail_next(vec![SendFailure::Transient("throttled".into())]);
    let answer = rig.queue.handle(sqs_event(std::slice::from_ref(&body))).await;
    assert_eq!(answer.failures.len(), 1);
    assert_eq!(answer.failures[0].id, "m-0");
    let answer = rig.queue.handle(sqs_event(&[body])).await;
    assert!(answer.failures.is_empty(), "{answer:?}");
    let channels: Vec<Channel> = rig.sender.sent().iter().map(|(channel, _, _)| *channel).collect();
    assert_eq!(
        channels.iter().filter(|c| **c == Channel::Sms).count(),
        1,
        "{channels:?}"
    );
    assert_eq!(
        channels.iter().filter(|c| **c == Channel::Email).count(),
        1,
        "{channels:?}"
    );
}

#[tokio::test]
async fn what_is_no_alert_is_dropped_and_an_alert_without_a_contact_tells_nobody() {
    let rig = downstream(ANA).await;
    let mut stranger = rig_alert(&rig).await;
    stranger.esim.as_mut().unwrap().key = "T-NOBODY".into();
    stranger.esim.as_mut().unwrap().iccid = None;
    stranger.esim.as_mut().unwrap().refs.clear();
    let bodies = [
        "not json".to_string(),
        sns_envelope(r#"{"notification_id":"n","data":{}}"#, &[("notification_type", "2")]),
        on_the_queue(&stranger),
    ];
    let answer = rig.queue.handle(sqs_event(&bodies)).await;
    assert!(answer.failures.is_empty(), "{answer:?}");
    assert!(rig.sender.sent().is_empty());
}

/// The alert a low-data delivery for Ana raises (published, nobody told).
async fn rig_alert(rig: &Downstream) -> shared::alerts::Alert {
    let delivery = signed_delivery(ProviderId::EsimAccess, &low_data("n-1"), rig.clock.now());
    assert_eq!(rig.service.handle(&delivery).await.status, 200);
    rig.sink.published().remove(0)
}
