//! A partner's rate limit per endpoint (`rate_limit` callbacks per second on its `PUT`), kept by the sender
//! without dropping anything. Each endpoint keeps a theoretical arrival time (GCRA without a burst): a job
//! takes the next free send slot, `1/rate` after the one before, and is posted in it. A slot a moment away is
//! waited for in place; a later one sends the job back to its queue until then (a deferral: not an attempt,
//! so nothing is logged and the retry schedule is untouched), carrying its slot so it is not reserved twice.
//! The stores keep the time per URL (`registry.rs`, `local.rs`, `dynamodb.rs`); the sender applies these rules.

use crate::clock::Clock;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The highest rate a partner may set, per second.
pub const MAX_RATE_LIMIT: u32 = 1000;

/// How far ahead of its slot a job may be taken up and wait in place; a later slot defers it. Two seconds: SQS
/// delays count whole seconds and take a moment to deliver, and the local sender looks every second.
pub const DEFAULT_LEAD: Duration = Duration::seconds(2);

/// The spacing of slots at `rate` per second: 1/rate, rounded up to a whole millisecond, so rounding never lets
/// one more into a second.
pub fn step_ms(rate: u32) -> i64 {
    let rate = i64::from(rate.max(1));
    (1000 + rate - 1) / rate
}

/// A slot taken, and the endpoint's theoretical arrival time after it (both in epoch milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    pub slot_ms: i64,
    pub tat_ms: i64,
}

/// GCRA without a burst: the slot is the endpoint's theoretical arrival time `tat`, or now once that has gone
/// by (an idle endpoint saves up nothing); the next comes one step later. Without a burst, any one-second
/// window holds at most `rate` slots.
pub fn reserve(tat_ms: Option<i64>, now_ms: i64, rate: u32) -> Reservation {
    let slot_ms = tat_ms.map_or(now_ms, |tat| tat.max(now_ms));
    Reservation {
        slot_ms,
        tat_ms: slot_ms.saturating_add(step_ms(rate)),
    }
}

/// An instant in epoch milliseconds (out of chrono's range only when corrupt: the far future then).
pub fn at_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// What to do with a job whose slot is `slot`, at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Its slot has come: post.
    Now,
    /// Its slot is at most the lead away: wait for it, then post.
    Wait,
    /// Back to the queue until its slot (less the lead).
    Defer,
}

pub fn pace(slot: DateTime<Utc>, now: DateTime<Utc>, lead: Duration) -> Pace {
    if slot <= now {
        Pace::Now
    } else if slot - now <= lead {
        Pace::Wait
    } else {
        Pace::Defer
    }
}

/// Whether a slot reserved at a deferral still holds when the job is taken up again: one its queue brought
/// back too late takes a new slot, so posts never bunch up behind a late queue.
pub fn still_held(slot: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    slot.timestamp_millis() >= now.timestamp_millis()
}

/// What a `PUT` of a callback says of its endpoint's rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateChange {
    /// `rate_limit` absent: the endpoint keeps the one it has (none for a new URL).
    Keep,
    /// A number, or `null` for no limit.
    Set(Option<u32>),
}

impl RateChange {
    pub fn apply(self, current: Option<u32>) -> Option<u32> {
        match self {
            Self::Keep => current,
            Self::Set(rate) => rate,
        }
    }
}

/// A `rate_limit` field that is none of what [`rate_limit_field`] takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "rate_limit must be a whole number of callbacks per second from 1 to {max}, or null for no limit",
    max = MAX_RATE_LIMIT
)]
pub struct RateLimitRefused;

/// The `rate_limit` field of a `PUT` body: a whole number from 1 to [`MAX_RATE_LIMIT`], `null`, or absent.
pub fn rate_limit_field(fields: &Map<String, Value>) -> Result<RateChange, RateLimitRefused> {
    match fields.get("rate_limit") {
        None => Ok(RateChange::Keep),
        Some(Value::Null) => Ok(RateChange::Set(None)),
        Some(Value::Number(number)) => number
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=MAX_RATE_LIMIT).contains(n))
            .map(|n| RateChange::Set(Some(n)))
            .ok_or(RateLimitRefused),
        Some(_) => Err(RateLimitRefused),
    }
}

/// Waiting for a slot: the sender's only sleep, injected so tests run on their clock.
#[async_trait]
pub trait Pause: Send + Sync {
    /// Returns once `at` has come, with the time it is then.
    async fn until(&self, at: DateTime<Utc>) -> DateTime<Utc>;
}

/// Sleeps until `at` on the clock given.
pub struct Sleep(pub Arc<dyn Clock>);

#[async_trait]
impl Pause for Sleep {
    async fn until(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let wait = (at - self.0.now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
        self.0.now().max(at)
    }
}

/// Returns at once, saying `at` has come (tests: their clock is moved by hand, and a job's post time is the
/// time its wait ended).
#[cfg(any(test, feature = "testing"))]
pub struct NoWait;

#[cfg(any(test, feature = "testing"))]
#[async_trait]
impl Pause for NoWait {
    async fn until(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at
    }
}

#[cfg(test)]
mod api_tests;
#[cfg(test)]
mod tests;
