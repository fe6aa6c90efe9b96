//! Production wiring of the Lambda functions: settings, secrets and AWS clients built once per cold start, and
//! the runtime loops of the webhook functions and the scheduled run (expiry sweep and customer outbox). The
//! asking functions' wiring is in `reconcile`.

mod customers;
mod reconcile;

pub use customers::{build_customers_api, customer_senders, run_customers, run_customers_sender};
pub use reconcile::run_reconcile;

use crate::apigw::{handle_apigw, handle_callbacks_apigw};
use crate::aws::{sdk_config, SsmSecrets};
use crate::callbacks::attempts::DynamoAttemptLog;
use crate::callbacks::dynamodb::DynamoRegistry;
use crate::callbacks::http::HttpPoster;
use crate::callbacks::queue::{QueueSender, SqsEvent, SqsJobQueue};
use crate::callbacks::sender::Sender;
use crate::callbacks::sns::SnsTransport;
use crate::callbacks::throttle::{FailureThrottle, Limits};
use crate::callbacks::throttle_dynamodb::DynamoAuthFailures;
use crate::callbacks::url::SystemResolver;
use crate::callbacks::CallbacksApi;
use crate::clock::SystemClock;
use crate::config::{process_env, AwsTargets, ConfigError, CoreSettings, SecretError, SecretSource, Settings};
use crate::customers::notifier::CustomerNotifier;
use crate::customers::TemplatesError;
use crate::model::ProviderId;
use crate::notify::sns::SnsSink;
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
pub(crate) async fn build_core_pipeline(
    env: crate::config::Env<'_>,
) -> Result<(Pipeline, CoreSettings, aws_config::SdkConfig), StartupError> {
    let settings = CoreSettings::from_env(env)?;
    let targets = AwsTargets::from_env(env)?;
    let sdk = sdk_config().await;
    let (mut pipeline, store) = pipeline_on(
        &sdk,
        targets,
        &settings.pipeline,
        settings.retention,
        settings.partner_events,
    );
    if settings.customer_messages {
        pipeline = pipeline.with_customers_told_downstream(store);
    }
    Ok((pipeline, settings, sdk))
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

/// The production pipeline over DynamoDB and SNS with the customer section (templates, senders), and the
/// settings it was built with.
pub(crate) async fn build_pipeline(
    env: crate::config::Env<'_>,
    telling: Telling,
) -> Result<(Pipeline, Settings, aws_config::SdkConfig), StartupError> {
    let mut settings = Settings::from_env(env)?;
    let targets = AwsTargets::from_env(env)?;
    let sdk = sdk_config().await;
    // The operator's message templates, deployed as an SSM parameter (JSON, as ESIMHOOKS_MESSAGES_FILE).
    if let Some(name) = env("ESIMHOOKS_MESSAGES_PARAM").filter(|n| !n.trim().is_empty()) {
        let ssm = SsmSecrets(aws_sdk_ssm::Client::new(&sdk));
        let text = match ssm.parameter(&name).await {
            Ok(text) => text,
            Err(source) => return Err(StartupError::MessagesParam { name, source }),
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
        return Ok((pipeline, settings, sdk));
    }
    let notifier = Arc::new(CustomerNotifier {
        contacts: store.clone(),
        notifications: store.clone(),
        sender: Arc::new(customers::customer_senders(&sdk, env)),
        settings: settings.customers.clone(),
    });
    let pipeline = match telling {
        Telling::Here => pipeline.with_customers(notifier),
        Telling::Downstream => pipeline.with_customers_told_downstream(store).with_outbox(notifier),
    };
    Ok((pipeline, settings, sdk))
}

/// The pipeline over the table and topic, and the table's store.
fn pipeline_on(
    sdk: &aws_config::SdkConfig,
    targets: AwsTargets,
    settings: &crate::pipeline::PipelineSettings,
    retention: chrono::Duration,
    partner_events: bool,
) -> (Pipeline, Arc<DynamoStore>) {
    let store = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        targets.table,
        retention,
    ));
    let sns = aws_sdk_sns::Client::new(sdk);
    let sink = SnsSink::new(sns, targets.topic_arn).with_event_notifications(partner_events);
    let pipeline = Pipeline::new(store.clone(), Arc::new(sink), Arc::new(SystemClock), settings.clone());
    (pipeline, store)
}

