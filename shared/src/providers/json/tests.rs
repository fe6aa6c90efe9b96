use super::*;

json_fields! {
    struct Sample<'a> {
        "a" => a: Field<'a>,
        "b" => b: Field<'a>,
        "c" => c: Field<'a>,
        "d" => d: Field<'a>,
        "e" => e: Field<'a>,
        "f" => f: Field<'a>,
        "g" => g: Field<'a>,
        "h" => h: Field<'a>,
        "t" => t: Field<'a>,
        "n" => n: Field<'a>,
        "child" => child: Obj<Child<'a>>,
        "list" => list: List<Obj<Child<'a>>>,
    }
}

json_fields! {
    struct Child<'a> {
        "x" => x: Field<'a>,
    }
}

fn sample(json: &str) -> Obj<Sample<'_>> {
    parse(json.as_bytes()).unwrap().0
}

#[test]
fn reads_mixed_types_without_failing() {
    let s = sample(
        r#"{"a": " x ", "b": 12, "c": "34", "d": 1.5e3, "e": -1, "f": "", "g": null, "h": "9e99",
            "t": "2026-04-22T17:16:34Z", "n": {"deep": [1, {"x": 2}]}, "unknown": [{"y": "z"}]}"#,
    );
    assert_eq!(s.a.text().as_deref(), Some("x"));
    assert_eq!(s.a.as_str(), Some("x"));
    assert_eq!(s.b.text().as_deref(), Some("12"));
    assert_eq!(s.b.as_str(), None, "numbers are not names");
    assert_eq!(
        s.d.text().as_deref(),
        Some("1500.0"),
        "rendered as serde_json renders numbers"
    );
    assert_eq!(s.f.text(), None);
    assert_eq!(s.g.text(), None);
    assert!(s.g.is_present() && !s.child.is_object());
    assert!(!Field::Absent.is_present());
    assert_eq!(s.c.whole(), Some(34));
    assert_eq!(s.d.whole(), Some(1500));
    assert_eq!(s.e.whole(), None);
    assert_eq!(s.h.whole(), None);
    assert_eq!(s.h.number(), Some(9e99));
    assert_eq!(s.n, Field::Nested);
    assert_eq!(s.n.text(), None);
    assert!(s.t.instant().is_some());
    assert!(s.b.instant().is_none());
}

#[test]
fn strings_borrow_from_the_body_unless_escaped() {
    let s = sample(r#"{"a": "plain", "b": "with \"quote\""}"#);
    assert!(matches!(s.a, Field::Text(Cow::Borrowed("plain"))));
    assert_eq!(s.b.as_str(), Some("with \"quote\""));
}

#[test]
fn objects_and_lists_of_the_wrong_shape_read_as_empty() {
    let s = sample(r#"{"child": [1, 2], "list": {"x": 1}}"#);
    assert!(!s.child.is_object() && s.child.x == Field::Absent);
    assert!(s.list.0.is_empty());
    let s = sample(r#"{"child": {"x": "in"}, "list": [{"x": 1}, 2, "three"]}"#);
    assert!(s.child.is_object());
    assert_eq!(s.child.x.as_str(), Some("in"));
    let objects: Vec<_> = s.list.0.iter().filter(|c| c.is_object()).collect();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].x.whole(), Some(1));
}

#[test]
fn a_repeated_name_keeps_the_last_value_like_a_map_would() {
    let s = sample(r#"{"a": "first", "child": {"x": 1, "x": 2}, "a": "second"}"#);
    assert_eq!(s.a.as_str(), Some("second"));
    assert_eq!(s.child.x.whole(), Some(2));
}

#[test]
fn escaped_keys_are_matched_by_their_value() {
    let s = sample(r#"{"\u0061": "by escape"}"#);
    assert_eq!(s.a.as_str(), Some("by escape"));
}

#[test]
fn parsed_text_becomes_a_raw_value_verbatim_without_the_fallback() {
    for body in [
        "{\"a\": \"x\"}",
        " {\n  \"a\" : [1, 2.50, {\"b\": null}],\t\"c\": \"\\u00e9 \\\" /\\/ é\" }\r\n",
        "[true,false]",
        "\"just a string\"",
        "\n\t \"padded\"\r\n ",
    ] {
        let (_, text) = parse::<Sample>(body.as_bytes()).unwrap();
        let (raw, padding) = text.to_raw_value();
        // The value verbatim and the whitespace around it apart (a JSON reader drops that whitespace when
        // it reads a stored `raw` back): together the body, which the event's `payload_sha256` hashes.
        assert_eq!([&padding.before, raw.get(), &padding.after].concat(), body);
        assert_eq!(raw.get(), body.trim());
        // The fast path itself, not the checked fallback: serde_json still honours the protocol.
        assert_eq!(raw_value_unchecked(raw.get()).unwrap().get(), body.trim());
    }
}

#[test]
fn trimming_agrees_with_str_trim() {
    for text in [
        "",
        " ",
        "a",
        "abc",
        " a",
        "a ",
        "\ta\n",
        "\u{a0}a",
        "a\u{2003}",
        "\u{e9}",
        "x\u{e9}",
        "\u{85}",
    ] {
        assert_eq!(trim(text), text.trim(), "{text:?}");
    }
}

#[test]
fn non_object_bodies_read_as_empty_and_non_json_fails() {
    assert!(!sample("[1,2]").is_object());
    assert!(!sample("\"x\"").is_object());
    assert!(parse::<Sample>(b"{").is_err());
    assert!(parse::<Sample>(b"{} x").is_err());
}
