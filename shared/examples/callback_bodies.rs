//! Prints one callback body of every notification type, as a partner's URL receives it inside SNS's
//! `Message` (the examples in docs/callbacks.md): `cargo run -p shared --example callback_bodies`.

use chrono::{DateTime, Utc};
use shared::callbacks::{EchoSubject, Notification, NotificationType, PartnerId};

fn main() {
    let now: DateTime<Utc> = "2026-11-23T09:00:00Z".parse().expect("static time");
    let partner = PartnerId::parse("acme-travel").expect("static id");
    for kind in NotificationType::ALL {
        let echo = Notification::echo(&partner, kind, EchoSubject::Esim("8944500102198304826".into()), now);
        // The body of a real notification: same shape, not a test, no partner or subject.
        let mut body = echo.body;
        body.test = false;
        body.partner_id = None;
        body.subject = None;
        println!("### {} `{}`\n", kind.number(), kind.name());
        println!(
            "```json\n{}\n```\n",
            serde_json::to_string_pretty(&body).expect("serializable")
        );
    }
}
