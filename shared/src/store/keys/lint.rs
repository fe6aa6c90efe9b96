//! A lint as a test: no store key or key prefix is built outside `store/keys.rs` (and its submodules; the keys of
//! older layouts in `compat.rs` and `compat/`, which read them). It
//! reads the production sources of `shared` and `cli` and fails on a string literal that spells one (a word
//! glued to `#` at its start, `"PARTNER#{id}"`, `"rate#"`; an upper-case word glued to `#` anywhere; a
//! placeholder glued to `#`, `"{provider}#{key}"`) and on a sort-key constant (`const PARTNER_SK`). Test code
//! (`tests*.rs`, `#[cfg(test)]` items) is left out: it may spell the keys it expects.

use std::path::{Path, PathBuf};

/// Files whose literals join parts with `#` but build no store key, each with why.
const NOT_KEYS: [(&str, &str); 2] = [
    (
        "shared/src/alert_document.rs",
        "an alert's id: its identity, sent to partners; keys take it whole",
    ),
    (
        "shared/src/callbacks/notification.rs",
        "the sample alert's id, built as a real one is",
    ),
];

/// What the lint reads of a source: string literals and the names constants are declared with.
#[derive(Debug, PartialEq)]
enum Token {
    Literal(String),
    Constant(String),
}

/// The production tokens of `source` with their line: comments and `#[cfg(test)]` items are skipped, and
/// strings, raw strings and char literals are told apart, so `"//"`, `'"'` or `r#"{"a"}"#` mislead nothing.
fn tokens(source: &str) -> Vec<(usize, Token)> {
    let chars: Vec<char> = source.chars().collect();
    let at = |i: usize, text: &str| text.chars().enumerate().all(|(k, c)| chars.get(i + k) == Some(&c));
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let (mut found, mut i, mut line, mut depth) = (Vec::new(), 0, 1, 0usize);
    // After `#[cfg(test)]`: waiting for its item's `{` (skipped to the matching `}`) or `;`.
    let (mut cfg_test, mut skipping_from, mut after_const) = (false, None::<usize>, false);
    while i < chars.len() {
        let (c, start) = (chars[i], line);
        let mut literal = |text: String| {
            if skipping_from.is_none() {
                found.push((start, Token::Literal(text)));
            }
        };
        if at(i, "//") {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if at(i, "/*") {
            let mut nested = 0;
            while i < chars.len() {
                nested += i32::from(at(i, "/*")) - i32::from(at(i, "*/"));
                line += usize::from(chars[i] == '\n');
                i += if at(i, "/*") || at(i, "*/") { 2 } else { 1 };
                if nested == 0 {
                    break;
                }
            }
        } else if at(i, "#[cfg(test)]") {
            cfg_test = true;
            i += "#[cfg(test)]".len();
        } else if let Some((prefix, hashes)) = raw_string_at(&chars, i) {
            // `r##"...`: the text runs to a quote and as many `#`s.
            let close = format!("\"{}", "#".repeat(hashes));
            i += prefix + hashes + 1;
            let mut text = String::new();
            while i < chars.len() && !at(i, &close) {
                line += usize::from(chars[i] == '\n');
                text.push(chars[i]);
                i += 1;
            }
            literal(text);
            i += close.len();
        } else if c == '"' {
            let mut text = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    text.push(chars[i]);
                    i += 1;
                }
                line += usize::from(chars[i] == '\n');
                text.push(chars[i]);
                i += 1;
            }
            literal(text);
            i += 1;
        } else if c == '\'' && chars.get(i + 1) == Some(&'\\') {
            // An escaped char literal (`'\''`, `'\u{10FFFF}'`), whole.
            i += 3;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            // A char literal (`'"'`, `'{'`); a lifetime's `'` is stepped over alone, below.
            i += 3;
        } else if is_word(c) && !(i > 0 && is_word(chars[i - 1])) {
            let word: String = chars[i..].iter().take_while(|c| is_word(**c)).collect();
            if after_const && skipping_from.is_none() {
                found.push((line, Token::Constant(word.clone())));
            }
            after_const = word == "const" || word == "static";
            // `b"..."` and `br#"..."`: the string starts after the `b`.
            i += if word == "b" || word == "br" { 1 } else { word.len() };
        } else {
            match c {
                '{' => {
                    if cfg_test && skipping_from.is_none() {
                        skipping_from = Some(depth);
                    }
                    cfg_test = false;
                    depth += 1;
                }
                '}' => {
                    depth = depth.saturating_sub(1);
                    if skipping_from == Some(depth) {
                        skipping_from = None;
                    }
                }
                ';' => cfg_test = false,
                '\n' => line += 1,
                _ => {}
            }
            i += 1;
        }
    }
    found
}

