//! What a customer reads: an alert worded for the person whose eSIM it is, in their language, with the plan
//! as the reseller names it, the data left as the provider sells it and the end time in their time zone;
//! never an ICCID, an internal reference or any provider text. The words are the templates' (see
//! `wording.rs`); a locale without its own wording falls back to English.

use super::{Contact, CustomerSettings, DataUnits, Wording};
use crate::alerts::{Alert, AlertType};
use crate::records::Channel;
use crate::sms_length as sms;
use crate::text::escape_html;
use chrono::{DateTime, Utc};

/// One customer's message for one alert, in every form a channel takes; a channel reads its own through
/// [`CustomerMessage::for_channel`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerMessage {
    pub locale: String,
    /// Fitted to the configured number of SMS parts in its encoding.
    pub sms: String,
    pub email_subject: String,
    pub email_text: String,
    pub email_html: String,
}

/// A message as one channel sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelMessage<'a> {
    /// For channels that have one (email).
    pub subject: Option<&'a str>,
    /// The message as text: the SMS itself, the email's plain-text body.
    pub text: &'a str,
    /// For channels that take HTML (email): the text as markup.
    pub html: Option<&'a str>,
}

impl<'a> ChannelMessage<'a> {
    /// What the customer reads first: the subject, else the text (what the console shows of a held message and
    /// tests keep of a sent one).
    pub fn headline(&self) -> &'a str {
        self.subject.unwrap_or(self.text)
    }
}

impl CustomerMessage {
    /// The message as `channel` sends it.
    pub fn for_channel(&self, channel: Channel) -> ChannelMessage<'_> {
        match channel {
            Channel::Sms => ChannelMessage {
                subject: None,
                text: &self.sms,
                html: None,
            },
            Channel::Email => ChannelMessage {
                subject: Some(&self.email_subject),
                text: &self.email_text,
                html: Some(&self.email_html),
            },
        }
    }

    /// Every text a customer reads, channel by channel in sending order: each one's subject, then its text (the
    /// HTML is the text again, as markup).
    pub fn texts(&self) -> Vec<&str> {
        Channel::ALL
            .into_iter()
            .flat_map(|channel| {
                let message = self.for_channel(channel);
                message.subject.into_iter().chain([message.text])
            })
            .collect()
    }
}

