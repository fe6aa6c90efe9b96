//! How fast one callback sender delivers: notifications fanned out and delivered, one after another as the
//! Lambda handles a batch, to a receiver on loopback answering 204 at once (so this measures the sender:
//! signing, the HTTP client, the attempt log in memory). Prints deliveries per second and the added latency
//! from a notification reaching the sender to the partner having it (fan-out + signed POST), median and p99.
//!
//!     cargo run --release -p shared --features testing --example callback_throughput -- [COUNT]

use shared::callbacks::http::HttpPoster;
use shared::callbacks::notification::{EchoSubject, Notification};
use shared::callbacks::partner::{Partner, PartnerId, SIGNING_OVERLAP};
use shared::callbacks::registry::{CallbackRegistry, Endpoint, MemoryRegistry, Registration};
use shared::callbacks::sender::{MemoryAttemptLog, NotificationMessage, Sender};
use shared::callbacks::signing::SigningSecret;
use shared::callbacks::url::StaticResolver;
use shared::callbacks::NotificationType;
use shared::clock::SystemClock;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A keep-alive receiver on loopback: reads each request (headers and body) and answers 204.
async fn receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://partner.test:{}/hooks", listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut pending = Vec::new();
                let mut buffer = [0u8; 16384];
                loop {
                    let Ok(n) = stream.read(&mut buffer).await else { return };
                    if n == 0 {
                        return;
                    }
                    pending.extend_from_slice(&buffer[..n]);
                    while let Some(end) = complete_request(&pending) {
                        pending.drain(..end);
                        if stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    url
}

/// The length of the first whole request in `bytes`, if there is one.
fn complete_request(bytes: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(bytes).ok()?;
    let head_end = text.find("\r\n\r\n")? + 4;
    let length: usize = text[..head_end]
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().ok())
        })
        .flatten()
        .unwrap_or(0);
    (bytes.len() >= head_end + length).then_some(head_end + length)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let count: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(2000);
    let url = receiver().await;
    let registry = Arc::new(MemoryRegistry::default());
    let id = PartnerId::parse("bench-co").unwrap();
    let now = chrono::Utc::now();
    let mut partner = Partner {
        id: id.clone(),
        name: "Bench".into(),
        key_hashes: vec![],
        created_at: now,
        signing_keys: vec![],
        contact_email: None,
        scope: shared::callbacks::partner::Scope::All,
    };
    partner.rotate_signing_key(SigningSecret::generate().unwrap().0, now, SIGNING_OVERLAP);
    registry.save_partner(&partner).await.unwrap();
    let kind = NotificationType::ALL[0];
    let registration = Registration {
        partner: id.clone(),
        notification_type: kind,
        url: url.clone(),
        created_at: now,
        updated_at: now,
    };
    registry.save_registration(&registration).await.unwrap();
    let endpoint = Endpoint {
        url,
        partner: id.clone(),
        subscription_arn: String::new(),
        failing_since: None,
        disabled_at: None,
        rate_limit: None,
    };
    registry.save_endpoint(&endpoint).await.unwrap();
    let poster = HttpPoster::new(Arc::new(StaticResolver(vec!["127.0.0.1".parse().unwrap()])), true).unwrap();
    let sender = Sender::new(
        registry,
        Arc::new(poster),
        Arc::new(MemoryAttemptLog::default()),
        Arc::new(SystemClock),
    );

    let mut latencies = Vec::with_capacity(count);
    let started = Instant::now();
    for i in 0..count {
        let echo = Notification::echo(&id, kind, EchoSubject::Simulation(format!("bench-{i}")), now);
        let message = NotificationMessage {
            audience: "all".into(),
            ..NotificationMessage::from(&echo)
        };
        let one = Instant::now();
        let jobs = sender.fan_out(&message).await.unwrap();
        let verdict = sender.attempt(&jobs[0], 1).await.unwrap();
        assert_eq!(verdict, shared::callbacks::delivery::Verdict::Delivered);
        latencies.push(one.elapsed());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{count} callbacks delivered one after another in {:.2} s: {:.0} per second; added latency median {:.0} µs, p99 {:.0} µs",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
        micros(at(0.5)),
        micros(at(0.99))
    );
}
