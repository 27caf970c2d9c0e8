//! The export package of an access, portability or categories request: the files that go
//! into the ZIP, built from what the vault and the consent ledger hold about the subject.
//!
//! - `data.json`: everything, machine-readable (the portability format), by source and
//!   collection, each field with its data category; the subject's consent states.
//! - `by_category.csv`: one row per field value, with its category and where it is held.
//! - `csv/<collection>.csv`: one row per record, one column per field.
//! - `summary.html`: a readable account of what is held (by category), why (the purposes
//!   whose categories cover it, with their legal bases), who receives it, where it is sent
//!   and how long it is kept (from the data map's records of processing; said plainly when
//!   the map declares nothing).
//! - `README.txt`: what each file is.
//!
//! A categories request (CCPA "right to know" categories) gets the categories, sources and
//! purposes without the values.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use jiff::Timestamp;
use serde_json::{Value, json};

/// One field of one record, opened.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportField {
    /// The field name.
    pub field: String,
    /// Its data category (a taxonomy key).
    pub category: String,
    /// The value, normalised, as JSON.
    pub value: Value,
}

/// One record.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRecord {
    /// Where it is held (`vault`).
    pub source: String,
    /// The collection (or table).
    pub collection: String,
    /// Its id.
    pub record_id: String,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Its fields.
    pub fields: Vec<ExportField>,
}

/// The subject's current consent state for one purpose.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportConsent {
    /// The purpose key.
    pub purpose: String,
    /// `given`, `refused`, `withdrawn`, `expired`.
    pub state: String,
    /// When it was recorded.
    pub at: Timestamp,
    /// How (`banner`, `api`, `gpc`…).
    pub method: String,
}

/// A purpose, as the summary explains it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportPurpose {
    /// Key.
    pub key: String,
    /// Name (in the summary's language).
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Legal basis (`consent`, `contract`…).
    pub legal_basis: String,
    /// Data categories it covers (taxonomy keys; a key covers those below it).
    pub categories: Vec<String>,
}

/// Everything a package is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportInput {
    /// The request id.
    pub request_id: String,
    /// The request type (`access`, `portability`, `access_categories`).
    pub request_type: String,
    /// The jurisdiction.
    pub jurisdiction: String,
    /// When the package was made.
    pub generated_at: Timestamp,
    /// Whether values are included (not for a categories request).
    pub with_values: bool,
    /// The records.
    pub records: Vec<ExportRecord>,
    /// The consent states.
    pub consents: Vec<ExportConsent>,
    /// The purposes declared.
    pub purposes: Vec<ExportPurpose>,
    /// What the data map says of each category held; `None` when the map declares no
    /// system and no retention rule.
    pub disclosures: Option<Vec<ExportDisclosure>>,
}

/// What the records of processing say of one category of the subject's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportDisclosure {
    /// The category (a taxonomy key).
    pub category: String,
    /// Who receives it (third parties, recipients, processors).
    pub recipients: Vec<String>,
    /// Where it is sent outside the country, with the safeguard.
    pub transfers: Vec<String>,
    /// How long it is kept: the retention rules that bind it.
    pub retention: Vec<String>,
}

/// How long a download link works (it also works only once).
pub const EXPORT_TTL_HOURS: i64 = 7 * 24;

/// A stored package: the ZIP sealed under the requester's key, reachable by the SHA-256 of
/// its single-use download token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RightsExport {
    /// SHA-256 of the download token.
    pub token_hash: Vec<u8>,
    /// The request it answers.
    pub request_id: String,
    /// The ZIP, sealed (emptied once downloaded).
    pub sealed: Vec<u8>,
    /// Made.
    pub created_at: Timestamp,
    /// The link works until (exclusive).
    pub expires_at: Timestamp,
    /// When it was downloaded, if it was.
    pub downloaded_at: Option<Timestamp>,
}

/// What taking a package by its token finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTake {
    /// The package, now marked downloaded and emptied in the store.
    Taken(RightsExport),
    /// Downloaded already.
    Used,
    /// Its link has expired.
    Expired,
    /// No package has this token.
    Unknown,
}

/// The package's format version, in `data.json`.
pub const FORMAT: &str = "custodian-export/1";

