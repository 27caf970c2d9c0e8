//! Bulk import: splitting a byte stream into rows with bounded memory, and parsing NDJSON and
//! CSV rows into a subject id and field values. Pure: the transport feeds chunks in.

use super::service::Values;
use super::value::FieldType;

/// The longest row accepted, in bytes.
pub const MAX_ROW: usize = 256 * 1024;

/// Splits chunks of bytes into rows, holding at most one row in memory; a row longer than
/// [`MAX_ROW`] is reported as too long and skipped. A row ends at a `\n` (an `\r` before it
/// is dropped), except, for CSV ([`LineSplitter::csv`]), inside a quoted cell (RFC 4180: a
/// cell that starts with `"` runs to its closing quote, newlines included). A UTF-8
/// byte-order mark at the start of the stream (spreadsheets write one) is dropped. Each row
/// carries the number of the line it starts on, so a report names the line a user sees.
#[derive(Debug)]
pub struct LineSplitter {
    buf: Vec<u8>,
    skipping: bool,
    /// Quote-aware (CSV) or not (NDJSON).
    csv: bool,
    /// Where the CSV scanner is within the current row.
    state: CsvState,
    /// Lines ended so far (newlines seen).
    lines: u64,
    /// The line the current row starts on (1-based).
    start: u64,
    /// How many bytes of a leading byte-order mark are still to be matched (0 once the
    /// stream's first bytes are past).
    bom_left: usize,
}

/// The UTF-8 byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Where a CSV row's bytes stand, for RFC 4180 quoting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CsvState {
    /// At the start of a cell: a `"` opens a quoted cell.
    CellStart,
    /// Inside an unquoted cell (a `"` here is the row's error, not a quote).
    Unquoted,
    /// Inside a quoted cell: newlines belong to the cell.
    Quoted,
    /// Just after a `"` inside a quoted cell: another `"` is an escaped quote, anything else
    /// ends the cell.
    QuoteInQuoted,
}

/// One row from a [`LineSplitter`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete row, without its end, and the line it starts on.
    Row(u64, Vec<u8>),
    /// A row, starting on that line, that was longer than [`MAX_ROW`].
    TooLong(u64),
}

impl Default for LineSplitter {
    fn default() -> Self {
        Self {
            buf: Vec::new(),
            skipping: false,
            csv: false,
            state: CsvState::CellStart,
            lines: 0,
            start: 1,
            bom_left: BOM.len(),
        }
    }
}

impl LineSplitter {
    /// A splitter for NDJSON (rows end at every newline), with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// A splitter for CSV: a newline inside a quoted cell does not end the row.
    pub fn csv() -> Self {
        Self {
            csv: true,
            ..Self::default()
        }
    }

    /// Feeds a chunk; returns the rows it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Line> {
        let mut out = Vec::new();
        let mut from = 0;
        for (i, &b) in chunk.iter().enumerate() {
            if self.bom_left > 0 {
                if b == BOM[BOM.len() - self.bom_left] {
                    // Kept with the row (dropped when it ends), so quoting is not disturbed.
                    self.bom_left -= 1;
                    continue;
                }
                self.bom_left = 0;
            }
            if b == b'\n' {
                self.lines += 1;
                if self.csv && self.state == CsvState::Quoted {
                    continue;
                }
                self.keep(&chunk[from..i]);
                out.push(self.end_row());
                from = i + 1;
                continue;
            }
            if self.csv {
                self.state = match (self.state, b) {
                    (CsvState::CellStart | CsvState::QuoteInQuoted, b',') => CsvState::CellStart,
                    (CsvState::CellStart, b'"') | (CsvState::QuoteInQuoted, b'"') => {
                        CsvState::Quoted
                    }
                    (CsvState::Quoted, b'"') => CsvState::QuoteInQuoted,
                    (CsvState::Quoted, _) => CsvState::Quoted,
                    (CsvState::Unquoted, b',') => CsvState::CellStart,
                    _ => CsvState::Unquoted,
                };
            }
        }
        self.keep(&chunk[from..]);
        out
    }

    /// Adds bytes to the current row, or starts skipping it once it is too long.
    fn keep(&mut self, part: &[u8]) {
        if self.skipping {
            return;
        }
        if self.buf.len() + part.len() > MAX_ROW {
            self.buf.clear();
            self.skipping = true;
        } else {
            self.buf.extend_from_slice(part);
        }
    }

    /// Ends the current row.
    fn end_row(&mut self) -> Line {
        let start = self.start;
        self.start = self.lines + 1;
        self.state = CsvState::CellStart;
        if std::mem::take(&mut self.skipping) {
            return Line::TooLong(start);
        }
        let mut row = std::mem::take(&mut self.buf);
        if row.last() == Some(&b'\r') {
            row.pop();
        }
        if start == 1 && row.starts_with(BOM) {
            row.drain(..BOM.len());
        }
        Line::Row(start, row)
    }

    /// The last row, if the stream did not end with a newline (for CSV, a row whose quoted
    /// cell never closed: parsing it reports the unclosed quote).
    pub fn finish(&mut self) -> Option<Line> {
        if self.buf.is_empty() && !self.skipping {
            return None;
        }
        Some(self.end_row())
    }
}

