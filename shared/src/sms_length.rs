//! How long an SMS really is. Carriers count GSM-7 septets (the GSM 03.38 alphabet, two for its extension
//! characters) or, as soon as one character is outside it, UTF-16 units (UCS-2): 160 septets or 70 units fit
//! one message, and longer texts go in parts of 153 or 67, each billed as a message. One `…` or emoji turns a
//! 160-character text into three UCS-2 parts, so texts are measured and cut here, never by `chars().count()`.

/// The encoding a text needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}

/// A text's size as a carrier counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsSize {
    pub encoding: SmsEncoding,
    /// Septets (GSM-7) or UTF-16 units (UCS-2).
    pub units: usize,
    /// Messages it is sent as (billed as).
    pub segments: usize,
}

/// The GSM 03.38 default alphabet, one septet each.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Its extension table, two septets each (escape + character).
const GSM7_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// What a cut text ends with: in both alphabets, unlike `…`.
pub const CUT_MARK: &str = "...";

/// Septets `c` takes in GSM-7, or `None` when it is not in the alphabet.
fn septets(c: char) -> Option<usize> {
    if c.is_ascii_alphanumeric() || c == ' ' || GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// `c` in the GSM-7 alphabet: itself when it is in it, else its letters without their accents (canonical
/// decomposition with the combining marks dropped: í -> i, ễ -> e, Ş -> S), a letter whose stroke is not an accent
/// (Ł -> L, đ -> d) or typographic punctuation (’ -> ', – -> -); `None` when it has no equivalent (Cyrillic,
/// Hangul, Arabic, emoji).
fn fold_char(c: char, out: &mut String) -> bool {
    use unicode_general_category::{get_general_category, GeneralCategory};
    if septets(c).is_some() {
        out.push(c);
        return true;
    }
    let plain = match c {
        'Ł' => "L",
        'ł' => "l",
        'Đ' | 'Ð' => "D",
        'đ' | 'ð' => "d",
        'Ħ' => "H",
        'ħ' => "h",
        'ı' => "i",
        'Ŧ' => "T",
        'ŧ' => "t",
        'Œ' => "OE",
        'œ' => "oe",
        'Þ' => "Th",
        'þ' => "th",
        'ĸ' => "k",
        'Ŋ' => "N",
        'ŋ' => "n",
        'ſ' => "s",
        '‘' | '’' | '‚' | '‛' | '′' | 'ʼ' => "'",
        '“' | '”' | '„' | '‟' | '″' => "\"",
        '‐' | '‑' | '‒' | '–' | '—' | '−' => "-",
        '…' => "...",
        _ if get_general_category(c) == GeneralCategory::SpaceSeparator => " ",
        _ => "",
    };
    if !plain.is_empty() {
        out.push_str(plain);
        return true;
    }
    let start = out.len();
    let nfd = icu_normalizer::DecomposingNormalizerBorrowed::new_nfd();
    for part in nfd.normalize_iter(std::iter::once(c)) {
        match get_general_category(part) {
            GeneralCategory::NonspacingMark | GeneralCategory::SpacingMark | GeneralCategory::EnclosingMark => {}
            _ if septets(part).is_some() => out.push(part),
            _ => {
                out.truncate(start);
                return false;
            }
        }
    }
    out.len() > start
}

/// `text` with every character in the GSM-7 alphabet (see [`fold_char`]), or `None` when one has no
/// equivalent there. Text already in GSM-7 comes back unchanged.
pub fn fold_to_gsm7(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    text.chars().all(|c| fold_char(c, &mut out)).then_some(out)
}

fn limits(encoding: SmsEncoding) -> (usize, usize) {
    match encoding {
        SmsEncoding::Gsm7 => (160, 153),
        SmsEncoding::Ucs2 => (70, 67),
    }
}

/// The most units `segments` messages hold in `encoding`.
fn capacity(encoding: SmsEncoding, segments: usize) -> usize {
    let (single, part) = limits(encoding);
    if segments <= 1 {
        single
    } else {
        part * segments
    }
}

pub fn measure(text: &str) -> SmsSize {
    let encoding = if text.chars().all(|c| septets(c).is_some()) {
        SmsEncoding::Gsm7
    } else {
        SmsEncoding::Ucs2
    };
    let units = text
        .chars()
        .map(|c| match encoding {
            SmsEncoding::Gsm7 => septets(c).unwrap_or(2),
            SmsEncoding::Ucs2 => c.len_utf16(),
        })
        .sum();
    let (single, part) = limits(encoding);
    let segments = match units {
        0 => 1,
        n if n <= single => 1,
        n => n.div_ceil(part),
    };
    SmsSize {
        encoding,
        units,
        segments,
    }
}

/// `text` as it fits in `segments` messages: whole when it does, else its longest prefix that fits, cut on a
/// character boundary and ended with [`CUT_MARK`]. A prefix before the first character outside GSM-7 is
/// measured in GSM-7, so cutting off an emoji near the end keeps 160 septets, not 70 units.
pub fn fit(text: &str, segments: usize) -> String {
    if measure(text).segments <= segments.max(1) {
        return text.to_string();
    }
    let longest_prefix = |encoding: SmsEncoding| {
        let budget = capacity(encoding, segments) - CUT_MARK.len();
        let (mut used, mut end) = (0, 0);
        for (at, c) in text.char_indices() {
            used += match encoding {
                SmsEncoding::Gsm7 => match septets(c) {
                    Some(n) => n,
                    None => break,
                },
                SmsEncoding::Ucs2 => c.len_utf16(),
            };
            if used > budget {
                break;
            }
            end = at + c.len_utf8();
        }
        end
    };
    let end = longest_prefix(SmsEncoding::Gsm7).max(longest_prefix(SmsEncoding::Ucs2));
    [text[..end].trim_end(), CUT_MARK].concat()
}

/// `head`, a space and `tail` in `segments` messages, the tail (a link) kept whole: when it does not all fit,
/// the head is cut (ending with [`CUT_MARK`]) to make room; a tail that cannot fit whole is left out.
pub fn fit_with_tail(head: &str, tail: &str, segments: usize) -> String {
    let whole = format!("{head} {tail}");
    let fits = |text: &str| measure(text).segments <= segments.max(1);
    if fits(&whole) {
        return whole;
    }
    let cut = |chars: usize| {
        let end = head.char_indices().nth(chars).map_or(head.len(), |(at, _)| at);
        format!("{}{CUT_MARK} {tail}", head[..end].trim_end())
    };
    if !fits(&cut(0)) {
        return fit(head, segments);
    }
    // The longest cut of the head that fits: the size grows with the characters kept.
    let (mut fitting, mut too_long) = (0, head.chars().count());
    while too_long - fitting > 1 {
        let middle = (fitting + too_long) / 2;
        if fits(&cut(middle)) {
            fitting = middle;
        } else {
            too_long = middle;
        }
    }
    cut(fitting)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gsm7_counts_septets_and_two_for_extension_characters() {
        let plain = "eSIM 8943108170001029631 has 10% of its data left (4.98 GB of 50.00 GB).";
        assert_eq!(
            measure(plain),
            SmsSize {
                encoding: SmsEncoding::Gsm7,
                units: plain.len(),
                segments: 1
            }
        );
        assert_eq!(measure("€[x]").units, 7);
        assert_eq!(measure("Übersee à Zürich").encoding, SmsEncoding::Gsm7);
        assert_eq!(measure(&"a".repeat(160)).segments, 1);
        assert_eq!(measure(&"a".repeat(161)).segments, 2);
        assert_eq!(measure(&"€".repeat(80)).segments, 1, "160 septets");
        assert_eq!(measure(&"€".repeat(81)).segments, 2);
    }

    #[test]
    fn one_character_outside_gsm7_makes_it_ucs2() {
        let size = measure("plan ends tomorrow…");
        assert_eq!((size.encoding, size.units), (SmsEncoding::Ucs2, 19));
        let emoji = measure("🌍 Europe 5 GB");
        assert_eq!(
            (emoji.encoding, emoji.units),
            (SmsEncoding::Ucs2, 14),
            "an emoji is two UTF-16 units"
        );
        assert_eq!(measure(&"á".repeat(70)).segments, 1);
        assert_eq!(measure(&"á".repeat(71)).segments, 2);
        assert_eq!(measure(&"á".repeat(134)).segments, 2);
        assert_eq!(measure(&"á".repeat(135)).segments, 3);
    }

    #[test]
    fn a_cut_text_fits_and_ends_with_a_gsm7_mark() {
        let long = "x".repeat(300);
        let cut = fit(&long, 1);
        assert_eq!(measure(&cut).units, 160);
        assert!(cut.ends_with(CUT_MARK));
        let emoji = format!("eSIM on {} bundle", "🌍".repeat(40));
        let cut = fit(&emoji, 1);
        let size = measure(&cut);
        assert!(size.segments == 1 && size.units <= 70, "{size:?}");
        assert!(cut.contains('🌍') && emoji.starts_with(cut.trim_end_matches(CUT_MARK)));
        // An emoji late in a long text is cut off, and what stays is measured in GSM-7.
        let late = format!("{} 🌍", "a".repeat(200));
        let cut = fit(&late, 1);
        assert_eq!(
            measure(&cut),
            SmsSize {
                encoding: SmsEncoding::Gsm7,
                units: 160,
                segments: 1
            }
        );
        assert_eq!(fit("short", 1), "short");
    }

    #[test]
    fn a_link_at_the_end_stays_whole() {
        let link = "https://shop.example/topup?e=25052822150009";
        let head = format!("Travelsim: {}", "your plan has 10% of its data left. ".repeat(6));
        let text = fit_with_tail(&head, link, 1);
        assert!(text.ends_with(&format!("{CUT_MARK} {link}")), "{text}");
        assert_eq!(measure(&text).segments, 1);
        assert!(
            measure(&text).units > 150,
            "the head keeps all the room the link leaves: {text}"
        );
        assert_eq!(fit_with_tail("short", link, 1), format!("short {link}"));
        let huge_link = format!("https://x/{}", "a".repeat(200));
        assert!(
            !fit_with_tail("short", &huge_link, 1).contains("https"),
            "a link that cannot fit is left out"
        );
    }

    #[test]
    fn names_fold_into_gsm7_or_not_at_all() {
        assert_eq!(fold_to_gsm7("Ana García").as_deref(), Some("Ana Garcia"));
        assert_eq!(fold_to_gsm7("Łukasz Żółć").as_deref(), Some("Lukasz Zolc"));
        assert_eq!(fold_to_gsm7("Nguyễn Thị Ánh").as_deref(), Some("Nguyen Thi Anh"));
        assert_eq!(
            fold_to_gsm7("Şükrü Ğ").as_deref(),
            Some("Sükrü G"),
            "ü is in GSM-7: kept"
        );
        assert_eq!(
            fold_to_gsm7("Zoé Müller").as_deref(),
            Some("Zoé Müller"),
            "GSM-7 letters stay as written"
        );
        assert_eq!(fold_to_gsm7("O’Brien – Jr"), Some("O'Brien - Jr".to_string()));
        assert_eq!(fold_to_gsm7("Иван"), None);
        assert_eq!(fold_to_gsm7("김민준"), None);
        assert_eq!(fold_to_gsm7("محمد"), None);
        assert_eq!(fold_to_gsm7("Ana 🌍"), None);
        for folded in ["Ana García", "Łukasz", "Nguyễn", "François", "Ångström"] {
            let text = fold_to_gsm7(folded).unwrap();
            assert_eq!(measure(&text).encoding, SmsEncoding::Gsm7, "{text}");
        }
    }

    proptest! {
        #[test]
        fn folding_gives_gsm7_and_keeps_gsm7_text(text in "\\PC{0,30}") {
            if let Some(folded) = fold_to_gsm7(&text) {
                prop_assert_eq!(measure(&folded).encoding, SmsEncoding::Gsm7);
            }
            if measure(&text).encoding == SmsEncoding::Gsm7 {
                prop_assert_eq!(fold_to_gsm7(&text), Some(text.clone()));
            }
        }

        #[test]
        fn fit_with_tail_fits_and_keeps_the_tail_whole(head in "[a-z €á]{0,300}", tail in "https://[a-z]{1,40}", segments in 1usize..3) {
            let text = fit_with_tail(&head, &tail, segments);
            prop_assert!(measure(&text).segments <= segments);
            prop_assert!(text.ends_with(&tail) || !text.contains("https"));
        }

        #[test]
        fn fit_always_fits_and_keeps_a_prefix(text in "[a-z €🌍á…\n]{0,400}", segments in 1usize..4) {
            let cut = fit(&text, segments);
            prop_assert!(measure(&cut).segments <= segments, "{:?}", measure(&cut));
            let kept = cut.strip_suffix(CUT_MARK).unwrap_or(&cut);
            prop_assert!(text.starts_with(kept));
        }
    }
}