/// `template` with each `{name}` replaced by its value, in one pass: a value is never read as a template
/// (a customer called `{plan}` stays `{plan}`).
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            values
                .iter()
                .find(|(name, _)| *name == &after[..close])
                .map(|(_, v)| (close, v))
        });
        match value {
            Some((close, value)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `2 Dec 14:00` in the contact's time zone (UTC when it has none), with the locale's month names.
fn local_time(at: DateTime<Utc>, time_zone: Option<&str>, months: &[std::borrow::Cow<'static, str>; 12]) -> String {
    use chrono::{Datelike, Timelike};
    let zone: chrono_tz::Tz = time_zone.and_then(|z| z.parse().ok()).unwrap_or(chrono_tz::UTC);
    let local = at.with_timezone(&zone);
    let zone_note = if time_zone.is_none() { " UTC" } else { "" };
    format!(
        "{} {} {:02}:{:02}{zone_note}",
        local.day(),
        months[local.month0() as usize],
        local.hour(),
        local.minute()
    )
}

/// The percent of data left as a customer reads it: the alert's remaining ratio, floored, with the float's
/// own error forgiven (1.0 - 0.9 is 0.0999..., which is 10 %, not 9 %); else the alert's level when it is a
/// percentage. Never provider text.
fn percent_left(alert: &Alert) -> Option<String> {
    let ratio = alert
        .usage
        .as_ref()
        .and_then(|u| u.remaining_ratio)
        .filter(|r| r.is_finite());
    if let Some(ratio) = ratio {
        let percent = (ratio.clamp(0.0, 1.0) * 100.0 + 1e-6).floor();
        return Some(format!("{percent:.0}%"));
    }
    let digits = alert.level.strip_suffix('%')?;
    let percent: u8 = digits.parse().ok().filter(|p| *p <= 100 && digits.len() <= 3)?;
    Some(format!("{percent}%"))
}

/// Hours named by an expiry level on our scale (`72h`).
fn hours_left(alert: &Alert) -> Option<String> {
    let digits = alert.level.strip_suffix('h')?;
    let hours: u32 = digits.parse().ok().filter(|h| *h <= 10_000 && digits.len() <= 5)?;
    Some(hours.to_string())
}

/// How an SMS greets: by name, without it, or not at all (when space is short).
#[derive(Clone, Copy, PartialEq)]
enum Greeting<'a> {
    Named(&'a str),
    Plain,
    Left,
}

/// The words an SMS is made of, each part with its place: the facts and the link are never cut; the name and
/// the plan name are left out first when space is short.
struct SmsParts<'a> {
    brand: &'a str,
    body: &'a str,
    words: &'a Wording,
    facts: &'a [(&'a str, &'a str)],
    name: Option<&'a str>,
    plan: Option<&'a str>,
    topup_url: Option<&'a str>,
    parts: usize,
}

impl SmsParts<'_> {
    fn head(&self, greeting: Greeting, plan: Option<&str>) -> String {
        let greeting = match greeting {
            Greeting::Named(name) => fill(&self.words.greeting_named, &[("name", name)]),
            Greeting::Plain => self.words.greeting.to_string(),
            Greeting::Left => String::new(),
        };
        let plan = plan.unwrap_or(&self.words.your_plan);
        let mut values = vec![("greeting", greeting.as_str()), ("plan", plan)];
        values.extend_from_slice(self.facts);
        let line = fill(self.body, &values);
        format!(
            "{}: {}",
            self.brand,
            line.split_whitespace().collect::<Vec<_>>().join(" ")
        )
    }

    /// The SMS: the richest variant that fits the parts. When the message can be GSM-7 without the name and
    /// the plan name (folding accents: García -> Garcia), every variant must be, so a name without a GSM-7
    /// spelling (Cyrillic, Hangul) is left out rather than forcing UCS-2 (70 units a part) on the facts.
    fn text(&self) -> String {
        let tail = self.topup_url.map(|url| fill(&self.words.topup, &[("topup_url", url)]));
        let minimal = self.head(Greeting::Left, None);
        // The link is never folded, only the words around it: the message can be GSM-7 only if the link is.
        let link_in_gsm7 = self
            .topup_url
            .is_none_or(|url| sms::measure(url).encoding == sms::SmsEncoding::Gsm7);
        let gsm = link_in_gsm7
            && sms::fold_to_gsm7(&minimal).is_some()
            && tail.as_deref().is_none_or(|tail| sms::fold_to_gsm7(tail).is_some());
        let in_alphabet = |text: String| if gsm { sms::fold_to_gsm7(&text) } else { Some(text) };
        let tail = tail.and_then(in_alphabet);
        let named = self.name.map_or(Greeting::Plain, Greeting::Named);
        let mut variants = vec![
            (named, self.plan),
            (Greeting::Plain, self.plan),
            (named, None),
            (Greeting::Plain, None),
            (Greeting::Left, self.plan),
            (Greeting::Left, None),
        ];
        variants.dedup();
        for tail in tail.iter().map(|tail| Some(tail.as_str())).chain([None]) {
            for (name, plan) in &variants {
                let Some(head) = in_alphabet(self.head(*name, *plan)) else {
                    continue;
                };
                let text = match tail {
                    Some(tail) => format!("{head} {tail}"),
                    None => head,
                };
                if sms::measure(&text).segments <= self.parts.max(1) {
                    return text;
                }
            }
        }
        // Wording too long for the parts even without the link (an operator's template): cut, as a last resort.
        let minimal = in_alphabet(minimal.clone()).unwrap_or(minimal);
        sms::fit(&minimal, self.parts)
    }
}

/// The message `contact` gets for `alert`, or `None` for alerts that are not a customer's business (account
/// balance) or that carry no fact to tell, worded by `settings`' templates. It is made of the reseller's words
/// and facts on our own scale only: the plan is named by the reseller's catalog, never by the provider.
pub fn customer_message(alert: &Alert, contact: &Contact, settings: &CustomerSettings) -> Option<CustomerMessage> {
    let brand = settings.brand.as_str();
    let words = settings.templates.wording(contact.locale.as_deref());
    let name = contact
        .name
        .as_deref()
        .map(|n| crate::text::clean_to(n, 64).into_owned())
        .filter(|n| !n.is_empty());
    let plan = settings
        .templates
        .plans
        .name(alert.provider, alert.bundle.as_ref(), &words.locale);
    let ratio_known = alert.usage.as_ref().and_then(|u| u.remaining_ratio).is_some();
    let percent = percent_left(alert);
    let data_left = alert
        .usage
        .as_ref()
        .and_then(|u| u.remaining_bytes)
        .map(|bytes| DataUnits::of(alert.provider).label(bytes, words.decimal));
    let ends_at = alert
        .expires_at
        .map(|at| local_time(at, contact.time_zone.as_deref(), &words.months));
    let hours = hours_left(alert);
    let (body, subject) = match alert.alert_type {
        AlertType::LowData if data_left.is_some() && !ratio_known => {
            (&words.low_data_left, &words.subject_low_data_left)
        }
        AlertType::LowData if data_left.is_some() && percent.is_some() => {
            (&words.low_data_amount, &words.subject_low_data)
        }
        AlertType::LowData if percent.is_some() => (&words.low_data, &words.subject_low_data),
        AlertType::Expiry if alert.level == "ended" => (&words.expiry_ended, &words.subject_expiry_ended),
        AlertType::Expiry if ends_at.is_some() => (&words.expiry_soon, &words.subject_expiry_soon),
        // A provider's warning without an end date: hours left, as the level says.
        AlertType::Expiry if hours.is_some() => (&words.expiry_within, &words.subject_expiry_within),
        AlertType::LowData | AlertType::Expiry | AlertType::AccountBalance => return None,
    };
    let facts = [
        ("brand", brand),
        ("percent", percent.as_deref().unwrap_or("")),
        ("data_left", data_left.as_deref().unwrap_or("")),
        ("ends_at", ends_at.as_deref().unwrap_or("")),
        ("hours", hours.as_deref().unwrap_or("")),
    ];
    let sms_text = SmsParts {
        brand,
        body,
        words,
        facts: &facts,
        name: name.as_deref(),
        plan,
        topup_url: contact.topup_url.as_deref(),
        parts: settings.sms_parts,
    }
    .text();
    // Email has room for everything: the name as written.
    let greeting = match &name {
        Some(name) => fill(&words.greeting_named, &[("name", name)]),
        None => words.greeting.to_string(),
    };
    let mut values = vec![
        ("greeting", greeting.as_str()),
        ("plan", plan.unwrap_or(&words.your_plan)),
    ];
    values.extend_from_slice(&facts);
    let line = fill(body, &values);
    let topup = contact
        .topup_url
        .as_deref()
        .map(|url| fill(&words.topup, &[("topup_url", url)]));
    let link = contact.topup_url.as_deref().map(|url| {
        format!(
            "<p><a href=\"{}\">{}</a></p>",
            escape_html(url),
            escape_html(&words.topup_link)
        )
    });
    let email_html = format!(
        "<p>{}</p>{}<p>{}</p>",
        escape_html(&line),
        link.unwrap_or_default(),
        escape_html(brand)
    );
    Some(CustomerMessage {
        locale: words.locale.to_string(),
        sms: sms_text,
        email_subject: fill(subject, &values),
        email_text: match &topup {
            Some(topup) => format!("{line}\n\n{topup}\n\n{brand}\n"),
            None => format!("{line}\n\n{brand}\n"),
        },
        email_html,
    })
}

#[cfg(test)]
mod tests;
