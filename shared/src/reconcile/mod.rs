//! Asking a provider's API for an eSIM's usage and validity, so alerts come at the reseller's own levels even
//! when the provider's webhooks are silent or lost. Each provider's module declares how it is asked
//! ([`UsageApi`]: the request, the answer's reading, its token endpoint); [`client::Reconciler`] does the
//! asking (credentials, cached tokens, `429`), and a reading becomes an ordinary [`Event`] that goes through the
//! same pipeline as a webhook: state, alerts, customer messages, partner callbacks.

mod api;
pub mod client;
pub mod fanout;
#[cfg(feature = "aws")]
pub mod http;
mod run;

pub use api::*;
// Who is due, decided from the state alone: a module of its own so the pipeline and configuration need not
// reach into the asking code; also reachable here.
pub use crate::due;
// Filing the eSIMs the directory names is the directory's: also reachable here.
pub use crate::customers::named;
pub use run::{
    due_esims, pass_budget, reconcile_due, reconcile_one, Asked, AskedEsim, FiledEsims, PassReport, ReconcileError,
};

use crate::model::RawPadding;
use crate::model::{DataUsage, DedupeBasis, DedupeKey, EsimIdentity, Event, EventKind, PayloadSha256, ProviderId};
use crate::state::EsimState;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

/// The provider event type an asked reading is stored under: the timeline shows it was asked, not pushed.
pub const ASKED_EVENT_TYPE: &str = "api_reading";

/// The eSIM to ask about, as the caller knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    Iccid(String),
    /// The provider's own eSIM reference (eSIM Access `esimTranNo`).
    Esim(String),
    /// An eSIM whose state is kept under `key` and whose provider's API knows it by `reference`, a ref the
    /// state holds (Gigastore: the customer's `uid`).
    Known {
        key: String,
        reference: String,
    },
}

impl Ask {
    /// An identifier as a person types it: an ICCID when it is one, else the provider's eSIM reference.
    pub fn guess(text: &str) -> Self {
        if crate::text::is_plausible_iccid(text) {
            Self::Iccid(text.to_string())
        } else {
            Self::Esim(text.to_string())
        }
    }

    /// How the pass and the workers ask about a known eSIM: by the ref its provider's API wants where the
    /// state holds it, else by its key.
    pub fn of_state(state: &EsimState) -> Self {
        let reference = state.provider.spec().usage_api.and_then(|api| api.reference);
        match reference.and_then(|name| state.refs.get(name)) {
            Some(reference) => Self::Known {
                key: state.key.clone(),
                reference: reference.clone(),
            },
            None => Self::guess(&state.key),
        }
    }

    /// The provider's own reference this asks by, where it asks by one (what a batch call names).
    pub fn reference(&self) -> Option<&str> {
        match self {
            Self::Esim(reference) | Self::Known { reference, .. } => Some(reference),
            Self::Iccid(_) => None,
        }
    }

    /// The eSIM's key: what the state is kept under.
    pub fn value(&self) -> &str {
        match self {
            Self::Iccid(v) | Self::Esim(v) | Self::Known { key: v, .. } => v,
        }
    }
}

/// The identity of an eSIM asked by `ask`, where the answer does not name it.
pub fn identity_of(ask: &Ask) -> EsimIdentity {
    EsimIdentity {
        key: ask.value().to_string(),
        iccid: match ask {
            Ask::Iccid(iccid) => Some(iccid.clone()),
            Ask::Known { key, .. } => crate::text::is_plausible_iccid(key).then(|| key.clone()),
            Ask::Esim(_) => None,
        },
        refs: Default::default(),
    }
}

