//! Who is due when: per provider, the known eSIMs by the time they are next due by the real rule
//! (`shared::reconcile::due::{next_ask, due_now}`), oldest first, as the planned index by next ask time would
//! serve them. `--suggested` adds, as a what-if, the changes this simulation suggests: a plan that ends soon
//! is asked once for it; an answer that says nothing new counts as heard from (`view`); re-checks with
//! headroom before a projected crossing, and soon after a reading near a level without amounts or a rate
//! (`recheck`); and (run.rs) eSIM Access answers carry when their usage was measured.

use super::fleet::{HOUR, MIX};
use super::run::{Sim, NEVER};
use shared::reconcile::due::{due_now, next_ask, Why};
use shared::state::EsimState;
use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// `--suggested`: how much faster than the measured rate use may go before a level.
const HEADROOM: f64 = 4.0;

/// Why an eSIM was asked: the rule's reasons, and the suggested re-check.
pub const REASONS: [&str; 4] = ["level near", "not heard from", "plan ends soon", "suggested re-check"];

pub struct Queue {
    /// Each eSIM's current entry (entries it replaced are skipped), or NEVER.
    due: Vec<i64>,
    /// Since when it has been waiting (for the wait figures).
    since: Vec<i64>,
    /// When a pass last looked at it: it is not looked at twice in a pass.
    looked: Vec<i64>,
    heaps: Vec<BinaryHeap<Reverse<(i64, u32)>>>,
    suggested: bool,
    /// `--suggested`: asked once because its plan ends soon.
    end_asked: Vec<bool>,
    /// `--suggested`: when an answer last said nothing new (NEVER: the newest answer did).
    quiet: Vec<i64>,
}

impl Queue {
    pub fn new(n: usize, suggested: bool) -> Self {
        Self {
            due: vec![NEVER; n],
            since: vec![NEVER; n],
            looked: vec![i64::MIN / 2; n],
            heaps: MIX.iter().map(|_| BinaryHeap::new()).collect(),
            suggested,
            end_asked: vec![false; if suggested { n } else { 0 }],
            quiet: vec![NEVER; if suggested { n } else { 0 }],
        }
    }

    fn notices(&self, sim: &Sim<'_>, idx: u32) -> bool {
        let provider = sim.fleet[idx as usize].who.id().spec().usage_api;
        provider.is_some_and(|api| api.validity_notices) || self.end_asked.get(idx as usize).copied().unwrap_or(false)
    }

    /// Queues the eSIM at its next ask, but not before the pass after the one that last looked at it: one
    /// asked (or found not due) that is still due waits for the next pass, behind those due before it.
    pub fn schedule(&mut self, sim: &Sim<'_>, state: Option<&EsimState>, idx: u32, now: i64, looked_at: bool) {
        let i = idx as usize;
        let was_waiting = self.due[i] <= now;
        self.due[i] = NEVER;
        if looked_at {
            self.looked[i] = now;
        }
        let Some(state) = state.filter(|_| sim.fleet[i].who.id().spec().usage_api.is_some()) else {
            return;
        };
        let state = &*self.view(state, idx, sim);
        let rule = next_ask(state, &sim.alerts, &sim.rules, self.notices(sim, idx)).map(|(at, _)| sim.secs(at));
        let extra = rule.and_then(|_| self.recheck(sim, state, idx));
        let Some(at) = rule.into_iter().chain(extra).min() else {
            return;
        };
        let at = at.max(self.looked[i] + sim.rules.period.num_seconds());
        if !(was_waiting && !looked_at && at <= now) {
            self.since[i] = at.max(now);
        }
        self.due[i] = at;
        self.heaps[sim.fleet[i].who.index()].push(Reverse((at, idx)));
    }

    /// The next eSIM of provider `p` due at `now`, with since when it waited.
    pub fn pop_due(&mut self, p: usize, now: i64) -> Option<(u32, i64)> {
        self.skip_replaced(p);
        let Reverse((_, idx)) = *self.heaps[p].peek().filter(|Reverse((at, _))| *at <= now)?;
        self.heaps[p].pop();
        self.due[idx as usize] = NEVER;
        Some((idx, self.since[idx as usize]))
    }

