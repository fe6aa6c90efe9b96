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
/// One walk over the bytes, writing into one buffer: runs of plain characters are copied whole, and only
/// escapes, `/` and (when escaping) non-ASCII characters are rewritten.
pub fn sdk_form(body: &[u8], non_ascii: NonAscii) -> Option<Vec<u8>> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).ok()?;
    let text = std::str::from_utf8(body).ok()?;
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        at = match byte {
            b' ' | b'\t' | b'\n' | b'\r' => at + 1,
            b'"' => copy_string(text, at + 1, &mut out, non_ascii)?,
            _ => {
                // Outside strings valid JSON is ASCII: numbers, literals and punctuation, kept as they are.
                let run = bytes[at..]
                    .iter()
                    .position(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'"'))
                    .map_or(bytes.len(), |len| at + len);
                out.push_str(text.get(at..run)?);
                run
            }
        };
    }
    Some(out.into_bytes())
}

/// Writes the string whose contents start at `start` (after its opening quote) in the SDK form; returns the
/// index after its closing quote.
fn copy_string(text: &str, start: usize, out: &mut String, non_ascii: NonAscii) -> Option<usize> {
    let bytes = text.as_bytes();
    let plain = |b: u8| b >= 0x20 && b.is_ascii() && !matches!(b, b'"' | b'\\' | b'/');
    out.push('"');
    let mut at = start;
    loop {
        let run = bytes.get(at..)?.iter().position(|&b| !plain(b))? + at;
        out.push_str(text.get(at..run)?);
        at = match bytes[run] {
            b'"' => {
                out.push('"');
                return Some(run + 1);
            }
            b'\\' => {
                let (c, next) = read_escape(bytes, run + 1)?;
                write_char(out, c, non_ascii);
                next
            }
            _ => {
                let c = text.get(run..)?.chars().next()?;
                write_char(out, c, non_ascii);
                run + c.len_utf8()
            }
        };
    }
}

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
