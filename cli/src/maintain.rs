//! `esimhooks sweep` and `esimhooks replay`: what the scheduled run does, and stored deliveries re-run through
//! the current normalizers.

use crate::backend::BackendArgs;
use crate::listing::ListArgs;
use crate::pipeline_for;
use shared::clock::{Clock, SystemClock};
use shared::config::{process_env, Settings};
use shared::model::ProviderId;
use std::sync::Arc;

pub async fn sweep(backend: BackendArgs, env: shared::config::Env<'_>) -> Result<(), String> {
    let settings = Settings::from_env(env).map_err(|e| e.to_string())?;
    let opened = backend.open(true).await?;
    let pipeline = pipeline_for(&opened, &settings, Arc::new(SystemClock));
    let report = pipeline.sweep_expiring().await.map_err(|e| e.to_string())?;
    println!(
        "expiring: {}, published: {}, already sent: {}, failed: {}",
        report.expiring, report.published, report.already_sent, report.failed
    );
    let outbox = pipeline.send_due_notifications().await.map_err(|e| e.to_string())?;
    println!(
        "customer messages due after quiet hours: {}, sent: {}, not sent: {}, held again (still night where the \
         customer is): {}, left for the next run: {}",
        outbox.due, outbox.sent, outbox.not_sent, outbox.held, outbox.retry
    );
    if report.failed > 0 || outbox.retry > 0 {
        return Err(format!(
            "{} expiry alerts and {} customer messages are left; run again",
            report.failed, outbox.retry
        ));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub async fn replay(
    provider: Option<ProviderId>,
    since: Option<String>,
    until: Option<String>,
    esim: Option<String>,
    force: bool,
    backend: BackendArgs,
) -> Result<u8, String> {
    let counts = replay_stored(provider, since, until, esim, force, backend).await?;
    println!(
        "replayed {}: {} changed, {} unchanged, {} failed",
        counts.changed + counts.unchanged + counts.failed,
        counts.changed,
        counts.unchanged,
        counts.failed
    );
    Ok(if counts.failed > 0 { 5 } else { 0 })
}

/// How a replay went, delivery by delivery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReplayCounts {
    pub changed: usize,
    pub unchanged: usize,
    pub failed: usize,
}

pub(crate) async fn replay_stored(
    provider: Option<ProviderId>,
    since: Option<String>,
    until: Option<String>,
    esim: Option<String>,
    force: bool,
    backend: BackendArgs,
) -> Result<ReplayCounts, String> {
    let settings = Settings::from_env(&process_env).map_err(|e| e.to_string())?;
    let opened = backend.open(true).await?;
    let now = SystemClock.now();
    let filter = ListArgs {
        provider,
        since,
        iccid: None,
        limit: usize::MAX,
        json: false,
    };
    let mut query = filter.query(now)?;
    if let Some(until) = until {
        query.until = Some(
            chrono::DateTime::parse_from_rfc3339(&until)
                .map_err(|e| format!("--until {until}: {e}"))?
                .to_utc(),
        );
    }
    let mut deliveries = opened.query.list_deliveries(&query).await.map_err(|e| e.to_string())?;
    if let Some(esim) = &esim {
        deliveries.retain(|d| {
            d.event
                .esim
                .as_ref()
                .is_some_and(|e| &e.key == esim || e.iccid.as_ref() == Some(esim))
        });
    }
    deliveries.reverse(); // oldest first, as they arrived
    let pipeline = pipeline_for(&opened, &settings, Arc::new(SystemClock));
    let bar = if deliveries.len() >= 20 {
        indicatif::ProgressBar::new(deliveries.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut counts = ReplayCounts::default();
    for stored in &deliveries {
        match shared::replay::replay_one(&pipeline, &stored.event, force).await {
            Ok(shared::replay::Replayed::Changed) => counts.changed += 1,
            Ok(shared::replay::Replayed::Unchanged) => counts.unchanged += 1,
            Err(e) => {
                counts.failed += 1;
                bar.suspend(|| eprintln!("{} {}: {e}", stored.event.provider, stored.event.dedupe_key));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(counts)
}
