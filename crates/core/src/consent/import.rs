//! Importing existing consent records (CSV or NDJSON): each row becomes a ledger record with
//! method `import`. Rows are parsed here; the transport splits lines with the vault's
//! [`LineSplitter`](crate::vault::import::LineSplitter).

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::ledger::{ConsentState, valid_source};
use super::purpose::{valid_jurisdiction, valid_language};
use crate::access::valid_purpose;
use crate::vault::import::{RowError, split_csv};

/// The columns an import row may have.
pub const COLUMNS: [&str; 10] = [
    "subject_id",
    "purpose",
    "state",
    "at",
    "source",
    "jurisdiction",
    "language",
    "notice_key",
    "notice_version",
    "expires_at",
];

/// The columns every row must have.
pub const REQUIRED: [&str; 4] = ["subject_id", "purpose", "state", "at"];

/// One imported choice, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedChoice {
    /// The subject's id (the caller checks it as a vault subject id).
    pub subject_id: String,
    /// The purpose's key.
    pub purpose: String,
    /// The state recorded.
    pub state: ConsentState,
    /// When the choice was originally made.
    pub at: Timestamp,
    /// Where it was collected, if the row says.
    pub source: Option<String>,
    /// Its jurisdiction.
    pub jurisdiction: Option<String>,
    /// The language of the notice shown.
    pub language: Option<String>,
    /// The notice shown: key and version.
    pub notice: Option<(String, i64)>,
    /// When it lapses.
    pub expires_at: Option<Timestamp>,
}

/// Validates one row given as column → value (empty values are absent).
pub fn choice(mut row: BTreeMap<String, String>) -> Result<ImportedChoice, RowError> {
    row.retain(|_, v| !v.is_empty());
    if row.keys().any(|k| !COLUMNS.contains(&k.as_str())) {
        return Err(RowError(
            "the row has a column that is not a consent record field",
        ));
    }
    let mut take = |k: &str| row.remove(k);
    let subject_id = take("subject_id").ok_or(RowError("subject_id is missing"))?;
    let purpose = take("purpose").ok_or(RowError("purpose is missing"))?;
    if !valid_purpose(&purpose) {
        return Err(RowError("purpose is not a purpose key"));
    }
    let state = take("state")
        .and_then(|s| ConsentState::parse(&s))
        .ok_or(RowError(
            "state is missing or not given, refused, withdrawn or expired",
        ))?;
    let time = |s: String, rule| s.parse::<Timestamp>().map_err(|_| RowError(rule));
    let at = time(
        take("at").ok_or(RowError("at is missing"))?,
        "at is not an RFC 3339 time",
    )?;
    let expires_at = take("expires_at")
        .map(|s| time(s, "expires_at is not an RFC 3339 time"))
        .transpose()?;
    if expires_at.is_some_and(|e| e <= at) {
        return Err(RowError("expires_at is not after at"));
    }
    let source = take("source");
    if source.as_deref().is_some_and(|s| !valid_source(s)) {
        return Err(RowError("source is not 1 to 128 visible ASCII characters"));
    }
    let jurisdiction = take("jurisdiction");
    if jurisdiction
        .as_deref()
        .is_some_and(|j| !valid_jurisdiction(j))
    {
        return Err(RowError("jurisdiction is not a jurisdiction code"));
    }
    let language = take("language");
    if language.as_deref().is_some_and(|l| !valid_language(l)) {
        return Err(RowError("language is not a language tag"));
    }
    let notice = match (take("notice_key"), take("notice_version")) {
        (None, None) => None,
        (Some(k), Some(v)) if valid_purpose(&k) => Some((
            k,
            v.parse::<i64>()
                .ok()
                .filter(|v| *v >= 1)
                .ok_or(RowError("notice_version is not a version number"))?,
        )),
        _ => return Err(RowError("notice_key and notice_version go together")),
    };
    Ok(ImportedChoice {
        subject_id,
        purpose,
        state,
        at,
        source,
        jurisdiction,
        language,
        notice,
        expires_at,
    })
}

