//! What partners can see and do about deliveries: read the attempt log, recover what failed.

use super::request::{json_body, notification_type, optional_string, page_limit};
use super::{ApiError, Parts};
use crate::callbacks::delivery::Verdict;
use crate::callbacks::partner::Partner;
use crate::callbacks::recovery::{recover, MAX_RECOVERED_PER_CALL};
use crate::callbacks::sender::AttemptRecord;
use crate::ingress::Delivery;
use crate::reply::Reply;
use chrono::{DateTime, Duration};
use serde_json::json;

/// How far back partners can read attempts and recover failures (both are kept 30 days).
const ATTEMPT_WINDOW: Duration = Duration::days(30);

impl Parts {
    /// Queues again every delivery to the partner that failed since `since` (body field or query parameter,
    /// RFC 3339, within the last 30 days), up to 500 a call; `more` says to call again.
    pub(super) async fn recover(&self, partner: &Partner, request: &Delivery) -> Result<Reply, ApiError> {
        let (Some(log), Some(jobs)) = (&self.attempts, &self.jobs) else {
            return Err(ApiError::NotConfigured("recovery is not configured".into()));
        };
        let fields = json_body(request)?;
        let since_text = optional_string(&fields, "since")?
            .or_else(|| request.query_param("since").map(String::from))
            .ok_or_else(|| ApiError::BadRequest("say since when, as {\"since\": \"2026-12-01T00:00:00Z\"}".into()))?;
        let since = DateTime::parse_from_rfc3339(&since_text)
            .map_err(|_| ApiError::BadRequest("since is not an RFC 3339 time such as 2026-12-01T00:00:00Z".into()))?
            .to_utc();
        let now = self.clock.now();
        if since > now {
            return Err(ApiError::BadRequest("since is in the future".into()));
        }
        let since = since.max(now - ATTEMPT_WINDOW);
        let recovered = recover(log.as_ref(), jobs.as_ref(), partner, since, MAX_RECOVERED_PER_CALL).await?;
        Ok(Reply::json(
            202,
            json!({"partner_id": partner.id.as_str(), "since": since, "resent": recovered.resent, "more": recovered.more}),
        ))
    }

    /// The partner's delivery attempts, newest first, a page at a time (`limit`, `cursor`), optionally only
    /// `status=delivered|failed` and one `type`; the last 30 days are kept.
    pub(super) async fn attempts(&self, partner: &Partner, request: &Delivery) -> Result<Reply, ApiError> {
        let log = self
            .attempts
            .as_ref()
            .ok_or_else(|| ApiError::NotConfigured("the attempt log is not configured".into()))?;
        let limit = page_limit(request)?;
        let until = match request.query_param("cursor") {
            None => self.clock.now() + Duration::seconds(1),
            Some(text) => DateTime::parse_from_rfc3339(&text)
                .map_err(|_| ApiError::BadRequest("cursor is not one this API returned".into()))?
                .to_utc(),
        };
        let delivered = match request.query_param("status").as_deref() {
            None => None,
            Some("delivered") => Some(true),
            Some("failed") => Some(false),
            Some(_) => return Err(ApiError::BadRequest("status is delivered or failed".into())),
        };
        let kind = request.query_param("type").map(|t| notification_type(&t)).transpose()?;
        let since = self.clock.now() - ATTEMPT_WINDOW;
        let fetched = log.attempts(&partner.id, since, until, limit).await?;
        let next_cursor = (fetched.len() == limit)
            .then(|| fetched.last().map(|a| a.at.to_rfc3339()))
            .flatten();
        let shown: Vec<&AttemptRecord> = fetched
            .iter()
            .filter(|a| delivered.is_none_or(|d| (a.verdict == Verdict::Delivered) == d))
            .filter(|a| kind.is_none_or(|k| a.notification_type == k.number()))
            .filter(|a| partner.sees(a.owner.as_ref()))
            .collect();
        Ok(Reply::json(
            200,
            json!({"partner_id": partner.id.as_str(), "attempts": shown, "next_cursor": next_cursor}),
        ))
    }
}
