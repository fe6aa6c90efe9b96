//! What registering a contact changes, decided once for every store: which stored contacts it replaces,
//! which of their identifiers go, and when it may not replace them at all.

use super::{Contact, EsimRef, Upserted};
use std::fmt;

/// What registering a contact may replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Whatever is stored under any of its identifiers, with that contact's other identifiers: a deliberate
    /// change (`customers set`, `PUT /customers/...`, `customers import --replace`).
    Any,
    /// Only the same contact: one stored contact at most, whose identifiers are all among the new one's (it may
    /// add identifiers, never drop or change one). A row of a file is not a deliberate change of someone else.
    SameContact,
}

/// Why a contact was not registered with [`Replace::SameContact`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// `identifier` names a stored contact that also has `others`, which the new contact lacks.
    OtherIdentifiers { identifier: EsimRef, others: Vec<EsimRef> },
    /// `first` and `identifier` name two different stored contacts.
    TwoContacts { first: EsimRef, identifier: EsimRef },
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OtherIdentifiers { identifier, others } => {
                let others: Vec<String> = others.iter().map(EsimRef::labelled).collect();
                write!(
                    f,
                    "{} already names a contact that also has {}",
                    identifier.labelled(),
                    others.join(", ")
                )
            }
            Self::TwoContacts { first, identifier } => write!(
                f,
                "{} and {} name two different contacts",
                first.labelled(),
                identifier.labelled()
            ),
        }
    }
}

/// The identifiers of a contact, in a comparable order.
fn identity(contact: &Contact) -> Vec<EsimRef> {
    let mut refs = contact.refs();
    refs.sort();
    refs
}

/// Whether `replace` lets `contact` take the place of the contacts `stored` under its identifiers.
fn check(contact: &Contact, stored: &[(EsimRef, Contact)], replace: Replace) -> Result<(), Conflict> {
    if replace == Replace::Any {
        return Ok(());
    }
    let refs = contact.refs();
    let mut holder: Option<(&EsimRef, Vec<EsimRef>)> = None;
    for (under, old) in stored {
        let theirs = identity(old);
        let others: Vec<EsimRef> = theirs.iter().filter(|esim| !refs.contains(esim)).cloned().collect();
        if !others.is_empty() {
            return Err(Conflict::OtherIdentifiers {
                identifier: under.clone(),
                others,
            });
        }
        match &holder {
            None => holder = Some((under, theirs)),
            // The copies of one contact under each of its identifiers are the same contact.
            Some((_, held)) if *held == theirs => {}
            Some((first, _)) => {
                return Err(Conflict::TwoContacts {
                    first: (*first).clone(),
                    identifier: under.clone(),
                })
            }
        }
    }
    Ok(())
}

/// What registering `contact` takes, given the contacts `stored` under its identifiers (each with the identifier
/// it was found under; none for an identifier that holds nothing): `Ok(None)` when every identifier already
/// holds this very contact, else the outcome and the identifiers of the replaced contacts that it does not keep,
/// to delete (they would still name the old contact); a [`Conflict`] when `replace` does not allow it.
pub fn upsert_plan(
    contact: &Contact,
    stored: &[(EsimRef, Contact)],
    replace: Replace,
) -> Result<Option<(Upserted, Vec<EsimRef>)>, Conflict> {
    check(contact, stored, replace)?;
    let refs = contact.refs();
    if stored.len() == refs.len() && stored.iter().all(|(_, old)| old == contact) {
        return Ok(None);
    }
    let mut stale: Vec<EsimRef> = stored
        .iter()
        .flat_map(|(_, old)| old.refs())
        .filter(|esim| !refs.contains(esim))
        .collect();
    stale.sort();
    stale.dedup();
    let outcome = if stored.is_empty() {
        Upserted::Created
    } else {
        Upserted::Updated
    };
    Ok(Some((outcome, stale)))
}

#[cfg(test)]
mod tests;
