//! The asking index, kept on each state's `asking` as production keeps it: a delivery that changes a state files
//! it no later than its next ask (`AskingPlan::file`, called in run.rs's `apply`); after every ask the state
//! notes when it was asked and when the usage its answer reported was measured, and is filed at its exact next
//! ask (as `Pipeline::note_asked`); a pass takes a provider's states filed by now, earliest first, at most its
//! budget (as `filed_to_ask`), asks those `due_now` and files the early ones again at their exact next ask (as
//! `Pipeline::refile`). The index itself is two heaps per provider (filed for a level or an end; routine) of
//! (filed at, eSIM); an entry stands while the state is still filed there.

use super::fleet::MIX;
use super::run::Sim;
use chrono::{DateTime, Utc};
use shared::reconcile::due::{exact_filing, validity_notices, Why};
use shared::state::{Asking, EsimState};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Why an eSIM was asked, in the order the table shows.
pub const REASONS: [Why; 5] = [Why::Crossing, Why::Nearing, Why::Stale, Why::EndNear, Why::Unheard];

/// The column of `why` in [`REASONS`] (a match, so that a new reason is not counted as another).
pub fn column(why: Why) -> usize {
    match why {
        Why::Crossing => 0,
        Why::Nearing => 1,
        Why::Stale => 2,
        Why::EndNear => 3,
        Why::Unheard => 4,
    }
}

/// Where the state is filed in the asking index (`None`: not filed).
pub fn filed(state: &EsimState) -> Option<DateTime<Utc>> {
    state.asking.as_ref().and_then(|a| a.next)
}

/// Where the state is filed, and whether for a routine ask (its entry's place in the index).
pub fn filed_as(state: &EsimState) -> Option<(DateTime<Utc>, bool)> {
    state.asking.as_ref().and_then(Asking::filing)
}

/// Entries of one provider and kind: (filed at, in ms from the window's start; eSIM), earliest first.
type Filed = BinaryHeap<Reverse<(i64, u32)>>;

pub struct Index {
    /// Per provider, those filed for a level or an end, then the routine ones.
    heaps: Vec<[Filed; 2]>,
    /// The pass that last took each eSIM: a state is taken at most once a pass.
    taken: Vec<i64>,
}

impl Index {
    pub fn new(n: usize) -> Self {
        Self {
            heaps: MIX.iter().map(|_| [BinaryHeap::new(), BinaryHeap::new()]).collect(),
            taken: vec![i64::MIN; n],
        }
    }

    /// Enters the state where it is filed, unless it is still filed at `before` (its entry stands).
    pub fn track(&mut self, sim: &Sim<'_>, idx: u32, before: Option<(DateTime<Utc>, bool)>, state: Option<&EsimState>) {
        let Some((next, routine)) = state.and_then(filed_as).filter(|now| before != Some(*now)) else {
            return;
        };
        let who = sim.fleet[idx as usize].who.index();
        self.heaps[who][usize::from(routine)].push(Reverse((sim.ms(next), idx)));
    }

    /// Provider `p`'s states filed at or before `now` (ms), at most `limit`: those filed for a level or an end
    /// first, then the routine ones, each earliest first (as `filed_to_ask`), each with when it was filed; and
    /// whether states filed by then were left for the next pass. The caller files each taken state again
    /// ([`Index::track`] with `before: None`).
    pub fn take(
        &mut self,
        sim: &Sim<'_>,
        p: usize,
        now: i64,
        limit: usize,
        states: &[Option<EsimState>],
    ) -> (Vec<(u32, i64)>, bool) {
        let mut batch = Vec::new();
        for routine in [false, true] {
            while batch.len() < limit {
                let Some((at, idx)) = self.head(sim, (p, routine), now, states) else {
                    break;
                };
                self.heaps[p][usize::from(routine)].pop();
                self.taken[idx as usize] = now;
                batch.push((idx, at));
            }
        }
        let left = [false, true]
            .into_iter()
            .any(|routine| self.head(sim, (p, routine), now, states).is_some());
        (batch, left)
    }

    /// The earliest standing entry of provider `p` filed by `now` and not taken in this pass (entries that no
    /// longer stand are dropped).
    fn head(
        &mut self,
        sim: &Sim<'_>,
        (p, routine): (usize, bool),
        now: i64,
        states: &[Option<EsimState>],
    ) -> Option<(i64, u32)> {
        let heap = &mut self.heaps[p][usize::from(routine)];
        while let Some(&Reverse((at, idx))) = heap.peek() {
            if at > now {
                return None;
            }
            let i = idx as usize;
            let stands = states[i]
                .as_ref()
                .and_then(filed_as)
                .is_some_and(|(n, r)| sim.ms(n) == at && r == routine);
            if stands && self.taken[i] != now {
                return Some((at, idx));
            }
            heap.pop();
        }
        None
    }
}

/// As `Pipeline::note_asked` after an ask at `asked_at`: when it was asked, when the usage its answer reported
/// was measured (`heard_at`, where it reported usage), and filed at its exact next ask.
pub fn note_asked(sim: &Sim<'_>, state: &mut EsimState, asked_at: DateTime<Utc>, heard_at: Option<DateTime<Utc>>) {
    let asking = state.asking.get_or_insert_with(Asking::default);
    asking.asked_at = Some(asking.asked_at.map_or(asked_at, |a| a.max(asked_at)));
    if let Some(heard) = heard_at {
        asking.heard_at = Some(asking.heard_at.map_or(heard, |h| h.max(heard)));
    }
    refile(sim, state, asked_at);
}

/// As `Pipeline::refile`: filed at its exact next ask, never in the past (`None`: never asked again).
pub fn refile(sim: &Sim<'_>, state: &mut EsimState, now: DateTime<Utc>) {
    let notices = validity_notices(state.provider);
    let filing = exact_filing(state, &sim.alerts, &sim.rules, notices, now);
    state.asking.get_or_insert_with(Asking::default).file(filing);
}
