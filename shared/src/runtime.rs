//! Production wiring of the Lambda functions: settings, secrets and AWS clients built once per cold start, and
//! the runtime loops of the webhook functions and the scheduled run (expiry sweep and customer outbox). The
//! asking functions' wiring is in `reconcile`.

mod reconcile;

pub use reconcile::run_reconcile;

use crate::apigw::{handle_apigw, handle_callbacks_apigw, handle_customers_apigw};
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
use crate::config::{process_env, AwsTargets, ConfigError, SecretError, SecretSource, Settings};
use crate::customers::api::CustomersApi;
use crate::customers::email::SesEmailSender;
use crate::customers::named::NamedEsims;
use crate::customers::notifier::CustomerNotifier;
use crate::customers::notify::Senders;
use crate::customers::sms::SnsSmsSender;
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

/// Customers are told by SMS (SNS, from `ESIMHOOKS_SMS_SENDER_ID` or `ESIMHOOKS_SMS_ORIGINATION_NUMBER` where
/// set) and, once `ESIMHOOKS_EMAIL_FROM` names a sender, by email (SES, through
/// `ESIMHOOKS_SES_CONFIGURATION_SET` where set).
pub fn customer_senders(sdk: &aws_config::SdkConfig, env: crate::config::Env<'_>) -> Senders {
    let optional = |name: &str| env(name).filter(|value| !value.trim().is_empty());
    let sms = SnsSmsSender::new(
        aws_sdk_sns::Client::new(sdk),
        optional("ESIMHOOKS_SMS_SENDER_ID"),
        optional("ESIMHOOKS_SMS_ORIGINATION_NUMBER"),
    );
    let email = optional("ESIMHOOKS_EMAIL_FROM").map(|from| {
        let ses = aws_sdk_sesv2::Client::new(sdk);
        Arc::new(SesEmailSender::new(
            ses,
            from,
            optional("ESIMHOOKS_SES_CONFIGURATION_SET"),
        )) as _
    });
    Senders {
        sms: Some(Arc::new(sms)),
        email,
    }
}

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

/// The production pipeline over DynamoDB and SNS, and the settings it was built with.
pub(crate) async fn build_pipeline(
    env: crate::config::Env<'_>,
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
    let store = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        targets.table,
        settings.retention,
    ));
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sink = SnsSink::new(sns, targets.topic_arn).with_event_notifications(settings.partner_events);
    let mut pipeline = Pipeline::new(
        store.clone(),
        Arc::new(sink),
        Arc::new(SystemClock),
        settings.pipeline.clone(),
    );
    if settings.customers.enabled {
        let customers = CustomerNotifier {
            contacts: store.clone(),
            notifications: store,
            sender: Arc::new(customer_senders(&sdk, env)),
            settings: settings.customers.clone(),
        };
        pipeline = pipeline.with_customers(Arc::new(customers));
    }
    Ok((pipeline, settings, sdk))
}

/// Builds the production service: settings, secrets and AWS clients, once. Any configuration problem gives
/// a service that refuses every request (503) and says why in the log.
pub async fn build_service(provider_id: ProviderId) -> Service {
    let env = process_env;
    let (pipeline, settings, sdk) = match build_pipeline(&env).await {
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
    let (pipeline, sdk) = match build_pipeline(&process_env).await {
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
    sender.notices = customer_senders(&sdk, &process_env).email;
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

/// The customer directory API over the table named in the environment; fail-closed without it.
pub async fn build_customers_api() -> CustomersApi {
    let Some(table) = process_env("ESIMHOOKS_TABLE").filter(|t| !t.is_empty()) else {
        return CustomersApi::fail_closed("ESIMHOOKS_TABLE is not set");
    };
    let settings = match Settings::from_env(&process_env) {
        Ok(settings) => settings,
        Err(e) => return CustomersApi::fail_closed(e),
    };
    let sdk = sdk_config().await;
    let store = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        table,
        settings.retention,
    ));
    let named = NamedEsims::new(
        store.clone(),
        settings.pipeline.asking,
        settings.pipeline.rules,
        Arc::new(SystemClock),
    );
    CustomersApi::new(store).with_named(named)
}

/// The whole `main` of the customer directory function.
pub async fn run_customers() -> Result<(), Error> {
    telemetry::init_json();
    let api = Arc::new(build_customers_api().await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayV2httpRequest>| {
        let api = Arc::clone(&api);
        async move { Ok::<_, Error>(handle_customers_apigw(&api, event.payload).await) }
    }))
    .await
}
