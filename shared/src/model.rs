//! The common event model every provider's delivery is normalized into. Its JSON form is documented in
//! `docs/model.md` and `docs/schemas/event.schema.json`; tests validate serialized events against that schema.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;

mod data_units;
mod keys;
pub mod partner;
mod provider_id;

pub use data_units::DataUnits;
pub use keys::{log_ref, DedupeBasis, DedupeKey, PayloadSha256, RawPadding};
pub use partner::{PartnerId, Scope};
pub use provider_id::ProviderId;

/// Bumped when a stored event's JSON changes incompatibly.
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// How far a provider's time may run ahead of our receipt time and still be believed: clock skew between
/// their servers and ours, with room to spare. A time beyond it is bounded to it (see [`Event::plausible`]).
pub const PROVIDER_CLOCK_AHEAD_LIMIT: chrono::Duration = chrono::Duration::minutes(5);
/// Provider times before this are not an eSIM event (the consumer eSIM specification, SGP.22, dates from
/// 2016): a zero or garbage clock. 2016-01-01T00:00:00Z.
pub const EARLIEST_PROVIDER_TIME: DateTime<Utc> = match DateTime::from_timestamp(1_451_606_400, 0) {
    Some(at) => at,
    None => DateTime::UNIX_EPOCH,
};
/// The data-quality flags set on events for untrusted input (see `docs/architecture.md`).
pub const FLAG_TIME_AHEAD: &str = "provider_time_ahead_of_receipt";
pub const FLAG_TIME_TOO_OLD: &str = "provider_time_implausibly_old";
pub const FLAG_ICCID_IMPLAUSIBLE: &str = "iccid_implausible";

/// The flags that say a payload lacked what its type promises: with unrecognized payloads, the signs that a
/// provider changed what it sends (schema drift), counted per provider and alarmed on.
pub const DRIFT_FLAGS: &[&str] = &[
    "fields_unreadable",
    "no_esim_identity",
    "usage_amounts_missing",
    "usage_threshold_missing",
];

/// Adds `flag` to `flags` unless it is there already.
pub(crate) fn flag_once(flags: &mut Vec<String>, flag: &str) {
    if !flags.iter().any(|f| f == flag) {
        flags.push(flag.to_string());
    }
}

/// What a delivery is about, across providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The provider testing that the URL answers (eSIM Access CHECK_HEALTH).
    HealthCheck,
    /// An order changed state (allocated, completed, failed).
    Order,
    /// An eSIM's lifecycle or profile status changed.
    EsimStatus,
    /// Data consumption on an eSIM's bundle.
    DataUsage,
    /// Validity (time left) on an eSIM's bundle.
    Validity,
    /// The reseller's account balance or credit with the provider.
    AccountBalance,
    /// The eSIM registered in another country.
    Location,
    /// A service on the eSIM changed: a phone number enabled or disabled, an SMS not delivered.
    ServiceChange,
    /// A refund was granted or rejected.
    Refund,
    /// Authentic, readable, but not a type we know: stored, never dropped.
    Unrecognized,
}

impl EventKind {
    pub const ALL: [EventKind; 10] = [
        Self::HealthCheck,
        Self::Order,
        Self::EsimStatus,
        Self::DataUsage,
        Self::Validity,
        Self::AccountBalance,
        Self::Location,
        Self::ServiceChange,
        Self::Refund,
        Self::Unrecognized,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::HealthCheck => "health_check",
            Self::Order => "order",
            Self::EsimStatus => "esim_status",
            Self::DataUsage => "data_usage",
            Self::Validity => "validity",
            Self::AccountBalance => "account_balance",
            Self::Location => "location",
            Self::ServiceChange => "service_change",
            Self::Refund => "refund",
            Self::Unrecognized => "unrecognized",
        }
    }
}

/// The normalized lifecycle of an eSIM, whatever words the provider uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Allocated or released for download, not yet on a device.
    Pending,
    /// Downloaded or installed on a device, not yet used.
    Installed,
    /// In use.
    Active,
    /// Temporarily disabled or suspended.
    Suspended,
    /// All data used.
    Depleted,
    /// Validity ended.
    Expired,
    /// Cancelled, revoked or refunded.
    Cancelled,
    /// The profile was deleted.
    Deleted,
    /// A status the provider sent that we cannot place.
    Unknown,
}

