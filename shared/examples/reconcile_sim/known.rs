//! What the asking run knew of an eSIM just before it crossed a level: why its alert could come late.

use chrono::{DateTime, Duration, Utc};
use shared::state::EsimState;

/// What was known, in the order the table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// No delivery about it yet: it is not asked.
    Nothing,
    /// Usage without the plan's amounts (Airalo's and 1GLOBAL's webhooks): nothing to project from.
    NoAmounts,
    /// One reading of the plan, or no use between the two newest: no rate.
    NoRate,
    /// A rate whose projection puts the crossing after it (more than the goal's 30 minutes).
    ProjectedLate,
    /// A projection in time (or the level already shown).
    Projected,
}

pub const KNOWN: [Known; 5] = [
    Known::Nothing,
    Known::NoAmounts,
    Known::NoRate,
    Known::ProjectedLate,
    Known::Projected,
];

impl Known {
    pub fn title(self) -> &'static str {
        match self {
            Self::Nothing => "eSIM not known yet",
            Self::NoAmounts => "usage without amounts",
            Self::NoRate => "no rate yet",
            Self::ProjectedLate => "projected after the crossing",
            Self::Projected => "projected in time",
        }
    }

    /// As due.rs projects: from the newest reading at the rate between the two newest.
    pub fn of(state: Option<&EsimState>, percent: u8, crossed: DateTime<Utc>) -> Self {
        let Some(state) = state else {
            return Self::Nothing;
        };
        let Some((usage, total, remaining)) = state
            .usage
            .as_ref()
            .and_then(|u| Some((u, u.value.total_bytes? as f64, u.value.remaining_bytes? as f64)))
        else {
            return Self::NoAmounts;
        };
        let Some(rate) = state.usage_rate.filter(|r| *r > 0.0) else {
            return Self::NoRate;
        };
        let seconds = ((remaining - f64::from(percent) / 100.0 * total) / rate).clamp(0.0, 1e12);
        if usage.at + Duration::seconds(seconds as i64) > crossed + Duration::minutes(30) {
            Self::ProjectedLate
        } else {
            Self::Projected
        }
    }
}