/// Why a row was refused (the rule, never the row's content).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RowError(pub &'static str);

/// One NDJSON row: `{"subject_id": "...", "fields": {...}}`.
pub fn parse_ndjson(line: &[u8]) -> Result<(String, Values), RowError> {
    let v: serde_json::Value =
        serde_json::from_slice(line).map_err(|_| RowError("the row is not valid JSON"))?;
    if super::value::has_duplicate_keys(line) {
        return Err(RowError("a key is given twice in one object"));
    }
    let serde_json::Value::Object(mut m) = v else {
        return Err(RowError("the row is not a JSON object"));
    };
    let subject = match m.remove("subject_id") {
        Some(serde_json::Value::String(s)) => s,
        _ => return Err(RowError("subject_id is missing or not a string")),
    };
    let fields = match m.remove("fields") {
        Some(serde_json::Value::Object(f)) => f.into_iter().collect(),
        _ => return Err(RowError("fields is missing or not an object")),
    };
    if !m.is_empty() {
        return Err(RowError("only subject_id and fields are allowed"));
    }
    Ok((subject, fields))
}

/// Splits one CSV row (RFC 4180 quoting: `"a, b"`, `""` for a quote, newlines inside quotes).
pub fn split_csv(line: &[u8]) -> Result<Vec<String>, RowError> {
    let text = std::str::from_utf8(line).map_err(|_| RowError("the row is not UTF-8"))?;
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cur.push(c),
            (false, '"') if cur.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            (false, '"') => return Err(RowError("a quote inside an unquoted cell")),
            (false, ',') => {
                cells.push(std::mem::take(&mut cur));
                was_quoted = false;
            }
            (false, c) if was_quoted => {
                let _ = c;
                return Err(RowError("text after a closing quote"));
            }
            (false, c) => cur.push(c),
        }
    }
    if quoted {
        return Err(RowError("an unclosed quote"));
    }
    cells.push(cur);
    Ok(cells)
}

/// The header of a CSV import: `subject_id` and field names.
#[derive(Debug, Clone)]
pub struct CsvHeader {
    subject: usize,
    names: Vec<String>,
}

impl CsvHeader {
    /// Reads the header line.
    pub fn parse(line: &[u8]) -> Result<Self, RowError> {
        // Spaces around a name (`subject_id, email`) are not part of it.
        let names: Vec<String> = split_csv(line)?
            .into_iter()
            .map(|n| n.trim().to_owned())
            .collect();
        let subject = names
            .iter()
            .position(|n| n == "subject_id")
            .ok_or(RowError("the header has no subject_id column"))?;
        let mut seen = std::collections::HashSet::new();
        if names.iter().any(|n| !seen.insert(n.as_str())) {
            return Err(RowError("the header names a column twice"));
        }
        Ok(Self { subject, names })
    }

