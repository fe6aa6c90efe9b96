//! Airalo: arbitrary signature headers never panic (a failed raw check also runs the SDK canonicalizer over
//! the arbitrary body); correctly signed arbitrary bodies authenticate and normalize without panicking.
#![no_main]
#[path = "common.rs"]
mod common;

use common::*;
use libfuzzer_sys::fuzz_target;
use shared::model::DedupeBasis;
use shared::providers::airalo::Airalo;
use shared::providers::Provider;

fuzz_target!(|data: &[u8]| {
    let provider = Airalo::new(ring());
    let (header, body) = split(data);
    let _ = provider.authenticate(&delivery("/webhooks/airalo", "", &[("airalo-signature", header)], body));
    let signed = |body: &[u8]| {
        use hmac::{digest::KeyInit, Mac};
        let mut mac = <hmac::Hmac<sha2::Sha512> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(body);
        let signature = hex::encode(mac.finalize().into_bytes());
        delivery(
            "/webhooks/airalo",
            "",
            &[("airalo-signature", signature.as_bytes())],
            body,
        )
    };
    let Some(event) = must_normalize(&provider, &signed(body)) else {
        return;
    };
    // The same JSON text with other whitespace around it is the same delivery when keyed canonically.
    let padded = [b"\n \t".as_slice(), body, b" \r\n"].concat();
    let again = must_normalize(&provider, &signed(&padded)).expect("padding keeps a body readable");
    if event.dedupe_basis == DedupeBasis::CanonicalBody {
        assert_eq!(again.dedupe_basis, DedupeBasis::CanonicalBody);
        assert_eq!(
            again.dedupe_key, event.dedupe_key,
            "a whitespace variant is the same delivery"
        );
    }
});
