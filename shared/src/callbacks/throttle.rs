//! Throttling repeated authentication failures of the partner callbacks API. Failures are counted per
//! subject in fixed five-minute windows: the source address, and the partner id as presented (counted the
//! same whether it exists, so the counter tells nobody which partners do). A subject that reached its limit
//! is answered 429 until its window ends, whatever key it presents, so guessing keys or partner ids stops
//! there. API Gateway's per-route throttling caps the volume before any of this (template.yaml).
//!
//! Counters live in DynamoDB where deployed (`backends/dynamodb/auth_failures.rs`), in memory in `serve`.

use super::partner::PartnerId;
use crate::store::keys::{partner_subject, source_subject};
use crate::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use futures_util::future::join_all;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// How long failures are counted together.
pub const WINDOW_SECONDS: i64 = 300;
/// Failures from one source address in a window before it is throttled.
pub const DEFAULT_PER_SOURCE: u32 = 10;
/// Failures for one partner id in a window before it is throttled.
pub const DEFAULT_PER_PARTNER: u32 = 50;
/// Subjects the memory counter keeps at most: one source presenting many ids is throttled long before.
const MEMORY_SUBJECTS: usize = 100_000;

/// Whose failures are counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A source address; IPv6 by its /64, what one host or site usually holds.
    Source(IpAddr),
    /// A partner id as presented: the id itself, or `~` and a digest for text that cannot be one.
    Partner(String),
}

impl Subject {
    pub fn source(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::Source(IpAddr::V4(v4)),
                None => {
                    let [a, b, c, d, ..] = v6.segments();
                    Self::Source(IpAddr::V6(std::net::Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0)))
                }
            },
            v4 => Self::Source(v4),
        }
    }

    /// Any path segment: a valid id as it is, other text (unbounded, unsafe in keys) by its digest.
    pub fn partner(presented: &str) -> Self {
        match PartnerId::parse(presented) {
            Some(id) => Self::Partner(id.as_str().to_string()),
            None => Self::Partner(format!("~{}", hex::encode(&Sha256::digest(presented.as_bytes())[..16]))),
        }
    }

    /// Its name in a store key: `source#<address>` or `partner#<id>`.
    pub fn key(&self) -> String {
        match self {
            Self::Source(ip) => source_subject(ip),
            Self::Partner(id) => partner_subject(id),
        }
    }

    /// What kind of subject it is, as logs and the 429 say it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Source(_) => "source",
            Self::Partner(_) => "partner id",
        }
    }
}

/// The subjects of a request: the partner id it presents and, where known, its source.
pub fn subjects(presented_partner: &str, source: Option<IpAddr>) -> Vec<Subject> {
    let mut subjects = vec![Subject::partner(presented_partner)];
    subjects.extend(source.map(Subject::source));
    subjects
}

/// A fixed window of [`WINDOW_SECONDS`], aligned to the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub start: DateTime<Utc>,
}

impl Window {
    pub fn at(now: DateTime<Utc>) -> Self {
        let start = now.timestamp().div_euclid(WINDOW_SECONDS) * WINDOW_SECONDS;
        Self {
            start: DateTime::from_timestamp(start, 0).unwrap_or(now),
        }
    }

    pub fn end(self) -> DateTime<Utc> {
        self.start + Duration::seconds(WINDOW_SECONDS)
    }
}

/// Failure counters, one per subject and window.
#[async_trait]
pub trait AuthFailures: Send + Sync {
    /// The failures counted for `subject` in `window`.
    async fn count(&self, subject: &Subject, window: Window) -> Result<u32, StoreError>;
    /// Counts one more failure of `subject` in `window`.
    async fn add(&self, subject: &Subject, window: Window) -> Result<(), StoreError>;
}

/// The counters of one process (`serve`; tests). Only the current window of each subject is kept.
#[derive(Default)]
pub struct MemoryAuthFailures(Mutex<HashMap<Subject, (Window, u32)>>);

#[async_trait]
impl AuthFailures for MemoryAuthFailures {
    async fn count(&self, subject: &Subject, window: Window) -> Result<u32, StoreError> {
        let counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(counts
            .get(subject)
            .filter(|(counted, _)| *counted == window)
            .map_or(0, |(_, n)| *n))
    }

    async fn add(&self, subject: &Subject, window: Window) -> Result<(), StoreError> {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() >= MEMORY_SUBJECTS && !counts.contains_key(subject) {
            counts.retain(|_, (counted, _)| *counted == window);
            if counts.len() >= MEMORY_SUBJECTS {
                return Ok(());
            }
        }
        let entry = counts.entry(subject.clone()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        Ok(())
    }
}

/// How many failures a subject may have in a window before it is throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_source: u32,
    pub per_partner: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_source: DEFAULT_PER_SOURCE,
            per_partner: DEFAULT_PER_PARTNER,
        }
    }
}

impl Limits {
    /// `ESIMHOOKS_AUTH_FAILURES_PER_SOURCE` and `ESIMHOOKS_AUTH_FAILURES_PER_PARTNER` (whole numbers, 1 or
    /// more), else the defaults.
    pub fn from_env(env: crate::config::Env<'_>) -> Result<Self, crate::config::ConfigError> {
        let read = |name: &str, default: u32| match env(name).map(|v| v.trim().parse::<u32>()) {
            None => Ok(default),
            Some(Ok(n)) if n >= 1 => Ok(n),
            Some(_) => Err(crate::config::ConfigError::NotA {
                name: name.into(),
                expected: "a whole number of failures, 1 or more",
            }),
        };
        Ok(Self {
            per_source: read("ESIMHOOKS_AUTH_FAILURES_PER_SOURCE", DEFAULT_PER_SOURCE)?,
            per_partner: read("ESIMHOOKS_AUTH_FAILURES_PER_PARTNER", DEFAULT_PER_PARTNER)?,
        })
    }

