//! The echo: a simulated notification for one partner, about a simulation or one of its own eSIMs.

use super::{ApiError, Parts};
use crate::callbacks::partner::{Partner, Scope};
use crate::model::ProviderId;
use crate::notification::NotificationType;
use crate::notification::{EchoSubject, Notification};
use crate::reply::Reply;
use futures_util::future::join_all;
use serde_json::json;

impl Parts {
    pub(super) async fn echo(
        &self,
        partner: &Partner,
        kind: NotificationType,
        subject: EchoSubject,
    ) -> Result<Reply, ApiError> {
        let registration = self.find(&partner.id, kind).await?.ok_or_else(|| {
            ApiError::NotFound(format!(
                "no callback is registered for notification type {kind}; register one with PUT /{}/callbacks/{}",
                partner.id,
                kind.number()
            ))
        })?;
        if let EchoSubject::Esim(reference) = &subject {
            self.check_owned(partner, reference).await?;
        }
        let notification = Notification::echo(&partner.id, kind, subject, self.clock.now());
        let message_id = self.transport.publish(&notification).await?;
        tracing::info!(partner = %partner.id, notification_type = kind.number(), "echo published");
        Ok(Reply::json(
            200,
            json!({
                "status": "sent",
                "message_id": message_id,
                "notification_id": notification.body.notification_id,
                "notification_type": kind.number(),
                "notification_name": kind.name(),
                "url": registration.url,
                "subject": notification.body.subject,
            }),
        ))
    }
    /// A partner of scope `own` echoes only about an eSIM it owns: any other reference (another's eSIM, or one
    /// never heard of) gets the same answer, so the echo tells nobody which eSIMs exist.
    async fn check_owned(&self, partner: &Partner, reference: &str) -> Result<(), ApiError> {
        if partner.scope == Scope::All {
            return Ok(());
        }
        let not_yours = || {
            ApiError::NotFound(format!(
                "{reference} is not one of your eSIMs; echo about one assigned to {} or use simulation_id",
                partner.id
            ))
        };
        let states = self.esim_states.as_ref().ok_or_else(not_yours)?;
        let reads = ProviderId::ALL
            .iter()
            .map(|provider| states.load_state(*provider, reference));
        let mut owned = false;
        for read in join_all(reads).await {
            owned |= read?.is_some_and(|state| state.value.owner.as_ref() == Some(&partner.id));
        }
        match owned {
            true => Ok(()),
            false => Err(not_yours()),
        }
    }
}
