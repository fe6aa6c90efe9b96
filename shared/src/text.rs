//! Provider text made safe to show people: everything a normalizer keeps from a body (identifiers, names,
//! statuses, messages) passes through [`clean`], so no alert, notification, log line or table built from the
//! normalized event carries a control character, a forged line or an unbounded field. The stored raw payload
//! alone keeps the exact bytes.

use std::borrow::Cow;

/// The longest text kept from one provider field, in UTF-8 bytes. Generous for every real identifier and
/// name, and small enough that keys built from three of them (alert ids) stay within DynamoDB's key limits.
pub const MAX_TEXT_BYTES: usize = 256;

/// Characters that must not reach a person or a terminal, by Unicode general category: controls (Cc: CR, LF,
/// BEL, ESC, C1), format characters (Cf: bidirectional overrides and isolates, zero-width and invisible
/// characters, the soft hyphen, the Arabic letter mark, tags, the byte-order mark), line and paragraph
/// separators (Zl, Zp: a forged line), plus the whole tag block (its unassigned code points too). ASCII is
/// decided without the table.
pub fn is_unsafe(c: char) -> bool {
    use unicode_general_category::{get_general_category, GeneralCategory};
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    ('\u{E0000}'..='\u{E007F}').contains(&c)
        || matches!(
            get_general_category(c),
            GeneralCategory::Control
                | GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
}

/// `text` with each run of unsafe characters (and the spaces around it) made one space, trimmed, and cut to at
/// most `max_bytes` on a character boundary. Text without unsafe characters keeps its spacing. Borrowed when
/// nothing changes, which the usual printable ASCII finds out in one pass without an early exit (so it
/// compiles to wide compares: every delivery cleans a dozen fields).
pub fn clean_to(text: &str, max_bytes: usize) -> Cow<'_, str> {
    let printable = text.bytes().fold(true, |ok, b| ok & (b.wrapping_sub(0x20) < 0x5f));
    if printable && text.len() <= max_bytes && !text.starts_with(' ') && !text.ends_with(' ') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(max_bytes));
    let mut gap = false;
    for c in text.trim().chars() {
        if is_unsafe(c) {
            gap = true;
            continue;
        }
        if gap {
            if c.is_whitespace() {
                continue;
            }
            out.truncate(out.trim_end().len());
        }
        // The run becomes a space only between two kept characters.
        let space = gap && !out.is_empty();
        if out.len() + c.len_utf8() + usize::from(space) > max_bytes {
            break;
        }
        if space {
            out.push(' ');
        }
        gap = false;
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    if out == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(out)
    }
}

/// [`clean_to`] with the field bound, [`MAX_TEXT_BYTES`].
pub fn clean(text: &str) -> Cow<'_, str> {
    clean_to(text, MAX_TEXT_BYTES)
}

/// Whether `iccid` can be an ICCID (ITU-T E.118): 15 to 22 decimal digits, nothing else. Anything else is not
/// used to name an eSIM (it would key its state and alerts, and be shown to people as one).
pub fn is_plausible_iccid(iccid: &str) -> bool {
    (15..=22).contains(&iccid.len()) && iccid.bytes().all(|b| b.is_ascii_digit())
}

/// Text safe to put in HTML, as an element's content or a quoted attribute.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn control_characters_and_forged_lines_become_single_spaces() {
        assert_eq!(clean("8943\r\nALERT fake\u{7}\u{1b}[31m"), "8943 ALERT fake [31m");
        assert_eq!(clean("tx-1\u{2028}Verify your account"), "tx-1 Verify your account");
        assert_eq!(clean("abc\u{202E}fed"), "abc fed");
        assert_eq!(clean(" \t\u{0}x\u{85}y \n"), "x y");
        assert_eq!(clean("a \r\n b"), "a b", "spaces around a control run merge into it");
        for hidden in [
            '\u{061C}',
            '\u{2060}',
            '\u{2064}',
            '\u{206F}',
            '\u{00AD}',
            '\u{E0001}',
            '\u{E0041}',
            '\u{E007F}',
        ] {
            assert!(is_unsafe(hidden), "{hidden:?}");
            assert_eq!(clean(&format!("Ana{hidden}Pay")), "Ana Pay", "{hidden:?}");
        }
        for shown in ['é', 'ł', 'ễ', 'Ж', '한', 'ع', '€', ' '] {
            assert!(!is_unsafe(shown), "{shown:?}");
        }
        assert_eq!(clean("Plan  5 GB"), "Plan  5 GB", "spacing without controls is kept");
        assert_eq!(clean("\u{7}\u{1b}"), "");
        assert!(matches!(clean("IN_USE"), Cow::Borrowed("IN_USE")));
        assert!(
            matches!(clean("Übersee 5 GB"), Cow::Borrowed(_)),
            "printable non-ASCII is kept"
        );
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let long = "é".repeat(200);
        let cut = clean(&long);
        assert!(cut.len() <= MAX_TEXT_BYTES && cut.len() >= MAX_TEXT_BYTES - 1);
        assert!(long.starts_with(&*cut));
        assert_eq!(clean_to("ab cd", 3), "ab");
    }

    #[test]
    fn iccids_are_digits_of_a_plausible_length() {
        assert!(is_plausible_iccid("8943108170001029631"));
        assert!(is_plausible_iccid("894310817000102963"));
        for bad in [
            "8943\r\n1",
            "89431081700010296311234",
            "12345678901234",
            "8943108170001029F31",
            "",
        ] {
            assert!(!is_plausible_iccid(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn cleaned_text_has_no_unsafe_character_and_fits(text in "\\PC{0,40}|[ \\x00-\\x7f\u{80}-\u{9f}\u{ad}\u{61c}\u{2028}\u{202e}\u{2060}-\u{206f}\u{e0041}é]{0,300}") {
            let cleaned = clean(&text);
            prop_assert!(cleaned.len() <= MAX_TEXT_BYTES);
            prop_assert!(!cleaned.chars().any(is_unsafe), "{:?}", cleaned);
            prop_assert_eq!(cleaned.trim(), &*cleaned);
            prop_assert_eq!(clean(&cleaned), cleaned.clone(), "cleaning is idempotent");
            if !text.chars().any(is_unsafe) && text.trim().len() <= MAX_TEXT_BYTES {
                prop_assert_eq!(&*cleaned, text.trim(), "text without unsafe characters is kept as it is");
            }
        }
    }
}
