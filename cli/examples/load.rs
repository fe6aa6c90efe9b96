//! End-to-end load on a running `esimhooks serve`: signed Roamify usage deliveries (every third one crossing the
//! low-data level, so it publishes an alert) POSTed at a fixed concurrency over keep-alive connections. Prints
//! throughput and latency percentiles. A measurement, not a test; `scripts/bench.sh` runs it against the
//! embedded SQLite store and against DynamoDB + SNS on moto.
//!
//!     cargo run --release -p esimhooks-cli --example load -- BASE_URL SECRET [CONCURRENCY] [COUNT]

use shared::model::ProviderId;
use shared::simulate::{body, sign, SampleParams, SampleRequest};
use std::time::{Duration, Instant};

/// Delivery `i` of this run: a Roamify usage event for its own eSIM (the run's seed in the ICCID, so no run
/// repeats another's bodies), every third one at 9% remaining, signed as Roamify signs.
fn request(seed: u128, i: usize, secret: &str) -> SampleRequest {
    let mut params = SampleParams::new(chrono::Utc::now());
    params.iccid = format!("8991{:06}{i:09}", seed % 1_000_000);
    params.remaining_percent = if i.is_multiple_of(3) { 9 } else { 60 };
    params.sequence = i as u64;
    let body = body(ProviderId::Roamify, "usage", &params).expect("Roamify has usage events");
    sign(ProviderId::Roamify, &body.to_string(), secret)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base_url, secret, rest @ ..] = args.as_slice() else {
        eprintln!("usage: load BASE_URL SECRET [CONCURRENCY] [COUNT]");
        std::process::exit(2);
    };
    let concurrency: usize = rest.first().and_then(|n| n.parse().ok()).unwrap_or(8);
    let count: usize = rest.get(1).and_then(|n| n.parse().ok()).unwrap_or(2000);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // Prepared up front, so the clock measures the server, not the generator's JSON and HMAC.
    let requests: Vec<SampleRequest> = (0..count).map(|i| request(seed, i, secret)).collect();

    let started = Instant::now();
    let results: Vec<(Duration, u16)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..concurrency)
            .map(|worker| {
                let requests = &requests;
                scope.spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                    requests
                        .iter()
                        .skip(worker)
                        .step_by(concurrency)
                        .map(|request| {
                            let url = format!("{base_url}{}", request.path_and_query);
                            let post = request
                                .headers
                                .iter()
                                .fold(agent.post(&url), |post, (name, value)| post.header(name, value));
                            let sent = Instant::now();
                            let status = post
                                .send(request.body.as_str())
                                .map(|mut reply| {
                                    // Read to the end so the connection is reused.
                                    let _ = reply.body_mut().read_to_vec();
                                    reply.status().as_u16()
                                })
                                .unwrap_or(0);
                            (sent.elapsed(), status)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("worker")).collect()
    });
    let elapsed = started.elapsed();

    let mut latencies: Vec<Duration> = results.iter().map(|(d, _)| *d).collect();
    latencies.sort();
    let ok = results.iter().filter(|(_, status)| *status == 200).count();
    println!(
        "{count} deliveries, concurrency {concurrency}: {:.0} deliveries/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, \
         max {:.2} ms, {ok} answered 200",
        count as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.90),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    if ok != count {
        let mut statuses: Vec<u16> = results.iter().map(|(_, s)| *s).filter(|s| *s != 200).collect();
        statuses.sort();
        statuses.dedup();
        eprintln!("other statuses: {statuses:?}");
        std::process::exit(1);
    }
}
