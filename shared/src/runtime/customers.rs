//! The customer functions' wiring: the directory API, and the customer sender, which tells the customers of
//! the alerts the topic carries to its queue.

use super::{build_pipeline, Telling};
use crate::apigw::handle_customers_apigw;
use crate::aws::sdk_config;
use crate::clock::SystemClock;
use crate::config::{process_env, Settings};
use crate::customers::api::CustomersApi;
use crate::customers::email::SesEmailSender;
use crate::customers::named::NamedEsims;
use crate::customers::notify::Senders;
use crate::customers::sms::SnsSmsSender;
use crate::pipeline::CustomerQueue;
use crate::sqs_event::SqsEvent;
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

/// The whole `main` of the customer sender (an SQS trigger with batch item failures, on the queue subscribed
/// to the topic's alerts).
pub async fn run_customers_sender() -> Result<(), Error> {
    telemetry::init_json();
    let queue = match build_pipeline(&process_env, Telling::Here).await {
        Ok((pipeline, _, _)) => Arc::new(CustomerQueue {
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
