//! `esimhooks migrate`: every stored item of an older layout ([`crate::compat::READERS`]) rewritten to the
//! current one, once. Each rewrite is conditional on the item being as it was read, so a write by the running
//! system meanwhile is never overwritten by a stale copy (that item is left, and counted, for the next run);
//! rewriting is idempotent, so a run stopped part-way is finished by running it again, and a second run
//! changes nothing. The report says, per layout, how many items were scanned, rewritten and already current.
//!
//! The rewriting side of [`crate::compat`], apart from it: the readers there are called by the store, and this
//! calls the store.

#[cfg(feature = "aws")]
pub mod dynamodb;
pub mod local;

use crate::compat::{Rewrite, READERS};
use std::collections::BTreeMap;
use std::io::Write;

/// How the items of one layout fared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Items of the kind the layout applies to.
    pub scanned: u64,
    /// Items that were in the older layout and are in the current one now (a dry run: would be).
    pub rewritten: u64,
    /// Items already in the current layout.
    pub current: u64,
    /// Items still in the older layout: changed while being rewritten (the next run takes them), unreadable, or
    /// of a layout no batch rewrites.
    pub left: u64,
}

/// What happened to one item, for one layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Rewritten,
    Current,
    Left,
}

/// What one run found and did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub dry_run: bool,
    /// By layout name ([`crate::compat::Reader::name`]); only the layouts this backend has.
    pub layouts: BTreeMap<&'static str, Counts>,
    /// Items rewritten (a dry run: to rewrite), each once whatever the layouts it was in.
    pub items_rewritten: u64,
    /// Items left in a layout `migrate` rewrites (changed meanwhile, or unreadable), each once.
    pub items_left: u64,
    /// Items that could not be read (their key and why): left as they are.
    pub unreadable: Vec<String>,
    /// Anything else to say (a table without an index this release reads).
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(dry_run: bool) -> Self {
        Self {
            dry_run,
            ..Self::default()
        }
    }

    /// Counts one item: under each layout of its kind, as `outcome` where it was in that older layout (true)
    /// and as current where not; and once in all, where it was in a layout `migrate` rewrites.
    pub fn count(&mut self, found: &[(&'static str, bool)], outcome: Outcome) {
        for &(layout, old) in found {
            let counts = self.layouts.entry(layout).or_default();
            counts.scanned += 1;
            match if old { outcome } else { Outcome::Current } {
                Outcome::Rewritten => counts.rewritten += 1,
                Outcome::Current => counts.current += 1,
                Outcome::Left => counts.left += 1,
            }
        }
        let rewritable = |layout: &str| crate::compat::reader(layout).is_some_and(|r| !r.not_by_batch());
        if found.iter().any(|&(layout, old)| old && rewritable(layout)) {
            match outcome {
                Outcome::Rewritten => self.items_rewritten += 1,
                Outcome::Left => self.items_left += 1,
                Outcome::Current => {}
            }
        }
    }

    /// Notes that `layout` applies to this backend, whether or not an item of it was found (a layout no batch
    /// rewrites is explained whenever it applies).
    pub fn applies(&mut self, layout: &'static str) {
        self.layouts.entry(layout).or_default();
    }

    /// Items rewritten (or, in a dry run, to rewrite).
    pub fn rewritten(&self) -> u64 {
        self.items_rewritten
    }

    /// Items a next run could still rewrite: left in a layout `migrate` rewrites.
    pub fn left_to_rewrite(&self) -> u64 {
        self.items_left
    }

    /// The report as printed: one row per layout in [`READERS`] order, what no batch rewrites, and the verdict.
    pub fn render(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let done = if self.dry_run { "would rewrite" } else { "rewritten" };
        writeln!(
            out,
            "{:<28} {:>9} {:>13} {:>15} {:>6}",
            "layout", "scanned", done, "already current", "left"
        )?;
        for reader in READERS {
            let Some(c) = self.layouts.get(reader.name) else {
                continue;
            };
            let (rewrote, said) = match reader.rewrite {
                Rewrite::Migrated => (c.rewritten.to_string(), ""),
                Rewrite::AtOpen => (c.rewritten.to_string(), "  (when the file is opened, dry run or not)"),
                Rewrite::NotByBatch { .. } if c.scanned == 0 => continue,
                Rewrite::NotByBatch { .. } => ("-".to_string(), "  (not by a batch: below)"),
            };
            writeln!(
                out,
                "{:<28} {:>9} {:>13} {:>15} {:>6}{said}",
                reader.name, c.scanned, rewrote, c.current, c.left
            )?;
        }
        for reader in READERS.iter().filter(|r| self.layouts.contains_key(r.name)) {
            if let Rewrite::NotByBatch { why, removable_when } = reader.rewrite {
                writeln!(out, "{}: not rewritten by a batch: {why}.", reader.name)?;
                writeln!(
                    out,
                    "  Its reader can go in {}, once {removable_when}.",
                    reader.remove_in
                )?;
            }
        }
        for item in &self.unreadable {
            writeln!(out, "unreadable, left as it is: {item}")?;
        }
        for note in &self.notes {
            writeln!(out, "{note}")?;
        }
        let left = self.left_to_rewrite();
        match (self.rewritten(), self.dry_run) {
            (0, _) if left == 0 => writeln!(out, "nothing to rewrite: every item is in the current layout"),
            (n, true) => writeln!(out, "dry run: {} would be rewritten; nothing was written", items(n)),
            (n, false) if left == 0 => writeln!(out, "{} rewritten; a second run changes nothing", items(n)),
            (n, false) => writeln!(
                out,
                "{} rewritten; {} left (changed meanwhile, or unreadable): run again",
                items(n),
                items(left)
            ),
        }
    }
}

fn items(n: u64) -> String {
    match n {
        1 => "1 item".into(),
        n => format!("{n} items"),
    }
}
