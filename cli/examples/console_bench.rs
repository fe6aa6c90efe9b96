//! How fast the console answers over a big local store. Fills a running `esimhooks serve` with signed Roamify
//! deliveries (ESIMS eSIMs, each a status event and then usage falling to its last level, plans ending from
//! one hour to ten days out), then times the console's timeline, overview and fleet pages over HTTP on the same
//! SQLite file. A measurement, not a test; `scripts/bench.sh` runs it with 10,000 eSIMs x 10 events.
//!
//!     cargo run --release -p esimhooks-cli --example console_bench -- SERVE_URL CONSOLE_URL SECRET [ESIMS] [EVENTS]

use shared::model::ProviderId;
use shared::simulate::{body, sign, SampleParams, SampleRequest};
use std::time::{Duration, Instant};

fn iccid(esim: usize) -> String {
    format!("89910{esim:014}")
}

/// Event `k` of eSIM `esim`: first its status, then usage falling by equal steps to what is left at the end
/// (eSIM by eSIM, from 0 to 99 percent), each a minute after the one before.
fn request(esim: usize, k: usize, events: usize, secret: &str) -> SampleRequest {
    let start = chrono::Utc::now() - chrono::Duration::minutes(events as i64 + 1);
    let mut params = SampleParams::new(start + chrono::Duration::minutes(k as i64));
    params.iccid = iccid(esim);
    params.ends_in_hours = 1 + (esim % 240) as i64;
    params.sequence = (esim * events + k) as u64;
    let last = esim % 100;
    params.remaining_percent = (100 - (100 - last) * k / (events - 1).max(1)) as u8;
    let kind = if k == 0 { "status" } else { "usage" };
    let body = body(ProviderId::Roamify, kind, &params).expect("Roamify has status and usage events");
    sign(ProviderId::Roamify, &body.to_string(), secret)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// Sends every eSIM's events in order, eSIMs spread over `concurrency` workers.
fn fill(serve: &str, secret: &str, esims: usize, events: usize, concurrency: usize) {
    let started = Instant::now();
    let failed: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..concurrency)
            .map(|worker| {
                scope.spawn(move || {
                    let agent = agent();
                    let mut failed = 0;
                    for esim in (worker..esims).step_by(concurrency) {
                        for k in 0..events {
                            let r = request(esim, k, events, secret);
                            let post = r.headers.iter().fold(
                                agent.post(format!("{serve}{}", r.path_and_query)),
                                |post, (name, value)| post.header(name, value),
                            );
                            let ok = post
                                .send(r.body.as_str())
                                .is_ok_and(|mut reply| reply.body_mut().read_to_vec().is_ok() && reply.status() == 200);
                            failed += usize::from(!ok);
                        }
                    }
                    failed
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    let count = esims * events;
    println!(
        "filled: {count} deliveries for {esims} eSIMs in {:.1} s ({:.0}/s), {failed} not answered 200",
        started.elapsed().as_secs_f64(),
        count as f64 / started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Times `runs` GETs of each path; prints p50, p95 and the slowest, and the answer's size.
fn time_pages(console: &str, label: &str, paths: &[String], runs: usize) {
    let agent = agent();
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        for path in paths {
            let sent = Instant::now();
            let mut reply = agent.get(format!("{console}{path}")).call().expect("console answers");
            let body = reply.body_mut().read_to_vec().expect("body");
            times.push(sent.elapsed());
            assert_eq!(reply.status(), 200, "{path}: {}", String::from_utf8_lossy(&body));
            bytes = body.len();
        }
    }
    times.sort();
    let at = |p: f64| ms(times[((times.len() - 1) as f64 * p).round() as usize]);
    println!(
        "{label:<34} p50 {:>7.2} ms  p95 {:>7.2} ms  max {:>7.2} ms  ({} requests, last answer {bytes} bytes)",
        at(0.5),
        at(0.95),
        at(1.0),
        times.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [serve, console, secret, rest @ ..] = args.as_slice() else {
        eprintln!("usage: console_bench SERVE_URL CONSOLE_URL SECRET [ESIMS] [EVENTS]");
        std::process::exit(2);
    };
    let esims: usize = rest.first().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let events: usize = rest.get(1).and_then(|n| n.parse().ok()).unwrap_or(10).max(2);
    fill(serve, secret, esims, events, 8);

    let sample: Vec<usize> = (0..50).map(|i| (i * 7919) % esims).collect();
    let timelines: Vec<String> = sample.iter().map(|e| format!("/api/esim?q={}", iccid(*e))).collect();
    time_pages(console, "timeline (esim?q=ICCID)", &timelines, 4);
    time_pages(
        console,
        "overview, 24 hours",
        &["/api/overview?since=24h".to_string()],
        10,
    );
    time_pages(console, "overview, 7 days", &["/api/overview?since=7d".to_string()], 10);
    let fleet = |query: &str| vec![format!("/api/fleet?{query}")];
    for (label, query) in [
        ("fleet, first page", ""),
        ("fleet, below 20%", "below=20"),
        ("fleet, below 20%, page 10", "below=20&offset=450"),
        ("fleet, ending within 24h", "ending_within=24h"),
        ("fleet, lifecycle active", "lifecycle=active"),
        ("fleet, roamify below 50%", "provider=roamify&below=50"),
        ("fleet, below 20% ending in 48h", "below=20&ending_within=48h"),
    ] {
        time_pages(console, label, &fleet(query), 50);
    }
}
