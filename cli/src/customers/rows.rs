//! Reading a contact file as it streams: CSV with a header row or JSON lines, one row at a time with the line
//! it starts on (LF or CRLF, a UTF-8 byte order mark ignored), never holding more than one line: a line over
//! [`MAX_LINE`] is refused without being read into memory.

use shared::customers::ContactFields;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

/// The longest line (or CSV record, with its quoted line breaks) read; a contact is a few hundred bytes.
pub const MAX_LINE: usize = 64 * 1024;

const BOM: &[u8] = b"\xef\xbb\xbf";

/// The columns, in the order [`set`] knows them.
pub const COLUMNS: [&str; 13] = [
    "provider",
    "iccid",
    "esim_ref",
    "order_ref",
    "name",
    "phone",
    "email",
    "locale",
    "time_zone",
    "customer_id",
    "topup_url",
    "channels",
    "partner_id",
];

fn set(fields: &mut ContactFields, column: usize, value: String) {
    let slot = match column {
        0 => &mut fields.provider,
        1 => &mut fields.iccid,
        2 => &mut fields.esim_ref,
        3 => &mut fields.order_ref,
        4 => &mut fields.name,
        5 => &mut fields.phone,
        6 => &mut fields.email,
        7 => &mut fields.locale,
        8 => &mut fields.time_zone,
        9 => &mut fields.customer_id,
        10 => &mut fields.topup_url,
        11 => &mut fields.channels,
        _ => &mut fields.partner_id,
    };
    *slot = Some(value);
}

/// A line's number and text (`None`: longer than [`MAX_LINE`]).
pub type Line<'a> = (usize, Option<&'a [u8]>);

/// Physical lines with their numbers, the line end (`\n` or `\r\n`) removed.
pub struct Lines<R> {
    reader: R,
    buffer: Vec<u8>,
    number: usize,
}

impl<R: BufRead> Lines<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            buffer: Vec::new(),
            number: 0,
        }
    }

    /// The next line and its number; `None` for the text when it is longer than [`MAX_LINE`] (skipped to its
    /// end without keeping it).
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buffer.clear();
        let mut too_long = false;
        let mut read = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            read = true;
            let end = available.iter().position(|&b| b == b'\n');
            let chunk = &available[..end.unwrap_or(available.len())];
            // One byte of slack for the `\r` of a CRLF line end.
            if !too_long && self.buffer.len() + chunk.len() > MAX_LINE + 1 {
                too_long = true;
                self.buffer = Vec::new();
            }
            if !too_long {
                self.buffer.extend_from_slice(chunk);
            }
            let used = end.map_or(available.len(), |end| end + 1);
            self.reader.consume(used);
            if end.is_some() {
                break;
            }
        }
        if !read {
            return Ok(None);
        }
        self.number += 1;
        if self.buffer.last() == Some(&b'\r') {
            self.buffer.pop();
        }
        if self.number == 1 && self.buffer.starts_with(BOM) {
            self.buffer.drain(..BOM.len());
        }
        if too_long || self.buffer.len() > MAX_LINE {
            return Ok(Some((self.number, None)));
        }
        Ok(Some((self.number, Some(&self.buffer))))
    }

    #[cfg(test)]
    pub fn buffered(&self) -> usize {
        self.buffer.capacity()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: the field's end, or the first of a doubled quote.
    QuoteInQuoted,
}

/// A CSV record being read (RFC 4180, and as lenient as spreadsheets need: a quote inside an unquoted field is
/// text), possibly over several lines when a quoted field holds line breaks.
struct Record {
    fields: Vec<Vec<u8>>,
    field: Vec<u8>,
    state: State,
    bytes: usize,
}

impl Record {
    fn new() -> Self {
        Self {
            fields: Vec::new(),
            field: Vec::new(),
            state: State::FieldStart,
            bytes: 0,
        }
    }

    fn end_field(&mut self) {
        self.fields.push(std::mem::take(&mut self.field));
        self.state = State::FieldStart;
    }

    /// Reads one line into the record; true when the record ends with it.
    fn feed(&mut self, line: &[u8]) -> bool {
        self.bytes += line.len() + 1;
        for &byte in line {
            match (self.state, byte) {
                (State::FieldStart, b'"') => self.state = State::Quoted,
                (State::FieldStart | State::Unquoted | State::QuoteInQuoted, b',') => self.end_field(),
                (State::Quoted, b'"') => self.state = State::QuoteInQuoted,
                (State::Quoted, _) => self.field.push(byte),
                (State::QuoteInQuoted, b'"') => {
                    self.field.push(b'"');
                    self.state = State::Quoted;
                }
                (_, _) => {
                    self.field.push(byte);
                    self.state = State::Unquoted;
                }
            }
        }
        if self.state == State::Quoted {
            self.field.push(b'\n');
            return false;
        }
        self.end_field();
        true
    }

    fn into_texts(self) -> Result<Vec<String>, String> {
        self.fields
            .into_iter()
            .map(|field| String::from_utf8(field).map_err(|_| "not UTF-8 text".to_string()))
            .collect()
    }
}

