//! What an SQS trigger hands a Lambda function and what it answers (`ReportBatchItemFailures`), and SNS's
//! envelope of a message a topic delivers to a subscribed queue: the shapes every queue consumer reads (the
//! callback sender, the customer sender, the asking workers).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The Lambda event of an SQS trigger (the fields the consumers read).
#[derive(Debug, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<SqsRecord>,
}

#[derive(Debug, Deserialize)]
pub struct SqsRecord {
    #[serde(rename = "messageId")]
    pub message_id: String,
    #[serde(rename = "receiptHandle")]
    pub receipt_handle: String,
    pub body: String,
    #[serde(default)]
    pub attributes: HashMap<String, String>,
}

/// The answer to an SQS trigger with `ReportBatchItemFailures`: the messages to keep.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub id: String,
}

impl BatchResponse {
    /// The records whose `kept` is true, in order.
    pub fn keeping(records: Vec<SqsRecord>, kept: impl IntoIterator<Item = bool>) -> Self {
        let failures = records
            .into_iter()
            .zip(kept)
            .filter(|(_, kept)| *kept)
            .map(|(record, _)| ItemFailure { id: record.message_id })
            .collect();
        Self { failures }
    }
}

/// A topic's message as SNS puts it on a subscribed queue (raw delivery off): the message and its attributes.
#[derive(Debug, Deserialize, Serialize)]
pub struct SnsEnvelope {
    #[serde(rename = "Message")]
    pub message: String,
    #[serde(rename = "MessageAttributes", default)]
    pub attributes: HashMap<String, SnsAttribute>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct SnsAttribute {
    #[serde(rename = "Value")]
    pub value: String,
}

impl SnsEnvelope {
    /// The value of the message attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(|a| a.value.as_str())
    }
}

/// An SNS envelope as SQS delivers it, for tests.
#[cfg(any(test, feature = "testing"))]
pub fn sns_envelope(message: &str, attributes: &[(&str, &str)]) -> String {
    let attributes = attributes
        .iter()
        .map(|(k, v)| (k.to_string(), SnsAttribute { value: v.to_string() }))
        .collect();
    serde_json::to_string(&SnsEnvelope {
        message: message.to_string(),
        attributes,
    })
    .unwrap_or_default()
}