/// The length of the prefix (`r` or `br`) and the number of `#`s of a raw string starting at `i`, if one does.
fn raw_string_at(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let starts_token = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let prefix = match chars.get(i..i + 2) {
        Some(['b', 'r']) if starts_token => 2,
        Some(['r', _]) if starts_token => 1,
        _ => return None,
    };
    let hashes = chars[i + prefix..].iter().take_while(|c| **c == '#').count();
    (chars.get(i + prefix + hashes) == Some(&'"')).then_some((prefix, hashes))
}

/// Why `token` looks like a key being built, if it does.
fn spells_a_key(token: &Token) -> Option<&'static str> {
    let text = match token {
        Token::Constant(name) if name.ends_with("_SK") => return Some("a sort key constant"),
        Token::Constant(_) => return None,
        Token::Literal(text) => text,
    };
    let word = text
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .count();
    if word > 0 && text[word..].starts_with('#') {
        return Some("a word glued to `#`: a key prefix");
    }
    let bytes = text.as_bytes();
    for k in (0..bytes.len()).filter(|k| bytes[*k] == b'#') {
        let before = &bytes[..k];
        if before.iter().rev().take_while(|c| c.is_ascii_uppercase()).count() >= 2 {
            return Some("an upper-case word glued to `#`: a key prefix");
        }
        // `}}#` is a literal brace; `}#` ends a placeholder.
        if before.ends_with(b"}") && !before.ends_with(b"}}") {
            return Some("a value glued to `#`: a composite key");
        }
    }
    None
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().and_then(|n| n.to_str()).unwrap_or_default();
        let test_file = stem.starts_with("tests") || stem.ends_with("tests");
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !test_file {
            out.push(path);
        }
    }
}

/// Every key built outside `store/keys` in the production sources under `dirs` of `root`.
fn findings(root: &Path, dirs: &[&str]) -> Vec<String> {
    let mut findings = Vec::new();
    for dir in dirs {
        let mut files = Vec::new();
        sources(&root.join(dir), &mut files);
        assert!(files.len() > 10, "found the sources of {dir}");
        for file in files {
            let name = file.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            // The keys of older layouts are spelled where they are read, until they are removed.
            let keys = name == "shared/src/store/keys.rs"
                || name.starts_with("shared/src/store/keys/")
                || name == "shared/src/compat.rs"
                || name.starts_with("shared/src/compat/");
            if keys || NOT_KEYS.iter().any(|(allowed, _)| *allowed == name) {
                continue;
            }
            for (line, token) in tokens(&std::fs::read_to_string(&file).unwrap()) {
                if let Some(why) = spells_a_key(&token) {
                    findings.push(format!("{name}:{line}: {token:?}: {why}"));
                }
            }
        }
    }
    findings
}

#[test]
fn no_key_is_built_outside_store_keys() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let findings = findings(workspace, &["shared/src", "cli/src"]);
    assert!(
        findings.is_empty(),
        "build these in shared/src/store/keys.rs:\n{}",
        findings.join("\n")
    );
}

#[test]
fn the_lint_sees_a_key_built_elsewhere_and_nothing_else() {
    let source = r####"
        // format!("PARTNER#{id}") in a comment is no key
        fn partner_pk(id: &str) -> String {
            format!("PARTNER#{id}")
        }
        fn subject(ip: &str) -> String { format!("source#{ip}") }
        fn joined(a: &str, b: &str) -> String { format!("{a}#{b}") }
        const QUOTE: char = '"';
        const APOSTROPHE: char = '\'';
        fn url() -> &'static str { "https://a/#fragment" /* "EVENT#" */ }
        fn placeholder() -> &'static str { "#attempt = :attempt" }
        fn raw() -> &'static str { r#"{"k": "v"}"# }
        fn bytes() -> &'static [u8] { br#"{"k": "v"}"# }
        pub const RATE_SK: &str = "RATE";
        fn prefix() -> &'static str { "CALLBACK#" }
        #[cfg(test)]
        mod tests {
            const STATE_SK: &str = "STATE";
            fn expected() -> &'static str { "EVENT#roamify#k" }
        }
    "####;
    let flagged: Vec<(usize, String)> = tokens(source)
        .into_iter()
        .filter(|(_, token)| spells_a_key(token).is_some())
        .map(|(line, token)| (line, format!("{token:?}")))
        .collect();
    let expected = [
        (4, r#"Literal("PARTNER#{id}")"#),
        (6, r#"Literal("source#{ip}")"#),
        (7, r#"Literal("{a}#{b}")"#),
        (14, r#"Constant("RATE_SK")"#),
        (15, r#"Literal("CALLBACK#")"#),
    ];
    assert_eq!(flagged, expected.map(|(line, token)| (line, token.to_string())));
}
