//! `PUT /customers/{provider}/{esim}` at the handler, from API Gateway events, over the in-memory store.

use crate::common;

use common::*;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use serde_json::json;
use shared::customers::api::CustomersApi;
use shared::customers::{ContactLookup, EsimRef};
use shared::lambda::handle_customers_apigw;
use shared::model::ProviderId;
use shared::store::KvStore;
use std::sync::Arc;

fn sample() -> ApiGatewayV2httpRequest {
    let text = std::fs::read_to_string(repo_root().join("events/customers/00-put-contact.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn at(mut event: ApiGatewayV2httpRequest, path: &str, body: serde_json::Value) -> ApiGatewayV2httpRequest {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    event.raw_path = Some(path.into());
    event.raw_query_string = Some(query.into());
    event.body = Some(body.to_string());
    event
}

#[tokio::test]
async fn a_signed_put_registers_the_contact_once() {
    let store = Arc::new(KvStore::in_memory());
    let api = CustomersApi::new(store.clone());
    let first = handle_customers_apigw(&api, sample()).await;
    assert_eq!(
        (first.status_code, response_json(&first)["outcome"].clone()),
        (200, json!("created"))
    );
    let again = handle_customers_apigw(&api, sample()).await;
    assert_eq!(response_json(&again)["outcome"], "unchanged");
    let by_order = store
        .find(ProviderId::EsimAccess, &[EsimRef::Order("tx-1".into())])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        by_order.esim_ref.as_deref(),
        Some("25052822150009"),
        "the path names the eSIM"
    );
    assert_eq!(by_order.customer_id.as_deref(), Some("c-42"));

    let by_order_path = at(
        sample(),
        "/customers/esimaccess/tx-1?by=order",
        json!({"esim_ref": "25052822150009", "name": "Ana", "locale": "es"}),
    );
    let updated = handle_customers_apigw(&api, by_order_path).await;
    assert_eq!(response_json(&updated)["outcome"], "updated");
}

#[tokio::test]
async fn unsigned_or_bad_requests_are_refused_and_store_nothing() {
    let store = Arc::new(KvStore::in_memory());
    let api = CustomersApi::new(store.clone());
    let mut unsigned = sample();
    unsigned.request_context.authorizer = None;
    let mut get = sample();
    get.request_context.http.method = lambda_http::http::Method::GET;
    let mut huge = sample();
    huge.body = Some(format!("{{\"name\":\"{}\"}}", "x".repeat(20_000)));
    let mut bad_base64 = sample();
    bad_base64.is_base64_encoded = true;
    bad_base64.body = Some("not base64!".into());
    let cases = [
        (unsigned, 403, "not_authorized"),
        (at(sample(), "/customers/acme/T-1", json!({})), 404, "not_found"),
        (at(sample(), "/customers/esimaccess", json!({})), 404, "not_found"),
        (get, 405, "method_not_allowed"),
        (
            at(sample(), "/customers/esimaccess/T-1", json!({"phone": "0612"})),
            400,
            "bad_request",
        ),
        (
            at(sample(), "/customers/esimaccess/T-1", json!({"esim_ref": "T-2"})),
            400,
            "bad_request",
        ),
        (
            at(sample(), "/customers/esimaccess/T-1", json!({"provider": "roamify"})),
            400,
            "bad_request",
        ),
        (
            at(
                sample(),
                "/customers/esimaccess/T-1",
                json!({"phone_number": "+34612345678"}),
            ),
            400,
            "bad_request",
        ),
        (huge, 413, "payload_too_large"),
        (bad_base64, 400, "bad_request"),
    ];
    for (event, status, code) in cases {
        let path = event.raw_path.clone();
        let response = handle_customers_apigw(&api, event).await;
        assert_eq!(response.status_code, status, "{path:?}");
        assert_eq!(response_json(&response)["error"]["code"], code, "{path:?}");
    }
    let phone = handle_customers_apigw(
        &api,
        at(sample(), "/customers/esimaccess/T-1", json!({"phone": "0612"})),
    )
    .await;
    assert!(response_json(&phone)["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("phone:"));
    let stored = store
        .find(
            ProviderId::EsimAccess,
            &[EsimRef::Esim("T-1".into()), EsimRef::Esim("25052822150009".into())],
        )
        .await
        .unwrap();
    assert!(stored.is_none());

    let unconfigured = CustomersApi::fail_closed("ESIMHOOKS_TABLE is not set");
    let response = handle_customers_apigw(&unconfigured, sample()).await;
    assert_eq!(response.status_code, 503);
}
