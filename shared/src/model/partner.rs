//! Who an eSIM belongs to: a partner of the reseller (a sub-reseller, a travel agency), named by a
//! [`PartnerId`], and how much of the fleet a partner hears of ([`Scope`]).

use serde::{Deserialize, Serialize};

/// Path segments that name routes, not partners, and the audience of real notifications.
const RESERVED_IDS: &[&str] = &["all", "v1", "webhooks", "callbacks"];

/// A partner id: 3–64 of `a-z 0-9 -`, starting with a letter or digit. Safe in paths, keys and filter
/// policies as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartnerId(String);

impl PartnerId {
    pub fn parse(text: &str) -> Option<Self> {
        let valid = (3..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && text.as_bytes()[0] != b'-'
            && !RESERVED_IDS.contains(&text);
        valid.then(|| Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A text that is not a [`PartnerId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid partner id {0:?}")]
pub struct InvalidPartnerId(pub String);

impl TryFrom<String> for PartnerId {
    type Error = InvalidPartnerId;
    fn try_from(value: String) -> Result<Self, InvalidPartnerId> {
        Self::parse(&value).ok_or(InvalidPartnerId(value))
    }
}

impl From<PartnerId> for String {
    fn from(id: PartnerId) -> String {
        id.0
    }
}

impl std::fmt::Display for PartnerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a partner hears of: its own eSIMs, or every eSIM (the operator's own systems).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The eSIMs it owns only: the default for partners added now.
    #[default]
    Own,
    /// Every eSIM, owned by anyone or no one.
    All,
}

impl Scope {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "own" => Some(Self::Own),
            "all" => Some(Self::All),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Own => "own",
            Self::All => "all",
        }
    }

    /// Whether a partner `partner` of this scope hears of a notification about an eSIM owned by `owner`
    /// (none: unowned, or no eSIM at all).
    pub fn sees(self, partner: &PartnerId, owner: Option<&PartnerId>) -> bool {
        self == Self::All || owner == Some(partner)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
