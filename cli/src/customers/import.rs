//! `customers import`: a reseller's file applied row by row, without ever replacing someone by accident. Two
//! streaming passes: the first notes, per identifier, the first line that names it and whether another line
//! names it with other details (compact keys, not the rows); the second refuses the rows such identifiers are
//! on and registers the others, one at a time. A dry run decides each row with the same rule against the store
//! plus what the rows before it would have written.

use super::rows::Rows;
use shared::customers::{upsert_plan, Contact, ContactStore, EsimRef, Replace, Upserted};
use shared::model::ProviderId;
use shared::reconcile::named::NamedEsims;
use std::collections::hash_map::{DefaultHasher, Entry};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::Path;

/// What an import did (or, dry, would do).
#[derive(Debug, Default, PartialEq)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub refused: usize,
    /// eSIMs the rows named that nothing was heard of, filed to be asked their provider.
    pub filed: usize,
}

impl ImportReport {
    pub fn summary(&self, dry_run: bool) -> String {
        let verb = if dry_run { "would import" } else { "imported" };
        format!(
            "{verb} {} rows: {} created, {} updated, {} unchanged; {} refused",
            self.created + self.updated + self.unchanged,
            self.created,
            self.updated,
            self.unchanged,
            self.refused
        ) + &match self.filed {
            0 => String::new(),
            filed => format!("; {filed} eSIMs never heard of filed to be asked their provider"),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Check every row and say what would change, without changing anything.
    pub dry_run: bool,
    /// A row may replace a stored contact whose other identifiers differ (see [`Replace::Any`]).
    pub replace: bool,
}

const HOW_TO_REPLACE: &str = "replace it on purpose with --replace, `customers set`, or `customers remove` first";

/// An identifier, as 128 bits: two SipHash digests of the provider, kind and value. A table of these for a
/// 200,000-row file is some 50 MB (docs/benchmarks.md), where the identifiers themselves would be several times that.
fn key(provider: ProviderId, esim: &EsimRef) -> u128 {
    let digest = |seed: u8| {
        let mut hasher = DefaultHasher::new();
        (seed, provider.as_str(), esim.kind(), esim.value()).hash(&mut hasher);
        hasher.finish()
    };
    (u128::from(digest(0)) << 64) | u128::from(digest(1))
}

/// A row's details (identifiers and fields), as 64 bits: two rows with the same are the same contact.
fn fingerprint(contact: &Contact) -> u64 {
    let mut hasher = DefaultHasher::new();
    serde_json::to_string(contact).unwrap_or_default().hash(&mut hasher);
    hasher.finish()
}

/// No other line names the identifier.
const ALONE: u32 = 0;
/// Other lines name it, all with the same details as the first.
const SAME: u32 = u32::MAX;

/// Who in the file names one identifier: the first line, its row's fingerprint, and [`ALONE`], [`SAME`] or the
/// first line naming it with other details.
#[derive(Clone, Copy)]
struct Claim {
    first: u32,
    other: u32,
    fingerprint: u64,
}

fn line_u32(line: usize) -> u32 {
    u32::try_from(line).unwrap_or(SAME - 1).min(SAME - 1)
}

/// The first pass: every identifier of every readable row, with the lines that name it.
fn claims(file: &Path) -> Result<HashMap<u128, Claim>, String> {
    let mut claims: HashMap<u128, Claim> = HashMap::new();
    let mut rows = Rows::open(file)?;
    while let Some((line, fields)) = rows.next_row()? {
        // An unreadable row names no one; the second pass refuses it.
        let Some(contact) = fields.ok().and_then(|fields| Contact::from_fields(&fields).ok()) else {
            continue;
        };
        let print = fingerprint(&contact);
        let line = line_u32(line);
        for esim in contact.refs() {
            match claims.entry(key(contact.provider, &esim)) {
                Entry::Vacant(vacant) => {
                    vacant.insert(Claim {
                        first: line,
                        other: ALONE,
                        fingerprint: print,
                    });
                }
                Entry::Occupied(mut occupied) => {
                    let claim = occupied.get_mut();
                    if claim.fingerprint != print && matches!(claim.other, ALONE | SAME) {
                        claim.other = line;
                    } else if claim.other == ALONE {
                        claim.other = SAME;
                    }
                }
            }
        }
    }
    Ok(claims)
}

/// Why the row at `line` is refused for its file's sake: each of its identifiers another line gives other
/// details, with that line.
fn contested(claims: &HashMap<u128, Claim>, contact: &Contact, print: u64) -> Option<String> {
    let named: Vec<String> = contact
        .refs()
        .iter()
        .filter_map(|esim| {
            let claim = claims.get(&key(contact.provider, esim))?;
            let other = match claim.other {
                ALONE | SAME => return None,
                differing if claim.fingerprint == print => differing,
                _ => claim.first,
            };
            Some(format!("{} is also on line {other}", esim.labelled()))
        })
        .collect();
    (!named.is_empty()).then(|| {
        format!(
            "{}, with other details: every row giving an identifier different details is refused",
            named.join(", ")
        )
    })
}

/// What a dry run's earlier rows would have written under an identifier.
enum Written {
    Deleted,
    /// The contact of the row with this fingerprint.
    Holds(u64),
}

/// The store as a dry run's rows would have left it: what they would have written, over what is stored. Only
/// identifiers a later row may read are kept: those that more than one line names, and those deleted.
struct DryRun<'a> {
    contacts: &'a dyn ContactStore,
    claims: &'a HashMap<u128, Claim>,
    written: HashMap<u128, Written>,
}

impl DryRun<'_> {
    /// What registering `contact` would do, decided by the rule [`ContactStore::register`] applies.
    async fn register(
        &mut self,
        contact: &Contact,
        print: u64,
        replace: Replace,
    ) -> Result<Result<Upserted, String>, String> {
        let provider = contact.provider;
        let refs = contact.refs();
        let unseen: Vec<EsimRef> = refs
            .iter()
            .filter(|esim| !self.written.contains_key(&key(provider, esim)))
            .cloned()
            .collect();
        let mut from_store = self
            .contacts
            .stored_under(provider, &unseen)
            .await
            .map_err(|e| e.to_string())?;
        let mut stored = Vec::new();
        for esim in &refs {
            match self.written.get(&key(provider, esim)) {
                Some(Written::Deleted) => {}
                Some(Written::Holds(held)) if *held == print => stored.push((esim.clone(), contact.clone())),
                // Only a row with other details could have written it, and those were refused: a digest collision.
                Some(Written::Holds(_)) => return Ok(Err(format!("{} is also on another line", esim.labelled()))),
                None => {
                    if let Some(at) = from_store.iter().position(|(under, _)| under == esim) {
                        stored.push(from_store.swap_remove(at));
                    }
                }
            }
        }
        let (outcome, stale) = match upsert_plan(contact, &stored, replace) {
            Err(conflict) => return Ok(Err(format!("{conflict}: {HOW_TO_REPLACE}"))),
            Ok(None) => return Ok(Ok(Upserted::Unchanged)),
            Ok(Some(plan)) => plan,
        };
        for esim in &refs {
            let at = key(provider, esim);
            if self.claims.get(&at).is_some_and(|claim| claim.other != ALONE) {
                self.written.insert(at, Written::Holds(print));
            }
        }
        for esim in &stale {
            let at = key(provider, esim);
            if self.claims.contains_key(&at) {
                self.written.insert(at, Written::Deleted);
            }
        }
        Ok(Ok(outcome))
    }
}