    fn of(&self, subject: &Subject) -> u32 {
        match subject {
            Subject::Source(_) => self.per_source,
            Subject::Partner(_) => self.per_partner,
        }
    }
}

/// A subject over its limit, and how long until its window ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    pub subject: &'static str,
    pub failures: u32,
    pub retry_after: u32,
}

/// The policy over the counters.
#[derive(Clone)]
pub struct FailureThrottle {
    failures: Arc<dyn AuthFailures>,
    limits: Limits,
}

impl FailureThrottle {
    pub fn new(failures: Arc<dyn AuthFailures>, limits: Limits) -> Self {
        Self { failures, limits }
    }

    /// The first of `subjects` over its limit at `now`; every counter is read at once. Counters that cannot be
    /// read throttle nobody (logged): the key is still checked, and a key is not guessable.
    pub async fn check(&self, subjects: &[Subject], now: DateTime<Utc>) -> Option<Throttled> {
        let window = Window::at(now);
        let counts = join_all(subjects.iter().map(|s| self.failures.count(s, window))).await;
        let mut throttled = None;
        for (subject, count) in subjects.iter().zip(counts) {
            match count {
                Ok(failures) if failures >= self.limits.of(subject) && throttled.is_none() => {
                    let left = (window.end() - now).num_milliseconds();
                    throttled = Some(Throttled {
                        subject: subject.kind(),
                        failures,
                        retry_after: u32::try_from((left + 999) / 1000).unwrap_or(1).max(1),
                    });
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, subject = subject.kind(), "authentication failures not read; not throttled")
                }
            }
        }
        throttled
    }

    /// Counts a failure of each of `subjects` at `now`, all at once; one not counted is logged.
    pub async fn record(&self, subjects: &[Subject], now: DateTime<Utc>) {
        let window = Window::at(now);
        let added = join_all(subjects.iter().map(|s| self.failures.add(s, window))).await;
        for (subject, result) in subjects.iter().zip(added) {
            if let Err(error) = result {
                tracing::warn!(%error, subject = subject.kind(), "authentication failure not counted");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn subjects_name_a_source_and_a_presented_id_safely() {
        assert_eq!(
            Subject::source("2001:db8:1:2:aaaa::1".parse().unwrap()).key(),
            "source#2001:db8:1:2::"
        );
        assert_eq!(
            Subject::source("::ffff:198.51.100.7".parse().unwrap()).key(),
            "source#198.51.100.7"
        );
        assert_eq!(Subject::partner("acme-travel").key(), "partner#acme-travel");
        let odd = Subject::partner(&"Ä/".repeat(500)).key();
        assert!(
            odd.starts_with("partner#~") && odd.len() == "partner#~".len() + 32,
            "{odd}"
        );
        assert_eq!(subjects("acme", None), [Subject::partner("acme")]);
    }

    #[test]
    fn windows_are_fixed_five_minutes() {
        let window = Window::at(at("2026-04-22T18:04:59Z"));
        assert_eq!(
            (window.start, window.end()),
            (at("2026-04-22T18:00:00Z"), at("2026-04-22T18:05:00Z"))
        );
        assert_ne!(Window::at(at("2026-04-22T18:05:00Z")), window);
    }

    #[test]
    fn limits_come_from_the_environment_or_default() {
        assert_eq!(Limits::from_env(&|_| None).unwrap(), Limits::default());
        let env = |name: &str| (name == "ESIMHOOKS_AUTH_FAILURES_PER_SOURCE").then(|| "3".to_string());
        assert_eq!(Limits::from_env(&env).unwrap().per_source, 3);
        assert!(Limits::from_env(&|_| Some("0".into())).is_err());
        assert!(Limits::from_env(&|_| Some("many".into())).is_err());
    }

    #[tokio::test]
    async fn a_subject_at_its_limit_waits_for_the_window_to_end() {
        let throttle = FailureThrottle::new(
            Arc::new(MemoryAuthFailures::default()),
            Limits {
                per_source: 2,
                per_partner: 3,
            },
        );
        let now = at("2026-04-22T18:03:20.500Z");
        let from = subjects("acme", Some("198.51.100.7".parse().unwrap()));
        throttle.record(&from, now).await;
        assert_eq!(throttle.check(&from, now).await, None);
        throttle.record(&from, now).await;
        let throttled = throttle.check(&from, now).await.unwrap();
        assert_eq!(
            (throttled.subject, throttled.failures, throttled.retry_after),
            ("source", 2, 100)
        );
        let elsewhere = subjects("acme", Some("198.51.100.8".parse().unwrap()));
        assert_eq!(throttle.check(&elsewhere, now).await, None);
        throttle.record(&elsewhere, now).await;
        assert_eq!(throttle.check(&elsewhere, now).await.unwrap().subject, "partner id");
        assert_eq!(
            throttle.check(&from, at("2026-04-22T18:05:00Z")).await,
            None,
            "a new window"
        );
    }
}
