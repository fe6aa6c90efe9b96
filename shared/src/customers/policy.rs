//! When and how often a customer may be messaged: quiet hours in the customer's own time zone and a daily SMS
//! cap. Both are decided from an injected `now`, never the system clock.

use super::Templates;
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::sync::Arc;

/// A nightly window, in the customer's local time, in which no message is sent: one due then waits in the
/// outbox until the window ends. `start > end` spans midnight (the default, 21:00-08:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Default for QuietHours {
    fn default() -> Self {
        Self {
            start: NaiveTime::from_hms_opt(21, 0, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
        }
    }
}

/// Why a quiet-hours window is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuietHoursError {
    #[error("{0:?} is not HH:MM-HH:MM (or off)")]
    NotAWindow(String),
    #[error("{0:?} is not a time of day (HH:MM)")]
    NotATime(String),
}

impl QuietHours {
    /// `HH:MM-HH:MM`; `None` for `off` (or an empty window such as `08:00-08:00`).
    pub fn parse(text: &str) -> Result<Option<Self>, QuietHoursError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        let (start, end) = text
            .split_once('-')
            .ok_or_else(|| QuietHoursError::NotAWindow(text.to_string()))?;
        let time = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| QuietHoursError::NotATime(t.to_string()))
        };
        let hours = Self {
            start: time(start)?,
            end: time(end)?,
        };
        Ok((hours.start != hours.end).then_some(hours))
    }

    fn contains(&self, local: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= local && local < self.end
        } else {
            local >= self.start || local < self.end
        }
    }

    /// When a message due at `now` may be sent to someone in `zone`: `None` when it may go now, else the end
    /// of the quiet window (the first instant after it, across a daylight-saving change).
    pub fn release_time(&self, now: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&zone);
        if !self.contains(local.time()) {
            return None;
        }
        let mut day = local.date_naive();
        if self.start >= self.end && local.time() >= self.start {
            day = day.succ_opt()?;
        }
        let wall = day.and_time(self.end);
        // A local time skipped by a daylight-saving change: the first minute after the gap.
        (0..=120).find_map(|minutes| {
            zone.from_local_datetime(&(wall + Duration::minutes(minutes)))
                .earliest()
                .map(|at| at.with_timezone(&Utc))
        })
    }
}

/// A customer's time zone, UTC when unset or unknown (contacts are validated, so unknown means an old record).
pub fn zone_of(time_zone: Option<&str>) -> Tz {
    time_zone.and_then(|name| name.parse().ok()).unwrap_or(Tz::UTC)
}

/// How customers are messaged: every value has a working default.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerSettings {
    /// Tell customers at all (`ESIMHOOKS_CUSTOMER_MESSAGES`, default on); off, no contact is looked up.
    pub enabled: bool,
    /// The reseller's brand, which starts every message (`ESIMHOOKS_BRAND`).
    pub brand: String,
    /// How many SMS parts a message may take (`ESIMHOOKS_SMS_PARTS`, 1 to 3).
    pub sms_parts: usize,
    /// `ESIMHOOKS_QUIET_HOURS`, default 21:00-08:00; `off` sends at any hour.
    pub quiet_hours: Option<QuietHours>,
    /// SMS per phone number in any 24 hours (`ESIMHOOKS_SMS_DAILY_CAP`, default 3; 0 for no cap).
    pub sms_daily_cap: u32,
    /// The words of each language, with the operator's overrides.
    pub templates: Arc<Templates>,
}

/// The brand customer messages start with when `ESIMHOOKS_BRAND` is unset.
pub const DEFAULT_BRAND: &str = "Your eSIM";

impl Default for CustomerSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            brand: DEFAULT_BRAND.to_string(),
            sms_parts: 1,
            quiet_hours: Some(QuietHours::default()),
            sms_daily_cap: 3,
            templates: Arc::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_message_due_at_23_local_waits_until_08_local_the_next_morning() {
        let quiet = QuietHours::default();
        let madrid: Tz = "Europe/Madrid".parse().unwrap();
        // 22:00 UTC is 23:00 in Madrid in winter.
        assert_eq!(
            quiet.release_time(at("2026-12-01T22:00:00Z"), madrid),
            Some(at("2026-12-02T07:00:00Z"))
        );
        // 02:30 local: the same morning.
        assert_eq!(
            quiet.release_time(at("2026-12-02T01:30:00Z"), madrid),
            Some(at("2026-12-02T07:00:00Z"))
        );
        assert_eq!(quiet.release_time(at("2026-12-02T07:00:00Z"), madrid), None);
        assert_eq!(quiet.release_time(at("2026-12-02T19:59:59Z"), madrid), None);
        // The same instant is daytime in New York.
        let new_york: Tz = "America/New_York".parse().unwrap();
        assert_eq!(quiet.release_time(at("2026-12-01T22:00:00Z"), new_york), None);
    }

    #[test]
    fn a_window_within_one_day_and_an_end_skipped_by_daylight_saving() {
        let siesta = QuietHours::parse("13:00-16:00").unwrap().unwrap();
        assert_eq!(
            siesta.release_time(at("2026-06-01T14:00:00Z"), Tz::UTC),
            Some(at("2026-06-01T16:00:00Z"))
        );
        assert_eq!(siesta.release_time(at("2026-06-01T16:00:00Z"), Tz::UTC), None);
        // 02:30 does not exist in New York on 8 March 2026: the first minute after the gap.
        let to_0230 = QuietHours::parse("21:00-02:30").unwrap().unwrap();
        let new_york: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            to_0230.release_time(at("2026-03-08T04:00:00Z"), new_york),
            Some(at("2026-03-08T07:00:00Z"))
        );
    }

    #[test]
    fn quiet_hours_parse_and_refuse() {
        assert_eq!(QuietHours::parse("off"), Ok(None));
        assert_eq!(QuietHours::parse("08:00-08:00"), Ok(None));
        assert_eq!(QuietHours::parse("21:00-08:00"), Ok(Some(QuietHours::default())));
        assert!(QuietHours::parse("9pm-8am").is_err());
        assert!(QuietHours::parse("21:00").is_err());
        assert_eq!(zone_of(Some("Not/AZone")), Tz::UTC);
    }
}