/// Whether `reading` says nothing the eSIM's state does not already hold (so asking stores nothing).
pub fn adds_nothing(reading: &Reading, state: Option<&EsimState>) -> bool {
    let Some(state) = state else {
        return false;
    };
    let same_usage = match (&reading.usage, state.usage.as_ref().map(|f| &f.value)) {
        (None, _) => true,
        (Some(new), Some(old)) => {
            let new = new.clone().complete();
            (new.remaining_bytes, new.total_bytes, new.unlimited)
                == (old.remaining_bytes, old.total_bytes, old.unlimited)
        }
        (Some(_), None) => false,
    };
    let same_end = match &reading.validity {
        None => true,
        Some(new) => new.expires_at.is_none() || new.expires_at == state.expires_at(),
    };
    let same_status = match (&reading.status, state.status.as_ref().map(|f| &f.value)) {
        (None, _) => true,
        (Some(new), Some(old)) => new.lifecycle == old.lifecycle,
        (Some(_), None) => false,
    };
    same_usage && same_end && same_status
}

/// When a provider's data is as old as its documented lag: the measurement time of an answer without its own.
fn lagged_reading(provider: ProviderId, received_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let lag = provider.spec().usage_api.map_or(0, |api| api.usage_lag_minutes);
    (lag > 0).then(|| received_at - chrono::Duration::minutes(i64::from(lag)))
}

/// When the usage `reading` reports was measured: its reading time, else the provider's lag before receipt.
pub fn measured_at(provider: ProviderId, reading: &Reading, received_at: DateTime<Utc>) -> DateTime<Utc> {
    reading
        .read_at
        .map(|at| at.min(received_at))
        .or_else(|| lagged_reading(provider, received_at))
        .unwrap_or(received_at)
}

/// The event an answer's reading becomes: keyed by what it says (asking twice and hearing the same is one
/// event), the answer's bytes kept as its raw payload, stamped with the provider's reading time where it gives
/// one (bounded like any provider time).
pub fn reading_event(
    provider: ProviderId,
    ask: &Ask,
    reading: Reading,
    body: &[u8],
    received_at: DateTime<Utc>,
) -> Result<Event, AskError> {
    use sha2::{Digest, Sha256};
    let text = std::str::from_utf8(body).map_err(|_| AskError::Malformed("not UTF-8".into()))?;
    let (padding, value) = RawPadding::split(text);
    let raw = RawValue::from_string(value.to_string()).map_err(|e| AskError::Malformed(e.to_string()))?;
    let esim = reading.esim.clone().unwrap_or_else(|| identity_of(ask));
    let said = serde_json::json!([
        esim.key,
        // Completed first: an API that gives the total and the used amount says what is left only through it.
        reading.usage.as_ref().map(|u| {
            let u = u.clone().complete();
            (u.remaining_bytes, u.total_bytes, u.unlimited)
        }),
        reading.validity.as_ref().and_then(|v| v.expires_at),
        reading.status.as_ref().map(|s| s.lifecycle),
        reading.read_at,
    ]);
    let digest = hex::encode(&Sha256::digest(said.to_string().as_bytes())[..16]);
    let kind = if reading.usage.is_some() {
        EventKind::DataUsage
    } else if reading.validity.is_some() {
        EventKind::Validity
    } else {
        EventKind::EsimStatus
    };
    let key = DedupeKey::provider_id(format!("asked:{digest}"));
    let mut event = Event::new(provider, kind, key, received_at, PayloadSha256::of(body), raw);
    // The same facts in other bytes (a field the reading ignores changed) are the same reading again.
    event.dedupe_basis = DedupeBasis::Derived;
    event.raw_padding = padding;
    event.provider_event_type = Some(ASKED_EVENT_TYPE.into());
    event.esim = Some(esim);
    event.set_occurred_at(reading.read_at);
    let lagged = lagged_reading(provider, received_at);
    event.usage = reading.usage.map(|u| DataUsage {
        measured_at: reading.read_at.map(|at| at.min(event.occurred_at)).or(lagged),
        ..u.complete()
    });
    event.validity = reading.validity;
    event.status = reading.status;
    event.bundle = reading.bundle;
    Ok(event)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_references;
