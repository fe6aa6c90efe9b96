//! Roamify: arbitrary signature headers never panic; correctly signed arbitrary bodies authenticate and
//! normalize without panicking (flat and nested layouts, any amounts).
#![no_main]
#[path = "common.rs"]
mod common;

use common::*;
use libfuzzer_sys::fuzz_target;
use shared::providers::roamify::Roamify;
use shared::providers::Provider;

fuzz_target!(|data: &[u8]| {
    let provider = Roamify::new(ring());
    let (header, body) = split(data);
    let _ = provider.authenticate(&delivery(
        "/webhooks/roamify",
        "",
        &[("x-roamify-signature", header)],
        body,
    ));
    let signature = hex::encode(hmac_sha256(SECRET, body));
    must_normalize(
        &provider,
        &delivery(
            "/webhooks/roamify",
            "",
            &[("x-roamify-signature", signature.as_bytes())],
            body,
        ),
    );
});
