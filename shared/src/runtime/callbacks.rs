//! The partner callbacks functions' wiring: the API and the sender, each from its configuration.

use super::function_config::{CallbackSenderConfig, CallbacksApiConfig};
use super::{customers, StartupError};
use crate::apigw::handle_callbacks_apigw;
use crate::aws::sdk_config;
use crate::backends::dynamodb::DynamoAttemptLog;
use crate::backends::dynamodb::DynamoAuthFailures;
use crate::backends::dynamodb::DynamoRegistry;
use crate::callbacks::http::HttpPoster;
use crate::callbacks::queue::{QueueSender, SqsEvent, SqsJobQueue};
use crate::callbacks::sender::Sender;
use crate::callbacks::sns::SnsTransport;
use crate::callbacks::throttle::FailureThrottle;
use crate::callbacks::url::SystemResolver;
use crate::callbacks::CallbacksApi;
use crate::clock::SystemClock;
use crate::config::process_env;
use crate::store::dynamodb::DynamoStore;
use crate::telemetry;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{service_fn, Error};
use std::sync::Arc;

/// The partner callbacks API over the table and topic named in the environment; fail-closed without them.
pub async fn build_callbacks_api() -> CallbacksApi {
    let config = match CallbacksApiConfig::from_env(&process_env) {
        Ok(config) => config,
        Err(reason) => return CallbacksApi::fail_closed(reason),
    };
    let targets = config.targets;
    let sdk = sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let attempts = DynamoAttemptLog::new(ddb.clone(), &targets.table);
    // Failed authentications are counted on the table, so every instance of the function counts together.
    let failures = DynamoAuthFailures::new(ddb.clone(), &targets.table);
    // Read only (whose an eSIM is, for echoes): the retention applies to writes.
    let states = DynamoStore::new(ddb.clone(), &targets.table, chrono::Duration::days(400));
    let registry = DynamoRegistry::new(ddb, targets.table);
    let transport = SnsTransport::new(aws_sdk_sns::Client::new(&sdk), targets.topic_arn);
    let mut api = CallbacksApi::new(
        Arc::new(registry),
        Arc::new(transport),
        Arc::new(SystemResolver),
        Arc::new(SystemClock),
    )
    .with_attempt_log(Arc::new(attempts))
    .with_esim_states(Arc::new(states))
    .with_failure_throttle(FailureThrottle::new(Arc::new(failures), config.limits))
    .with_signing_overlap(config.signing_overlap);
    if let Some(queue_url) = config.queue_url {
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        api = api.with_job_queue(Arc::new(SqsJobQueue { sqs, queue_url }));
    }
    api
}

/// The whole `main` of the partner callbacks API function.
pub async fn run_callbacks() -> Result<(), Error> {
    telemetry::init_json();
    let api = Arc::new(build_callbacks_api().await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayV2httpRequest>| {
        let api = Arc::clone(&api);
        async move { Ok::<_, Error>(handle_callbacks_apigw(&api, event.payload).await) }
    }))
    .await
}

/// The partner callback sender over the table and queues its configuration names.
pub async fn build_callback_sender() -> Result<QueueSender, StartupError> {
    let config = CallbackSenderConfig::from_env(&process_env)?;
    let sdk = sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let poster = HttpPoster::new(Arc::new(SystemResolver), false)?;
    let mut sender = Sender::new(
        Arc::new(DynamoRegistry::new(ddb.clone(), &config.table)),
        Arc::new(poster),
        Arc::new(DynamoAttemptLog::new(ddb, &config.table)),
        Arc::new(SystemClock),
    );
    sender.emit_metrics = true;
    sender.follow(config.delivery);
    // Partners with a contact email hear when an endpoint is disabled.
    sender.notices = customers::customer_senders(&sdk, &config.senders)
        .of(crate::records::Channel::Email)
        .cloned();
    Ok(QueueSender {
        sender,
        sqs: aws_sdk_sqs::Client::new(&sdk),
        queue_url: config.queue_url,
        dead_letter_url: config.dead_letter_url,
    })
}

/// The whole `main` of the partner callback sender (an SQS trigger with batch item failures).
pub async fn run_callback_sender() -> Result<(), Error> {
    telemetry::init_json();
    let sender = match build_callback_sender().await {
        Ok(sender) => Arc::new(sender),
        Err(reason) => {
            tracing::error!(%reason, "configuration incomplete: the callback sender cannot run");
            return Err(reason.to_string().into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let sender = Arc::clone(&sender);
        async move { Ok::<_, Error>(sender.handle(event.payload).await) }
    }))
    .await
}
