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
pub fn sdk_form(body: &[u8], non_ascii: NonAscii) -> Option<Vec<u8>> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).ok()?;
    let text = std::str::from_utf8(body).ok()?;
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {}
            '"' => {
                let value = read_string(&mut chars)?;
                write_string(&mut out, &value, non_ascii);
            }
            other => out.push(other),
        }
    }
    Some(out.into_bytes())
}

/// Reads a JSON string body after its opening quote, decoding escapes.
fn read_string(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> Option<String> {
    let mut value = String::new();
    loop {
        let (_, c) = chars.next()?;
        match c {
            '"' => return Some(value),
            '\\' => {
                let (_, escape) = chars.next()?;
                match escape {
                    '"' | '\\' | '/' => value.push(escape),
                    'b' => value.push('\u{8}'),
                    'f' => value.push('\u{c}'),
                    'n' => value.push('\n'),
                    'r' => value.push('\r'),
                    't' => value.push('\t'),
                    'u' => {
                        let high = read_hex4(chars)?;
                        let code = if (0xD800..0xDC00).contains(&high) {
                            // A surrogate pair: the low half must follow as another \u escape.
                            if chars.next()?.1 != '\\' || chars.next()?.1 != 'u' {
                                return None;
                            }
                            let low = read_hex4(chars)?;
                            0x10000 + ((high - 0xD800) << 10) + low.checked_sub(0xDC00)?
                        } else {
                            high
                        };
                        value.push(char::from_u32(code)?);
                    }
                    _ => return None,
                }
            }
            other => value.push(other),
        }
    }
}

fn read_hex4(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> Option<u32> {
    let mut code = 0;
    for _ in 0..4 {
        code = code * 16 + chars.next()?.1.to_digit(16)?;
    }
    Some(code)
}

fn write_string(out: &mut String, value: &str, non_ascii: NonAscii) {
    use std::fmt::Write;
    out.push('"');
    for c in value.chars() {
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
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

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
