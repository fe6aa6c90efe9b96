//! eSIM Access: arbitrary URL tokens, paths and query strings never panic and never authenticate unless they
//! carry the token; deliveries with the token normalize without panicking.
#![no_main]
#[path = "common.rs"]
mod common;

use common::*;
use libfuzzer_sys::fuzz_target;
use shared::providers::esimaccess::EsimAccess;
use shared::providers::Provider;

fuzz_target!(|data: &[u8]| {
    let provider = EsimAccess::new(ring(), None);
    let (url, body) = split(data);
    let url = String::from_utf8_lossy(url);
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let arbitrary = delivery(&format!("/webhooks/esimaccess/{path}"), query, &[], body);
    if provider.authenticate(&arbitrary).is_ok() {
        let tokens = format!("{url}");
        assert!(
            tokens.contains(SECRET) || tokens.contains(ROTATED) || tokens.contains('%'),
            "authenticated without a token: {url:?}"
        );
    }
    must_normalize(
        &provider,
        &delivery("/webhooks/esimaccess", &format!("token={SECRET}"), &[], body),
    );
});
