//! One customer's contact for one eSIM, validated from the fields a reseller sends.

use super::EsimRef;
use crate::model::{PartnerId, ProviderId};
use crate::records::Channel;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The channels a customer may be told through: one flag per channel, stored and given as `{"sms": true,
/// "email": false}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channels {
    pub sms: bool,
    pub email: bool,
}

impl Default for Channels {
    fn default() -> Self {
        Self { sms: true, email: true }
    }
}

impl Channels {
    /// Whether the customer may be told through `channel`.
    pub fn allows(&self, channel: Channel) -> bool {
        match channel {
            Channel::Sms => self.sms,
            Channel::Email => self.email,
        }
    }

    /// Allows `channel`, or not.
    pub fn set(&mut self, channel: Channel, allowed: bool) {
        match channel {
            Channel::Sms => self.sms = allowed,
            Channel::Email => self.email = allowed,
        }
    }

    /// Channel names (`sms`, `email`) separated by `|`, `,` or spaces, or `none`, in any case; blank means the
    /// default.
    pub fn parse(text: &str) -> Option<Self> {
        if text.trim().is_empty() {
            return Some(Self::default());
        }
        let mut channels = Self::default();
        for channel in Channel::ALL {
            channels.set(channel, false);
        }
        for word in text.split(['|', ',', ' ']).filter(|w| !w.is_empty()) {
            let word = word.to_ascii_lowercase();
            if word == "none" {
                continue;
            }
            let channel = Channel::ALL.into_iter().find(|channel| channel.as_str() == word)?;
            channels.set(channel, true);
        }
        Some(channels)
    }

    /// The allowed channels' names joined by `|` (`sms|email`), or `none`.
    pub fn as_text(&self) -> String {
        let allowed: Vec<&str> = Channel::ALL
            .into_iter()
            .filter(|channel| self.allows(*channel))
            .map(Channel::as_str)
            .collect();
        if allowed.is_empty() {
            "none".into()
        } else {
            allowed.join("|")
        }
    }

    /// What [`Channels::parse`] takes, for the refusal: `sms, email, sms|email or none`.
    fn choices() -> String {
        let names = Channel::ALL.map(Channel::as_str);
        format!("{}, {} or none", names.join(", "), names.join("|"))
    }
}

/// A contact as a reseller sends it (a CSV row, a JSON line, a request body): every field text, unchecked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContactFields {
    pub provider: Option<String>,
    pub iccid: Option<String>,
    pub esim_ref: Option<String>,
    pub order_ref: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub locale: Option<String>,
    pub time_zone: Option<String>,
    pub customer_id: Option<String>,
    pub topup_url: Option<String>,
    pub channels: Option<String>,
    pub partner_id: Option<String>,
}

/// Why fields are not a contact: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ContactProblem {
    pub field: &'static str,
    pub reason: String,
}

fn problem(field: &'static str, reason: impl Into<String>) -> ContactProblem {
    ContactProblem {
        field,
        reason: reason.into(),
    }
}

/// A customer's contact for one eSIM. Only [`Contact::from_fields`] makes one, so every field is valid.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub provider: ProviderId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iccid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esim_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E.164: `+` and 8 to 15 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A BCP 47 language tag, normalized (`es`, `fr-CA`); English when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// An IANA time zone (`Europe/Madrid`); UTC when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// The reseller's own id for the customer: the only contact detail alerts on the operator topic carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topup_url: Option<String>,
    pub channels: Channels,
    /// The partner the eSIM belongs to: recorded on the eSIM's state too, so deliveries know it unread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<PartnerId>,
}

/// Personal data stays out of logs and panics: only the identifiers and channels show.
impl fmt::Debug for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contact")
            .field("provider", &self.provider)
            .field("refs", &self.refs())
            .field("phone", &self.phone.as_deref().map(mask_phone))
            .field("email", &self.email.as_deref().map(mask_email))
            .field("channels", &self.channels)
            .field("partner_id", &self.partner_id)
            .finish_non_exhaustive()
    }
}

/// A value trimmed, `None` when blank; refused when it holds a control character or is longer than `max`.
fn text(field: &'static str, value: &Option<String>, max: usize) -> Result<Option<String>, ContactProblem> {
    let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().any(crate::text::is_unsafe) {
        return Err(problem(field, "contains control characters"));
    }
    if value.len() > max {
        return Err(problem(field, format!("longer than {max} bytes")));
    }
    Ok(Some(value.to_string()))
}

fn phone(value: Option<String>) -> Result<Option<String>, ContactProblem> {
    let Some(value) = value else { return Ok(None) };
    // People write numbers with spaces, dots, dashes and brackets; E.164 has none of them.
    let compact: String = value
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
        .collect();
    let digits = compact.strip_prefix('+').unwrap_or("");
    let valid =
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    if !valid {
        return Err(problem(
            "phone",
            "not an E.164 number (+ country code and number, 8 to 15 digits)",
        ));
    }
    Ok(Some(compact))
}

/// Whether `value` is an address we send to (the rule of docs/customers.md): a local part of at most 64 bytes
/// in dot-separated runs of letters, digits and ``!#$%&'*+/=?^_`{|}~-``; one `@`; a domain of at least two
/// dot-separated labels of 1 to 63 letters, digits or hyphens, none starting or ending with `-`, the last not
/// all digits; 254 bytes in all. No quoted local parts, IP literals or non-ASCII: none of them is a customer's
/// address in practice, and each is a way to smuggle text into a header or a table.
pub fn is_email_address(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    let atom = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b);
    let local_ok =
        (1..=64).contains(&local.len()) && local.split('.').all(|run| !run.is_empty() && run.bytes().all(atom));
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let labels: Vec<&str> = domain.split('.').collect();
    value.len() <= 254
        && local_ok
        && labels.len() >= 2
        && labels.iter().all(|label| label_ok(label))
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

