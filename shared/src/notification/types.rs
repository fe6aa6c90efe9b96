//! The notification types partners can follow, numbered once and for good: numbers are what partners store,
//! so a number is never reused or renumbered. 1–9 are alerts, 10 and up are normalized events.

use crate::alert_document::AlertType;
use crate::model::EventKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotificationType {
    LowData,
    Expiry,
    BalanceAlert,
    EsimStatus,
    DataUsage,
    Validity,
    Order,
    AccountBalance,
    Location,
    ServiceChange,
    Refund,
}

impl NotificationType {
    pub const ALL: [Self; 11] = [
        Self::LowData,
        Self::Expiry,
        Self::BalanceAlert,
        Self::EsimStatus,
        Self::DataUsage,
        Self::Validity,
        Self::Order,
        Self::AccountBalance,
        Self::Location,
        Self::ServiceChange,
        Self::Refund,
    ];

    pub fn number(self) -> u16 {
        match self {
            Self::LowData => 1,
            Self::Expiry => 2,
            Self::BalanceAlert => 3,
            Self::EsimStatus => 10,
            Self::DataUsage => 11,
            Self::Validity => 12,
            Self::Order => 13,
            Self::AccountBalance => 14,
            Self::Location => 15,
            Self::ServiceChange => 16,
            Self::Refund => 17,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::LowData => "alert.low_data",
            Self::Expiry => "alert.expiry",
            Self::BalanceAlert => "alert.account_balance",
            Self::EsimStatus => "event.esim_status",
            Self::DataUsage => "event.data_usage",
            Self::Validity => "event.validity",
            Self::Order => "event.order",
            Self::AccountBalance => "event.account_balance",
            Self::Location => "event.location",
            Self::ServiceChange => "event.service_change",
            Self::Refund => "event.refund",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::LowData => "an eSIM's remaining data reached a configured level (default 20% and 10%)",
            Self::Expiry => "an eSIM's plan ends within the expiry window (default 24 h) or has ended",
            Self::BalanceAlert => "a provider warned that the account balance is low",
            Self::EsimStatus => "an eSIM's lifecycle status changed",
            Self::DataUsage => "a provider reported data usage on an eSIM",
            Self::Validity => "a provider reported time left on an eSIM's plan",
            Self::Order => "an order changed state",
            Self::AccountBalance => "a provider reported the account balance",
            Self::Location => "an eSIM registered in another country",
            Self::ServiceChange => "a service on an eSIM changed",
            Self::Refund => "a refund was granted or rejected",
        }
    }

    /// By number (`11`) or by name (`event.data_usage`), as partners may write either in a path.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == text || text.parse::<u16>().is_ok_and(|n| n == t.number()))
    }

    pub fn for_alert(alert_type: AlertType) -> Self {
        match alert_type {
            AlertType::LowData => Self::LowData,
            AlertType::Expiry => Self::Expiry,
            AlertType::AccountBalance => Self::BalanceAlert,
        }
    }

    /// The type under which an event is offered to partners; none for health checks and unrecognized payloads.
    pub fn for_event(kind: EventKind) -> Option<Self> {
        Some(match kind {
            EventKind::EsimStatus => Self::EsimStatus,
            EventKind::DataUsage => Self::DataUsage,
            EventKind::Validity => Self::Validity,
            EventKind::Order => Self::Order,
            EventKind::AccountBalance => Self::AccountBalance,
            EventKind::Location => Self::Location,
            EventKind::ServiceChange => Self::ServiceChange,
            EventKind::Refund => Self::Refund,
            EventKind::HealthCheck | EventKind::Unrecognized => return None,
        })
    }

    pub fn alert_type(self) -> Option<AlertType> {
        match self {
            Self::LowData => Some(AlertType::LowData),
            Self::Expiry => Some(AlertType::Expiry),
            Self::BalanceAlert => Some(AlertType::AccountBalance),
            _ => None,
        }
    }

    pub fn event_kind(self) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|kind| Self::for_event(*kind) == Some(self))
    }
}

/// Stored as its number, the form partners keep.
impl serde::Serialize for NotificationType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u16(self.number())
    }
}

impl<'de> serde::Deserialize<'de> for NotificationType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = u16::deserialize(deserializer)?;
        Self::parse(&number.to_string())
            .ok_or_else(|| serde::de::Error::custom(format!("no notification type {number}")))
    }
}

impl std::fmt::Display for NotificationType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.number(), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn numbers_and_names_are_unique_and_parse_back() {
        let numbers: HashSet<_> = NotificationType::ALL.iter().map(|t| t.number()).collect();
        let names: HashSet<_> = NotificationType::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(numbers.len(), NotificationType::ALL.len());
        assert_eq!(names.len(), NotificationType::ALL.len());
        for t in NotificationType::ALL {
            assert_eq!(NotificationType::parse(&t.number().to_string()), Some(t));
            assert_eq!(NotificationType::parse(t.name()), Some(t));
            assert!(
                t.alert_type().is_some() != t.event_kind().is_some(),
                "{t} is an alert or an event"
            );
        }
        for bad in ["0", "4", "99", "", "alert", "low_data", "-1", "01x"] {
            assert_eq!(NotificationType::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_partner_docs_list_every_type_with_an_example() {
        let docs = include_str!("../../../docs/callbacks.md");
        for t in NotificationType::ALL {
            assert!(
                docs.contains(&format!("| {} | `{}` |", t.number(), t.name())),
                "{t} missing from the table"
            );
            assert!(
                docs.contains(&format!("### {} `{}`", t.number(), t.name())),
                "{t} has no example body"
            );
        }
    }

    #[test]
    fn every_alert_and_followable_event_has_a_type() {
        for alert in [AlertType::LowData, AlertType::Expiry, AlertType::AccountBalance] {
            assert_eq!(NotificationType::for_alert(alert).alert_type(), Some(alert));
        }
        for kind in EventKind::ALL {
            let followable = !matches!(kind, EventKind::HealthCheck | EventKind::Unrecognized);
            assert_eq!(NotificationType::for_event(kind).is_some(), followable, "{kind:?}");
        }
    }
}
