//! Logging setup. Lambda logs are one JSON object per line (CloudWatch Logs Insights can query the fields);
//! the CLI logs for people.
//!
//! The level comes from `RUST_LOG`, else Lambda's own `AWS_LAMBDA_LOG_LEVEL`, else `info`: a level
//! (`debug`) or `target=level` directives (`info,shared=debug`). `Targets` reads those without the regex
//! engine `EnvFilter` links in (a few hundred KB of every bootstrap); a value it cannot read falls back to
//! `info` rather than silencing the log.

use std::str::FromStr;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Registry;

fn filter(var: impl Fn(&str) -> Option<String>) -> Targets {
    ["RUST_LOG", "AWS_LAMBDA_LOG_LEVEL"]
        .into_iter()
        .find_map(|name| var(name).filter(|v| !v.trim().is_empty()))
        .and_then(|directives| {
            // Lambda's levels are upper case and include FATAL, which tracing calls error.
            Targets::from_str(&directives.to_ascii_lowercase().replace("fatal", "error")).ok()
        })
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

fn process_filter() -> Targets {
    filter(crate::config::process_env)
}

pub fn init_json() {
    install(
        tracing_subscriber::fmt::layer()
            .json()
            .with_target(false)
            .with_current_span(false)
            .flatten_event(true),
    );
}

pub fn init_human() {
    install(
        tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_writer(std::io::stderr),
    );
}

/// Installs `output` under the level filter from the environment (once per process; later calls are no-ops).
fn install(output: impl Layer<Registry> + Send + Sync) {
    let _ = tracing_subscriber::registry()
        .with(output)
        .with(process_filter())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn from(vars: &[(&str, &str)]) -> Targets {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        filter(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn rust_log_wins_then_lambda_level_then_info() {
        assert!(from(&[]).would_enable("shared", &Level::INFO));
        assert!(!from(&[]).would_enable("shared", &Level::DEBUG));
        let lambda = from(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]);
        assert!(lambda.would_enable("shared", &Level::DEBUG));
        let fatal = from(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]);
        assert!(fatal.would_enable("shared", &Level::ERROR) && !fatal.would_enable("shared", &Level::WARN));
        let both = from(&[("RUST_LOG", "warn"), ("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]);
        assert!(!both.would_enable("shared", &Level::INFO) && both.would_enable("shared", &Level::WARN));
    }

    #[test]
    fn directives_per_target_and_unreadable_values() {
        let per_target = from(&[("RUST_LOG", "warn,shared::pipeline=debug")]);
        assert!(per_target.would_enable("shared::pipeline", &Level::DEBUG));
        assert!(!per_target.would_enable("aws_smithy_runtime", &Level::INFO));
        for unreadable in ["shared=loud", "", "  "] {
            let f = from(&[("RUST_LOG", unreadable)]);
            assert!(
                f.would_enable("shared", &Level::INFO) && !f.would_enable("shared", &Level::DEBUG),
                "{unreadable:?}"
            );
        }
    }
}
