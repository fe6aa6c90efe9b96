//! Where an eSIM stands in being asked its provider, kept on its state: after an ask (when, and what the answer
//! stood for) and when the scheduler found it filed early. Either files the state at its exact next ask; a
//! delivery only ever files it earlier (`AskingPlan::file`).

use super::{Pipeline, PipelineError, STATE_RETRIES};
use crate::due::{exact_filing, validity_notices};
use crate::model::ProviderId;
use crate::state::{Asking, EsimState};
use chrono::{DateTime, Utc};

impl Pipeline {
    /// Records that `provider` was asked about the eSIM at `asked_at`; `heard_at`: when the usage its answer
    /// reported was measured (an answer that named nothing, or no such eSIM, leaves it).
    pub async fn note_asked(
        &self,
        provider: ProviderId,
        esim_key: &str,
        asked_at: DateTime<Utc>,
        heard_at: Option<DateTime<Utc>>,
    ) -> Result<(), PipelineError> {
        self.update_asking(provider, esim_key, |asking| {
            asking.asked_at = Some(asking.asked_at.map_or(asked_at, |a| a.max(asked_at)));
            if let Some(heard) = heard_at {
                asking.heard_at = Some(asking.heard_at.map_or(heard, |h| h.max(heard)));
            }
        })
        .await
    }

    /// Files the eSIM at its exact next ask (found in the index before it was due).
    pub async fn refile(&self, provider: ProviderId, esim_key: &str) -> Result<(), PipelineError> {
        self.update_asking(provider, esim_key, |_| {}).await
    }

    async fn update_asking(
        &self,
        provider: ProviderId,
        esim_key: &str,
        change: impl Fn(&mut Asking),
    ) -> Result<(), PipelineError> {
        let plan = &self.settings.asking;
        for _ in 0..STATE_RETRIES {
            let Some(current) = self.store.load_state(provider, esim_key).await? else {
                return Ok(());
            };
            let mut state: EsimState = current.value.clone();
            let asking = state.asking.get_or_insert_with(Asking::default);
            change(asking);
            let filing = plan.asks(provider).then(|| {
                let notices = validity_notices(provider);
                exact_filing(&state, &self.settings.rules, &plan.rules, notices, self.clock.now())
            });
            state.asking.get_or_insert_with(Asking::default).file(filing.flatten());
            if state == current.value {
                return Ok(());
            }
            if self.store.save_state(&state, Some(current.version)).await? {
                return Ok(());
            }
        }
        Err(PipelineError::Busy(format!("state of {esim_key}")))
    }
}
