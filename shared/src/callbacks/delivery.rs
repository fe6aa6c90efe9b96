//! The rules of delivering one callback to one endpoint, free of any transport: the retry schedule, what an
//! endpoint's answer means (delivered, retry when, give up, or disable the endpoint), and when an endpoint that
//! keeps failing is disabled. The sender applies them to each attempt with an injected clock.

use crate::config::ConfigError;
use crate::time::{parse_span, SpanError};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The delays between attempts: after the first fails, the second comes `delays[0]` later, and so on; after
/// the last, the delivery is exhausted (dead-lettered, recoverable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl Default for RetrySchedule {
    /// The Standard Webhooks specification's example: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (eight attempts
    /// over about 27.5 hours).
    fn default() -> Self {
        Self(vec![
            Duration::seconds(5),
            Duration::minutes(5),
            Duration::minutes(30),
            Duration::hours(2),
            Duration::hours(5),
            Duration::hours(10),
            Duration::hours(10),
        ])
    }
}

/// Why a retry schedule is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Span(#[from] SpanError),
    #[error("{0:?} is not between 1 second and 2 days")]
    OutOfRange(String),
    #[error("at most 20 retries")]
    TooMany,
}

impl RetrySchedule {
    /// `5s,5m,30m,2h,5h,10h,10h`: each delay a number and a unit (`s`, `m`, `h`, `d`); at most 20 of them, each
    /// at most 2 days.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let delays = text
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| {
                let delay = parse_span(d)?;
                if delay <= Duration::zero() || delay > Duration::days(2) {
                    return Err(ScheduleError::OutOfRange(d.to_string()));
                }
                Ok(delay)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if delays.len() > 20 {
            return Err(ScheduleError::TooMany);
        }
        Ok(Self(delays))
    }

    /// Attempts in all: the first and one per delay.
    pub fn attempts(&self) -> u32 {
        self.0.len() as u32 + 1
    }

    /// How long after failed attempt `attempt` (1 for the first) the next comes; `None` after the last.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
        self.0.get(index).copied()
    }
}

/// How the sender retries an endpoint and when it gives up on it: `ESIMHOOKS_CALLBACK_RETRY_SCHEDULE`
/// (`5s,5m,30m,2h,5h,10h,10h`) and `ESIMHOOKS_CALLBACK_DISABLE_AFTER` (`5d`).
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryPolicy {
    pub schedule: RetrySchedule,
    pub disable_after: Duration,
}

impl DeliveryPolicy {
    pub fn from_env(env: crate::config::Env<'_>) -> Result<Self, ConfigError> {
        const NAME: &str = "ESIMHOOKS_CALLBACK_RETRY_SCHEDULE";
        let schedule = match env(NAME).filter(|s| !s.trim().is_empty()) {
            Some(text) => RetrySchedule::parse(&text).map_err(|e| ConfigError::unusable(NAME, e))?,
            None => RetrySchedule::default(),
        };
        Ok(Self {
            schedule,
            disable_after: disable_after(env)?,
        })
    }
}

/// The disabling span `ESIMHOOKS_CALLBACK_DISABLE_AFTER` sets (`5d`, `36h`: 1 hour to 30 days), else the
/// default.
pub fn disable_after(env: crate::config::Env<'_>) -> Result<Duration, ConfigError> {
    const NAME: &str = "ESIMHOOKS_CALLBACK_DISABLE_AFTER";
    let Some(text) = env(NAME).filter(|t| !t.trim().is_empty()) else {
        return Ok(DISABLE_AFTER);
    };
    let span = parse_span(&text).map_err(|e| ConfigError::unusable(NAME, e))?;
    if span < Duration::hours(1) || span > Duration::days(30) {
        return Err(ConfigError::OutOfRange {
            name: NAME.into(),
            range: "between 1h and 30d",
        });
    }
    Ok(span)
}

/// What an endpoint did with an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// It answered with this status (and a `Retry-After`, if any).
    Status {
        code: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u32>,
    },
    /// No answer: a timeout, a refused connection, an address that may not be called, a TLS failure.
    Failed { error: String },
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Delivered,
    /// `410 Gone`: the endpoint asked not to be called again.
    DisableEndpoint,
    /// Try again after this long.
    RetryIn(#[serde(with = "seconds")] Duration),
    /// The schedule is spent, or the endpoint is disabled: dead-lettered, recoverable.
    Exhausted,
    /// Nobody to deliver to any more (the partner was removed): dropped.
    Dropped,
    /// Not attempted: the endpoint's rate limit has no room before this slot, now reserved for the job. Take
    /// it up again then (a little before is fine: the sender waits the rest), carrying the slot, under the
    /// same attempt number. Never logged: a deferral is not an attempt.
    Deferred(DateTime<Utc>),
}

