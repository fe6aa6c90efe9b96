//! The customer functions' wiring: the directory API, and the customer sender, which tells the customers of
//! the alerts the topic carries to its queue.

use super::function_config::{CustomerSenderConfig, CustomersApiConfig};
use super::{build_pipeline, Telling};
use crate::apigw::handle_customers_apigw;
use crate::aws::sdk_config;
use crate::clock::SystemClock;
use crate::config::{process_env, SenderIdentity};
use crate::customers::api::CustomersApi;
use crate::customers::email::SesEmailSender;
use crate::customers::named::NamedEsims;
use crate::customers::records::{Channel, CustomerSender, Senders};
use crate::customers::sms::SnsSmsSender;
use crate::pipeline::CustomerQueue;
use crate::sqs_event::SqsEvent;
use crate::store::dynamodb::DynamoStore;
use crate::telemetry;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{service_fn, Error};
use std::sync::Arc;

/// Each channel's sender, where it is configured.
pub fn customer_senders(sdk: &aws_config::SdkConfig, identity: &SenderIdentity) -> Senders {
    Channel::ALL
        .into_iter()
        .filter_map(|channel| Some((channel, channel_sender(channel, sdk, identity)?)))
        .collect()
}

/// Customers are told by SMS (SNS, from the sender id or origination number where set) and, once an email
/// sender is named, by email (SES, through the configuration set where set).
fn channel_sender(
    channel: Channel,
    sdk: &aws_config::SdkConfig,
    identity: &SenderIdentity,
) -> Option<Arc<dyn CustomerSender>> {
    match channel {
        Channel::Sms => Some(Arc::new(SnsSmsSender::new(
            aws_sdk_sns::Client::new(sdk),
            identity.sms_sender_id.clone(),
            identity.sms_origination_number.clone(),
        ))),
        Channel::Email => identity.email_from.clone().map(|from| {
            let ses = aws_sdk_sesv2::Client::new(sdk);
            Arc::new(SesEmailSender::new(ses, from, identity.ses_configuration_set.clone())) as _
        }),
    }
}

/// The customer directory API over the table named in the environment; fail-closed without it.
pub async fn build_customers_api() -> CustomersApi {
    let config = match CustomersApiConfig::from_env(&process_env) {
        Ok(config) => config,
        Err(reason) => return CustomersApi::fail_closed(reason),
    };
    let sdk = sdk_config().await;
    let store = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        config.table,
        config.core.retention,
    ));
    let named = NamedEsims::new(
        store.clone(),
        config.core.pipeline.asking,
        config.core.pipeline.rules,
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

/// The whole `main` of the customer sender (an SQS trigger with batch item failures, on the queue subscribed
/// to the topic's alerts).
pub async fn run_customers_sender() -> Result<(), Error> {
    telemetry::init_json();
    let built = match CustomerSenderConfig::from_env(&process_env) {
        Ok(config) => build_pipeline(&config.sending, &config.targets, Telling::Here).await,
        Err(reason) => Err(reason.into()),
    };
    let queue = match built {
        Ok((pipeline, _)) => Arc::new(CustomerQueue {
            pipeline: Arc::new(pipeline),
        }),
        Err(reason) => {
            tracing::error!(%reason, "configuration incomplete: the customer sender cannot run");
            return Err(reason.to_string().into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let queue = Arc::clone(&queue);
        async move { Ok::<_, Error>(queue.handle(event.payload).await) }
    }))
    .await
}
