//! `esimhooks send`: builds a delivery for any provider and event type (or takes a body file), signs it as
//! the provider does, and POSTs it; with `--scenario`, an eSIM's whole life from order to expiry.

use chrono::Utc;
use clap::Args;
use shared::model::ProviderId;
use shared::simulate::{body, event_types, scenario, sign, SampleParams, SampleRequest};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// Provider to impersonate, by the name in its webhook URL (`esimgo`, `airalo`...).
    #[arg(long, value_parser = crate::provider_arg)]
    pub provider: ProviderId,
    /// Event type (see `--list-types`); default: the provider's usage event.
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// Send this file's bytes as the body instead of a generated one.
    #[arg(long, conflicts_with_all = ["event_type", "scenario"])]
    pub file: Option<PathBuf>,
    /// Send the provider's whole scenario: an eSIM from order to expiry.
    #[arg(long)]
    pub scenario: bool,
    /// The secret to sign with (eSIM Access: the URL token).
    #[arg(long, env = "ESIMHOOKS_SEND_SECRET", required_unless_present = "list_types")]
    pub secret: Option<String>,
    /// Base URL of the receiver (local server or deployed API).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// ICCID of the simulated eSIM.
    #[arg(long, default_value = "8944500000000000001")]
    pub iccid: String,
    /// Percent of data remaining, for usage events.
    #[arg(long, default_value_t = 50)]
    pub remaining: u8,
    /// Hours until the simulated plan ends.
    #[arg(long, default_value_t = 72)]
    pub ends_in_hours: i64,
    /// List the event types of the provider and exit.
    #[arg(long)]
    pub list_types: bool,
}

/// Exit codes: 0 every delivery answered 2xx; 3 some were refused (4xx/5xx); 1 could not send at all.
pub fn run(args: &SendArgs) -> Result<u8, String> {
    let provider = args.provider;
    if args.list_types {
        println!("{}", event_types(provider).join("\n"));
        return Ok(0);
    }
    let secret = args.secret.as_deref().ok_or("--secret is needed to sign")?;
    let mut requests: Vec<(String, SampleRequest)> = Vec::new();
    if let Some(file) = &args.file {
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        requests.push((file.display().to_string(), sign(provider, &text, secret)));
    } else {
        let steps: Vec<(String, u8)> = if args.scenario {
            scenario(provider).iter().map(|(t, r)| (t.to_string(), *r)).collect()
        } else {
            let default = event_types(provider)[0];
            vec![(args.event_type.clone().unwrap_or(default.into()), args.remaining)]
        };
        // A scenario's steps happen a few minutes apart while the plan's end approaches (72 h → 20 h), so
        // provider timestamps order them as a real eSIM's life would.
        let start = Utc::now();
        let count = steps.len() as i64;
        for (sequence, (event_type, remaining)) in steps.into_iter().enumerate() {
            let step = sequence as i64;
            let params = SampleParams {
                iccid: args.iccid.clone(),
                remaining_percent: remaining,
                ends_in_hours: if args.scenario {
                    72 - 52 * step / (count - 1).max(1)
                } else {
                    args.ends_in_hours
                },
                now: start + chrono::Duration::minutes(5 * step),
                sequence: sequence as u64 + 1,
            };
            let body = body(provider, &event_type, &params).ok_or(format!(
                "{provider} has no event type {event_type}; --list-types shows them"
            ))?;
            requests.push((event_type, sign(provider, &body.to_string(), secret)));
        }
    }

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut refused = false;
    for (what, request) in requests {
        let url = format!("{}{}", args.url.trim_end_matches('/'), request.path_and_query);
        let mut call = agent.post(&url);
        for (name, value) in &request.headers {
            call = call.header(name, value);
        }
        // The query may hold a URL token: messages name the path only.
        let shown = url.split('?').next().unwrap_or_default().to_string();
        let mut response = call
            .send(request.body.as_bytes())
            .map_err(|e| format!("POST {shown} failed: {e}"))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        println!("{provider} {what}: {status} {text}");
        refused |= !(200..300).contains(&status);
    }
    if args.scenario {
        println!(
            "the customer of ICCID {} (a contact from `esimhooks customers`) was told on the serving console; \
             `esimhooks alerts` lists who was told of each alert",
            args.iccid
        );
    }
    Ok(if refused { 3 } else { 0 })
}