/// One NDJSON row: an object of the [`COLUMNS`] (strings; `notice_version` may be a number).
pub fn parse_ndjson(line: &[u8]) -> Result<ImportedChoice, RowError> {
    let v: serde_json::Value =
        serde_json::from_slice(line).map_err(|_| RowError("the row is not valid JSON"))?;
    let serde_json::Value::Object(m) = v else {
        return Err(RowError("the row is not a JSON object"));
    };
    let mut row = BTreeMap::new();
    for (k, v) in m {
        let s = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) if k == "notice_version" => n.to_string(),
            serde_json::Value::Null => continue,
            _ => return Err(RowError("a value is not a string")),
        };
        row.insert(k, s);
    }
    choice(row)
}

/// The ledger id of an imported record: a UUID (version 8) from the SHA-256 of what the row
/// said (the subject's pseudonym, purpose, state, when it was made, source, jurisdiction,
/// language, notice and the expiry the row gave, if any: not one derived from the purpose's
/// settings, which may change between two imports), so importing the same rows again finds
/// them already recorded instead of recording them twice. The pseudonym is keyed, so the id
/// reveals no more about the subject than the pseudonym does.
pub fn import_event_id(
    e: &super::ledger::ConsentEvent,
    given_expiry: Option<jiff::Timestamp>,
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut part = |b: &[u8]| {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    };
    part(b"custodian consent import v1");
    part(e.subject.as_bytes());
    part(e.purpose.as_bytes());
    part(e.state.as_str().as_bytes());
    part(&e.at.as_millisecond().to_be_bytes());
    part(e.source.as_bytes());
    part(e.jurisdiction.as_deref().unwrap_or("").as_bytes());
    part(e.language.as_deref().unwrap_or("").as_bytes());
    match &e.notice {
        Some(n) => {
            part(n.key.as_bytes());
            part(&n.version.to_be_bytes());
        }
        None => part(b""),
    }
    part(
        &given_expiry
            .map_or(i64::MIN, |t| t.as_millisecond())
            .to_be_bytes(),
    );
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80; // version 8
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

/// The header of a CSV consent import.
#[derive(Debug, Clone)]
pub struct CsvColumns(Vec<String>);

impl CsvColumns {
    /// Reads the header line: known columns only, each once, the required ones present.
    pub fn parse(line: &[u8]) -> Result<Self, RowError> {
        let names: Vec<String> = split_csv(line)?
            .into_iter()
            .map(|n| n.trim().to_owned())
            .collect();
        let mut seen = std::collections::HashSet::new();
        if names.iter().any(|n| !seen.insert(n.as_str())) {
            return Err(RowError("the header names a column twice"));
        }
        if names.iter().any(|n| !COLUMNS.contains(&n.as_str())) {
            return Err(RowError(
                "the header has a column that is not a consent record field",
            ));
        }
        if REQUIRED.iter().any(|r| !seen.contains(r)) {
            return Err(RowError(
                "the header lacks subject_id, purpose, state or at",
            ));
        }
        Ok(Self(names))
    }

    /// One data row.
    pub fn row(&self, line: &[u8]) -> Result<ImportedChoice, RowError> {
        let cells = split_csv(line)?;
        if cells.len() != self.0.len() {
            return Err(RowError(
                "the row does not have as many cells as the header",
            ));
        }
        choice(self.0.iter().cloned().zip(cells).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_imported_choice_has_the_same_id_every_time_and_only_it_has() {
        use super::super::ledger::{ConsentEvent, Method, Proof};
        let e = |subject: &str, state: ConsentState, at: i64, request: &str| ConsentEvent {
            id: String::new(),
            subject: subject.into(),
            purpose: "newsletter".into(),
            state,
            notice: None,
            language: None,
            at: Timestamp::from_second(at).expect("time"),
            // When and by which request it was imported do not make it another choice.
            recorded_at: Timestamp::from_second(at + 1_000).expect("time"),
            method: Method::Import,
            source: "crm".into(),
            jurisdiction: Some("EU".into()),
            expires_at: None,
            proof: Proof {
                request_id: request.into(),
                ..Proof::default()
            },
            receipt_id: request.into(),
        };
        let a = import_event_id(&e("sp_1", ConsentState::Given, 1_700_000_000, "r1"), None);
        assert_eq!(
            a,
            import_event_id(&e("sp_1", ConsentState::Given, 1_700_000_000, "r2"), None)
        );
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8", "a version 8 UUID: {a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "variant: {a}");
        for other in [
            e("sp_2", ConsentState::Given, 1_700_000_000, "r1"),
            e("sp_1", ConsentState::Refused, 1_700_000_000, "r1"),
            e("sp_1", ConsentState::Given, 1_700_000_001, "r1"),
        ] {
            assert_ne!(a, import_event_id(&other, None));
        }
        // An expiry derived from the purpose's settings does not change it; one the row gave,
        // or another language, does.
        let mut derived = e("sp_1", ConsentState::Given, 1_700_000_000, "r1");
        derived.expires_at = Timestamp::from_second(1_800_000_000).ok();
        assert_eq!(a, import_event_id(&derived, None));
        assert_ne!(a, import_event_id(&derived, derived.expires_at));
        let mut french = e("sp_1", ConsentState::Given, 1_700_000_000, "r1");
        french.language = Some("fr".into());
        assert_ne!(a, import_event_id(&french, None));
    }

    #[test]
    fn csv_and_ndjson_rows_give_the_same_choice() {
        let h = CsvColumns::parse(b"subject_id,purpose,state,at,source,notice_key,notice_version")
            .expect("header");
        let a = h
            .row(b"cust-1,marketing,given,2024-05-01T10:00:00Z,crm,privacy,2")
            .expect("row");
        let b = parse_ndjson(
            br#"{"subject_id":"cust-1","purpose":"marketing","state":"given","at":"2024-05-01T10:00:00Z","source":"crm","notice_key":"privacy","notice_version":2}"#,
        )
        .expect("row");
        assert_eq!(a, b);
        assert_eq!(a.notice, Some(("privacy".into(), 2)));
    }

    #[test]
    fn every_bad_row_names_its_rule_without_its_content() {
        let h = CsvColumns::parse(b"subject_id,purpose,state,at,expires_at,jurisdiction")
            .expect("header");
        for (row, rule) in [
            (
                &b"c,marketing,maybe,2024-01-01T00:00:00Z,,"[..],
                "state is missing",
            ),
            (
                b"c,Marketing,given,2024-01-01T00:00:00Z,,",
                "purpose is not",
            ),
            (b"c,m,given,yesterday,,", "at is not"),
            (
                b"c,m,given,2024-01-01T00:00:00Z,2023-01-01T00:00:00Z,",
                "expires_at is not after",
            ),
            (b"c,m,given,2024-01-01T00:00:00Z,,usa", "jurisdiction"),
            (b",m,given,2024-01-01T00:00:00Z,,", "subject_id is missing"),
            (b"c,m,given", "as many cells"),
        ] {
            let e = h.row(row).expect_err("refused");
            assert!(
                e.0.starts_with(rule) || e.0.contains(rule),
                "{} vs {rule}",
                e.0
            );
        }
        for header in [
            &b"subject_id,purpose,state"[..],
            b"subject_id,purpose,state,at,email",
            b"at,at",
        ] {
            assert!(CsvColumns::parse(header).is_err());
        }
        assert!(parse_ndjson(br#"{"subject_id":"c","purpose":"m","state":"given","at":"2024-01-01T00:00:00Z","ip":"1.2.3.4"}"#).is_err());
        assert!(parse_ndjson(br#"{"subject_id":1}"#).is_err());
        assert!(parse_ndjson(b"[").is_err());
    }
}
