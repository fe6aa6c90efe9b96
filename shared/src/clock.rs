//! Time is an input: everything that compares against "now" takes a [`Clock`], so expiry windows and leases
//! are tested by moving a [`FixedClock`], never by sleeping.

#[cfg(any(test, feature = "testing"))]
use chrono::Duration;
use chrono::{DateTime, Utc};
#[cfg(any(test, feature = "testing"))]
use std::sync::Mutex;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock, for production.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[cfg(any(test, feature = "testing"))]
/// A clock that only moves when told to.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

#[cfg(any(test, feature = "testing"))]
impl FixedClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        Self(Mutex::new(now))
    }

    /// Parses an RFC 3339 instant; panics on a bad literal, which only tests write.
    pub fn at_rfc3339(now: &str) -> Self {
        Self::at(
            DateTime::parse_from_rfc3339(now)
                .expect("test clock literal must be RFC 3339")
                .with_timezone(&Utc),
        )
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }

    pub fn advance(&self, by: Duration) {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *guard += by;
    }
}

#[cfg(any(test, feature = "testing"))]
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
