use super::*;
use crate::customers::Templates;
use crate::providers::{provider_from_env, SourceChecks};
use chrono::Duration;
use std::collections::HashMap;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Sync {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| map.get(name).cloned()
}

struct OneParam;

#[async_trait]
impl SecretSource for OneParam {
    async fn parameter(&self, name: &str) -> Result<String, SecretError> {
        (name == "/esimhooks/esimaccess")
            .then(|| "from-ssm-1,from-ssm-2".to_string())
            .ok_or(SecretError::Unavailable("ParameterNotFound".into()))
    }
}

/// The core section is what the webhook functions read: the same values as the whole, and a customer
/// setting they do not use cannot stop them.
#[test]
fn the_core_section_reads_as_the_whole_and_ignores_the_customer_section() {
    let env = env_of(&[
        ("ESIMHOOKS_LOW_DATA_LEVELS", "30,5"),
        ("ESIMHOOKS_RETENTION_DAYS", "90"),
        ("ESIMHOOKS_PARTNER_EVENTS", "true"),
        ("ESIMHOOKS_CUSTOMER_MESSAGES", "false"),
    ]);
    let (core, whole) = (CoreSettings::from_env(&env).unwrap(), Settings::from_env(&env).unwrap());
    assert_eq!(
        core.pipeline.rules.low_data_levels(),
        whole.pipeline.rules.low_data_levels()
    );
    assert_eq!(core.pipeline.rules.low_data_levels(), [30, 5]);
    assert_eq!(
        (core.retention, whole.retention),
        (Duration::days(90), Duration::days(90))
    );
    assert!(core.partner_events && whole.partner_events);
    assert!(!core.customer_messages && !whole.customers.enabled);
    assert!(CoreSettings::from_env(&env_of(&[])).unwrap().customer_messages);

    let night_owl = env_of(&[("ESIMHOOKS_QUIET_HOURS", "9pm"), ("ESIMHOOKS_SMS_PARTS", "7")]);
    assert!(Settings::from_env(&night_owl).is_err());
    assert!(CoreSettings::from_env(&night_owl).is_ok());
    let bad_core = env_of(&[("ESIMHOOKS_CUSTOMER_MESSAGES", "maybe")]);
    assert!(CoreSettings::from_env(&bad_core).is_err());
}

#[test]
fn defaults_and_overrides() {
    let s = Settings::from_env(&env_of(&[])).unwrap();
    assert_eq!(s.pipeline.rules.low_data_levels(), &[20, 10]);
    assert_eq!(s.pipeline.rules.expiry_window, Duration::hours(24));
    let s = Settings::from_env(&env_of(&[
        ("ESIMHOOKS_LOW_DATA_LEVELS", "5%, 25"),
        ("ESIMHOOKS_EXPIRY_WINDOW_HOURS", "48"),
    ]))
    .unwrap();
    assert_eq!(s.pipeline.rules.low_data_levels(), &[25, 5]);
    assert_eq!(s.pipeline.rules.expiry_window, Duration::hours(48));
    assert!(Settings::from_env(&env_of(&[("ESIMHOOKS_LOW_DATA_LEVELS", "lots")])).is_err());
    assert!(Settings::from_env(&env_of(&[("ESIMHOOKS_MAX_BODY_BYTES", "10000000")])).is_err());
}

#[test]
fn targets_are_required() {
    assert_eq!(
        AwsTargets::from_env(&env_of(&[("ESIMHOOKS_TABLE", "t")])),
        Err(ConfigError::Missing("ESIMHOOKS_TOPIC_ARN".into()))
    );
}

#[tokio::test]
async fn secrets_from_ssm_win_and_missing_secrets_fail_closed() {
    let env = env_of(&[
        ("ESIMACCESS_SECRETS_PARAM", "/esimhooks/esimaccess"),
        ("ESIMACCESS_SECRETS", "plain"),
    ]);
    let ring = provider_secrets(ProviderId::EsimAccess, &env, &OneParam).await.unwrap();
    assert!(ring.contains(b"from-ssm-2") && !ring.contains(b"plain"));
    let env = env_of(&[("ESIMACCESS_SECRETS_PARAM", "/wrong")]);
    assert!(matches!(
        provider_secrets(ProviderId::EsimAccess, &env, &OneParam).await,
        Err(ConfigError::Secret { .. })
    ));
    assert!(matches!(
        provider_from_env(ProviderId::EsimAccess, &env_of(&[]), &OneParam, SourceChecks::Deployed).await,
        Err(ConfigError::Missing(_))
    ));
}

/// The typed errors say exactly what the `String` errors they replaced said: operators and the CLI see these.
#[test]
fn settings_errors_keep_their_wording() {
    let text = |pairs: &[(&str, &str)], read: fn(Env<'_>) -> Result<(), ConfigError>| {
        read(&env_of(pairs)).unwrap_err().to_string()
    };
    assert_eq!(
        text(&[("ESIMHOOKS_SIGNING_OVERLAP_HOURS", "-1")], |env| {
            crate::callbacks::partner::signing_overlap(env).map(drop)
        }),
        "ESIMHOOKS_SIGNING_OVERLAP_HOURS is not a number of hours"
    );
    assert_eq!(
        text(&[("ESIMHOOKS_AUTH_FAILURES_PER_SOURCE", "0")], |env| {
            crate::callbacks::throttle::Limits::from_env(env).map(drop)
        }),
        "ESIMHOOKS_AUTH_FAILURES_PER_SOURCE is not a whole number of failures, 1 or more"
    );
    let disable_after = |env: Env<'_>| crate::callbacks::delivery::disable_after(env).map(drop);
    assert_eq!(
        text(&[("ESIMHOOKS_CALLBACK_DISABLE_AFTER", "5x")], disable_after),
        "ESIMHOOKS_CALLBACK_DISABLE_AFTER: \"5x\" has no unit (s, m, h or d)"
    );
    assert_eq!(
        text(&[("ESIMHOOKS_CALLBACK_DISABLE_AFTER", "31d")], disable_after),
        "ESIMHOOKS_CALLBACK_DISABLE_AFTER must be between 1h and 30d"
    );
    assert_eq!(
        crate::callbacks::delivery::RetrySchedule::parse("5s,3d")
            .unwrap_err()
            .to_string(),
        "\"3d\" is not between 1 second and 2 days"
    );
    assert_eq!(
        Settings::from_env(&env_of(&[("ESIMHOOKS_QUIET_HOURS", "9pm")]))
            .unwrap_err()
            .to_string(),
        "ESIMHOOKS_QUIET_HOURS is invalid: \"9pm\" is not HH:MM-HH:MM (or off)"
    );
    assert_eq!(
        Templates::with_overrides(r#"{"plans": {"nosuch": {"p": "P"}}}"#)
            .unwrap_err()
            .to_string(),
        "customer message templates: plans: unknown provider \"nosuch\""
    );
    assert_eq!(
        crate::model::PartnerId::try_from("X".to_string())
            .unwrap_err()
            .to_string(),
        "invalid partner id \"X\""
    );
    let shape = crate::reconcile::CredentialShape::ClientCredentials;
    assert_eq!(
        crate::reconcile::ApiCredentials::parse("id-only", shape)
            .unwrap_err()
            .to_string(),
        "expected client_id:client_secret"
    );
}
