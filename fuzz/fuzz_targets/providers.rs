//! Every provider in the list (the first input byte picks one, by name order): arbitrary credentials in the
//! provider's slot (its signature header, or the URL token) never panic and never authenticate; arbitrary
//! bodies signed as the provider signs them, with the current or the rotated secret, authenticate and
//! normalize without panicking, keep their exact bytes, and a whitespace variant of a body keyed by its
//! canonical form is the same delivery; and no customer message made from its alerts carries provider text.
#![no_main]
#[path = "common.rs"]
mod common;

use common::*;
use libfuzzer_sys::fuzz_target;
use shared::model::{DedupeBasis, ProviderId};
use shared::providers::{ProviderConfig, Signature};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let mut ids = ProviderId::ALL.to_vec();
    ids.sort_by_key(|id| id.as_str());
    let id = ids[usize::from(which) % ids.len()];
    let spec = id.spec();
    let provider = (spec.build)(&ProviderConfig::local(ring())).expect("a provider builds from its secrets");
    let path = format!("/webhooks/{id}");
    let (credential, body) = split(rest);

    let forged = match (spec.sign)(body, SECRET) {
        Signature::UrlToken => {
            let token = String::from_utf8_lossy(credential);
            delivery(&path, &format!("token={token}"), &[], body)
        }
        Signature::Header(name, _) => delivery(&path, "", &[(name, credential)], body),
    };
    if provider.authenticate(&forged).is_ok() {
        let given = String::from_utf8_lossy(credential);
        assert!(
            given.contains(SECRET) || given.contains(ROTATED) || given.contains('%') || given.contains('+'),
            "{id} authenticated arbitrary credentials: {given:?}"
        );
    }

    let signed = |body: &[u8], secret: &str| match (spec.sign)(body, secret) {
        Signature::UrlToken => delivery(&path, &format!("token={secret}"), &[], body),
        Signature::Header(name, value) => delivery(&path, "", &[(name, value.as_bytes())], body),
    };
    let Some(event) = must_normalize(provider.as_ref(), &signed(body, SECRET)) else {
        return;
    };
    assert_customer_text_is_ours(&event);
    must_normalize(provider.as_ref(), &signed(body, ROTATED));
    let padded = [b"\n \t".as_slice(), body, b" \r\n"].concat();
    let again = must_normalize(provider.as_ref(), &signed(&padded, SECRET)).expect("padding keeps a body readable");
    if event.dedupe_basis == DedupeBasis::CanonicalBody {
        assert_eq!(again.dedupe_key, event.dedupe_key, "{id}: a whitespace variant is the same delivery");
    }
});
