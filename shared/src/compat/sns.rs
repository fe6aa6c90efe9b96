//! `sns-subscriptions`: partner callbacks went through SNS HTTPS subscriptions on the alerts topic before
//! esimhooks delivered them itself; an endpoint item still names its subscription (`subscription_arn`), which
//! is removed when the endpoint is registered again, deleted, or its partner removed, and by `esimhooks
//! partners retire-sns` for all at once. Not a table rewrite (SNS has to be asked): `esimhooks migrate` counts
//! the endpoints still subscribed. Remove in 0.3.0, once it reports none on every table.

pub const NAME: &str = "sns-subscriptions";

/// The SNS subscription an endpoint still has from before, if any (`subscription_arn`, empty when none).
pub fn subscription(subscription_arn: &str) -> Option<&str> {
    (!subscription_arn.is_empty()).then_some(subscription_arn)
}
