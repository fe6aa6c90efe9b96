//! The Lambda request adapter. It takes the raw API Gateway HTTP API (v2) event rather than `lambda_http`'s
//! `Request`, because `lambda_http` panics on a body marked base64 that does not decode; here that is a 400.
//! The production wiring (AWS clients, the runtime loop) is in `runtime`, behind the `aws` feature; both are
//! reachable through `lambda`.

use crate::callbacks::api::{ApiError, CallbacksApi, MAX_API_BODY_BYTES, PARTNER_API};
use crate::customers::api::{CustomersApi, CustomersApiError, DIRECTORY_API, MAX_CONTACT_BODY_BYTES};
use crate::ingress::{decode_body, BodyError, Delivery};
use crate::reply::{HttpError, Rejection, Reply};
use crate::service::Service;
use chrono::{DateTime, Utc};
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_http::aws_lambda_events::encodings::Body;
use lambda_http::http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};

/// Turns an API Gateway event into a [`Delivery`], decoding base64 within the body limit.
pub fn delivery_from_apigw(request: ApiGatewayV2httpRequest, service: &Service) -> Result<Delivery, Rejection> {
    Ok(request_from_apigw(
        request,
        service.clock().now(),
        service.max_body_bytes(),
    )?)
}

/// The same for any API on the gateway: the request with its body decoded within `limit`.
pub fn request_from_apigw(
    request: ApiGatewayV2httpRequest,
    received_at: DateTime<Utc>,
    limit: usize,
) -> Result<Delivery, BodyError> {
    let body = decode_body(request.body.as_deref(), request.is_base64_encoded, limit)?;
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

/// Handles one partner callbacks API request end to end. Never fails: every problem is a reply.
pub async fn handle_callbacks_apigw(api: &CallbacksApi, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let reply = match request_from_apigw(request, Utc::now(), MAX_API_BODY_BYTES) {
        Ok(request) => api.handle(&request).await,
        Err(BodyError::TooLarge { limit }) => ApiError::PayloadTooLarge(limit).reply_on(PARTNER_API),
        Err(BodyError::InvalidBase64) => {
            ApiError::BadRequest("body is marked base64 but does not decode".into()).reply_on(PARTNER_API)
        }
    };
    apigw_response(reply)
}

/// Handles one customer directory request end to end, with the IAM caller API Gateway authenticated. Never
/// fails: every problem is a reply.
pub async fn handle_customers_apigw(api: &CustomersApi, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let caller = request
        .request_context
        .authorizer
        .as_ref()
        .and_then(|a| a.iam.as_ref())
        .and_then(|iam| iam.user_arn.clone().or_else(|| iam.caller_id.clone()));
    let reply = match request_from_apigw(request, Utc::now(), MAX_CONTACT_BODY_BYTES) {
        Ok(request) => api.handle(&request, caller.as_deref()).await,
        Err(BodyError::TooLarge { limit }) => CustomersApiError::PayloadTooLarge(limit).reply_on(DIRECTORY_API),
        Err(BodyError::InvalidBase64) => {
            CustomersApiError::BadRequest("body is marked base64 but does not decode".into()).reply_on(DIRECTORY_API)
        }
    };
    apigw_response(reply)
}