mod seconds {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::seconds(i64::deserialize(d)?))
    }
}

/// The longest `Retry-After` honoured: beyond it, the schedule's own delay stands.
const MAX_RETRY_AFTER: Duration = Duration::hours(12);

/// Judges attempt `attempt` (1 for the first): 2xx delivered; 410 disables the endpoint; anything else is
/// retried on the schedule, no sooner than a 429's or 503's `Retry-After` asks, until the schedule is spent.
pub fn judge(response: &Response, attempt: u32, schedule: &RetrySchedule) -> Verdict {
    let retry_after = match response {
        Response::Status { code: 200..=299, .. } => return Verdict::Delivered,
        Response::Status { code: 410, .. } => return Verdict::DisableEndpoint,
        Response::Status {
            code: 429 | 503,
            retry_after_seconds: Some(seconds),
        } => Some(Duration::seconds(i64::from(*seconds)).min(MAX_RETRY_AFTER)),
        _ => None,
    };
    match schedule.delay_after(attempt) {
        Some(delay) => Verdict::RetryIn(retry_after.map_or(delay, |asked| asked.max(delay))),
        None => Verdict::Exhausted,
    }
}

/// How long an endpoint may fail every attempt before it is disabled, by default.
pub const DISABLE_AFTER: Duration = Duration::days(5);

/// Whether an endpoint failing since `failing_since` (its first failure with no success after) is disabled at
/// `now`.
pub fn failing_too_long(failing_since: Option<DateTime<Utc>>, now: DateTime<Utc>, span: Duration) -> bool {
    failing_since.is_some_and(|since| now - since >= span)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> Response {
        Response::Status {
            code,
            retry_after_seconds: None,
        }
    }

    #[test]
    fn the_default_schedule_is_the_specifications_and_parses_back() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.attempts(), 8);
        assert_eq!(RetrySchedule::parse("5s, 5m,30m,2h,5h,10h,10h").unwrap(), schedule);
        assert_eq!(schedule.delay_after(1), Some(Duration::seconds(5)));
        assert_eq!(schedule.delay_after(7), Some(Duration::hours(10)));
        assert_eq!(schedule.delay_after(8), None);
        assert_eq!(schedule.delay_after(0), None);
        for bad in ["5", "5x", "0s", "3d", "-1m"] {
            assert!(RetrySchedule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers_are_judged_delivered_retried_exhausted_or_disabling() {
        let schedule = RetrySchedule::default();
        assert_eq!(judge(&status(204), 1, &schedule), Verdict::Delivered);
        assert_eq!(judge(&status(410), 1, &schedule), Verdict::DisableEndpoint);
        assert_eq!(
            judge(&status(500), 1, &schedule),
            Verdict::RetryIn(Duration::seconds(5))
        );
        assert_eq!(
            judge(&status(404), 3, &schedule),
            Verdict::RetryIn(Duration::minutes(30))
        );
        let failed = Response::Failed {
            error: "timed out".into(),
        };
        assert_eq!(judge(&failed, 8, &schedule), Verdict::Exhausted);
        let later = Response::Status {
            code: 429,
            retry_after_seconds: Some(120),
        };
        assert_eq!(judge(&later, 1, &schedule), Verdict::RetryIn(Duration::seconds(120)));
        assert_eq!(
            judge(&later, 2, &schedule),
            Verdict::RetryIn(Duration::minutes(5)),
            "never sooner than the schedule"
        );
        let absurd = Response::Status {
            code: 503,
            retry_after_seconds: Some(u32::MAX),
        };
        assert_eq!(judge(&absurd, 1, &schedule), Verdict::RetryIn(MAX_RETRY_AFTER));
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert!(!failing_too_long(None, t0, DISABLE_AFTER));
        assert!(!failing_too_long(Some(t0), t0 + Duration::days(4), DISABLE_AFTER));
        assert!(failing_too_long(Some(t0), t0 + Duration::days(5), DISABLE_AFTER));
    }

    #[test]
    fn the_disabling_span_is_configured_within_bounds() {
        let with = |value: &'static str| {
            move |name: &str| (name == "ESIMHOOKS_CALLBACK_DISABLE_AFTER").then(|| value.to_string())
        };
        assert_eq!(disable_after(&|_: &str| None), Ok(DISABLE_AFTER));
        assert_eq!(disable_after(&with("36h")), Ok(Duration::hours(36)));
        assert_eq!(disable_after(&with(" 7d ")), Ok(Duration::days(7)));
        for bad in ["30m", "31d", "5", "five days", "-1d"] {
            assert!(disable_after(&with(bad)).is_err(), "{bad}");
        }
    }
}
