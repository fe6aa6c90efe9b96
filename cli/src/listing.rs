//! `events`, `esims`, `alerts`, `conflicts`: what was stored, as a table for people or JSON for scripts.

use chrono::{DateTime, Duration, Utc};
use clap::Args;
use serde::Serialize;
use shared::customers::mask_address;
use shared::customers::records::NotificationRecord;
use shared::model::PartnerId;
use shared::model::{Lifecycle, ProviderId};
use shared::store::{FleetFilter, ListQuery, StoreQuery};
use std::io::Write;

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only this provider, by the name in its webhook URL (esimgo, airalo...).
    #[arg(long, value_parser = crate::provider_arg)]
    pub provider: Option<ProviderId>,
    /// Only since this time: RFC 3339, an age like 30m, 24h or 7d, or `today` (default: 7d).
    #[arg(long)]
    pub since: Option<String>,
    /// Only about this eSIM: its ICCID, the provider's key for it, or a reference (order, transaction).
    #[arg(long)]
    pub iccid: Option<String>,
    /// At most this many rows, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Print JSON (an array) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `esims` only: the fleet views.
#[derive(Debug, Clone, Default, Args)]
pub struct FleetArgs {
    /// Only eSIMs with less than this percent of their data left.
    #[arg(long, value_name = "PERCENT")]
    pub below: Option<f64>,
    /// Only eSIMs whose plan ends within this span from now (30m, 24h, 7d), not already ended.
    #[arg(long, value_name = "SPAN")]
    pub ending_within: Option<String>,
    /// Only eSIMs in this lifecycle (pending, installed, active, suspended, depleted, expired, cancelled, deleted).
    #[arg(long)]
    pub lifecycle: Option<String>,
    /// Only eSIMs this partner owns (`esimhooks esims assign`, the directory's partner_id).
    #[arg(long)]
    pub partner: Option<String>,
}

impl FleetArgs {
    /// The partner `--partner` names, checked.
    pub fn partner_id(&self) -> Result<Option<PartnerId>, String> {
        self.partner
            .as_deref()
            .map(|p| PartnerId::parse(p.trim()).ok_or_else(|| format!("--partner {p}: not a partner id")))
            .transpose()
    }

    /// The store's fleet filter for these flags over `window`, spans counted from `now`.
    pub fn filter(&self, window: &ListQuery, now: DateTime<Utc>) -> Result<FleetFilter, String> {
        let ending = self
            .ending_within
            .as_deref()
            .map(|span| {
                let span = shared::time::parse_span(span).map_err(|e| format!("--ending-within: {e}"))?;
                Ok::<_, String>((now, now + span))
            })
            .transpose()?;
        let lifecycle = self
            .lifecycle
            .as_deref()
            .map(|wanted| {
                Lifecycle::parse(wanted).ok_or_else(|| {
                    format!("--lifecycle {wanted}: use pending, installed, active, suspended, depleted, expired, cancelled or deleted")
                })
            })
            .transpose()?;
        Ok(FleetFilter {
            window: ListQuery {
                limit: None,
                ..window.clone()
            },
            below_percent: self.below,
            ending,
            lifecycle,
            partner: self.partner_id()?,
        })
    }
}

/// Every eSIM `name` names in the window, with its history there: what `--iccid` lists from.
async fn histories(
    store: &dyn StoreQuery,
    name: &str,
    window: &ListQuery,
) -> Result<Vec<shared::store::EsimHistory>, String> {
    let found = shared::store::read::histories(store, name, window)
        .await
        .map_err(|e| e.to_string())?;
    Ok(found.into_iter().map(|(_, history)| history).collect())
}

#[derive(Debug, Clone, Copy)]
pub enum Listing {
    Events,
    Esims,
    Alerts,
    Conflicts,
}

pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.to_utc());
    }
    if text == "today" {
        return Ok(now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number
        .parse()
        .map_err(|_| format!("--since {text}: use RFC 3339, today, or an age like 30m, 24h or 7d"))?;
    match unit {
        "m" => Ok(now - Duration::minutes(n)),
        "h" => Ok(now - Duration::hours(n)),
        "d" => Ok(now - Duration::days(n)),
        _ => Err(format!(
            "--since {text}: use RFC 3339, today, or an age like 30m, 24h or 7d"
        )),
    }
}

impl ListArgs {
    pub fn query(&self, now: DateTime<Utc>) -> Result<ListQuery, String> {
        let provider = self.provider;
        let since = parse_since(self.since.as_deref().unwrap_or("7d"), now)?;
        Ok(ListQuery {
            provider,
            since: Some(since),
            until: Some(now + Duration::minutes(1)),
            // One more than shown, to say when there are more; all of them when rows are filtered here.
            limit: self.iccid.is_none().then_some(self.limit.saturating_add(1)),
        })
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A reader that went away (`esimhooks events --json | head`) ends the output; it is not an error.
fn io(e: std::io::Error) -> Result<(), String> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e.to_string())
    }
}

fn print_json<T: Serialize>(out: &mut impl Write, rows: &[T]) -> Result<(), String> {
    serde_json::to_writer_pretty(&mut *out, rows)
        .map_err(std::io::Error::from)
        .or_else(io)?;
    writeln!(out).or_else(io)
}

fn print_table(out: &mut impl Write, header: &[&str], rows: Vec<Vec<String>>) -> Result<(), String> {
    // Stored text may predate cleaning at normalization: a cell never moves the cursor or colours the terminal.
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| row.iter().map(|cell| shared::text::clean(cell).into_owned()).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut text = line(header.iter().map(|h| h.to_string()).collect());
    let count = rows.len();
    for row in rows {
        text.push('\n');
        text.push_str(&line(row));
    }
    writeln!(out, "{text}\n({count} rows)").or_else(io)
}

/// Says there were more rows than shown (on stderr: stdout may be a pipe of JSON).
fn more_rows(limit: usize) {
    eprintln!(
        "more rows: use --limit {} (or a narrower --since)",
        limit.saturating_mul(2).max(1)
    );
}

/// Keeps the first `limit` rows; when there were more, says so.
fn cut<T>(mut rows: Vec<T>, limit: usize) -> Vec<T> {
    if rows.len() > limit {
        rows.truncate(limit);
        more_rows(limit);
    }
    rows
}

/// `sms SENT +34••••••678, email FAILED a•••@example.es`: who was told, the contact masked (personal data); a
/// message sent again after a crashed attempt says `SENT (possible duplicate)`.
pub fn told(notifications: &[NotificationRecord]) -> Option<String> {
    let parts: Vec<String> = notifications
        .iter()
        .map(|n| {
            let to = mask_address(n.channel, &n.to);
            let duplicate = if n.possible_duplicate {
                " (possible duplicate)"
            } else {
                ""
            };
            format!("{} {}{duplicate} {to}", n.channel.as_str(), n.status.as_str())
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

pub async fn list(
    what: Listing,
    args: &ListArgs,
    fleet: &FleetArgs,
    store: &dyn StoreQuery,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), String> {
    let query = args.query(now)?;
    match what {
        Listing::Events => kinds::events(args, &query, store, out).await,
        Listing::Esims => kinds::esims(args, &query, fleet, now, store, out).await,
        Listing::Alerts => kinds::alerts(args, &query, store, out).await,
        Listing::Conflicts => kinds::conflicts(args, &query, store, out).await,
    }
}

mod kinds;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_ages_and_instants() {
        let now = DateTime::parse_from_rfc3339("2026-04-22T18:00:00Z").unwrap().to_utc();
        assert_eq!(parse_since("24h", now).unwrap(), now - Duration::hours(24));
        assert_eq!(parse_since("7d", now).unwrap(), now - Duration::days(7));
        assert_eq!(
            parse_since("2026-04-01T00:00:00Z", now).unwrap().to_rfc3339(),
            "2026-04-01T00:00:00+00:00"
        );
        assert!(parse_since("soon", now).is_err());
        assert!(parse_since("", now).is_err());
    }

    #[test]
    fn a_possible_duplicate_says_so_and_contacts_stay_masked() {
        let record = |possible_duplicate: bool| {
            serde_json::from_value::<NotificationRecord>(serde_json::json!({
                "alert_id": "a", "channel": "sms", "to": "+34612345678", "status": "SENT",
                "possible_duplicate": possible_duplicate
            }))
            .unwrap()
        };
        assert_eq!(told(&[record(false)]).unwrap(), "sms SENT +34••••••678");
        assert_eq!(
            told(&[record(true)]).unwrap(),
            "sms SENT (possible duplicate) +34••••••678"
        );
    }
}
