//! Airalo: arbitrary signature headers never panic (a failed raw check also runs the SDK canonicalizer over
//! the arbitrary body); correctly signed arbitrary bodies authenticate and normalize without panicking.
#![no_main]
#[path = "common.rs"]
mod common;

use common::*;
use libfuzzer_sys::fuzz_target;
use shared::providers::airalo::Airalo;
use shared::providers::Provider;

fuzz_target!(|data: &[u8]| {
    let provider = Airalo::new(ring());
    let (header, body) = split(data);
    let _ = provider.authenticate(&delivery("/webhooks/airalo", "", &[("airalo-signature", header)], body));
    let signature = {
        use hmac::{digest::KeyInit, Mac};
        let mut mac = <hmac::Hmac<sha2::Sha512> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    };
    must_normalize(
        &provider,
        &delivery(
            "/webhooks/airalo",
            "",
            &[("airalo-signature", signature.as_bytes())],
            body,
        ),
    );
});
