use super::*;
use std::io::Cursor;

fn all_lines(text: &[u8]) -> Vec<(usize, Option<String>)> {
    let mut lines = Lines::new(Cursor::new(text.to_vec()));
    let mut read = Vec::new();
    while let Some((number, line)) = lines.next_line().unwrap() {
        read.push((number, line.map(|l| String::from_utf8(l.to_vec()).unwrap())));
    }
    read
}

#[test]
fn lines_are_numbered_alike_for_lf_crlf_and_a_byte_order_mark() {
    let expected = vec![
        (1, Some("a".to_string())),
        (2, Some(String::new())),
        (3, Some("b".to_string())),
    ];
    assert_eq!(all_lines(b"a\n\nb\n"), expected);
    assert_eq!(all_lines(b"a\r\n\r\nb\r\n"), expected);
    assert_eq!(all_lines(b"\xef\xbb\xbfa\r\n\r\nb"), expected, "no final line end");
    assert_eq!(all_lines(b""), vec![]);
}

/// A 10 MiB line is skipped to its end without being kept: the buffer stays within the limit, and the line
/// after it is read.
#[test]
fn a_long_line_is_refused_without_being_buffered() {
    let mut text = vec![b'x'; 10 * 1024 * 1024];
    text.extend_from_slice(b"\r\nnext\n");
    let mut lines = Lines::new(BufReader::with_capacity(8 * 1024, Cursor::new(text)));
    let (number, line) = lines.next_line().unwrap().unwrap();
    assert_eq!((number, line), (1, None));
    assert!(lines.buffered() <= 2 * MAX_LINE, "{} bytes kept", lines.buffered());
    assert_eq!(lines.next_line().unwrap(), Some((2, Some(&b"next"[..]))));
    let exact = [vec![b'y'; MAX_LINE], b"\r\n".to_vec()].concat();
    assert!(
        Lines::new(Cursor::new(exact)).next_line().unwrap().unwrap().1.is_some(),
        "64 KiB is allowed"
    );
}

fn record(lines: &[&str]) -> (bool, Vec<String>) {
    let mut record = Record::new();
    let mut done = false;
    for line in lines {
        done = record.feed(line.as_bytes());
    }
    (done, if done { record.into_texts().unwrap() } else { vec![] })
}

#[test]
fn csv_fields_may_be_quoted_hold_commas_quotes_and_line_breaks() {
    assert_eq!(
        record(&[r#"a,"García, Ana","say ""hi""",,x"y"#]),
        (
            true,
            vec![
                "a".into(),
                "García, Ana".into(),
                r#"say "hi""#.into(),
                String::new(),
                r#"x"y"#.into()
            ]
        )
    );
    assert!(!record(&[r#"a,"two"#]).0, "an open quote goes on on the next line");
    assert_eq!(
        record(&[r#"a,"two"#, r#"lines",b"#]),
        (true, vec!["a".into(), "two\nlines".into(), "b".into()])
    );
}

#[test]
fn rows_start_on_their_own_line_and_the_header_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.csv");
    std::fs::write(
        &file,
        "\u{feff}Provider, ICCID ,name\r\n\r\nairalo,8900000000000000001,\"Ana\r\nGarcía\"\r\nairalo,89,Bo,extra\r\n",
    )
    .unwrap();
    let mut rows = Rows::open(&file).unwrap();
    let (line, first) = rows.next_row().unwrap().unwrap();
    let first = first.unwrap();
    assert_eq!(
        (line, first.iccid.as_deref(), first.name.as_deref()),
        (3, Some("8900000000000000001"), Some("Ana\nGarcía"))
    );
    let (line, second) = rows.next_row().unwrap().unwrap();
    assert_eq!(
        (line, second.unwrap_err()),
        (5, "4 fields, the header has 3".to_string())
    );
    assert!(rows.next_row().unwrap().is_none());

    std::fs::write(&file, "provider,iccid\nairalo,\"89\n").unwrap();
    let mut rows = Rows::open(&file).unwrap();
    let unclosed = rows.next_row().unwrap().unwrap();
    assert_eq!(unclosed, (2, Err("a quoted field is not closed".to_string())));

    std::fs::write(&file, "provider,iccid,mobile\n").unwrap();
    let unknown = Rows::open(&file).err().unwrap();
    assert!(unknown.contains("unknown column \"mobile\""), "{unknown}");
    std::fs::write(&file, "provider,iccid,Iccid\n").unwrap();
    assert!(Rows::open(&file).err().unwrap().contains("twice"));
}
