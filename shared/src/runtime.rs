//! Production wiring of the Lambda functions: each function's configuration read once (`function_config`),
//! then its secrets and AWS clients, once per cold start, and its runtime loop. Here the webhook functions and
//! the scheduled run (expiry sweep and customer outbox); the callbacks, customers and asking functions in the
//! modules named after them.

mod callbacks;
mod customers;
mod function_config;
mod reconcile;

pub use callbacks::{build_callback_sender, build_callbacks_api, run_callback_sender, run_callbacks};
pub use customers::{build_customers_api, customer_senders, run_customers, run_customers_sender};
pub use function_config::{
    CallbackSenderConfig, CallbacksApiConfig, CustomerSenderConfig, CustomerSending, CustomersApiConfig,
    ReconcileConfig, SweepConfig, WebhookConfig,
};
pub use reconcile::run_reconcile;

use crate::alerts::sink::sns::SnsSink;
use crate::apigw::handle_apigw;
use crate::aws::{sdk_config, SsmSecrets};
use crate::clock::SystemClock;
use crate::config::{process_env, AwsTargets, ConfigError, SecretError, SecretSource};
use crate::customers::service::CustomerNotifier;
use crate::customers::TemplatesError;
use crate::model::ProviderId;
use crate::pipeline::Pipeline;
use crate::providers::{provider_from_env, SourceChecks};
use crate::reconcile::fanout::WorkerJob;
use crate::service::Service;
use crate::store::dynamodb::DynamoStore;
use crate::telemetry;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{service_fn, Error};
use std::sync::Arc;

/// Why a function could not be built at cold start: it then refuses every request, or does not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("ESIMHOOKS_MESSAGES_PARAM {name}: {source}")]
    MessagesParam { name: String, source: SecretError },
    #[error(transparent)]
    Templates(#[from] TemplatesError),
    /// The HTTPS client for callbacks (its TLS roots).
    #[error(transparent)]
    Https(#[from] std::io::Error),
}

/// The production pipeline over DynamoDB and SNS for a function that raises alerts and tells no customer
/// (the webhook functions): the core settings only, the contact named on the operator's alert, the customer
/// told downstream of the topic by the customer sender. Such a function links no customer messages.
pub(crate) async fn build_webhook_pipeline(config: &WebhookConfig) -> (Pipeline, aws_config::SdkConfig) {
    let sdk = sdk_config().await;
    let core = &config.core;
    let (mut pipeline, store) = pipeline_on(
        &sdk,
        &config.targets,
        &core.pipeline,
        core.retention,
        core.partner_events,
    );
    if core.customer_messages {
        pipeline = pipeline.with_customers_told_downstream(store);
    }
    (pipeline, sdk)
}

/// Where a function built with the customer section tells the customers of the alerts it raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Telling {
    /// Here: the customer sender.
    Here,
    /// Downstream of the topic, by the customer sender; the messages held for quiet hours are sent here (the
    /// scheduled run, the asking workers).
    Downstream,
}

/// The production pipeline over DynamoDB and SNS with the customer section (templates, senders).
pub(crate) async fn build_pipeline(
    sending: &CustomerSending,
    targets: &AwsTargets,
    telling: Telling,
) -> Result<(Pipeline, aws_config::SdkConfig), StartupError> {
    let mut settings = sending.settings.clone();
    let sdk = sdk_config().await;
    // The operator's message templates, deployed as an SSM parameter (JSON, as ESIMHOOKS_MESSAGES_FILE).
    if let Some(name) = &sending.messages_param {
        let ssm = SsmSecrets(aws_sdk_ssm::Client::new(&sdk));
        let text = match ssm.parameter(name).await {
            Ok(text) => text,
            Err(source) => {
                return Err(StartupError::MessagesParam {
                    name: name.clone(),
                    source,
                })
            }
        };
        let templates = crate::customers::Templates::with_overrides(&text)?;
        settings.customers.templates = Arc::new(templates);
    }
    let (pipeline, store) = pipeline_on(
        &sdk,
        targets,
        &settings.pipeline,
        settings.retention,
        settings.partner_events,
    );
    if !settings.customers.enabled {
        return Ok((pipeline, sdk));
    }
    let notifier = Arc::new(CustomerNotifier {
        contacts: store.clone(),
        notifications: store.clone(),
        sender: Arc::new(customers::customer_senders(&sdk, &sending.senders)),
        settings: settings.customers,
    });
    let pipeline = match telling {
        Telling::Here => pipeline.with_customers(notifier),
        Telling::Downstream => pipeline.with_customers_told_downstream(store).with_outbox(notifier),
    };
    Ok((pipeline, sdk))
}

