//! `esimhooks send`: builds a delivery for any provider and event type (or takes a body file), signs it as
//! the provider does, and POSTs it; with `--scenario`, an eSIM's whole life from order to expiry.

use chrono::Utc;
use clap::Args;
use shared::model::ProviderId;
use shared::simulate::{body, event_types, next_stamp, scenario, scenario_step, sign, SampleParams, SampleRequest};
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
    /// Send the provider's whole scenario: an eSIM from order to expiry, each step stamped as it is sent (about
    /// a second apart, none in the future), so the eSIM ends in the last step's state.
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
    /// Write the signed body to this file instead of sending it, and print the `esimhooks verify` command that
    /// checks it (its headers, path and secret).
    #[arg(long, conflicts_with = "scenario")]
    pub save: Option<PathBuf>,
}

/// `text` as one shell word.
fn quoted(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=".contains(&b))
    {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The `esimhooks verify` arguments that check `request` saved as `body`, signed with `secret`.
pub fn verify_argv(provider: ProviderId, body: &std::path::Path, request: &SampleRequest, secret: &str) -> Vec<String> {
    let mut argv = vec![
        "esimhooks".to_string(),
        "verify".into(),
        "--provider".into(),
        provider.to_string(),
        "--body".into(),
        body.display().to_string(),
    ];
    for (name, value) in request.headers.iter().filter(|(name, _)| name != "content-type") {
        argv.extend(["-H".to_string(), format!("{name}: {value}")]);
    }
    if request.path_and_query.contains('?') {
        argv.extend(["--path".to_string(), request.path_and_query.clone()]);
    }
    argv.extend(["--secret".to_string(), secret.to_string()]);
    argv
}

/// What a scenario's end can truthfully say of customers: the receiver's answers do not say whether it has a
/// contact for the eSIM, so whether anyone was told is the receiver's to know.
pub fn scenario_note(provider: ProviderId, iccid: &str) -> String {
    format!(
        "if the receiver has a contact for ICCID {iccid}, its customer was told of each alert (a local server \
         prints CUSTOMER SMS lines; `esimhooks alerts` lists who was told); otherwise nobody was: add a contact \
         with `esimhooks customers set --provider {provider} --iccid <ICCID> --phone +…` and play the scenario \
         with that --iccid (each alert goes out once per eSIM)"
    )
}

/// Exit codes: 0 every delivery answered 2xx; 3 some were refused (4xx/5xx); 1 could not send at all.
pub fn run(args: &SendArgs) -> Result<u8, String> {
    let provider = args.provider;
    if args.list_types {
        println!("{}", event_types(provider).join("\n"));
        return Ok(0);
    }
    let secret = args.secret.as_deref().ok_or("--secret is needed to sign")?;
    let sample = |event_type: &str, params: &SampleParams| -> Result<SampleRequest, String> {
        let body = body(provider, event_type, params).ok_or(format!(
            "{provider} has no event type {event_type}; --list-types shows them"
        ))?;
        Ok(sign(provider, &body.to_string(), secret))
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .build()
        .into();
    // Sends one delivery; true when it was refused.
    let post = |what: &str, request: &SampleRequest| -> Result<bool, String> {
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
        Ok(!(200..300).contains(&status))
    };

    // One delivery (not a scenario): the file's bytes, or the asked event type, signed; with its name.
    let single = || -> Result<(String, SampleRequest), String> {
        if let Some(file) = &args.file {
            let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            return Ok((file.display().to_string(), sign(provider, &text, secret)));
        }
        let event_type = args.event_type.as_deref().unwrap_or(event_types(provider)[0]);
        let params = SampleParams {
            iccid: args.iccid.clone(),
            remaining_percent: args.remaining,
            ends_in_hours: args.ends_in_hours,
            ..SampleParams::new(Utc::now())
        };
        Ok((event_type.to_string(), sample(event_type, &params)?))
    };
    if let Some(save) = &args.save {
        let (_, request) = single()?;
        std::fs::write(save, &request.body).map_err(|e| format!("cannot write {}: {e}", save.display()))?;
        let argv = verify_argv(provider, save, &request, secret);
        println!("{}", argv.iter().map(|word| quoted(word)).collect::<Vec<_>>().join(" "));
        return Ok(0);
    }
    let mut refused = false;
    if args.scenario {
        // Each step is stamped as it is sent, a whole second after the answer to the one before (see
        // `next_stamp`): never ahead of its receipt, and after every earlier step, untimed ones included.
        let mut answered = None;
        for step in 0..scenario(provider).len() {
            if let Some(wait) = answered.map(|at| (next_stamp(at) - Utc::now()).to_std()) {
                std::thread::sleep(wait.unwrap_or_default());
            }
            let (event_type, params) = scenario_step(provider, &args.iccid, step, Utc::now());
            refused |= post(event_type, &sample(event_type, &params)?)?;
            answered = Some(Utc::now());
        }
        println!("{}", scenario_note(provider, &args.iccid));
    } else {
        let (what, request) = single()?;
        refused = post(&what, &request)?;
    }
    Ok(if refused { 3 } else { 0 })
}
