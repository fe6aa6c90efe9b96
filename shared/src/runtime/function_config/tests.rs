use super::*;
use std::collections::HashMap;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Sync {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| map.get(name).cloned()
}

const DEPLOYED: &[(&str, &str)] = &[
    ("ESIMHOOKS_TABLE", "events"),
    ("ESIMHOOKS_TOPIC_ARN", "arn:aws:sns:eu-west-1:1:alerts"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    DEPLOYED.iter().chain(extra).copied().collect()
}

#[test]
fn each_function_names_what_it_misses_and_starts_on_the_template_environment() {
    let empty = env_of(&[]);
    let missing = |error: ConfigError| error.to_string();
    assert_eq!(
        missing(WebhookConfig::from_env(&empty).unwrap_err()),
        "ESIMHOOKS_TABLE is not set"
    );
    assert_eq!(
        missing(CustomerSenderConfig::from_env(&empty).unwrap_err()),
        "ESIMHOOKS_TABLE is not set"
    );
    assert_eq!(
        missing(SweepConfig::from_env(&empty).unwrap_err()),
        "ESIMHOOKS_TABLE is not set"
    );
    assert_eq!(
        missing(CustomersApiConfig::from_env(&empty).unwrap_err()),
        "ESIMHOOKS_TABLE is not set"
    );
    assert_eq!(
        missing(CallbackSenderConfig::from_env(&env_of(&[("ESIMHOOKS_TABLE", "events")])).unwrap_err()),
        "ESIMHOOKS_CALLBACKS_QUEUE_URL is not set"
    );
    let deployed = env_of(DEPLOYED);
    let webhook = WebhookConfig::from_env(&deployed).unwrap();
    assert_eq!(
        (webhook.targets.table.as_str(), webhook.core.max_body_bytes),
        ("events", 128 * 1024)
    );
    assert!(webhook.core.customer_messages);
    let sender = CustomerSenderConfig::from_env(&deployed).unwrap();
    assert_eq!(sender.sending.messages_param, None);
    assert_eq!(sender.sending.senders, SenderIdentity::default());
    let api = CallbacksApiConfig::from_env(&deployed).unwrap();
    assert_eq!((api.queue_url, api.limits), (None, Limits::default()));
    assert_eq!(ReconcileConfig::from_env(&deployed).unwrap().concurrency, 2);
}

#[test]
fn the_webhook_functions_start_whatever_the_customer_section_says() {
    let env = env_of(&with(&[("ESIMHOOKS_QUIET_HOURS", "9pm")]));
    assert!(WebhookConfig::from_env(&env).is_ok());
    assert!(CustomersApiConfig::from_env(&env).is_ok());
    assert_eq!(
        CustomerSenderConfig::from_env(&env).unwrap_err().to_string(),
        "ESIMHOOKS_QUIET_HOURS is invalid: \"9pm\" is not HH:MM-HH:MM (or off)"
    );
    let env = env_of(&with(&[
        ("ESIMHOOKS_MESSAGES_PARAM", "/esimhooks/messages"),
        ("ESIMHOOKS_EMAIL_FROM", "a@b.example"),
    ]));
    let sending = CustomerSenderConfig::from_env(&env).unwrap().sending;
    assert_eq!(sending.messages_param.as_deref(), Some("/esimhooks/messages"));
    assert_eq!(sending.senders.email_from.as_deref(), Some("a@b.example"));
}

#[test]
fn the_sweep_hands_batches_to_workers_only_with_a_queue() {
    let alone = SweepConfig::from_env(&env_of(DEPLOYED)).unwrap();
    assert_eq!((alone.workers_queue, alone.in_place), (None, usize::MAX));
    let queue = ("ESIMHOOKS_RECONCILE_QUEUE_URL", "https://sqs/q");
    assert_eq!(SweepConfig::from_env(&env_of(&with(&[queue]))).unwrap().in_place, 500);
    let twenty = env_of(&with(&[queue, ("ESIMHOOKS_SWEEP_IN_PLACE", "20")]));
    assert_eq!(SweepConfig::from_env(&twenty).unwrap().in_place, 20);
    let lots = env_of(&with(&[queue, ("ESIMHOOKS_SWEEP_IN_PLACE", "lots")]));
    assert_eq!(
        SweepConfig::from_env(&lots).unwrap_err().to_string(),
        "ESIMHOOKS_SWEEP_IN_PLACE: must be a number of eSIMs"
    );
}

#[test]
fn the_callback_functions_read_their_policies_once() {
    let queues = |disable_after: &'static str| {
        env_of(&[
            ("ESIMHOOKS_TABLE", "events"),
            ("ESIMHOOKS_CALLBACKS_QUEUE_URL", "https://sqs/jobs"),
            ("ESIMHOOKS_CALLBACKS_DEAD_LETTER_URL", "https://sqs/dead"),
            ("ESIMHOOKS_CALLBACK_RETRY_SCHEDULE", "1m,10m"),
            ("ESIMHOOKS_CALLBACK_DISABLE_AFTER", disable_after),
        ])
    };
    let sender = CallbackSenderConfig::from_env(&queues("2d")).unwrap();
    assert_eq!(sender.delivery.disable_after, chrono::Duration::days(2));
    assert_eq!(
        sender.delivery.schedule,
        crate::callbacks::delivery::RetrySchedule::parse("1m,10m").unwrap()
    );
    assert!(CallbackSenderConfig::from_env(&queues("90d")).is_err());
    let api = env_of(&with(&[
        ("ESIMHOOKS_AUTH_FAILURES_PER_SOURCE", "3"),
        ("ESIMHOOKS_SIGNING_OVERLAP_HOURS", "6"),
        ("ESIMHOOKS_CALLBACKS_QUEUE_URL", "https://sqs/jobs"),
    ]));
    let api = CallbacksApiConfig::from_env(&api).unwrap();
    assert_eq!(api.limits.per_source, 3);
    assert_eq!(api.signing_overlap, chrono::Duration::hours(6));
    assert_eq!(api.queue_url.as_deref(), Some("https://sqs/jobs"));
    let refused = env_of(&with(&[("ESIMHOOKS_RECONCILE_CONCURRENCY", "0")]));
    assert!(ReconcileConfig::from_env(&refused).is_err());
}