/// The pipeline over the table and topic, and the table's store.
fn pipeline_on(
    sdk: &aws_config::SdkConfig,
    targets: &AwsTargets,
    settings: &crate::pipeline::PipelineSettings,
    retention: chrono::Duration,
    partner_events: bool,
) -> (Pipeline, Arc<DynamoStore>) {
    let store = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        &targets.table,
        retention,
    ));
    let sns = aws_sdk_sns::Client::new(sdk);
    let sink = SnsSink::new(sns, &targets.topic_arn).with_event_notifications(partner_events);
    let pipeline = Pipeline::new(store.clone(), Arc::new(sink), Arc::new(SystemClock), settings.clone());
    (pipeline, store)
}

/// Builds the production service: settings, secrets and AWS clients, once. Any configuration problem gives
/// a service that refuses every request (503) and says why in the log.
pub async fn build_service(provider_id: ProviderId) -> Service {
    let env = process_env;
    let config = match WebhookConfig::from_env(&env) {
        Ok(config) => config,
        Err(reason) => return Service::fail_closed(provider_id, reason).with_metrics(),
    };
    let (pipeline, sdk) = build_webhook_pipeline(&config).await;
    let ssm = SsmSecrets(aws_sdk_ssm::Client::new(&sdk));
    match provider_from_env(provider_id, &env, &ssm, SourceChecks::Deployed).await {
        Ok(provider) => Service::ready(provider, Arc::new(pipeline), config.core.max_body_bytes).with_metrics(),
        Err(e) => Service::fail_closed(provider_id, e).with_metrics(),
    }
}

/// The whole `main` of the provider function named `name` (its binary's name).
pub async fn run_named(name: &str) -> Result<(), Error> {
    let provider_id = ProviderId::parse(name)
        .ok_or_else(|| format!("binary {name} names no provider: use {}", ProviderId::names()))?;
    run(provider_id).await
}

/// The whole `main` of a provider function.
pub async fn run(provider_id: ProviderId) -> Result<(), Error> {
    telemetry::init_json();
    let service = Arc::new(build_service(provider_id).await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayV2httpRequest>| {
        let service = Arc::clone(&service);
        async move { Ok::<_, Error>(handle_apigw(&service, event.payload).await) }
    }))
    .await
}

/// The whole `main` of the scheduled expiry sweep. A run with failed alerts returns an error, so the
/// invocation shows as failed (and alarms) while the next run retries them.
pub async fn run_sweep() -> Result<(), Error> {
    telemetry::init_json();
    let built = match SweepConfig::from_env(&process_env) {
        Ok(config) => build_pipeline(&config.sending, &config.targets, Telling::Downstream)
            .await
            .map(|(pipeline, sdk)| (config, pipeline, sdk)),
        Err(reason) => Err(reason.into()),
    };
    let (config, pipeline, sdk) = match built {
        Ok((config, pipeline, sdk)) => (config, Arc::new(pipeline), sdk),
        Err(reason) => {
            tracing::error!(%reason, "configuration incomplete: the expiry sweep cannot run");
            return Err(reason.to_string().into());
        }
    };
    // A batch larger than one run handles in place goes to the workers' queue, where one is configured.
    let (queue, in_place) = (config.workers_queue, config.in_place);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| {
        let (pipeline, queue, sqs) = (Arc::clone(&pipeline), queue.clone(), sqs.clone());
        async move {
            let to_workers =
                |jobs: Vec<WorkerJob>| reconcile::queue_jobs(&sqs, queue.as_deref().unwrap_or_default(), jobs);
            let expiry = |esims: Vec<(ProviderId, String)>| {
                to_workers(
                    esims
                        .into_iter()
                        .map(|(provider, esim)| WorkerJob::Expiry { provider, esim })
                        .collect(),
                )
            };
            let report = pipeline.sweep_expiring_or(in_place, expiry).await?;
            tracing::info!(
                expiring = report.expiring,
                queued = report.queued,
                published = report.published,
                already_sent = report.already_sent,
                failed = report.failed,
                "expiry sweep done"
            );
            let held = |held: Vec<(String, crate::customers::records::Channel)>| {
                to_workers(
                    held.into_iter()
                        .map(|(alert, channel)| WorkerJob::Outbox { alert, channel })
                        .collect(),
                )
            };
            let outbox = pipeline.send_due_notifications_or(in_place, held).await?;
            let now = pipeline.clock().now().timestamp_millis();
            println!("{}", crate::pipeline::sweep_line(&report, &outbox, now));
            tracing::info!(
                due = outbox.due,
                sent = outbox.sent,
                not_sent = outbox.not_sent,
                retry = outbox.retry,
                "customer outbox sent"
            );
            if report.failed > 0 || outbox.retry > 0 {
                return Err(Error::from(format!(
                    "{} expiry alerts and {} queued customer messages are left for the next run",
                    report.failed, outbox.retry
                )));
            }
            Ok::<_, Error>(serde_json::json!({"sweep": report, "outbox": outbox}))
        }
    }))
    .await
}
