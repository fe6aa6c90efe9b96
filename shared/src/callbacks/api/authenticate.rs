//! Who is calling: the key must be one of the path's partner's keys. Every refusal costs the same work and
//! gets the same answer, whether the partner exists, the key is wrong or the id cannot be one, so neither the
//! answer nor its timing tells which partners exist; repeated failures are throttled (`throttle.rs`).

use super::super::partner::{key_matches, Partner, PartnerId};
use super::super::throttle::subjects;
use super::request::{presented_key, ApiError};
use super::Parts;
use crate::ingress::Delivery;
use crate::store::StoreError;
use futures_util::future::join;

/// Looked up for a path segment that cannot be a partner id, so that costs what an unknown id does; whatever
/// it finds is never accepted.
const STAND_IN_ID: &str = "0-not-a-partner";

impl Parts {
    pub(super) async fn authenticate(&self, segment: &str, request: &Delivery) -> Result<Partner, ApiError> {
        let now = self.clock.now();
        let subjects = subjects(segment, request.source_ip);
        let id = PartnerId::parse(segment);
        // The counters are read beside the partner, so throttling adds no latency and reads the same for any id.
        let check = async {
            match &self.throttle {
                Some(throttle) => throttle.check(&subjects, now).await,
                None => None,
            }
        };
        let (partner, throttled) = join(self.partner_or_stand_in(id.as_ref()), check).await;
        if let Some(throttled) = throttled {
            return Err(ApiError::TooManyFailures {
                subject: throttled.subject,
                retry_after: throttled.retry_after,
            });
        }
        let partner = partner?;
        let key = presented_key(request);
        // The key is hashed and compared against every slot even when there is no partner (`key_matches`).
        let accepted = key_matches(partner.as_ref(), key.unwrap_or_default()) & key.is_some();
        match partner.filter(|_| accepted) {
            Some(partner) => Ok(partner),
            None => {
                if let Some(throttle) = &self.throttle {
                    throttle.record(&subjects, now).await;
                }
                Err(ApiError::Unauthenticated)
            }
        }
    }

    /// The partner `id` names; for no id, a stand-in lookup at the same cost that finds nobody.
    async fn partner_or_stand_in(&self, id: Option<&PartnerId>) -> Result<Option<Partner>, StoreError> {
        match id {
            Some(id) => self.registry.partner(id).await,
            None => match PartnerId::parse(STAND_IN_ID) {
                Some(stand_in) => self.registry.partner(&stand_in).await.map(|_| None),
                None => Ok(None),
            },
        }
    }
}
