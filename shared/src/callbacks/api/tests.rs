use super::*;
use lambda_http::http::Method;
use serde_json::Value;

#[test]
fn routes_match_the_end_of_the_path() {
    assert_eq!(
        route(&Method::PUT, "/acme/callbacks/1").unwrap(),
        Route::Put("acme", "1")
    );
    assert_eq!(
        route(&Method::DELETE, "/prod/acme/callbacks/alert.expiry").unwrap(),
        Route::Delete("acme", "alert.expiry")
    );
    assert_eq!(route(&Method::GET, "/acme/callbacks/").unwrap(), Route::List("acme"));
    assert_eq!(
        route(&Method::POST, "/v1/callbacks/echo/acme/11").unwrap(),
        Route::Echo("acme", "11")
    );
    assert!(matches!(
        route(&Method::POST, "/acme/callbacks/1"),
        Err(ApiError::MethodNotAllowed(_))
    ));
    assert!(matches!(
        route(&Method::GET, "/v1/callbacks/echo/acme/1"),
        Err(ApiError::MethodNotAllowed(_))
    ));
    assert!(matches!(route(&Method::GET, "/acme"), Err(ApiError::NotFound(_))));
    assert!(matches!(route(&Method::GET, "/"), Err(ApiError::NotFound(_))));
}

#[test]
fn every_error_has_a_status_a_code_and_a_message() {
    let cases = [
        (ApiError::Unauthenticated, 401),
        (ApiError::BadRequest("x".into()), 400),
        (ApiError::NotFound("x".into()), 404),
        (ApiError::MethodNotAllowed("GET".into()), 405),
        (ApiError::Conflict("x".into()), 409),
        (ApiError::PayloadTooLarge(1), 413),
        (ApiError::Unavailable("table esimhooks-prod".into()), 503),
        (ApiError::NotConfigured("x".into()), 503),
        (
            ApiError::TooManyFailures {
                subject: "source",
                retry_after: 7,
            },
            429,
        ),
    ];
    for (error, status) in cases {
        let reply = error.reply_on(super::PARTNER_API);
        assert_eq!(reply.status, status);
        let body: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body["error"]["code"], error.code());
        assert!(!reply.body.contains("esimhooks-prod"));
        assert_eq!(reply.retry_after.is_some(), matches!(status, 429 | 503));
    }
}

#[path = "tests_auth.rs"]
mod auth;