/// Whether `purpose_category` covers `held` (equal, or an ancestor in the taxonomy).
fn time(t: Timestamp) -> String {
    t.round(jiff::Unit::Second)
        .unwrap_or(t)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A CSV cell (RFC 4180): quoted when it holds a comma, quote or line break; a leading
/// `=`, `+`, `-`, `@` or tab is prefixed with `'` so spreadsheets do not run it as a formula.
fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub(crate) fn csv_row(cells: &[String]) -> String {
    let mut line = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub(crate) fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A file name for a collection (names are identifiers already; anything else becomes `_`).
fn file_name(collection: &str) -> String {
    collection
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The held categories, each with where it is held (`source/collection.field`).
fn held(input: &ExportInput) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &input.records {
        for f in &r.fields {
            m.entry(f.category.clone())
                .or_default()
                .insert(format!("{}/{}.{}", r.source, r.collection, f.field));
        }
    }
    m
}

fn data_json(input: &ExportInput, held: &BTreeMap<String, BTreeSet<String>>) -> Value {
    let mut sources: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for r in &input.records {
        let fields: serde_json::Map<String, Value> = r
            .fields
            .iter()
            .map(|f| {
                let mut v = json!({ "category": f.category });
                if input.with_values {
                    v["value"] = f.value.clone();
                }
                (f.field.clone(), v)
            })
            .collect();
        sources
            .entry((r.source.clone(), r.collection.clone()))
            .or_default()
            .push(json!({
                "record_id": r.record_id,
                "created_at": time(r.created_at),
                "updated_at": time(r.updated_at),
                "fields": fields,
            }));
    }
    json!({
        "format": FORMAT,
        "request": {
            "id": input.request_id,
            "type": input.request_type,
            "jurisdiction": input.jurisdiction,
        },
        "generated_at": time(input.generated_at),
        "values_included": input.with_values,
        "sources": sources.into_iter().map(|((source, collection), records)| json!({
            "source": source, "collection": collection, "records": records,
        })).collect::<Vec<_>>(),
        "categories": held.iter().map(|(c, places)| json!({
            "category": c, "held_in": places,
        })).collect::<Vec<_>>(),
        "consent": input.consents.iter().map(|c| json!({
            "purpose": c.purpose, "state": c.state, "at": time(c.at), "method": c.method,
        })).collect::<Vec<_>>(),
    })
}

fn by_category_csv(input: &ExportInput) -> String {
    let mut rows: Vec<[String; 6]> = Vec::new();
    for r in &input.records {
        for f in &r.fields {
            rows.push([
                f.category.clone(),
                r.source.clone(),
                r.collection.clone(),
                r.record_id.clone(),
                f.field.clone(),
                if input.with_values {
                    text(&f.value)
                } else {
                    String::new()
                },
            ]);
        }
    }
    rows.sort();
    let mut out = csv_row(&[
        "category".into(),
        "source".into(),
        "collection".into(),
        "record_id".into(),
        "field".into(),
        "value".into(),
    ]);
    for r in rows {
        out.push_str(&csv_row(&r));
    }
    out
}

fn collection_csvs(input: &ExportInput) -> Vec<(String, String)> {
    let mut by: BTreeMap<&str, Vec<&ExportRecord>> = BTreeMap::new();
    for r in &input.records {
        by.entry(&r.collection).or_default().push(r);
    }
    by.into_iter()
        .map(|(collection, records)| {
            let mut columns: Vec<&str> = Vec::new();
            for r in &records {
                for f in &r.fields {
                    if !columns.contains(&f.field.as_str()) {
                        columns.push(&f.field);
                    }
                }
            }
            let mut header = vec![
                "record_id".to_owned(),
                "created_at".into(),
                "updated_at".into(),
            ];
            header.extend(columns.iter().map(|c| (*c).to_owned()));
            let mut out = csv_row(&header);
            for r in records {
                let mut row = vec![r.record_id.clone(), time(r.created_at), time(r.updated_at)];
                for c in &columns {
                    row.push(
                        r.fields
                            .iter()
                            .find(|f| f.field == *c)
                            .map(|f| text(&f.value))
                            .unwrap_or_default(),
                    );
                }
                out.push_str(&csv_row(&row));
            }
            (format!("csv/{}.csv", file_name(collection)), out)
        })
        .collect()
}

fn summary_html(input: &ExportInput, held: &BTreeMap<String, BTreeSet<String>>) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Your personal data</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}}</style>\
         </head><body>\n<h1>Your personal data</h1>\n<p>This package answers your {} request <code>{}</code> ({}), prepared on {}.</p>\n",
        html(&input.request_type.replace('_', " ")),
        html(&input.request_id),
        html(&input.jurisdiction),
        html(&time(input.generated_at)),
    );
    h.push_str("<h2>What we hold</h2>\n");
    if held.is_empty() {
        h.push_str("<p>We found no personal data about you in the systems searched.</p>\n");
    } else {
        h.push_str("<table><tr><th>Category</th><th>Where</th></tr>\n");
        for (c, places) in held {
            let places: Vec<String> = places.iter().map(|p| html(p)).collect();
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                html(c),
                places.join("<br>")
            );
        }
        h.push_str("</table>\n");
        if input.with_values {
            h.push_str("<p>The values are in <code>data.json</code> (machine-readable, for moving them to another service), <code>by_category.csv</code> and the files under <code>csv/</code>.</p>\n");
        }
    }
    h.push_str("<h2>Why we use it</h2>\n");
    let relevant: Vec<&ExportPurpose> = input
        .purposes
        .iter()
        .filter(|p| {
            held.keys()
                .any(|c| p.categories.iter().any(|pc| crate::taxonomy::covers(pc, c)))
        })
        .collect();
    if relevant.is_empty() {
        h.push_str("<p>No declared purpose covers the categories above.</p>\n");
    } else {
        h.push_str("<table><tr><th>Purpose</th><th>Legal basis</th><th>Categories it covers</th><th>Your choice</th></tr>\n");
        for p in relevant {
            let cats: Vec<String> = held
                .keys()
                .filter(|c| p.categories.iter().any(|pc| crate::taxonomy::covers(pc, c)))
                .map(|c| format!("<code>{}</code>", html(c)))
                .collect();
            let choice = input
                .consents
                .iter()
                .find(|c| c.purpose == p.key)
                .map_or("—".to_owned(), |c| {
                    format!("{} ({})", html(&c.state), html(&time(c.at)))
                });
            let desc = p
                .description
                .as_deref()
                .map(|d| format!("<br><small>{}</small>", html(d)))
                .unwrap_or_default();
            let _ = writeln!(
                h,
                "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                html(&p.name),
                desc,
                html(&p.legal_basis.replace('_', " ")),
                cats.join(" "),
                choice
            );
        }
        h.push_str("</table>\n");
    }
    if !input.consents.is_empty() {
        h.push_str("<h2>Your consent choices</h2>\n<ul>\n");
        for c in &input.consents {
            let _ = writeln!(
                h,
                "<li><code>{}</code>: {} on {} ({})</li>",
                html(&c.purpose),
                html(&c.state),
                html(&time(c.at)),
                html(&c.method)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("<h2>Who receives it, and how long we keep it</h2>\n");
    match &input.disclosures {
        Some(d) if !d.is_empty() => {
            h.push_str(
                "<table><tr><th>Category</th><th>Who receives it</th><th>Sent abroad</th>\
                 <th>How long we keep it</th></tr>\n",
            );
            let list = |v: &[String], none: &str| {
                if v.is_empty() {
                    none.to_owned()
                } else {
                    v.iter().map(|x| html(x)).collect::<Vec<_>>().join("<br>")
                }
            };
            for x in d {
                let _ = writeln!(
                    h,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    html(&x.category),
                    list(&x.recipients, "nobody outside us"),
                    list(&x.transfers, "no"),
                    list(&x.retention, "no retention rule is recorded"),
                );
            }
            h.push_str("</table>\n");
        }
        _ => h.push_str(
            "<p>Our records of processing do not yet say who receives this data or how long it \
             is kept. Ask our privacy team and they will tell you.</p>\n",
        ),
    }
    h.push_str("</body></html>\n");
    h
}

const README: &str = "This package holds the personal data we hold about you.\r\n\r\n\
summary.html      what we hold, why, and your choices, to read in a browser\r\n\
data.json         everything, machine-readable (to move it to another service)\r\n\
by_category.csv   one row per value, with its data category and where it is held\r\n\
csv/              one table per collection, one row per record\r\n";

/// The package's files, in the order they go into the ZIP.
pub fn build(input: &ExportInput) -> Vec<(String, Vec<u8>)> {
    let held = held(input);
    let mut files = vec![
        ("README.txt".to_owned(), README.as_bytes().to_vec()),
        (
            "summary.html".to_owned(),
            summary_html(input, &held).into_bytes(),
        ),
        (
            "data.json".to_owned(),
            serde_json::to_vec_pretty(&data_json(input, &held)).unwrap_or_default(),
        ),
        (
            "by_category.csv".to_owned(),
            by_category_csv(input).into_bytes(),
        ),
    ];
    if input.with_values {
        files.extend(
            collection_csvs(input)
                .into_iter()
                .map(|(n, c)| (n, c.into_bytes())),
        );
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(with_values: bool) -> ExportInput {
        let t = Timestamp::from_second(1_767_225_600).unwrap_or_default();
        ExportInput {
            request_id: "rr_1".into(),
            request_type: "access".into(),
            jurisdiction: "GDPR".into(),
            generated_at: t,
            with_values,
            records: vec![ExportRecord {
                source: "vault".into(),
                collection: "customers".into(),
                record_id: "rec_1".into(),
                created_at: t,
                updated_at: t,
                fields: vec![
                    ExportField {
                        field: "email".into(),
                        category: "user.contact.email".into(),
                        value: json!("ada@example.com"),
                    },
                    ExportField {
                        field: "note".into(),
                        category: "user.content".into(),
                        value: json!("=HYPERLINK(\"x\"), <b>bold</b>"),
                    },
                ],
            }],
            consents: vec![ExportConsent {
                purpose: "newsletter".into(),
                state: "given".into(),
                at: t,
                method: "banner".into(),
            }],
            purposes: vec![
                ExportPurpose {
                    key: "newsletter".into(),
                    name: "Newsletter <weekly>".into(),
                    description: None,
                    legal_basis: "consent".into(),
                    categories: vec!["user.contact".into()],
                },
                ExportPurpose {
                    key: "ads".into(),
                    name: "Advertising".into(),
                    description: None,
                    legal_basis: "legitimate_interests".into(),
                    categories: vec!["user.device".into()],
                },
            ],
            disclosures: None,
        }
    }

    fn file<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a str {
        files
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, b)| std::str::from_utf8(b).ok())
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn the_package_holds_every_value_by_source_and_category() {
        let files = build(&input(true));
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "README.txt",
                "summary.html",
                "data.json",
                "by_category.csv",
                "csv/customers.csv"
            ]
        );
        let data: Value = serde_json::from_str(file(&files, "data.json")).unwrap_or_default();
        assert_eq!(data["format"], FORMAT);
        let rec = &data["sources"][0]["records"][0];
        assert_eq!(data["sources"][0]["collection"], "customers");
        assert_eq!(rec["fields"]["email"]["value"], "ada@example.com");
        assert_eq!(rec["fields"]["email"]["category"], "user.contact.email");
        assert_eq!(data["consent"][0]["state"], "given");
        let by_cat = file(&files, "by_category.csv");
        assert!(by_cat.starts_with("category,source,collection,record_id,field,value\r\n"));
        assert!(
            by_cat.contains("user.contact.email,vault,customers,rec_1,email,ada@example.com\r\n")
        );
        // A formula is defused and a comma quoted.
        assert!(
            by_cat.contains("\"'=HYPERLINK(\"\"x\"\"), <b>bold</b>\""),
            "{by_cat}"
        );
        let table = file(&files, "csv/customers.csv");
        assert!(table.starts_with("record_id,created_at,updated_at,email,note\r\n"));
    }

    #[test]
    fn the_summary_explains_purposes_covering_what_is_held_and_escapes_everything() {
        let files = build(&input(true));
        let h = file(&files, "summary.html");
        assert!(h.contains("Newsletter &lt;weekly&gt;"), "names are escaped");
        assert!(h.contains("<code>user.contact.email</code>"));
        assert!(h.contains("given (2026-01-01T00:00:00Z)"));
        assert!(
            !h.contains("Advertising"),
            "a purpose covering nothing held is left out"
        );
        assert!(
            !h.contains("<b>bold</b>") && !h.contains("ada@example.com"),
            "values stay in the data files"
        );
        assert!(h.contains("do not yet say who receives this data"));
        let mut with_map = input(true);
        with_map.disclosures = Some(vec![ExportDisclosure {
            category: "user.contact.email".into(),
            recipients: vec!["Mailer <Inc> (processor)".into()],
            transfers: vec!["US to Mailer Inc (sccs)".into()],
            retention: vec![],
        }]);
        let built = build(&with_map);
        let h = file(&built, "summary.html");
        assert!(h.contains("<td>Mailer &lt;Inc&gt; (processor)</td><td>US to Mailer Inc (sccs)</td><td>no retention rule is recorded</td>"), "{h}");
    }

    #[test]
    fn a_categories_request_gets_categories_without_values() {
        let files = build(&input(false));
        assert!(files.iter().all(|(n, _)| !n.starts_with("csv/")));
        let all: String = files
            .iter()
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .collect();
        assert!(!all.contains("ada@example.com"));
        assert!(all.contains("user.contact.email"));
    }

    #[test]
    fn taxonomy_coverage_is_by_whole_segments() {
        assert!(crate::taxonomy::covers(
            "user.contact",
            "user.contact.email"
        ));
        assert!(crate::taxonomy::covers("user.contact", "user.contact"));
        assert!(!crate::taxonomy::covers("user.contact", "user.contactless"));
        assert!(!crate::taxonomy::covers(
            "user.contact.email",
            "user.contact"
        ));
    }
}
