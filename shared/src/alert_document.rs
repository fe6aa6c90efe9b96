//! One alert as it is stored, published and sent: the alert document (`docs/schemas/alert.schema.json`), its
//! type, and the identity it fires once under. Which alerts an event raises is [`crate::alerts`]' rule, and
//! it re-exports these. A module of its own because partner notifications ([`crate::notification`]) carry the
//! document and the alert sinks ([`crate::alerts::sink`]) publish those notifications: neither module imports
//! the other back.

use crate::model::{AccountBalance, Bundle, DataUsage, DedupeKey, EsimIdentity, PartnerId, ProviderId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// 2: `level` always counts what is left; a provider's own label moved to `provider_level`.
pub const ALERT_SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertType {
    LowData,
    Expiry,
    AccountBalance,
}

impl AlertType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LowData => "low_data",
            Self::Expiry => "expiry",
            Self::AccountBalance => "account_balance",
        }
    }
}

/// One alert to publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub schema_version: u32,
    /// `provider#esim#bundle#type#level`: what makes it fire once.
    pub alert_id: String,
    #[serde(rename = "type")]
    pub alert_type: AlertType,
    /// What is left, on one scale whoever said so: `25%`, `20%`, `10%` (data remaining) or an amount
    /// (`100MB`) where the total is unknown; `72h`, `24h` or `ended` (time); `low` (account balance).
    pub level: String,
    /// The provider's own label for this warning, verbatim (Airalo `90%`, meaning used; `3days`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_level: Option<String>,
    pub provider: ProviderId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esim: Option<EsimIdentity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<Bundle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<DataUsage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<AccountBalance>,
    /// The delivery that raised it.
    pub event_dedupe_key: DedupeKey,
    pub occurred_at: DateTime<Utc>,
    pub raised_at: DateTime<Utc>,
    /// The id this alert had when its level was the provider's label (before the one scale), when that
    /// differs: an alert sent under it is this one.
    #[serde(skip)]
    pub former_alert_id: Option<String>,
    /// The reseller's own id of the customer whose eSIM this is, from the directory: the only contact detail
    /// an alert carries, so the reseller's app can tell the customer too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The partner the eSIM belongs to (from its state), where one does: partners of scope `own` hear only of
    /// alerts that name them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<PartnerId>,
}

/// `provider#esim#bundle#type#level`: the identity an alert fires once under. An account-balance alert is
/// about a delivery, not an eSIM: `provider#account#account_balance#<delivery key>`.
fn alert_id(
    provider: ProviderId,
    esim: Option<&EsimIdentity>,
    bundle: Option<&Bundle>,
    alert_type: AlertType,
    level: &str,
    event_key: &DedupeKey,
) -> String {
    if alert_type == AlertType::AccountBalance {
        return format!("{provider}#account#{}#{event_key}", alert_type.as_str());
    }
    let esim_part = esim.map_or("-", |e| e.key.as_str());
    let bundle_part = bundle
        .and_then(|b| b.reference.as_deref().or(b.name.as_deref()))
        .unwrap_or("-");
    format!("{provider}#{esim_part}#{bundle_part}#{}#{level}", alert_type.as_str())
}

impl Alert {
    /// The one constructor: the id is derived here, so the delivery path and the expiry sweep name the same
    /// alert the same way and it fires once whichever gets there first.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        provider: ProviderId,
        esim: Option<EsimIdentity>,
        bundle: Option<Bundle>,
        alert_type: AlertType,
        level: String,
        event_dedupe_key: DedupeKey,
        occurred_at: DateTime<Utc>,
        raised_at: DateTime<Utc>,
    ) -> Self {
        Self {
            schema_version: ALERT_SCHEMA_VERSION,
            alert_id: alert_id(
                provider,
                esim.as_ref(),
                bundle.as_ref(),
                alert_type,
                &level,
                &event_dedupe_key,
            ),
            alert_type,
            level,
            provider_level: None,
            provider,
            esim,
            bundle,
            usage: None,
            expires_at: None,
            balance: None,
            event_dedupe_key,
            occurred_at,
            raised_at,
            former_alert_id: None,
            customer_id: None,
            partner_id: None,
        }
    }

    /// Records the provider's own label for this warning. Alerts raised before the one scale were named by
    /// that label: the name they had is kept, so one sent then is not sent again.
    pub(crate) fn with_provider_level(mut self, label: Option<String>) -> Self {
        if let Some(label) = &label {
            if *label != self.level {
                let former = alert_id(
                    self.provider,
                    self.esim.as_ref(),
                    self.bundle.as_ref(),
                    self.alert_type,
                    label,
                    &self.event_dedupe_key,
                );
                self.former_alert_id = Some(former);
            }
        }
        self.provider_level = label;
        self
    }
}
