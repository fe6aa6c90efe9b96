//! `PUT /customers/{provider}/{esim}`: the reseller's order system registers a sold eSIM's contact. The route
//! is authorized by API Gateway with AWS IAM (SigV4, the caller's own credentials); the handler also refuses
//! any request that reached it without an IAM caller, so a route deployed without the authorizer fails closed.
//! `{esim}` is an ICCID or the provider's eSIM reference (`?by=order`: the reseller's order reference); the
//! body is the contact's fields as JSON (the columns of `customers import`, `provider` and the identifier
//! taken from the path).

use super::named::NamedEsims;
use super::{Contact, ContactFields, ContactStore, EsimRef, Upserted};
use crate::api_error::ApiAnswers;
use crate::ingress::Delivery;
use crate::model::ProviderId;
use crate::reply::{NotConfigured, Reply};
use lambda_http::http::Method;
use serde_json::json;
use std::sync::Arc;

/// The largest contact body accepted.
pub const MAX_CONTACT_BODY_BYTES: usize = 8 * 1024;

/// The directory API's errors: the one API error type.
pub type CustomersApiError = crate::api_error::ApiError;

/// What the directory API answers when it cannot serve a request for now: the reseller's order system retries
/// later.
pub const DIRECTORY_API: ApiAnswers = ApiAnswers {
    unavailable: "a dependency failed; retry later",
    retry_after: 30,
};

pub struct CustomersApi {
    /// The directory, or why this function is not configured (every request is then a 503).
    contacts: Result<Arc<dyn ContactStore>, NotConfigured>,
    /// Files the eSIMs a contact names for their provider's API to be asked, where a provider is asked.
    named: Option<NamedEsims>,
}

impl CustomersApi {
    pub fn new(contacts: Arc<dyn ContactStore>) -> Self {
        Self {
            contacts: Ok(contacts),
            named: None,
        }
    }

    /// Files each eSIM a contact names that nothing was heard of yet, to be asked its provider.
    pub fn with_named(mut self, named: NamedEsims) -> Self {
        self.named = Some(named);
        self
    }

    pub fn fail_closed(reason: impl std::fmt::Display) -> Self {
        let reason = reason.to_string();
        tracing::error!(
            reason,
            "configuration incomplete: refusing every customer request until it is fixed"
        );
        Self {
            contacts: Err(NotConfigured(reason)),
            named: None,
        }
    }

    /// Answers one request. `caller` is the IAM principal API Gateway authenticated (its ARN), if any.
    pub async fn handle(&self, request: &Delivery, caller: Option<&str>) -> Reply {
        match self.try_handle(request, caller).await {
            Ok(upserted) => {
                let outcome = match upserted {
                    Upserted::Created => "created",
                    Upserted::Updated => "updated",
                    Upserted::Unchanged => "unchanged",
                };
                tracing::info!(outcome, "customer contact registered");
                Reply::json(200, json!({"outcome": outcome}))
            }
            Err(error) => {
                if error.status() >= 500 {
                    tracing::error!(%error, "customer contact not registered");
                } else {
                    tracing::warn!(code = error.code(), "customer contact request refused");
                }
                error.reply_on(DIRECTORY_API)
            }
        }
    }

    async fn try_handle(&self, request: &Delivery, caller: Option<&str>) -> Result<Upserted, CustomersApiError> {
        if caller.is_none_or(str::is_empty) {
            return Err(CustomersApiError::NotAuthorized);
        }
        let path = request.path.trim_end_matches('/');
        let rest = path
            .split_once("/customers/")
            .map(|(_, rest)| rest)
            .ok_or_else(|| CustomersApiError::NotFound("no such route".into()))?;
        let (provider_name, esim) = match rest.split('/').collect::<Vec<_>>()[..] {
            [provider, esim] if !esim.is_empty() => (provider, esim),
            _ => return Err(CustomersApiError::NotFound("use /customers/{provider}/{esim}".into())),
        };
        if request.method != Method::PUT {
            return Err(CustomersApiError::MethodNotAllowed(request.method.to_string()));
        }
        let provider = ProviderId::parse(provider_name)
            .ok_or_else(|| CustomersApiError::NotFound(format!("unknown provider {provider_name}")))?;
        if request.body.len() > MAX_CONTACT_BODY_BYTES {
            return Err(CustomersApiError::PayloadTooLarge(MAX_CONTACT_BODY_BYTES));
        }
        let by_order = request.query_param("by").as_deref() == Some("order");
        let esim = if by_order {
            EsimRef::Order(esim.to_string())
        } else {
            EsimRef::guess(esim)
        };
        let mut fields: ContactFields = serde_json::from_slice(&request.body)
            .map_err(|e| CustomersApiError::BadRequest(format!("the body is not a contact: {e}")))?;
        if fields.provider.as_deref().is_some_and(|p| p != provider.as_str()) {
            return Err(CustomersApiError::BadRequest("provider differs from the path's".into()));
        }
        fields.provider = Some(provider.to_string());
        let slot = match &esim {
            EsimRef::Iccid(_) => &mut fields.iccid,
            EsimRef::Esim(_) => &mut fields.esim_ref,
            EsimRef::Order(_) => &mut fields.order_ref,
        };
        match slot {
            Some(given) if given.trim() != esim.value() => {
                return Err(CustomersApiError::BadRequest(format!(
                    "{} differs from the path's",
                    esim.kind()
                )))
            }
            _ => *slot = Some(esim.value().to_string()),
        }
        let contact = Contact::from_fields(&fields).map_err(|e| CustomersApiError::BadRequest(e.to_string()))?;
        let contacts = self
            .contacts
            .as_ref()
            .map_err(|NotConfigured(reason)| CustomersApiError::Unavailable(reason.clone()))?;
        let upserted = contacts
            .upsert(&contact)
            .await
            .map_err(|e| CustomersApiError::Unavailable(e.to_string()))?;
        if let Some(named) = &self.named {
            // The contact is saved; an eSIM not filed now is filed when it is first heard of. An owner not
            // recorded fails the request, so its retry records it.
            if let Err(error) = named.file(&contact).await {
                if contact.partner_id.is_some() {
                    return Err(CustomersApiError::Unavailable(error.to_string()));
                }
                let provider = provider.as_str();
                tracing::warn!(provider, %error, "the eSIM a contact names was not filed to be asked");
            }
        }
        Ok(upserted)
    }
}