/// Builds the production service: settings, secrets and AWS clients, once. Any configuration problem gives
/// a service that refuses every request (503) and says why in the log.
pub async fn build_service(provider_id: ProviderId) -> Service {
    let env = process_env;
    let (pipeline, settings, sdk) = match build_core_pipeline(&env).await {
        Ok(built) => built,
        Err(reason) => return Service::fail_closed(provider_id, reason).with_metrics(),
    };
    let ssm = SsmSecrets(aws_sdk_ssm::Client::new(&sdk));
    match provider_from_env(provider_id, &env, &ssm, SourceChecks::Deployed).await {
        Ok(provider) => Service::ready(provider, Arc::new(pipeline), settings.max_body_bytes).with_metrics(),
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

/// The expiry alerts one sweep raises in place: at a few calls each, what one run handles in well under a
/// minute; a larger batch is handed to the workers (`ESIMHOOKS_SWEEP_IN_PLACE`).
const SWEEP_IN_PLACE: usize = 500;

/// The whole `main` of the scheduled expiry sweep. A run with failed alerts returns an error, so the
/// invocation shows as failed (and alarms) while the next run retries them.
pub async fn run_sweep() -> Result<(), Error> {
    telemetry::init_json();
    let (pipeline, sdk) = match build_pipeline(&process_env, Telling::Downstream).await {
        Ok((pipeline, _, sdk)) => (Arc::new(pipeline), sdk),
        Err(reason) => {
            tracing::error!(%reason, "configuration incomplete: the expiry sweep cannot run");
            return Err(reason.to_string().into());
        }
    };
    // A batch larger than one run handles in place goes to the workers' queue, where one is configured.
    let queue = process_env("ESIMHOOKS_RECONCILE_QUEUE_URL").filter(|url| !url.trim().is_empty());
    let in_place = match (&queue, process_env("ESIMHOOKS_SWEEP_IN_PLACE")) {
        (None, _) => usize::MAX,
        (Some(_), None) => SWEEP_IN_PLACE,
        (Some(_), Some(text)) => text
            .trim()
            .parse()
            .map_err(|_| "ESIMHOOKS_SWEEP_IN_PLACE: must be a number of eSIMs")?,
    };
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
            let held = |held: Vec<(String, crate::customers::notify::Channel)>| {
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

/// The partner callbacks API over the table and topic named in the environment; fail-closed without them.
pub async fn build_callbacks_api() -> CallbacksApi {
    let targets = match AwsTargets::from_env(&process_env) {
        Ok(targets) => targets,
        Err(e) => return CallbacksApi::fail_closed(e),
    };
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
    .with_esim_states(Arc::new(states));
    if let Some(queue_url) = process_env("ESIMHOOKS_CALLBACKS_QUEUE_URL").filter(|u| !u.is_empty()) {
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        api = api.with_job_queue(Arc::new(SqsJobQueue { sqs, queue_url }));
    }
    match Limits::from_env(&process_env) {
        Ok(limits) => api = api.with_failure_throttle(FailureThrottle::new(Arc::new(failures), limits)),
        Err(reason) => return CallbacksApi::fail_closed(reason),
    }
    match crate::callbacks::partner::signing_overlap(&process_env) {
        Ok(overlap) => api.with_signing_overlap(overlap),
        Err(reason) => CallbacksApi::fail_closed(reason),
    }
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

/// The partner callback sender over the table and queues named in the environment: `ESIMHOOKS_TABLE`,
/// `ESIMHOOKS_CALLBACKS_QUEUE_URL`, `ESIMHOOKS_CALLBACKS_DEAD_LETTER_URL`, and optionally
/// `ESIMHOOKS_CALLBACK_RETRY_SCHEDULE` (`5s,5m,30m,2h,5h,10h,10h`), `ESIMHOOKS_CALLBACK_DISABLE_AFTER` (`5d`)
/// and `ESIMHOOKS_EMAIL_FROM` (partners are told by email when an endpoint is disabled).
pub async fn build_callback_sender() -> Result<QueueSender, StartupError> {
    let need = |name: &str| {
        process_env(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ConfigError::Missing(name.into()))
    };
    let table = need("ESIMHOOKS_TABLE")?;
    let queue_url = need("ESIMHOOKS_CALLBACKS_QUEUE_URL")?;
    let dead_letter_url = need("ESIMHOOKS_CALLBACKS_DEAD_LETTER_URL")?;
    let sdk = sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let poster = HttpPoster::new(Arc::new(SystemResolver), false)?;
    let mut sender = Sender::new(
        Arc::new(DynamoRegistry::new(ddb.clone(), &table)),
        Arc::new(poster),
        Arc::new(DynamoAttemptLog::new(ddb, &table)),
        Arc::new(SystemClock),
    );
    sender.emit_metrics = true;
    sender.configure(&process_env)?;
    sender.notices = customers::customer_senders(&sdk, &process_env).email;
    Ok(QueueSender {
        sender,
        sqs: aws_sdk_sqs::Client::new(&sdk),
        queue_url,
        dead_letter_url,
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