/// Reads `file` (CSV with a header row, or JSON lines) and registers every valid row, or with `dry_run` says
/// what it would do; each refused row is written to `out` as `line N: why` as it is met.
pub async fn import(
    file: &Path,
    options: ImportOptions,
    contacts: &dyn ContactStore,
    named: Option<&NamedEsims>,
    out: &mut impl Write,
) -> Result<ImportReport, String> {
    let claims = claims(file)?;
    let replace = if options.replace {
        Replace::Any
    } else {
        Replace::SameContact
    };
    let mut dry = DryRun {
        contacts,
        claims: &claims,
        written: HashMap::new(),
    };
    let mut report = ImportReport::default();
    let mut rows = Rows::open(file)?;
    while let Some((line, fields)) = rows.next_row()? {
        let decided = match fields.and_then(|fields| Contact::from_fields(&fields).map_err(|e| e.to_string())) {
            Err(why) => Err(why),
            Ok(contact) => {
                let print = fingerprint(&contact);
                if let Some(why) = contested(&claims, &contact, print) {
                    Err(why)
                } else if options.dry_run {
                    dry.register(&contact, print, replace).await?
                } else {
                    let registered = contacts.register(&contact, replace).await.map_err(|e| e.to_string())?;
                    // A row naming a partner records it again even unchanged: an import cut short is finished.
                    let changed = matches!(registered, Ok(Upserted::Created | Upserted::Updated))
                        || (registered.is_ok() && contact.partner_id.is_some());
                    if let (true, Some(named)) = (changed, named) {
                        report.filed += usize::from(named.file(&contact).await.map_err(|e| e.to_string())?);
                    }
                    registered.map_err(|conflict| format!("{conflict}: {HOW_TO_REPLACE}"))
                }
            }
        };
        match decided {
            Ok(Upserted::Created) => report.created += 1,
            Ok(Upserted::Updated) => report.updated += 1,
            Ok(Upserted::Unchanged) => report.unchanged += 1,
            Err(why) => {
                report.refused += 1;
                writeln!(out, "line {line}: {why}").map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(report)
}