fn email(value: Option<String>) -> Result<Option<String>, ContactProblem> {
    let Some(value) = value else { return Ok(None) };
    if !is_email_address(&value) {
        return Err(problem("email", "not an email address"));
    }
    Ok(Some(value))
}

/// `es`, `es-ES`, `pt_BR` → `pt-BR`: a language and an optional region.
fn locale(value: Option<String>) -> Result<Option<String>, ContactProblem> {
    let Some(value) = value else { return Ok(None) };
    let (language, region) = match value.split_once(['-', '_']) {
        Some((language, region)) => (language, Some(region)),
        None => (value.as_str(), None),
    };
    let language_ok = (2..=3).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_alphabetic());
    let region_ok = region.is_none_or(|r| {
        (r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()))
            || (r.len() == 3 && r.bytes().all(|b| b.is_ascii_digit()))
    });
    if !language_ok || !region_ok {
        return Err(problem("locale", "not a language tag like en, es-ES or pt-BR"));
    }
    let language = language.to_ascii_lowercase();
    Ok(Some(match region {
        Some(region) => format!("{language}-{}", region.to_ascii_uppercase()),
        None => language,
    }))
}

fn time_zone(value: Option<String>) -> Result<Option<String>, ContactProblem> {
    let Some(value) = value else { return Ok(None) };
    match value.parse::<chrono_tz::Tz>() {
        Ok(tz) => Ok(Some(tz.name().to_string())),
        Err(_) => Err(problem("time_zone", "not an IANA time zone like Europe/Madrid")),
    }
}

/// A top-up link, kept as written once it passes: parsed as a browser parses it (`url`), `https`, its host
/// written right after `https://` (so no credentials before it: `https://shop.example@evil.example` shows one
/// host and opens another; no extra slash), and ASCII without quotes, spaces, angle brackets, backslashes,
/// backticks or control characters, so it cannot leave the attribute or line of a message it is put in.
fn topup_url(value: Option<String>) -> Result<Option<String>, ContactProblem> {
    let Some(value) = value else { return Ok(None) };
    let plain = value.bytes().all(|b| b.is_ascii_graphic() && !b"\"'<>\\`".contains(&b));
    let after_scheme = value
        .get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .map(|_| value[8..].to_ascii_lowercase());
    let valid = plain
        && after_scheme.is_some_and(|rest| {
            url::Url::parse(&value).is_ok_and(|url| {
                url.scheme() == "https"
                    && url.username().is_empty()
                    && url.password().is_none()
                    && url
                        .host_str()
                        .is_some_and(|host| !host.is_empty() && rest.starts_with(host))
            })
        });
    if !valid {
        return Err(problem(
            "topup_url",
            "not an https:// URL with a host (no credentials, quotes, spaces or control characters)",
        ));
    }
    Ok(Some(value))
}

