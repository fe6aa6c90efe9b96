//! eSIM Go: arbitrary signature headers never authenticate by accident or panic; correctly signed arbitrary
//! bodies (hex and base64) always authenticate and normalize without panicking.
#![no_main]
#[path = "common.rs"]
mod common;

use base64::Engine;
use common::*;
use libfuzzer_sys::fuzz_target;
use shared::providers::esimgo::EsimGo;
use shared::providers::Provider;

fuzz_target!(|data: &[u8]| {
    let provider = EsimGo::new(ring(), shared::auth::KeyRing::parse("v2-token"));
    let (header, body) = split(data);
    let forged = delivery("/webhooks/esimgo", "", &[("x-signature-sha256", header)], body);
    let _ = provider.authenticate(&forged);
    let unsigned = delivery("/webhooks/esimgo", std::str::from_utf8(header).unwrap_or(""), &[], body);
    if let Ok(verified) = provider.authenticate(&unsigned) {
        let _ = provider.normalize(verified);
    }
    let tag = hmac_sha256(ROTATED, body);
    let hex_form = hex::encode(&tag);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&tag);
    for signature in [hex_form.as_bytes(), b64.as_bytes()] {
        must_normalize(
            &provider,
            &delivery("/webhooks/esimgo", "", &[("x-signature-sha256", signature)], body),
        );
    }
});
