//! Logging setup. Lambda logs are one JSON object per line (CloudWatch Logs Insights can query the fields);
//! the CLI logs for people. `RUST_LOG` overrides the level (default `info`).

use tracing_subscriber::EnvFilter;

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

pub fn init_json() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter())
        .with_target(false)
        .with_current_span(false)
        .flatten_event(true)
        .try_init();
}

pub fn init_human() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}