impl Contact {
    /// Validates and normalizes a reseller's fields. At least one of `iccid`, `esim_ref`, `order_ref` names
    /// the eSIM.
    pub fn from_fields(fields: &ContactFields) -> Result<Self, ContactProblem> {
        let provider_name = text("provider", &fields.provider, 32)?.ok_or_else(|| problem("provider", "missing"))?;
        let provider = ProviderId::parse(&provider_name.to_ascii_lowercase())
            .ok_or_else(|| problem("provider", format!("unknown provider {provider_name}")))?;
        let iccid = text("iccid", &fields.iccid, 22)?;
        if let Some(iccid) = &iccid {
            if !crate::text::is_plausible_iccid(iccid) {
                return Err(problem("iccid", "not an ICCID (15 to 22 digits)"));
            }
        }
        let contact = Self {
            provider,
            iccid,
            esim_ref: text("esim_ref", &fields.esim_ref, 128)?,
            order_ref: text("order_ref", &fields.order_ref, 128)?,
            name: text("name", &fields.name, 128)?,
            phone: phone(text("phone", &fields.phone, 32)?)?,
            email: email(text("email", &fields.email, 254)?)?,
            locale: locale(text("locale", &fields.locale, 16)?)?,
            time_zone: time_zone(text("time_zone", &fields.time_zone, 64)?)?,
            customer_id: text("customer_id", &fields.customer_id, 128)?,
            topup_url: topup_url(text("topup_url", &fields.topup_url, 2048)?)?,
            channels: match text("channels", &fields.channels, 32)? {
                Some(channels) => Channels::parse(&channels)
                    .ok_or_else(|| problem("channels", format!("use {}", Channels::choices())))?,
                None => Channels::default(),
            },
            partner_id: match text("partner_id", &fields.partner_id, 64)? {
                Some(id) => Some(
                    PartnerId::parse(&id)
                        .ok_or_else(|| problem("partner_id", "not a partner id (3 to 64 of a-z, 0-9 and -)"))?,
                ),
                None => None,
            },
        };
        if contact.refs().is_empty() {
            return Err(problem(
                "iccid",
                "one of iccid, esim_ref or order_ref must name the eSIM",
            ));
        }
        Ok(contact)
    }

    /// The identifiers it is registered under.
    pub fn refs(&self) -> Vec<EsimRef> {
        let mut refs = Vec::new();
        refs.extend(self.esim_ref.clone().map(EsimRef::Esim));
        refs.extend(self.iccid.clone().map(EsimRef::Iccid));
        refs.extend(self.order_ref.clone().map(EsimRef::Order));
        refs
    }

    /// Where `channel` reaches this customer, allowed or not: their phone for SMS, their email address for email.
    pub fn stored_address(&self, channel: Channel) -> Option<&str> {
        match channel {
            Channel::Sms => self.phone.as_deref(),
            Channel::Email => self.email.as_deref(),
        }
    }

    /// Where this customer may be told through `channel`: its address, when they allow the channel.
    pub fn address(&self, channel: Channel) -> Option<&str> {
        self.stored_address(channel).filter(|_| self.channels.allows(channel))
    }

    /// The fields it was made from, for export and editing.
    pub fn to_fields(&self) -> ContactFields {
        ContactFields {
            provider: Some(self.provider.to_string()),
            iccid: self.iccid.clone(),
            esim_ref: self.esim_ref.clone(),
            order_ref: self.order_ref.clone(),
            name: self.name.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            locale: self.locale.clone(),
            time_zone: self.time_zone.clone(),
            customer_id: self.customer_id.clone(),
            topup_url: self.topup_url.clone(),
            channels: Some(self.channels.as_text()),
            partner_id: self.partner_id.as_ref().map(ToString::to_string),
        }
    }
}

/// `+49•••••••678`: the country code's first digits and the last three, for tables.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 6 {
        return "•".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}{}{tail}", "•".repeat(chars.len() - 6))
}

/// `channel`'s address masked for tables and logs: [`mask_phone`] for SMS, [`mask_email`] for email.
pub fn mask_address(channel: Channel, address: &str) -> String {
    match channel {
        Channel::Sms => mask_phone(address),
        Channel::Email => mask_email(address),
    }
}

/// `j•••@example.com`: the first character of the local part and the domain, for tables.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".into(),
    }
}

#[cfg(test)]
mod tests;
