//! Customers told downstream of the topic on moto, as deployed: the webhook function's pipeline publishes the
//! alert naming the contact and sends nothing; the topic delivers the alert (and no partner event notification)
//! to the customer sender's queue through the template's filter policy; the customer sender, handed what the
//! queue holds as Lambda hands it, sends one SMS and one email.

use super::*;
use shared::alerts::sink::sns::SnsSink;
use shared::pipeline::CustomerQueue;
use shared::sqs_event::SqsEvent;

/// A queue subscribed to the rig's topic as the template subscribes the customer sender's.
async fn customer_messages_queue(rig: &MotoRig) -> String {
    let name = format!("customer-messages-{}", std::process::id());
    let filter = r#"{"alert_type": ["low_data", "expiry"]}"#;
    moto_rig::subscribed_queue(&rig.sqs, &rig.sns, &rig.topic_arn, &name, Some(filter)).await
}

/// What the queue holds, as the SQS trigger's event.
async fn receive(rig: &MotoRig, url: &str) -> SqsEvent {
    let output = rig
        .sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let records: Vec<Value> = output
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body}))
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

#[tokio::test]
async fn the_customer_sender_tells_what_the_webhook_published() {
    let rig = MotoRig::new("downstream", "2026-11-23T10:00:00Z").await;
    let url = customer_messages_queue(&rig).await;
    let (phone, email) = ("+34611000041", "lena@example.de");
    let fields = [
        ("provider", "esimaccess"),
        ("esim_ref", "T-LENA"),
        ("name", "Lena"),
        ("phone", phone),
        ("email", email),
        ("locale", "de"),
        ("customer_id", "cus_lena"),
    ];
    rig.store.upsert(&contact(&fields)).await.unwrap();
    // The webhook function, as deployed: partner event notifications on, customers told downstream.
    let sink = SnsSink::new(rig.sns.clone(), &rig.topic_arn).with_event_notifications(true);
    let webhook = Pipeline::new(
        rig.store.clone(),
        Arc::new(sink),
        rig.clock.clone(),
        common::quick_settings(),
    )
    .with_customers_told_downstream(rig.store.clone());
    let service = Service::ready(
        common::fixture_provider(ProviderId::EsimAccess),
        Arc::new(webhook),
        128 * 1024,
    );
    let delivery = common::signed_delivery(ProviderId::EsimAccess, &low_data("T-LENA", "n-1"), rig.clock.now());
    assert_eq!(service.handle(&delivery).await.status, 200);
    assert!(sms_to(phone).await.is_empty(), "the webhook function sent an SMS");
    assert!(email_to(email).await.is_empty(), "the webhook function sent an email");
    // The topic carried the alert and the event notification; the customer sender's queue has the alert only.
    assert_eq!(rig.alerts().await.len(), 2);
    let event = receive(&rig, &url).await;
    assert_eq!(event.records.len(), 1, "{event:?}");
    assert!(event.records[0].body.contains("cus_lena"));

    let sender = CustomerQueue {
        pipeline: pipeline(&rig, brand()).await,
    };
    let answer = sender.handle(event).await;
    assert!(answer.failures.is_empty(), "{answer:?}");
    let sms = sms_to(phone).await;
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert!(sms[0].starts_with("Travelsim"), "{}", sms[0]);
    assert_eq!(email_to(email).await.len(), 1);
}