/// One row: the line it starts on, and its fields or why it cannot be read.
pub type Row = (usize, Result<ContactFields, String>);

pub struct Rows {
    lines: Lines<BufReader<File>>,
    /// CSV: the column of each field, by its place in the header; `None` for JSON lines.
    columns: Option<Vec<usize>>,
    /// The first JSON line, read to tell the format.
    pending: Option<Row>,
}

fn too_long() -> String {
    format!("longer than {MAX_LINE} bytes")
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

fn json_row(line: &[u8]) -> Result<ContactFields, String> {
    serde_json::from_slice(line).map_err(|e| e.to_string())
}

impl Rows {
    /// Opens `file`: JSON lines when it is `.jsonl`/`.ndjson`/`.json` or its first line starts with `{`, else CSV
    /// whose first line is the header.
    pub fn open(file: &Path) -> Result<Self, String> {
        let opened = File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let mut lines = Lines::new(BufReader::with_capacity(MAX_LINE, opened));
        let extension = file
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let first = loop {
            match lines.next_line().map_err(|e| e.to_string())? {
                Some((_, Some(line))) if is_blank(line) => continue,
                Some((number, line)) => break Some((number, line.map(<[u8]>::to_vec))),
                None => break None,
            }
        };
        let Some((number, first)) = first else {
            return Ok(Self {
                lines,
                columns: None,
                pending: None,
            });
        };
        let starts_json = first
            .as_ref()
            .is_some_and(|line| line.trim_ascii_start().starts_with(b"{"));
        if matches!(extension.as_str(), "jsonl" | "ndjson" | "json") || (extension != "csv" && starts_json) {
            let row = first.map_or_else(|| Err(too_long()), |line| json_row(&line));
            return Ok(Self {
                lines,
                columns: None,
                pending: Some((number, row)),
            });
        }
        let header = first.ok_or_else(|| format!("{}: the header row is {}", file.display(), too_long()))?;
        let mut record = Record::new();
        if !record.feed(&header) {
            return Err(format!("{}: the header row has an unclosed quote", file.display()));
        }
        let names = record
            .into_texts()
            .map_err(|e| format!("{}: header: {e}", file.display()))?;
        let mut columns = Vec::new();
        for name in names {
            let name = name.trim().to_ascii_lowercase();
            let Some(column) = COLUMNS.iter().position(|known| *known == name) else {
                return Err(format!(
                    "{}: unknown column {name:?} (known: {})",
                    file.display(),
                    COLUMNS.join(", ")
                ));
            };
            if columns.contains(&column) {
                return Err(format!("{}: column {name:?} twice", file.display()));
            }
            columns.push(column);
        }
        Ok(Self {
            lines,
            columns: Some(columns),
            pending: None,
        })
    }

    /// The next row, in file order; an error only when the file cannot be read.
    pub fn next_row(&mut self) -> Result<Option<Row>, String> {
        if let Some(row) = self.pending.take() {
            return Ok(Some(row));
        }
        let Some(columns) = &self.columns else {
            loop {
                match self.lines.next_line().map_err(|e| e.to_string())? {
                    None => return Ok(None),
                    Some((_, Some(line))) if is_blank(line) => continue,
                    Some((number, Some(line))) => return Ok(Some((number, json_row(line)))),
                    Some((number, None)) => return Ok(Some((number, Err(too_long())))),
                }
            }
        };
        next_csv(&mut self.lines, columns)
    }
}

/// The next CSV record of `lines`, from the line it starts on to the one that ends it.
fn next_csv(lines: &mut Lines<BufReader<File>>, columns: &[usize]) -> Result<Option<Row>, String> {
    let mut record = Record::new();
    let mut start = None;
    loop {
        let Some((number, line)) = lines.next_line().map_err(|e| e.to_string())? else {
            // A quote left open at the end of the file: the record is what was read.
            return Ok(start.map(|start| (start, Err("a quoted field is not closed".to_string()))));
        };
        let start_line = *start.get_or_insert(number);
        let Some(line) = line else {
            return Ok(Some((start_line, Err(too_long()))));
        };
        if start_line == number && is_blank(line) {
            start = None;
            continue;
        }
        if record.feed(line) {
            break;
        }
        if record.bytes > MAX_LINE {
            return Ok(Some((start_line, Err(too_long()))));
        }
    }
    let start = start.unwrap_or_default();
    let texts = match record.into_texts() {
        Ok(texts) => texts,
        Err(why) => return Ok(Some((start, Err(why)))),
    };
    if texts.len() != columns.len() {
        let why = format!("{} fields, the header has {}", texts.len(), columns.len());
        return Ok(Some((start, Err(why))));
    }
    let mut fields = ContactFields::default();
    for (column, value) in columns.iter().zip(texts) {
        set(&mut fields, *column, value);
    }
    Ok(Some((start, Ok(fields))))
}

#[cfg(test)]
mod tests;
