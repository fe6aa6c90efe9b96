//! The Lambda entry point. It takes the raw API Gateway HTTP API (v2) event rather than `lambda_http`'s
//! `Request`, because `lambda_http` panics on a body marked base64 that does not decode; here that is a 400.

use crate::aws::{sdk_config, SsmSecrets};
use crate::clock::SystemClock;
use crate::config::{process_env, provider_from_env, AwsTargets, Settings};
use crate::ingress::{decode_body, Delivery};
use crate::model::ProviderId;
use crate::notify::sns::SnsSink;
use crate::pipeline::Pipeline;
use crate::reply::{Rejection, Reply};
use crate::service::Service;
use crate::store::dynamodb::DynamoStore;
use crate::telemetry;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_http::aws_lambda_events::encodings::Body;
use lambda_http::http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{service_fn, Error};
use std::sync::Arc;

/// Turns an API Gateway event into a [`Delivery`], decoding base64 within the body limit.
pub fn delivery_from_apigw(request: ApiGatewayV2httpRequest, service: &Service) -> Result<Delivery, Rejection> {
    let received_at = service.clock().now();
    let body = decode_body(
        request.body.as_deref(),
        request.is_base64_encoded,
        service.max_body_bytes(),
    )?;
    let http = request.request_context.http;
    Ok(Delivery {
        method: http.method,
        path: request.raw_path.or(http.path).unwrap_or_default(),
        query: request.raw_query_string.unwrap_or_default(),
        headers: request.headers,
        source_ip: http.source_ip.and_then(|ip| ip.parse().ok()),
        body,
        received_at,
        request_id: request.request_context.request_id,
    })
}

pub fn apigw_response(reply: Reply) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(reply.status);
    if !reply.body.is_empty() {
        response
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response.body = Some(Body::Text(reply.body));
    }
    if let Some(seconds) = reply.retry_after {
        response.headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Handles one API Gateway event end to end. Never fails: every problem is a reply.
pub async fn handle_apigw(service: &Service, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let reply = match delivery_from_apigw(request, service) {
        Ok(delivery) => service.handle(&delivery).await,
        Err(rejection) => {
            tracing::warn!(provider = %service.provider_id(), reason = rejection.code(), detail = %rejection, "delivery rejected at the gateway adapter");
            rejection.reply()
        }
    };
    apigw_response(reply)
}

/// The production pipeline over DynamoDB and SNS, and the settings it was built with.
async fn build_pipeline(env: crate::config::Env<'_>) -> Result<(Pipeline, Settings, aws_config::SdkConfig), String> {
    let settings = Settings::from_env(env).map_err(|e| e.to_string())?;
    let targets = AwsTargets::from_env(env).map_err(|e| e.to_string())?;
    let sdk = sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), targets.table, settings.retention);
    let sink = SnsSink::new(aws_sdk_sns::Client::new(&sdk), targets.topic_arn);
    let pipeline = Pipeline::new(
        Arc::new(store),
        Arc::new(sink),
        Arc::new(SystemClock),
        settings.pipeline.clone(),
    );
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
    match provider_from_env(provider_id, &env, &SsmSecrets(aws_sdk_ssm::Client::new(&sdk))).await {
        Ok(provider) => Service::ready(provider, Arc::new(pipeline), settings.max_body_bytes).with_metrics(),
        Err(e) => Service::fail_closed(provider_id, e.to_string()).with_metrics(),
    }
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
    let pipeline = match build_pipeline(&process_env).await {
        Ok((pipeline, _, _)) => Arc::new(pipeline),
        Err(reason) => {
            tracing::error!(reason, "configuration incomplete: the expiry sweep cannot run");
            return Err(reason.into());
        }
    };
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| {
        let pipeline = Arc::clone(&pipeline);
        async move {
            let report = pipeline.sweep_expiring().await?;
            tracing::info!(
                expiring = report.expiring,
                published = report.published,
                already_sent = report.already_sent,
                failed = report.failed,
                "expiry sweep done"
            );
            if report.failed > 0 {
                return Err(Error::from(format!(
                    "{} expiry alerts could not be published",
                    report.failed
                )));
            }
            Ok::<_, Error>(report)
        }
    }))
    .await
}
