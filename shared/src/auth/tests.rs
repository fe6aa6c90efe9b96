use super::*;
use hmac::Hmac;

#[test]
fn secret_eq_requires_exact_bytes() {
    assert!(secret_eq(b"token-A", b"token-A"));
    assert!(!secret_eq(b"token-A", b"token-B"));
    assert!(!secret_eq(b"token-A", b"token-Ax"));
    assert!(!secret_eq(b"", b"token-A"));
}

#[test]
fn credentials_split_from_tokens_at_a_colon() {
    let ring = KeyRing::parse("token-1,user:pa:ss,token-2").unwrap();
    let (basic, tokens) = ring.split_credentials();
    let (basic, tokens) = (basic.unwrap(), tokens.unwrap());
    assert_eq!((basic.len(), tokens.len()), (1, 2));
    assert!(basic.contains(b"user:pa:ss") && !basic.contains(b"token-1"));
    assert!(tokens.contains(b"token-2"));
    assert!(KeyRing::parse("only-a-token").unwrap().split_credentials().0.is_none());
}

#[test]
fn ring_parses_rotation_list_and_refuses_empty() {
    let ring = KeyRing::parse(" a , b\nc,,").unwrap();
    assert_eq!(ring.len(), 3);
    assert!(ring.contains(b"b"));
    assert!(!ring.contains(b"d"));
    assert!(KeyRing::parse(" , \n").is_none());
}

#[test]
fn ring_matches_mac_under_any_secret() {
    let ring = KeyRing::parse("old,new").unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"new").unwrap();
    mac.update(b"body");
    let tag = mac.finalize().into_bytes();
    let keyed = MacRing::<Hmac<Sha256>>::new(&ring);
    assert!(keyed.matches(b"body", &tag));
    assert!(!keyed.matches(b"bodY", &tag));
}

#[test]
fn mac_headers_decode_from_hex_or_base64_only_at_the_right_length() {
    let bytes: Vec<u8> = (0u8..32).collect();
    let hex_form = hex::encode(&bytes);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    assert_eq!(*decode_mac_header(&hex_form, 32).unwrap(), bytes[..]);
    assert_eq!(*decode_mac_header(&hex_form.to_uppercase(), 32).unwrap(), bytes[..]);
    assert_eq!(*decode_mac_header(&b64, 32).unwrap(), bytes[..]);
    assert_eq!(*decode_mac_header(b64.trim_end_matches('='), 32).unwrap(), bytes[..]);
    assert!(decode_mac_header(&hex_form[2..], 32).is_none());
    let long: Vec<u8> = (0u8..64).collect();
    assert_eq!(*decode_mac_header(&hex::encode(&long), 64).unwrap(), long[..]);
    let long_b64 = base64::engine::general_purpose::STANDARD.encode(&long);
    assert_eq!(*decode_mac_header(&long_b64, 64).unwrap(), long[..]);
    assert!(decode_mac_header(&format!("{long_b64}AAAA"), 64).is_none());
    assert!(decode_mac_header(&hex::encode(&long), 65).is_none());
    assert!(decode_mac_header("not a mac", 32).is_none());
    assert!(decode_mac_header("", 32).is_none());
    assert!(decode_mac_header(&b64, 64).is_none());
}

#[test]
fn ct_eq_finds_a_difference_in_any_byte_and_any_length() {
    for len in [0, 1, 7, 8, 9, 31, 32, 33, 64] {
        let a: Vec<u8> = (0..len as u8).collect();
        assert!(ct_eq(&a, &a.clone()), "{len}");
        for i in 0..len {
            for bit in 0..8 {
                let mut b = a.clone();
                b[i] ^= 1 << bit;
                assert!(!ct_eq(&a, &b), "{len} {i} {bit}");
            }
        }
        assert!(!ct_eq(&a, &[a.as_slice(), &[0]].concat()), "{len}: longer");
    }
}

#[test]
fn hex_decoding_agrees_with_the_hex_crate_on_every_byte_pair() {
    let mut out = [0u8; 1];
    for high in 0..=255u8 {
        for low in 0..=255u8 {
            let digits = [high, low];
            let expected = hex::decode(digits).ok();
            assert_eq!(decode_hex(&digits, &mut out), expected.is_some(), "{digits:?}");
            if let Some(expected) = expected {
                assert_eq!(out[..], expected[..]);
            }
        }
    }
    let mut out = [0u8; 3];
    assert!(decode_hex(b"00fFa9", &mut out) && out == [0x00, 0xff, 0xa9]);
    assert!(!decode_hex(b"00fFa", &mut out), "odd length");
    assert!(!decode_hex(b"00fFa9aa", &mut out), "longer than the output");
    assert!(!decode_hex(b"00fFg9", &mut out), "a non-digit anywhere");
}

#[test]
fn secret_debug_hides_value() {
    let s = Secret::new("hunter2");
    assert!(!format!("{s:?}").contains("hunter2"));
    assert!(!format!("{:?}", KeyRing::parse("hunter2").unwrap()).contains("hunter2"));
}
