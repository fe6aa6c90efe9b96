//! The one error type of the HTTP APIs (the partner callbacks API and the customer directory API): its status
//! and stable code, decided once, and one JSON error body. What an API tells callers of a dependency failure
//! is that API's own ([`ApiAnswers`]): partners retry quickly, a reseller's order system less eagerly.

use crate::reply::Reply;
use crate::store::StoreError;

/// Why an API request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No key, or a key the partner does not hold (the partner callbacks API).
    #[error("missing or invalid API key for this partner")]
    Unauthenticated,
    /// The request is not signed by an IAM principal (the customer directory API, behind API Gateway's IAM
    /// authorizer).
    #[error("the request is not signed by an IAM principal")]
    NotAuthorized,
    /// Too many failed authentications for this subject in the current window; retry after the seconds given.
    #[error("too many failed authentications for this {subject}; retry after {retry_after} seconds")]
    TooManyFailures { subject: &'static str, retry_after: u32 },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method {0} is not allowed on this path")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("body larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("a dependency failed: {0}")]
    Unavailable(String),
    #[error("the callbacks API is not configured: {0}")]
    NotConfigured(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// What an API answers a caller when it cannot serve them for now (a 503): the message and the seconds of
/// its `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiAnswers {
    pub unavailable: &'static str,
    pub retry_after: u32,
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthenticated => 401,
            Self::NotAuthorized => 403,
            Self::TooManyFailures { .. } => 429,
            Self::BadRequest(_) => 400,
            Self::NotFound(_) => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::Conflict(_) => 409,
            Self::PayloadTooLarge(_) => 413,
            Self::Unavailable(_) | Self::NotConfigured(_) => 503,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::NotAuthorized => "not_authorized",
            Self::TooManyFailures { .. } => "too_many_failures",
            Self::BadRequest(_) => "bad_request",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Unavailable(_) => "dependency_failure",
            Self::NotConfigured(_) => "not_configured",
        }
    }

    /// The answer on the API whose answers are `api`: a dependency's or the configuration's detail goes to
    /// the log, not to the caller; a 429 says when its window ends, a 503 when to retry.
    pub fn reply_on(&self, api: ApiAnswers) -> Reply {
        let message = match self {
            Self::Unavailable(_) | Self::NotConfigured(_) => api.unavailable.to_string(),
            other => other.to_string(),
        };
        let mut reply = Reply::error(self.status(), self.code(), &message, api.retry_after);
        if let Self::TooManyFailures { retry_after, .. } = self {
            reply.retry_after = Some(*retry_after);
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::api::PARTNER_API;
    use crate::customers::api::DIRECTORY_API;
    use serde_json::Value;

    fn answered(error: &ApiError, api: ApiAnswers) -> (u16, String, String, Option<u32>) {
        let reply = error.reply_on(api);
        let body: Value = serde_json::from_str(&reply.body).unwrap();
        let field = |name: &str| body["error"][name].as_str().unwrap().to_string();
        (reply.status, field("code"), field("message"), reply.retry_after)
    }

    /// Each API keeps its own answers to a failure for now; the detail stays in the log.
    #[test]
    fn each_api_answers_a_failure_for_now_its_own_way() {
        let failed = ApiError::Unavailable("table esimhooks-prod is throttled".into());
        assert_eq!(
            answered(&failed, PARTNER_API),
            (
                503,
                "dependency_failure".into(),
                "temporary failure; retry later".into(),
                Some(5)
            )
        );
        assert_eq!(
            answered(&failed, DIRECTORY_API),
            (
                503,
                "dependency_failure".into(),
                "a dependency failed; retry later".into(),
                Some(30)
            )
        );
        let closed = ApiError::NotConfigured("ESIMHOOKS_TABLE is not set".into());
        assert_eq!(
            answered(&closed, PARTNER_API),
            (
                503,
                "not_configured".into(),
                "temporary failure; retry later".into(),
                Some(5)
            )
        );
    }

    #[test]
    fn refusals_say_why_and_only_429_and_503_say_when() {
        let limited = ApiError::TooManyFailures {
            subject: "source",
            retry_after: 240,
        };
        assert_eq!(answered(&limited, PARTNER_API).3, Some(240));
        assert_eq!(answered(&limited, PARTNER_API).0, 429);
        assert_eq!(
            answered(&ApiError::NotAuthorized, DIRECTORY_API),
            (
                403,
                "not_authorized".into(),
                "the request is not signed by an IAM principal".into(),
                None
            )
        );
        let missing = ApiError::NotFound("no such route".into());
        assert_eq!(
            answered(&missing, DIRECTORY_API),
            (404, "not_found".into(), "no such route".into(), None)
        );
    }
}
