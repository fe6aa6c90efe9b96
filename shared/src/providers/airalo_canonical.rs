//! The bytes Airalo's official SDKs compute `airalo-signature` over: the JSON re-serialized compactly with every
//! `/` escaped as `\/` (PHP `json_encode` style). The npm SDK keeps non-ASCII characters as they are
//! (`JSON.stringify`); the PyPI SDK and PHP escape them as `\uXXXX`. Key order and number text are kept as
//! received, which is what a parse and re-serialize of Airalo's (already canonical) output gives.

/// How non-ASCII characters are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonAscii {
    /// As UTF-8 (npm SDK, `JSON.stringify`).
    Verbatim,
    /// As `\uXXXX`, lower-case hex, surrogate pairs beyond the BMP (PyPI SDK, PHP).
    Escaped,
}

/// The SDK form of `body`, or `None` when it is not JSON.
///
/// One walk over the bytes, writing into one buffer: what needs no rewriting (most of a compact body) is
/// copied in whole pieces, and only whitespace between tokens, escapes, `/` and (when escaping) non-ASCII
/// characters are rewritten.
pub fn sdk_form(body: &[u8], non_ascii: NonAscii) -> Option<Vec<u8>> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).ok()?;
    // Valid JSON, so every `"` outside an escape opens or closes a string.
    let text = std::str::from_utf8(body).ok()?;
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    // `text[kept..at]` stays as it is: copied in one piece when something after it is rewritten.
    let mut kept = 0;
    let mut at = 0;
    let mut in_string = false;
    while let Some(&byte) = bytes.get(at) {
        if !MAY_CHANGE[usize::from(byte)] {
            at += 1;
            continue;
        }
        let (rewritten, next) = match byte {
            b'"' => {
                in_string = !in_string;
                at += 1;
                continue;
            }
            b' ' | b'\t' | b'\n' | b'\r' if !in_string => (None, at + 1),
            b'/' => (Some('/'), at + 1),
            b'\\' => {
                let (c, next) = read_escape(bytes, at + 1)?;
                (Some(c), next)
            }
            0x80.. if non_ascii == NonAscii::Escaped => {
                let c = text.get(at..)?.chars().next()?;
                (Some(c), at + c.len_utf8())
            }
            _ => {
                at += 1;
                continue;
            }
        };
        out.push_str(text.get(kept..at)?);
        if let Some(c) = rewritten {
            write_char(&mut out, c, non_ascii);
        }
        (kept, at) = (next, next);
    }
    out.push_str(text.get(kept..)?);
    Some(out.into_bytes())
}

/// The bytes the walk in [`sdk_form`] must look at: the rest are kept without a second glance (one table
/// load and a well-predicted branch each, not a jump through a `match`).
const MAY_CHANGE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < table.len() {
        table[byte] = byte >= 0x80 || matches!(byte as u8, b'"' | b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'\\');
        byte += 1;
    }
    table
};

/// Decodes the escape after a backslash at `at`: the character and the index after the escape.
fn read_escape(bytes: &[u8], at: usize) -> Option<(char, usize)> {
    let c = match *bytes.get(at)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let high = read_hex4(bytes, at + 1)?;
            if !(0xD800..0xDC00).contains(&high) {
                return Some((char::from_u32(high)?, at + 5));
            }
            // A surrogate pair: the low half must follow as another \u escape.
            if bytes.get(at + 5..at + 7)? != b"\\u" {
                return None;
            }
            let low = read_hex4(bytes, at + 7)?.checked_sub(0xDC00)?;
            return Some((char::from_u32(0x10000 + ((high - 0xD800) << 10) + low)?, at + 11));
        }
        _ => return None,
    };
    Some((c, at + 1))
}

fn read_hex4(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at + 4)?
        .iter()
        .try_fold(0, |code, &b| Some(code * 16 + char::from(b).to_digit(16)?))
}

fn write_char(out: &mut String, c: char, non_ascii: NonAscii) {
    use std::fmt::Write;
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '/' => out.push_str("\\/"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x20 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c if c.is_ascii() || non_ascii == NonAscii::Verbatim => out.push(c),
        c => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn form(body: &str, non_ascii: NonAscii) -> String {
        String::from_utf8(sdk_form(body.as_bytes(), non_ascii).unwrap()).unwrap()
    }

    #[test]
    fn compacts_escapes_slashes_and_keeps_key_order_and_numbers() {
        let body = r#"{ "z": "https://a/b", "a": [1, 2.50, -3e2, true, null], "m": {"k": "x\/y"} }"#;
        assert_eq!(
            form(body, NonAscii::Verbatim),
            r#"{"z":"https:\/\/a\/b","a":[1,2.50,-3e2,true,null],"m":{"k":"x\/y"}}"#
        );
    }

    #[test]
    fn non_ascii_either_verbatim_or_escaped_like_php() {
        let body = "{\"m\":\"\u{dc}ber \u{2013} \u{1F600}\",\"c\":\"\\u00dc\\n\\u0001\"}";
        assert_eq!(
            form(body, NonAscii::Verbatim),
            "{\"m\":\"\u{dc}ber \u{2013} \u{1F600}\",\"c\":\"\u{dc}\\n\\u0001\"}"
        );
        assert_eq!(
            form(body, NonAscii::Escaped),
            r#"{"m":"\u00dcber \u2013 \ud83d\ude00","c":"\u00dc\n\u0001"}"#
        );
    }

    /// The PHP-style form of a value, from serde_json's own compact writer (which escapes neither `/` nor
    /// non-ASCII): an independent reference for the single-pass rewrite.
    fn reference(value: &serde_json::Value, non_ascii: NonAscii) -> String {
        let compact = serde_json::to_string(value).unwrap().replace('/', "\\/");
        match non_ascii {
            NonAscii::Verbatim => compact,
            NonAscii::Escaped => compact
                .chars()
                .map(|c| match c.is_ascii() {
                    true => c.to_string(),
                    false => c
                        .encode_utf16(&mut [0; 2])
                        .iter()
                        .map(|u| format!("\\u{u:04x}"))
                        .collect(),
                })
                .collect(),
        }
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[a-z/ \"\\\\\u{0}-\u{1f}\u{e9}\u{2013}\u{1F600}]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-z/\u{e9}]{1,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Pretty-printed or compact, with `/` escaped or not, a body's form is the reference form of its value.
        #[test]
        fn the_single_pass_form_matches_a_reserialization(value in json_value()) {
            let pretty = serde_json::to_string_pretty(&value).unwrap();
            let slashes_escaped = pretty.replace('/', "\\/");
            for body in [&pretty, &slashes_escaped] {
                for non_ascii in [NonAscii::Verbatim, NonAscii::Escaped] {
                    prop_assert_eq!(form(body, non_ascii), reference(&value, non_ascii), "{}", body);
                }
            }
        }
    }

    #[test]
    fn refuses_what_is_not_json() {
        assert!(sdk_form(b"{\"a\":", NonAscii::Verbatim).is_none());
        assert!(
            sdk_form(b"\"\\ud800\"", NonAscii::Verbatim).is_none(),
            "a lone surrogate has no canonical form"
        );
        assert!(sdk_form(&[0xff], NonAscii::Escaped).is_none());
    }
}
