//! What the asking run knew of an eSIM just before it crossed a level: why its alert could come late.

use chrono::{DateTime, Duration, Utc};
use shared::reconcile::due::{projected_rate, HEADROOM};
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
    /// A rate at four times which the level is reached more than the goal's 30 minutes after the crossing: the
    /// rule's headroom ask comes too late (use sped up more than that).
    ProjectedLate,
    /// The headroom ask in time (or the level already shown): late for another reason (the answer's data not
    /// showing the crossing yet, a re-projection from it, the budget).
    InTime,
}

pub const KNOWN: [Known; 5] = [
    Known::Nothing,
    Known::NoAmounts,
    Known::NoRate,
    Known::ProjectedLate,
    Known::InTime,
];

impl Known {
    pub fn title(self) -> &'static str {
        match self {
            Self::Nothing => "eSIM not known yet",
            Self::NoAmounts => "usage without amounts",
            Self::NoRate => "no rate yet",
            Self::ProjectedLate => "due at 4x the rate: too late",
            Self::InTime => "due at 4x the rate: in time",
        }
    }

    /// As due.rs projects: from the newest reading (or a later answer that repeated it) at [`HEADROOM`] times
    /// the rate between the two newest, or the plan's average since first seen where higher.
    pub fn of(state: Option<&EsimState>, percent: u8, crossed: DateTime<Utc>) -> Self {
        let Some(state) = state else {
            return Self::Nothing;
        };
        let Some((usage, total, remaining)) = state
            .usage
            .as_ref()
            .and_then(|u| Some((u, u.value.total_bytes?, u.value.remaining_bytes?)))
        else {
            return Self::NoAmounts;
        };
        let known_at = state
            .asking
            .as_ref()
            .and_then(|a| a.heard_at)
            .map_or(usage.at, |h| h.max(usage.at));
        let Some(rate) = projected_rate(state, (total, remaining), known_at) else {
            return Self::NoRate;
        };
        let (total, remaining) = (total as f64, remaining as f64);
        let seconds = ((remaining - f64::from(percent) / 100.0 * total) / (HEADROOM * rate)).clamp(0.0, 1e12);
        if known_at + Duration::seconds(seconds as i64) > crossed + Duration::minutes(30) {
            Self::ProjectedLate
        } else {
            Self::InTime
        }
    }
}