impl Lifecycle {
    pub const ALL: [Self; 9] = [
        Self::Pending,
        Self::Installed,
        Self::Active,
        Self::Suspended,
        Self::Depleted,
        Self::Expired,
        Self::Cancelled,
        Self::Deleted,
        Self::Unknown,
    ];

    /// The name it is stored and written under (`active`, `deleted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Installed => "installed",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Depleted => "depleted",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Deleted => "deleted",
            Self::Unknown => "unknown",
        }
    }

    /// A lifecycle by its name, in any case.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str().eq_ignore_ascii_case(name))
    }
}

/// How we know when the event happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// A time in the payload.
    Provider,
    /// No usable time in the payload: the time we received it.
    Received,
}

/// The provider's own references to an eSIM, by the provider's field name. The names are static in every
/// normalizer, so they are borrowed rather than allocated per delivery.
pub type Refs = BTreeMap<Cow<'static, str>, String>;

/// The references among `pairs` that were sent, by name.
pub fn refs_sent<const N: usize>(pairs: [(&'static str, Option<String>); N]) -> Refs {
    let mut refs = Refs::new();
    for (name, value) in pairs {
        if let Some(value) = value {
            refs.insert(Cow::Borrowed(name), value);
        }
    }
    refs
}

/// Who the event is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EsimIdentity {
    /// The key per-eSIM state is kept under: the provider's own eSIM reference where ICCIDs can be reused
    /// (eSIM Access `esimTranNo`), else the ICCID.
    pub key: String,
    /// Always a string of digits as sent; never a float.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iccid: Option<String>,
    /// The provider's own references, by the provider's field name (`esimTranNo`, `orderNo`, `esim_id`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refs: Refs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub lifecycle: Lifecycle,
    /// The provider's status word, verbatim (`IN_USE`, `ACTIVATED`, ...).
    pub provider_status: String,
    /// The SM-DP+ profile status where the provider sends one separately (`ENABLED`, `DOWNLOAD`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_status: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataUsage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_bytes: Option<u64>,
    /// Remaining / total, 0.0 to 1.0, where it can be known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_ratio: Option<f64>,
    /// The provider's own threshold label when the event is a threshold notification (`0.1`, `90%`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_threshold: Option<String>,
    #[serde(default)]
    pub unlimited: bool,
    /// Set when the event is itself the provider's low-data warning: its label, verbatim (Airalo `75%`, `90%`,
    /// which count data used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_alert_level: Option<String>,
    /// That warning on the alert scale, what is left: percent remaining (`25%`, `10%`) or an amount (`100MB`).
    /// The alert fires at this level instead of at the configured ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_level: Option<String>,
    /// When the provider measured the usage, if it says (usage can lag the notification by hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_at: Option<DateTime<Utc>>,
}

impl DataUsage {
    /// Fills `remaining_ratio` (and the missing amount) from whichever two amounts are known.
    pub fn complete(mut self) -> Self {
        if self.remaining_bytes.is_none() {
            if let (Some(total), Some(used)) = (self.total_bytes, self.used_bytes) {
                self.remaining_bytes = Some(total.saturating_sub(used));
            }
        }
        if self.remaining_ratio.is_none() {
            if let (Some(total), Some(remaining)) = (self.total_bytes, self.remaining_bytes) {
                if total > 0 {
                    self.remaining_ratio = Some((remaining as f64 / total as f64).clamp(0.0, 1.0));
                }
            }
        }
        self
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Validity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// Time left as the provider states it, with its unit (`1 DAY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_remaining: Option<String>,
    /// Set when the event is itself the provider's expiry warning: its label, verbatim (Airalo `3days`, `1days`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_alert_level: Option<String>,
    /// That warning on the alert scale, the time left: `72h`, `24h`. The alert fires at this level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_level: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    /// The provider's reference for the bundle or package assignment; alerts fire once per (eSIM, bundle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_ref: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountBalance {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The provider's level or message for this notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_level: Option<String>,
    /// Whether the notification reports a low or insufficient balance (top-ups do not).
    #[serde(default)]
    pub low: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// ISO 3166-1 alpha-2 where the provider sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_name: Option<String>,
}

/// One normalized delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub schema_version: u32,
    pub provider: ProviderId,
    pub dedupe_key: DedupeKey,
    pub dedupe_basis: DedupeBasis,
    pub kind: EventKind,
    /// The provider's own type name (`DATA_USAGE`, `Utilisation`, ...), verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esim: Option<EsimIdentity>,
    pub occurred_at: DateTime<Utc>,
    pub occurred_at_source: TimeSource,
    pub received_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<DataUsage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<Validity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<Bundle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<AccountBalance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Data-quality warnings found while normalizing (`iccid_precision_lost`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// sha256 of the raw body, hex: tells a true duplicate from a reused id.
    pub payload_sha256: PayloadSha256,
    /// The body's JSON value, byte for byte; with `raw_padding`, the body exactly as received
    /// ([`Event::raw_body`]), which is what `payload_sha256` hashes and replay reads.
    pub raw: Box<RawValue>,
    /// Whitespace around the body's JSON value, which a JSON reader drops when it reads `raw` back.
    #[serde(default, skip_serializing_if = "RawPadding::is_empty")]
    pub raw_padding: RawPadding,
    /// The key this delivery had under an earlier dedupe basis (Airalo: the raw body's hash, before bodies
    /// were keyed by their canonical form), when it differs: a delivery stored under it is this one.
    #[serde(skip)]
    pub former_dedupe_key: Option<DedupeKey>,
}

impl Event {
    /// Whether this event shows the provider's payloads may have changed: stored unrecognized, or flagged
    /// with one of the [`DRIFT_FLAGS`].
    pub fn shows_schema_drift(&self) -> bool {
        self.kind == EventKind::Unrecognized || self.flags.iter().any(|f| DRIFT_FLAGS.contains(&f.as_str()))
    }

    /// A fresh event with only the envelope set; provider normalizers fill in the rest.
    pub fn new(
        provider: ProviderId,
        kind: EventKind,
        dedupe_key: DedupeKey,
        received_at: DateTime<Utc>,
        payload_sha256: PayloadSha256,
        raw: Box<RawValue>,
    ) -> Self {
        let dedupe_basis = if dedupe_key.as_str().starts_with("sha256:") {
            DedupeBasis::BodyHash
        } else {
            DedupeBasis::ProviderId
        };
        Self {
            schema_version: EVENT_SCHEMA_VERSION,
            provider,
            dedupe_key,
            dedupe_basis,
            kind,
            provider_event_type: None,
            esim: None,
            occurred_at: received_at,
            occurred_at_source: TimeSource::Received,
            received_at,
            status: None,
            usage: None,
            validity: None,
            bundle: None,
            order: None,
            balance: None,
            location: None,
            flags: Vec::new(),
            payload_sha256,
            raw,
            raw_padding: RawPadding::default(),
            former_dedupe_key: None,
        }
    }

    /// The body exactly as received: the JSON value with its padding.
    pub fn raw_body(&self) -> Cow<'_, str> {
        if self.raw_padding.is_empty() {
            return Cow::Borrowed(self.raw.get());
        }
        Cow::Owned([&self.raw_padding.before, self.raw.get(), &self.raw_padding.after].concat())
    }

    /// Sets the provider's time, bounded (see [`Event::plausible`]), when there is one; otherwise occurred_at
    /// stays the receipt time.
    pub fn set_occurred_at(&mut self, provider_time: Option<DateTime<Utc>>) {
        if let Some(at) = self.plausible(provider_time) {
            self.occurred_at = at;
            self.occurred_at_source = TimeSource::Provider;
        }
    }

    /// A provider time that orders events (`occurred_at`, a measurement time), made believable against our
    /// receipt time. State is versioned by these times, so one from a wrong clock (2099) would outrank every
    /// real event for good: a time more than [`PROVIDER_CLOCK_AHEAD_LIMIT`] ahead is bounded to receipt + limit
    /// and flagged. Bounded, not replaced by the receipt time: a later delivery ahead of the limit must not rank
    /// below an earlier one believed just within it. A time before [`EARLIEST_PROVIDER_TIME`] is a zeroed clock:
    /// dropped (None) and flagged; late deliveries keep their own, older times. Not for times that are
    /// legitimately in the future, such as a plan's end.
    pub fn plausible(&mut self, provider_time: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let at = provider_time?;
        let latest = self.received_at + PROVIDER_CLOCK_AHEAD_LIMIT;
        if at > latest {
            flag_once(&mut self.flags, FLAG_TIME_AHEAD);
            Some(latest)
        } else if at < EARLIEST_PROVIDER_TIME {
            flag_once(&mut self.flags, FLAG_TIME_TOO_OLD);
            None
        } else {
            Some(at)
        }
    }
}

#[cfg(test)]
mod tests;
