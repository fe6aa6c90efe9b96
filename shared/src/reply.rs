//! The HTTP boundary: every way a delivery can be refused is one variant of [`Rejection`], mapped to a status
//! and a small JSON body in exactly one place.

use crate::auth::AuthFailure;
use crate::ingress::BodyError;
use serde_json::json;

/// What we answer the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// JSON text; empty for HEAD.
    pub body: String,
    /// Seconds, for 503s that the provider should retry.
    pub retry_after: Option<u32>,
}

impl Reply {
    pub fn json(status: u16, value: serde_json::Value) -> Self {
        Self {
            status,
            body: value.to_string(),
            retry_after: None,
        }
    }

    /// The error every API here answers with, `{"error": {"code", "message"}}`; a 503 says when to retry.
    pub fn error(status: u16, code: &str, message: &str, retry_after_503: u32) -> Self {
        let mut reply = Self::json(status, json!({"error": {"code": code, "message": message}}));
        if status == 503 {
            reply.retry_after = Some(retry_after_503);
        }
        reply
    }

    /// 200 with no body: the answer to a HEAD reachability check.
    pub fn empty_ok() -> Self {
        Self {
            status: 200,
            body: String::new(),
            retry_after: None,
        }
    }
}

/// An error an HTTP boundary answers with (the webhooks, the partner callbacks API, the customer directory
/// API): its status and stable code, decided once per error type, and one JSON error body for all.
pub trait HttpError: std::fmt::Display {
    fn status(&self) -> u16;
    /// A stable machine-readable code.
    fn code(&self) -> &'static str;
    /// What the caller is told; authentication and dependency details stay in our logs.
    fn public_message(&self) -> String {
        self.to_string()
    }
    /// How long a 503 asks the caller to wait, in seconds.
    fn retry_after(&self) -> u32 {
        30
    }
    fn reply(&self) -> Reply {
        Reply::error(self.status(), self.code(), &self.public_message(), self.retry_after())
    }
}

/// Why a function refuses every request: the configuration problem found when it was built, as logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotConfigured(pub String);

/// Why a delivery was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("method {0} not allowed")]
    MethodNotAllowed(String),
    #[error("body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("authentication failed: {0}")]
    Unauthenticated(#[from] AuthFailure),
    #[error("body cannot be read: {0}")]
    Unreadable(String),
    #[error("no webhook route at this path")]
    NotFound,
    #[error("this function is not configured: {0}")]
    NotConfigured(String),
    /// A local server was given no secret for this provider: the reason says what to set, so it is public.
    #[error("{0}")]
    NoSecret(String),
    #[error("a dependency failed: {0}")]
    Dependency(String),
    #[error("publishing an alert failed: {0}")]
    PublishFailed(String),
    #[error("the same delivery or alert is being processed by another request")]
    Busy,
}

impl From<BodyError> for Rejection {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge { limit } => Self::PayloadTooLarge { limit },
            BodyError::InvalidBase64 => Self::Unreadable("body is marked base64 but does not decode".into()),
        }
    }
}

impl HttpError for Rejection {
    fn status(&self) -> u16 {
        match self {
            Self::MethodNotAllowed(_) => 405,
            Self::PayloadTooLarge { .. } => 413,
            Self::Unauthenticated(_) => 401,
            Self::Unreadable(_) => 400,
            Self::NotFound => 404,
            // Our side is not ready or failed: 503 tells the provider to retry later.
            Self::NotConfigured(_) | Self::NoSecret(_) | Self::Dependency(_) | Self::PublishFailed(_) | Self::Busy => {
                503
            }
        }
    }

    /// Also the `reason` of rejection metrics.
    fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Unreadable(_) => "unreadable_body",
            Self::NotFound => "not_found",
            Self::NotConfigured(_) | Self::NoSecret(_) => "not_configured",
            Self::Dependency(_) => "dependency_failure",
            Self::PublishFailed(_) => "publish_failure",
            Self::Busy => "in_progress",
        }
    }

    fn public_message(&self) -> String {
        match self {
            Self::Unauthenticated(_) => "authentication failed".into(),
            Self::NotConfigured(_) => "receiver not configured; retry later".into(),
            Self::Dependency(_) | Self::PublishFailed(_) => "temporary failure; retry later".into(),
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_contract() {
        let cases: Vec<(Rejection, u16)> = vec![
            (Rejection::MethodNotAllowed("GET".into()), 405),
            (Rejection::PayloadTooLarge { limit: 1 }, 413),
            (AuthFailure::WrongToken.into(), 401),
            (Rejection::Unreadable("x".into()), 400),
            (Rejection::NotFound, 404),
            (Rejection::NotConfigured("x".into()), 503),
            (Rejection::NoSecret("x".into()), 503),
            (Rejection::Dependency("x".into()), 503),
            (Rejection::PublishFailed("x".into()), 503),
            (Rejection::Busy, 503),
        ];
        for (rejection, status) in cases {
            let reply = rejection.reply();
            assert_eq!(reply.status, status, "{rejection}");
            let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(body["error"]["code"], rejection.code());
            assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }

    #[test]
    fn auth_and_dependency_details_stay_private() {
        let reply = Rejection::from(AuthFailure::SourceIpNotAllowed("198.51.100.23".into())).reply();
        assert!(!reply.body.contains("198.51.100.23"));
        let reply = Rejection::Dependency("table esimhooks-prod throttled".into()).reply();
        assert!(!reply.body.contains("esimhooks-prod"));
        assert_eq!(reply.retry_after, Some(30));
    }
}
