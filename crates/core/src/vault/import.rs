//! Bulk import: splitting a byte stream into rows with bounded memory, and parsing NDJSON and
//! CSV rows into a subject id and field values. Pure: the transport feeds chunks in.

use super::service::Values;

/// The longest row accepted, in bytes.
pub const MAX_ROW: usize = 256 * 1024;

/// Splits chunks of bytes into lines (`\n`, with an optional `\r` before it), holding at most
/// one row in memory; a row longer than [`MAX_ROW`] is reported as too long and skipped.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
    skipping: bool,
}

/// One line from a [`LineSplitter`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line, without its end.
    Row(Vec<u8>),
    /// A line that was longer than [`MAX_ROW`].
    TooLong,
}

impl LineSplitter {
    /// A splitter with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk; returns the lines it completed.
    pub fn push(&mut self, mut chunk: &[u8]) -> Vec<Line> {
        let mut out = Vec::new();
        while let Some(i) = chunk.iter().position(|b| *b == b'\n') {
            let (head, rest) = chunk.split_at(i);
            chunk = &rest[1..];
            if self.skipping {
                self.skipping = false;
                out.push(Line::TooLong);
                continue;
            }
            if self.buf.len() + head.len() > MAX_ROW {
                self.buf.clear();
                out.push(Line::TooLong);
                continue;
            }
            self.buf.extend_from_slice(head);
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
            out.push(Line::Row(std::mem::take(&mut self.buf)));
        }
        if !self.skipping {
            if self.buf.len() + chunk.len() > MAX_ROW {
                self.buf.clear();
                self.skipping = true;
            } else {
                self.buf.extend_from_slice(chunk);
            }
        }
        out
    }

    /// The last line, if the stream did not end with a newline.
    pub fn finish(&mut self) -> Option<Line> {
        if self.skipping {
            self.skipping = false;
            return Some(Line::TooLong);
        }
        if self.buf.is_empty() {
            return None;
        }
        let mut line = std::mem::take(&mut self.buf);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Some(Line::Row(line))
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

/// Splits one CSV line (RFC 4180 quoting within the line: `"a, b"`, `""` for a quote).
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
        return Err(RowError(
            "an unclosed quote (cells cannot span lines in an import)",
        ));
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
        let names = split_csv(line)?;
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

    /// One data row; empty cells are absent values.
    pub fn row(&self, line: &[u8]) -> Result<(String, Values), RowError> {
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
                values.insert(name.clone(), serde_json::Value::String(cell));
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
            vec![Line::Row(b"abc".to_vec()), Line::Row(b"de".to_vec())]
        );
        assert_eq!(s.finish(), Some(Line::Row(b"f".to_vec())));
        let mut s = LineSplitter::new();
        let long = vec![b'x'; MAX_ROW + 1];
        assert_eq!(s.push(&long), vec![]);
        assert_eq!(
            s.push(b"xx\nok\n"),
            vec![Line::TooLong, Line::Row(b"ok".to_vec())]
        );
        assert_eq!(s.finish(), None);
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
        let h = CsvHeader::parse(b"email,subject_id,phone").expect("header");
        assert_eq!(h.fields().collect::<Vec<_>>(), ["email", "phone"]);
        let (s, v) = h.row(b"j@example.com,cus_1,").expect("row");
        assert_eq!(s, "cus_1");
        assert_eq!(v.len(), 1);
        assert!(h.row(b"a,b").is_err());
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
        ] {
            assert!(parse_ndjson(bad).is_err());
        }
    }
}