    /// The field names of the header (all columns but `subject_id`).
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .enumerate()
            .filter(move |(i, _)| *i != self.subject)
            .map(|(_, n)| n.as_str())
    }

    /// One data row; empty cells are absent values. A cell of a `json` or `postal_address`
    /// field of `schema` is JSON text (a `json` cell that is not JSON is the string it holds);
    /// every other cell is the text of its value.
    pub fn row(
        &self,
        line: &[u8],
        schema: &super::schema::CollectionSchema,
    ) -> Result<(String, Values), RowError> {
        let cells = split_csv(line)?;
        if cells.len() != self.names.len() {
            return Err(RowError(
                "the row does not have as many cells as the header",
            ));
        }
        let mut subject = String::new();
        let mut values = Values::new();
        for (i, (name, cell)) in self.names.iter().zip(cells).enumerate() {
            if i == self.subject {
                subject = cell;
            } else if !cell.is_empty() {
                let json_text = schema.field(name).is_some_and(|f| {
                    matches!(f.field_type, FieldType::Json | FieldType::PostalAddress)
                });
                let value = if json_text {
                    serde_json::from_str(&cell).unwrap_or(serde_json::Value::String(cell))
                } else {
                    serde_json::Value::String(cell)
                };
                values.insert(name.clone(), value);
            }
        }
        Ok((subject, values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks_and_long_ones_are_skipped() {
        let mut s = LineSplitter::new();
        assert_eq!(s.push(b"ab"), vec![]);
        assert_eq!(
            s.push(b"c\r\nde\nf"),
            vec![Line::Row(1, b"abc".to_vec()), Line::Row(2, b"de".to_vec())]
        );
        assert_eq!(s.finish(), Some(Line::Row(3, b"f".to_vec())));
        let mut s = LineSplitter::new();
        let long = vec![b'x'; MAX_ROW + 1];
        assert_eq!(s.push(&long), vec![]);
        assert_eq!(
            s.push(b"xx\nok\n"),
            vec![Line::TooLong(1), Line::Row(2, b"ok".to_vec())]
        );
        assert_eq!(s.finish(), None);
        // NDJSON: a quote is nothing special.
        let mut s = LineSplitter::new();
        assert_eq!(
            s.push(b"{\"a\":\"x\n\"}\n"),
            vec![
                Line::Row(1, b"{\"a\":\"x".to_vec()),
                Line::Row(2, b"\"}".to_vec())
            ]
        );
    }

    #[test]
    fn csv_rows_run_on_inside_quoted_cells_and_keep_their_first_line() {
        // What Python's csv.writer writes for a note over three lines.
        let text = b"subject_id,note\r\ncus_1,\"Call back.\r\ncus_evil,attacker note\r\nthanks\"\r\ncus_2,\"a \"\"b\"\"\"\r\n";
        let want = vec![
            Line::Row(1, b"subject_id,note".to_vec()),
            Line::Row(
                2,
                b"cus_1,\"Call back.\r\ncus_evil,attacker note\r\nthanks\"".to_vec(),
            ),
            Line::Row(5, b"cus_2,\"a \"\"b\"\"\"".to_vec()),
        ];
        // Whole, and one byte at a time: chunk boundaries change nothing.
        let mut s = LineSplitter::csv();
        assert_eq!(s.push(text), want);
        assert_eq!(s.finish(), None);
        let mut s = LineSplitter::csv();
        let mut got: Vec<Line> = text.iter().flat_map(|b| s.push(&[*b])).collect();
        got.extend(s.finish());
        assert_eq!(got, want);
        let h = CsvHeader::parse(b"subject_id,note").expect("header");
        let schema = crate::vault::schema::CollectionSchema {
            name: "c".into(),
            fields: Vec::new(),
        };
        let Line::Row(_, row) = &want[1] else {
            unreachable!()
        };
        let (subject, values) = h.row(row, &schema).expect("one record");
        assert_eq!(subject, "cus_1");
        assert_eq!(
            values["note"],
            "Call back.\r\ncus_evil,attacker note\r\nthanks"
        );
        // A quote inside an unquoted cell opens nothing: the row ends at its line.
        let mut s = LineSplitter::csv();
        assert_eq!(
            s.push(b"cus_1,ab\"c\ncus_2,d\n"),
            vec![
                Line::Row(1, b"cus_1,ab\"c".to_vec()),
                Line::Row(2, b"cus_2,d".to_vec())
            ]
        );
        // A quote never closed: the rest is one row, refused when parsed.
        let mut s = LineSplitter::csv();
        assert_eq!(s.push(b"a,\"b\nc\n"), vec![]);
        let Some(Line::Row(1, last)) = s.finish() else {
            panic!("one row")
        };
        assert_eq!(split_csv(&last), Err(RowError("an unclosed quote")));
        // Too long inside a quoted cell: skipped to the row's real end.
        let mut s = LineSplitter::csv();
        let mut long = b"a,\"".to_vec();
        long.extend(std::iter::repeat_n(b'\n', MAX_ROW + 1));
        long.extend(b"\"\nb,c\n");
        assert_eq!(
            s.push(&long),
            vec![
                Line::TooLong(1),
                Line::Row(MAX_ROW as u64 + 3, b"b,c".to_vec())
            ]
        );
    }

    #[test]
    fn a_leading_byte_order_mark_is_dropped() {
        for split in 0..5 {
            let text = b"\xEF\xBB\xBF\"subject_id\",email\nx\n";
            let mut s = LineSplitter::csv();
            let mut got = s.push(&text[..split]);
            got.extend(s.push(&text[split..]));
            assert_eq!(
                got,
                vec![
                    Line::Row(1, b"\"subject_id\",email".to_vec()),
                    Line::Row(2, b"x".to_vec())
                ],
                "{split}"
            );
        }
        let mut s = LineSplitter::new();
        assert_eq!(
            s.push(b"\xEF\xBB\xBF{}\n\xEF\xBB\xBF{}\n"),
            vec![
                Line::Row(1, b"{}".to_vec()),
                Line::Row(2, b"\xEF\xBB\xBF{}".to_vec())
            ],
            "only at the start of the stream"
        );
    }

    #[test]
    fn csv_cells_follow_rfc_4180_within_a_line() {
        assert_eq!(
            split_csv(br#"a,"b, c","say ""hi""",,e"#).expect("ok"),
            vec!["a", "b, c", "say \"hi\"", "", "e"]
        );
        assert!(split_csv(br#"a,"b"#).is_err());
        assert!(split_csv(br#"a,b"c"#).is_err());
        assert!(split_csv(br#""a"b"#).is_err());
        let h = CsvHeader::parse(b"email, subject_id ,phone").expect("header");
        assert_eq!(h.fields().collect::<Vec<_>>(), ["email", "phone"]);
        let spec = |name: &str, field_type| crate::vault::schema::FieldSpec {
            name: name.into(),
            field_type,
            category: "user.contact.address".into(),
            sensitivity: crate::vault::schema::Sensitivity::Low,
            required: false,
            searchable: false,
            tokenization: crate::vault::schema::Tokenization::None,
        };
        let schema = crate::vault::schema::CollectionSchema {
            name: "c".into(),
            fields: vec![
                spec("email", FieldType::Email),
                spec("phone", FieldType::Json),
            ],
        };
        let (s, v) = h.row(b"j@example.com,cus_1,", &schema).expect("row");
        assert_eq!(s, "cus_1");
        assert_eq!(v.len(), 1);
        assert!(h.row(b"a,b", &schema).is_err());
        // A json cell is JSON text; one that is not JSON is its string.
        let (_, v) = h
            .row(br#""{""a"":1}",cus_1,"{""b"":[2]}""#, &schema)
            .expect("row");
        assert_eq!(v["email"], "{\"a\":1}", "not a json field");
        assert_eq!(v["phone"], serde_json::json!({"b": [2]}));
        let (_, v) = h.row(b"x,cus_1,plain words", &schema).expect("row");
        assert_eq!(v["phone"], "plain words");
        assert!(CsvHeader::parse(b"email,phone").is_err());
        assert!(CsvHeader::parse(b"subject_id,a,a").is_err());
    }

    #[test]
    fn ndjson_rows_have_a_subject_and_fields() {
        let (s, v) =
            parse_ndjson(br#"{"subject_id":"cus_1","fields":{"email":"x"}}"#).expect("row");
        assert_eq!((s.as_str(), v.len()), ("cus_1", 1));
        for bad in [
            &b"{"[..],
            br#"[1]"#,
            br#"{"fields":{}}"#,
            br#"{"subject_id":"a"}"#,
            br#"{"subject_id":"a","fields":{},"x":1}"#,
            br#"{"subject_id":"a","fields":{"e":"x","e":"y"}}"#,
            br#"{"subject_id":"a","subject_id":"b","fields":{}}"#,
            br#"{"subject_id":"a","fields":{"j":[{"k":1,"k":2}]}}"#,
        ] {
            assert!(parse_ndjson(bad).is_err());
        }
    }
}
