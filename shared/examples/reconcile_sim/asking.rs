//! Webhooks and asking every 15 minutes, as production asks: each pass takes a provider's states filed by now
//! in the asking index (those filed for a level or an end first, then the routine ones, each earliest first),
//! at most `pass_budget` calls' worth of them (queue.rs), asks those the rule finds
//! `due_now` and files the early ones again; each answer goes as `reconcile_one` takes it: one that
//! `adds_nothing` stores nothing, any other becomes an event (`reading_event`) through the pipeline (a reading
//! already applied is a duplicate: the same event key), and the state notes the ask (`note_asked`).

use super::fleet::MIX;
use super::known::Known;
use super::queue::{column, filed, filed_as, note_asked, refile, Index};
use super::run::{key, Asking, Sim, LEVELS, NEVER};
use shared::model::DedupeKey;
use shared::reconcile::due::{due_now, next_ask, validity_notices, AskingPlan};
use shared::reconcile::{adds_nothing, measured_at, pass_budget, reading_event, Ask};
use shared::state::EsimState;
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

impl Sim<'_> {
    /// When each eSIM's first alert telling of each level comes, what asking cost each provider, and what was
    /// known of each eSIM just before each crossing.
    pub fn with(&self) -> (Vec<[i64; 2]>, Vec<Asking>, Vec<[Known; 2]>) {
        let n = self.fleet.len();
        let plan = AskingPlan {
            rules: self.rules.clone(),
            providers: MIX
                .iter()
                .map(|(who, _)| who.id())
                .filter(|p| p.spec().usage_api.is_some())
                .collect(),
            ..AskingPlan::default()
        };
        let mut alerted = vec![[NEVER; 2]; n];
        let mut states: Vec<Option<EsimState>> = (0..n).map(|_| None).collect();
        let mut later = Vec::new();
        // What arrived before asking starts is history: merged (and filed) as it came. An eSIM named at its sale
        // before then was asked then.
        for idx in 0..n as u32 {
            let i = idx as usize;
            let sold = self.fleet[i].start;
            if self.named && sold < self.warmup {
                let provider = self.fleet[i].who.id();
                let reading = self.answer(idx, sold);
                let heard_at = reading
                    .usage
                    .is_some()
                    .then(|| measured_at(provider, &reading, self.at(sold)));
                let event = reading_event(provider, &Ask::Iccid(key(idx)), reading, b"{}", self.at(sold))
                    .expect("a reading becomes an event");
                self.apply(idx, &mut states[i], &event, sold, &mut alerted[i], Some(&plan));
                if let Some(state) = states[i].as_mut() {
                    note_asked(self, state, self.at(sold), heard_at);
                }
            }
            for hook in self.delivered(idx) {
                if hook.at < self.warmup {
                    let event = self.webhook_event(&hook);
                    self.apply(idx, &mut states[i], &event, hook.at, &mut alerted[i], Some(&plan));
                } else {
                    later.push(hook);
                }
            }
        }
        later.sort();
        let mut index = Index::new(n);
        for idx in 0..n as u32 {
            index.track(self, idx, None, states[idx as usize].as_ref());
        }
        // Every crossing in the window, to note what was known of the eSIM just before it.
        let mut crossings: Vec<(i64, u32, usize)> = Vec::new();
        for (idx, plan) in self.fleet.iter().enumerate() {
            for (l, level) in LEVELS.iter().enumerate() {
                if let Some(at) = plan
                    .crossing(*level, self.until)
                    .filter(|c| (0..self.window).contains(c))
                {
                    crossings.push((at, idx as u32, l));
                }
            }
        }
        crossings.sort();
        let mut known = vec![[Known::InTime; 2]; n];
        let mut next_crossing = 0;
        let mut asking: Vec<Asking> = MIX.iter().map(|_| Asking::default()).collect();
        // The event keys of the asked readings applied: the pipeline takes a key once.
        let mut applied: HashSet<u64> = HashSet::new();
        let mut next_hook = 0;
        // eSIMs sold once asking runs: named (a state with no facts, filed to be asked) when sold.
        let mut sales: Vec<(i64, u32)> = (0..n as u32)
            .map(|idx| (self.fleet[idx as usize].start, idx))
            .filter(|(sold, _)| self.named && (self.warmup..=self.until).contains(sold))
            .collect();
        sales.sort_unstable();
        let mut next_sale = 0;
        let mut now = self.warmup;
        while now <= self.until {
            while let Some(&(sold, idx)) = sales.get(next_sale).filter(|(sold, _)| *sold <= now) {
                let i = idx as usize;
                if states[i].is_none() {
                    let first = EsimState::first(
                        self.fleet[i].who.id(),
                        key(idx),
                        self.at(sold),
                        DedupeKey::provider_id("named"),
                    );
                    states[i] = Some(first);
                    let state = states[i].as_mut().expect("just named");
                    plan.file(state, &self.alerts, self.at(sold));
                    index.track(self, idx, None, states[i].as_ref());
                }
                next_sale += 1;
            }
            loop {
                let hook = later.get(next_hook).filter(|h| h.at <= now);
                let crossing = crossings.get(next_crossing).filter(|c| c.0 <= now);
                if let Some(&(at, idx, l)) = crossing.filter(|c| hook.is_none_or(|h| c.0 <= h.at)) {
                    known[idx as usize][l] = Known::of(states[idx as usize].as_ref(), LEVELS[l], self.at(at));
                    next_crossing += 1;
                    continue;
                }
                let Some(hook) = hook else {
                    break;
                };
                let i = hook.idx as usize;
                let before = states[i].as_ref().and_then(filed_as);
                let event = self.webhook_event(hook);
                let taken = self.apply(hook.idx, &mut states[i], &event, hook.at, &mut alerted[i], Some(&plan));
                index.track(self, hook.idx, before, states[i].as_ref());
                if (0..self.window).contains(&hook.at) {
                    let stats = &mut asking[self.fleet[i].who.index()];
                    stats.hooks += 1;
                    stats.outranked += u64::from(!taken);
                }
                next_hook += 1;
            }
            let measured = (0..self.window).contains(&now);
            let at_now = self.at(now);
            let now_ms = self.ms(at_now);
            for (p, (who, _)) in MIX.iter().enumerate() {
                let Some(api) = who.id().spec().usage_api else {
                    continue;
                };
                let provider = who.id();
                let budget = pass_budget(api.per_second, self.rules.period) * api.batch_size();
                let mut asked = 0u64;
                let (batch, left) = index.take(self, p, now_ms, budget, &states);
                let stats = &mut asking[p];
                if measured {
                    stats.passes += 1;
                    stats.binding += u64::from(left);
                }
                for (idx, filed_at) in batch {
                    let i = idx as usize;
                    let state = states[i].as_mut().expect("only known eSIMs are filed");
                    let notices = validity_notices(provider);
                    let Some(why) = due_now(state, &self.alerts, &self.rules, notices, at_now) else {
                        refile(self, state, at_now);
                        if measured {
                            stats.early += 1;
                            stats.early_again += u64::from(filed(state).is_some_and(|at| at <= at_now));
                        }
                        index.track(self, idx, None, states[i].as_ref());
                        continue;
                    };
                    // Waiting since it was due, or since it was filed when that was later (filed at once).
                    let due_at =
                        next_ask(state, &self.alerts, &self.rules, notices).map_or(now_ms, |(at, _)| self.ms(at));
                    let since = filed_at.max(due_at);
                    if self.trace == Some(idx) {
                        eprintln!("{:>8.2} h asked: {}", now as f64 / 3600.0, why.as_str());
                    }
                    if measured {
                        asked += 1;
                        stats.by_why[column(why)] += 1;
                        stats.waits.push(((now_ms - since).max(0) / 1000) as u32);
                    }
                    let reading = self.answer(idx, now);
                    let heard_at = reading.usage.is_some().then(|| measured_at(provider, &reading, at_now));
                    if adds_nothing(&reading, Some(state)) {
                        stats.unchanged += u64::from(measured);
                    } else {
                        let event = reading_event(provider, &Ask::Iccid(key(idx)), reading, b"{}", at_now)
                            .expect("a reading becomes an event");
                        let mut hasher = DefaultHasher::new();
                        event.dedupe_key.hash(&mut hasher);
                        if applied.insert(hasher.finish()) {
                            self.apply(idx, &mut states[i], &event, now, &mut alerted[i], Some(&plan));
                        } else {
                            stats.duplicate += u64::from(measured);
                        }
                    }
                    let state = states[i].as_mut().expect("still known");
                    note_asked(self, state, at_now, heard_at);
                    index.track(self, idx, None, states[i].as_ref());
                }
                asking[p].calls += asked.div_ceil(api.batch_size() as u64);
            }
            now += self.rules.period.num_seconds();
        }
        (alerted, asking, known)
    }
}