    /// Whether provider `p` has eSIMs due at `now` still waiting.
    pub fn any_due(&mut self, p: usize, now: i64) -> bool {
        self.skip_replaced(p);
        self.heaps[p].peek().is_some_and(|Reverse((at, _))| *at <= now)
    }

    fn skip_replaced(&mut self, p: usize) {
        while let Some(Reverse((at, idx))) = self.heaps[p].peek() {
            if self.due[*idx as usize] == *at {
                return;
            }
            self.heaps[p].pop();
        }
    }

    /// Whether the eSIM is due now, and why (an index into [`REASONS`]): `due_now`, or the suggested re-check.
    pub fn why_now(&mut self, sim: &Sim<'_>, state: &EsimState, idx: u32, now: i64) -> Option<usize> {
        let state = &*self.view(state, idx, sim);
        let why = due_now(state, &sim.alerts, &sim.rules, self.notices(sim, idx), sim.at(now));
        if why == Some(Why::EndNear) && self.suggested {
            self.end_asked[idx as usize] = true;
        }
        match why {
            Some(Why::Crossing) => Some(0),
            Some(Why::Stale) => Some(1),
            Some(Why::Nearing) => Some(3),
            Some(Why::EndNear) => Some(2),
            None => self.recheck(sim, state, idx).filter(|at| *at <= now).map(|_| 3),
        }
    }

    /// What the rule is shown of the eSIM. `--suggested`: an answer that said nothing new counts as heard from
    /// at the time asked, and the usage it repeated as read then (so neither silence nor a projection already
    /// past keeps the eSIM due every pass while it is not used).
    fn view<'a>(&self, state: &'a EsimState, idx: u32, sim: &Sim<'_>) -> Cow<'a, EsimState> {
        let quiet = self.quiet.get(idx as usize).copied().unwrap_or(NEVER);
        if quiet == NEVER || quiet <= sim.secs(state.updated_at) {
            return Cow::Borrowed(state);
        }
        let mut seen = state.clone();
        seen.updated_at = sim.at(quiet);
        if let Some(usage) = seen.usage.as_mut() {
            usage.at = usage.at.max(sim.at(quiet));
        }
        Cow::Owned(seen)
    }

    /// Notes that the eSIM was asked at `now` and whether the answer said anything new.
    pub fn answered(&mut self, idx: u32, now: i64, new: bool) {
        if let Some(quiet) = self.quiet.get_mut(idx as usize) {
            *quiet = if new { NEVER } else { now };
        }
    }

    /// The suggested extra asks (`--suggested`): with headroom before a projected crossing, at the time the
    /// next level would be reached at four times the rate between the two newest readings (that rate is an
    /// average: use peaks in the evening and varies from day to day, so one projection made hours ahead comes
    /// late), re-projected at each answer; and an hour after a reading with no amounts or no rate yet that
    /// shows less than 15 points above the highest level (Airalo's 75 % webhook, 1GLOBAL's 80 %), so that a
    /// rate exists before the level is crossed.
    fn recheck(&self, sim: &Sim<'_>, state: &EsimState, idx: u32) -> Option<i64> {
        if !self.suggested {
            return None;
        }
        let usage = state.usage.as_ref()?;
        let levels = sim.alerts.low_data_levels();
        let (highest, lowest) = (f64::from(*levels.first()?) / 100.0, f64::from(*levels.last()?) / 100.0);
        let amounts = usage.value.total_bytes.zip(usage.value.remaining_bytes);
        let ratio = (usage.value.remaining_ratio).or(amounts.map(|(t, r)| r as f64 / t.max(1) as f64));
        if ratio.is_some_and(|r| r <= lowest) {
            return None;
        }
        let read_at = sim.secs(usage.at);
        match (amounts, state.usage_rate.filter(|r| *r > 0.0)) {
            (Some((total, remaining)), Some(rate)) => {
                let next = levels
                    .iter()
                    .map(|l| f64::from(*l) / 100.0 * total as f64)
                    .find(|at| *at < remaining as f64)?;
                Some(read_at + ((remaining as f64 - next) / (HEADROOM * rate)).min(1e12) as i64)
            }
            _ => ratio
                .is_none_or(|r| r <= highest + 0.15)
                .then_some(read_at.max(sim.secs(state.updated_at)).max(self.looked[idx as usize]) + HOUR),
        }
    }
}
