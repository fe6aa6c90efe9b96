//! A lint as a test: every comparison of secret material goes through the constant-time helpers in
//! `auth.rs`. It fails when code elsewhere exposes a secret or compares tokens, signatures or MACs with `==`.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
            // A `tests.rs` is a module's `#[cfg(test)] mod tests;`: test code, like the sections below.
            out.push(path);
        }
    }
}

/// Lines of code (comments and `#[cfg(test)]` modules left out).
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or("")))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect()
}

const SECRET_WORDS: [&str; 6] = ["token", "secret", "signature", "tag", "mac", "api_key"];

#[test]
fn secrets_are_only_compared_in_constant_time() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(files.len() > 10, "found the sources");
    let mut findings = Vec::new();
    for file in &files {
        let name = file.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in code_lines(&text) {
            let lower = line.to_ascii_lowercase();
            if name != "auth.rs" && lower.contains(".expose()") {
                findings.push(format!(
                    "{name}:{number}: a secret is exposed outside auth.rs: {}",
                    line.trim()
                ));
            }
            let compares = line.contains("==") || line.contains("!=");
            let about_secret = SECRET_WORDS.iter().any(|w| lower.contains(w));
            // Length checks and header-name comparisons are not comparisons of secret content.
            let harmless = lower.contains(".len()") || lower.contains("_header") || lower.contains("form != body");
            if compares && about_secret && !harmless {
                findings.push(format!("{name}:{number}: `==` near secret material: {}", line.trim()));
            }
            if name != "auth.rs" && (line.contains("ct_eq") || line.contains("verify_slice")) {
                findings.push(format!("{name}:{number}: constant-time primitive used outside auth.rs"));
            }
        }
    }
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn the_lint_notices_a_plain_comparison() {
    let bad = "fn check(token: &str, expected: &str) -> bool {\n    token == expected\n}\n";
    let flagged = code_lines(bad).iter().any(|(_, l)| {
        let lower = l.to_ascii_lowercase();
        (l.contains("==")) && SECRET_WORDS.iter().any(|w| lower.contains(w))
    });
    assert!(flagged);
}
