//! `esimhooks listen`: a local receiver for partner callbacks, what `stripe listen` is to Stripe users. Every
//! request is verified the Standard Webhooks way with the given signing secret(s) and printed with the
//! verdict; a verified callback is answered 204, anything else 401, so a sender's retries can be watched too.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use shared::callbacks::signing::{verify, SigningSecret, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use std::sync::Arc;

/// Where each line goes: stdout when run, a buffer in tests.
pub type Printer = Arc<dyn Fn(String) + Send + Sync>;

#[derive(Clone)]
struct Listener {
    secrets: Arc<Vec<SigningSecret>>,
    print: Printer,
}

/// The secrets as the partner has them (`whsec_…`); an error names the one that is not.
pub fn parse_secrets(texts: &[String]) -> Result<Vec<SigningSecret>, String> {
    texts
        .iter()
        .map(|t| SigningSecret::parse(t).ok_or_else(|| "a --secret is not a whsec_ signing secret".to_string()))
        .collect()
}

pub fn app(secrets: Vec<SigningSecret>, print: Printer) -> axum::Router {
    let state = Listener {
        secrets: Arc::new(secrets),
        print,
    };
    axum::Router::new().fallback(receive).with_state(state)
}

async fn receive(State(listener): State<Listener>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now();
    let check = |secret: &SigningSecret| {
        verify(
            secret,
            header(ID_HEADER),
            header(TIMESTAMP_HEADER),
            header(SIGNATURE_HEADER),
            &body,
            now,
        )
    };
    // Verified when any secret verifies (a rotation's two); otherwise why the first does not.
    let verdict = match listener.secrets.iter().map(check).find(Result::is_ok) {
        Some(ok) => ok,
        None => check(&listener.secrets[0]),
    };
    let text = String::from_utf8_lossy(&body);
    match verdict {
        Ok(()) => {
            (listener.print)(format!("verified {} {}", header(ID_HEADER).unwrap_or("-"), text.trim()));
            StatusCode::NO_CONTENT
        }
        Err(why) => {
            (listener.print)(format!("refused ({why}): {}", text.trim()));
            StatusCode::UNAUTHORIZED
        }
    }
}

/// Serves until Ctrl-C.
pub async fn run(port: u16, secrets: Vec<SigningSecret>) -> Result<(), String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let listener = crate::serve::bind(addr, "listen", "--port").await?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!(
        "esimhooks listening for callbacks on http://{bound} (register it with serve --allow-loopback-callbacks)"
    );
    let print: Printer = Arc::new(|line| println!("{line}"));
    axum::serve(listener, app(secrets, print))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::callbacks::signing::signed_headers;
    use std::sync::Mutex;

    /// POSTs `sent` with the headers of `signed`, signed by `signer`; the status.
    fn post(addr: std::net::SocketAddr, signer: &SigningSecret, signed: &str, sent: &str) -> u16 {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut request = agent.post(format!("http://{addr}/hooks"));
        let headers = signed_headers(
            std::slice::from_ref(signer),
            "ntf_1",
            chrono::Utc::now(),
            signed.as_bytes(),
        );
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send(sent.as_bytes()).unwrap().status().as_u16()
    }

    #[tokio::test]
    async fn prints_verified_callbacks_and_refuses_the_rest() {
        let (secret, text) = SigningSecret::generate().unwrap();
        let (stranger, _) = SigningSecret::generate().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let print: Printer = Arc::new(move |line| sink.lock().unwrap().push(line));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = app(parse_secrets(&[text]).unwrap(), print);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let body = r#"{"notification_id":"ntf_1","test":true}"#;
        let tampered = body.replace("true", "false");
        let cases = [
            (secret.clone(), body.to_string()),
            (stranger, body.to_string()),
            (secret, tampered),
        ];
        let statuses =
            tokio::task::spawn_blocking(move || cases.map(|(signer, sent)| post(addr, &signer, body, &sent)))
                .await
                .unwrap();
        let (ok, wrong, tampered) = (statuses[0], statuses[1], statuses[2]);
        assert_eq!((ok, wrong, tampered), (204, 401, 401));
        let lines = lines.lock().unwrap().clone();
        assert!(lines[0].starts_with("verified ntf_1 {"), "{lines:?}");
        assert!(lines[1].starts_with("refused (no v1 signature matches)"), "{lines:?}");
        assert!(parse_secrets(&["nope".into()]).is_err());
    }
}
