//! `esimhooks verify`: checks a captured request (headers and body file) against a provider's scheme and says
//! exactly why it fails: missing header, wrong encoding, body changed after signing, or wrong secret.

use bytes::Bytes;
use clap::Args;
use shared::auth::{AuthFailure, KeyRing};
use shared::ingress::Delivery;
use shared::model::ProviderId;
use shared::providers::{Provider, ProviderConfig};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Provider whose scheme to check, by the name in its webhook URL (`esimgo`, `airalo`...).
    #[arg(long, value_parser = crate::provider_arg)]
    pub provider: ProviderId,
    /// File with the raw body, byte for byte.
    #[arg(long)]
    pub body: PathBuf,
    /// A request header, `name: value` (repeatable).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// The request's path and query (eSIM Access tokens live there), e.g. `/webhooks/esimaccess?token=…`.
    #[arg(long, default_value = "")]
    pub path: String,
    /// A secret to check against (repeatable: current and rotated). eSIM Access: the URL token.
    #[arg(long = "secret", required = true)]
    pub secrets: Vec<String>,
}

fn provider(id: ProviderId, secret: &str) -> Result<Arc<dyn Provider>, String> {
    let ring = KeyRing::parse(secret).ok_or("an empty secret")?;
    (id.spec().build)(&ProviderConfig::local(ring)).map_err(|e| e.to_string())
}

fn delivery(args: &VerifyArgs, body: Bytes) -> Result<Delivery, String> {
    let mut headers = axum::http::HeaderMap::new();
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or(format!("header {header:?} is not `name: value`"))?;
        let name = axum::http::HeaderName::from_bytes(name.trim().to_ascii_lowercase().as_bytes())
            .map_err(|e| e.to_string())?;
        let value = axum::http::HeaderValue::from_str(value.trim()).map_err(|e| e.to_string())?;
        headers.insert(name, value);
    }
    let (path, query) = args.path.split_once('?').unwrap_or((&args.path, ""));
    Ok(Delivery {
        method: axum::http::Method::POST,
        path: path.to_string(),
        query: query.to_string(),
        headers,
        source_ip: None,
        body,
        received_at: chrono::Utc::now(),
        request_id: None,
    })
}

/// Body variants a proxy or a tool may have produced from the signed bytes, with how to describe them.
fn altered_forms(body: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut forms = Vec::new();
    if body.ends_with(b"\n") {
        forms.push((
            "a trailing newline was added after signing",
            body.trim_ascii_end().to_vec(),
        ));
    } else {
        forms.push(("a trailing newline was removed after signing", [body, b"\n"].concat()));
    }
    if body.contains(&b'\r') {
        forms.push((
            "line endings were changed to CRLF after signing",
            body.iter().copied().filter(|b| *b != b'\r').collect(),
        ));
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Ok(compact) = serde_json::to_vec(&value) {
            forms.push((
                "the JSON was re-formatted after signing (it was signed compact)",
                compact,
            ));
        }
        if let Ok(pretty) = serde_json::to_vec_pretty(&value) {
            forms.push((
                "the JSON was re-formatted after signing (it was signed pretty-printed)",
                pretty,
            ));
        }
    }
    forms
}

/// Exit codes: 0 authentic; 4 not authentic (the reason is printed).
pub fn run(args: &VerifyArgs) -> Result<u8, String> {
    let id = args.provider;
    let body = Bytes::from(std::fs::read(&args.body).map_err(|e| format!("cannot read {}: {e}", args.body.display()))?);
    let request = delivery(args, body.clone())?;
    let mut last = None;
    for (index, secret) in args.secrets.iter().enumerate() {
        match provider(id, secret)?.authenticate(&request) {
            Ok(_) => {
                println!("authentic: {id} delivery verified with secret #{}", index + 1);
                return Ok(0);
            }
            Err(e) => last = Some(e),
        }
    }
    let failure = last.expect("at least one secret");
    let reason = match &failure {
        AuthFailure::MissingSignature(header) => {
            format!("the {header} header is missing (pass it with -H '{header}: …')")
        }
        AuthFailure::MalformedSignature(header) => {
            format!("the {header} header is not hex or base64 of the right length for this provider's HMAC")
        }
        AuthFailure::MissingToken => {
            "no URL token: pass the request's path and query with --path '/webhooks/…?token=…'".into()
        }
        AuthFailure::WrongToken => "the URL token matches none of the given secrets".into(),
        AuthFailure::UnsignedRefused => "the delivery is unsigned (eSIM Go V2); only V3 callbacks are signed".into(),
        AuthFailure::SignatureMismatch => {
            let explained = args.secrets.iter().find_map(|secret| {
                altered_forms(&body).into_iter().find_map(|(why, form)| {
                    let mut probe = request.clone();
                    probe.body = Bytes::from(form);
                    provider(id, secret).ok()?.authenticate(&probe).ok().map(|_| why)
                })
            });
            match explained {
                Some(why) => format!("the body is not the one that was signed: {why}"),
                None => "the signature matches none of the given secrets for this body: wrong secret, or the body was altered".into(),
            }
        }
        other => other.to_string(),
    };
    println!("not authentic: {reason}");
    Ok(4)
}
