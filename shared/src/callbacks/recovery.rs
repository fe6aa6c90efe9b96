//! Recovering callbacks given up on: every delivery to a partner that failed since a point in time (its
//! schedule spent, or its endpoint disabled) is queued again for a fresh schedule, under the same
//! `webhook-id`, so a partner that already got one deduplicates it. Served as `POST
//! /{partnerId}/callbacks/recover` and `esimhooks partners recover`.

use super::partner::Partner;
use super::sender::{AttemptLog, CallbackJob, JobQueue};
use crate::store::StoreError;
use chrono::{DateTime, Utc};

/// At most this many deliveries are queued again per call (an API Gateway request has 30 s); `more` says to
/// call again, and a repeated call picks up where the last stopped (recovered ones are forgotten).
pub const MAX_RECOVERED_PER_CALL: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Deliveries queued again.
    pub resent: usize,
    /// More failed deliveries remain: call again.
    pub more: bool,
}

/// Queues again up to `limit` of `partner`'s deliveries that failed at or after `since`, oldest first, and
/// forgets them. Queued first and forgotten after: a failure half-way sends some twice, never none. One about
/// an eSIM the partner no longer hears of (its scope became `own`, the eSIM another's) is forgotten unsent.
pub async fn recover(
    log: &dyn AttemptLog,
    queue: &dyn JobQueue,
    partner: &Partner,
    since: DateTime<Utc>,
    limit: usize,
) -> Result<Recovered, StoreError> {
    let mut failed = log.parked(&partner.id, since, limit + 1).await?;
    let more = failed.len() > limit;
    failed.truncate(limit);
    let jobs: Vec<CallbackJob> = failed
        .iter()
        .filter(|f| partner.sees(f.job.owner.as_ref()))
        .map(|f| f.job.clone())
        .collect();
    queue.enqueue(&jobs).await?;
    for delivery in &failed {
        log.unpark(delivery).await?;
    }
    if !failed.is_empty() {
        let partner = &partner.id;
        tracing::info!(%partner, resent = jobs.len(), more, "failed callbacks queued again");
    }
    Ok(Recovered {
        resent: jobs.len(),
        more,
    })
}

/// Jobs queued in memory (tests).
#[cfg(any(test, feature = "testing"))]
#[derive(Default)]
pub struct MemoryJobQueue(pub std::sync::Mutex<Vec<CallbackJob>>);

#[cfg(any(test, feature = "testing"))]
#[async_trait::async_trait]
impl JobQueue for MemoryJobQueue {
    async fn enqueue(&self, jobs: &[CallbackJob]) -> Result<(), StoreError> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(jobs);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::partner::{PartnerId, Scope};
    use crate::callbacks::sender::{FailedDelivery, MemoryAttemptLog};
    use chrono::Duration;

    fn failed(partner: &str, n: usize, at: DateTime<Utc>) -> FailedDelivery {
        FailedDelivery {
            job: CallbackJob {
                notification_id: format!("ntf_{n}"),
                notification_type: 1,
                partner: PartnerId::parse(partner).unwrap(),
                url: format!("https://{partner}.example/cb"),
                body: "{}".into(),
                owner: PartnerId::parse(partner),
            },
            failed_at: at,
            attempts: 8,
        }
    }

    #[tokio::test]
    async fn failures_since_a_time_are_queued_again_in_pages_and_forgotten() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let log = MemoryAttemptLog::default();
        for n in 0..5 {
            log.park(&failed("acme", n, t0 + Duration::hours(n as i64)))
                .await
                .unwrap();
        }
        log.park(&failed("other", 9, t0 + Duration::hours(3))).await.unwrap();
        let queue = MemoryJobQueue::default();
        let acme = Partner {
            id: PartnerId::parse("acme").unwrap(),
            name: "Acme".into(),
            key_hashes: Vec::new(),
            created_at: t0,
            signing_keys: Vec::new(),
            contact_email: None,
            scope: Scope::Own,
        };

        let first = recover(&log, &queue, &acme, t0 + Duration::hours(1), 2).await.unwrap();
        assert_eq!(first, Recovered { resent: 2, more: true });
        let second = recover(&log, &queue, &acme, t0 + Duration::hours(1), 2).await.unwrap();
        assert_eq!(second, Recovered { resent: 2, more: false });
        let queued: Vec<String> = queue
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|j| j.notification_id.clone())
            .collect();
        assert_eq!(
            queued,
            ["ntf_1", "ntf_2", "ntf_3", "ntf_4"],
            "oldest first, none before since"
        );
        let again = recover(&log, &queue, &acme, t0, 10).await.unwrap();
        assert_eq!(
            again,
            Recovered { resent: 1, more: false },
            "only the one before since is left"
        );
        let other = log.parked(&PartnerId::parse("other").unwrap(), t0, 10).await.unwrap();
        assert_eq!(other.len(), 1, "another partner's failures are its own");

        // Scope `own`: a delivery about another partner's eSIM (parked while it heard of all) is forgotten
        // unsent; its own eSIM's is sent.
        let mut not_mine = failed("acme", 7, t0);
        not_mine.job.owner = PartnerId::parse("other");
        log.park(&not_mine).await.unwrap();
        let mut unowned = failed("acme", 8, t0);
        unowned.job.owner = None;
        log.park(&unowned).await.unwrap();
        log.park(&failed("acme", 6, t0)).await.unwrap();
        queue.0.lock().unwrap().clear();
        let scoped = recover(&log, &queue, &acme, t0, 10).await.unwrap();
        assert_eq!(scoped, Recovered { resent: 1, more: false });
        let sent: Vec<String> = queue
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|j| j.notification_id.clone())
            .collect();
        assert_eq!(sent, ["ntf_6"]);
        assert!(
            log.parked(&acme.id, t0, 10).await.unwrap().is_empty(),
            "all three forgotten"
        );
    }
}
