//! `custodian scan PATH…`: finds personal data in files (text, CSV, JSON, NDJSON; directories
//! recursively) with the `custodian-scan` detectors. Reports where each finding is (file,
//! line, column, kind, confidence) and never the value, so the report is safe to keep in a CI
//! log; `--fail-on` makes the command fail when chosen kinds are found.
//!
//! `custodian scan --database URL` classifies every column of a database instead (the same
//! classifier as `POST /v1/datasets/{key}/scan`, with no proposals: nothing is stored). The
//! URL is never printed.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use custodian_scan::{Kind, scan};
use serde_json::json;

/// Report formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScanFormat {
    /// A summary table, then one line per finding.
    Table,
    /// One JSON document.
    Json,
}

/// `custodian scan` arguments.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories (searched recursively).
    #[arg(required_unless_present = "database", conflicts_with = "database")]
    pub paths: Vec<PathBuf>,
    /// Classify the columns of this database instead (postgres://, mysql://, mariadb:// or
    /// sqlite: URL, or `env:NAME` to read it from an environment variable), from their names
    /// and sampled rows.
    #[arg(long)]
    pub database: Option<String>,
    /// With --database: rows sampled per table (1 to 1000).
    #[arg(long, default_value_t = custodian_server::discovery::DEFAULT_SAMPLE)]
    pub sample_rows: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Table)]
    pub format: ScanFormat,
    /// Fail (exit 1) when any of these kinds is found, e.g. `credit_card,us_ssn`, or `all`.
    #[arg(long, value_delimiter = ',')]
    pub fail_on: Vec<String>,
    /// Ignore findings below this confidence (0 to 1).
    #[arg(long, default_value_t = 0.5)]
    pub min_confidence: f32,
}

/// Files larger than this are skipped (named in the report).
const MAX_FILE: u64 = 1 << 30;
/// Above this many bytes in all, progress is shown on standard error.
const PROGRESS_FROM: u64 = 64 << 20;

/// One finding's place, without its value.
struct Place {
    kind: Kind,
    line: usize,
    column: usize,
    confidence: f32,
    detector: &'static str,
}

struct FileReport {
    path: PathBuf,
    bytes: u64,
    findings: Vec<Place>,
}

/// The files under `path`, and what is left out with why. A symbolic link to a file is
/// scanned as the file; one to a directory is not followed (a link can loop back).
fn collect(
    path: &Path,
    out: &mut Vec<PathBuf>,
    skipped: &mut Vec<(PathBuf, &'static str)>,
) -> anyhow::Result<()> {
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if meta.file_type().is_symlink() {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => out.push(path.to_path_buf()),
            Ok(m) if m.is_dir() => skipped.push((path.to_path_buf(), "link to a directory")),
            Ok(_) => skipped.push((path.to_path_buf(), "not a regular file")),
            Err(_) => skipped.push((path.to_path_buf(), "broken link")),
        }
    } else if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            collect(&e, out, skipped)?;
        }
    } else if meta.is_file() {
        out.push(path.to_path_buf());
    } else {
        skipped.push((path.to_path_buf(), "not a regular file"));
    }
    Ok(())
}

/// The text of a file: UTF-16 when it starts with a byte-order mark (as spreadsheet
/// programs' "Unicode text" exports do), else UTF-8 (invalid sequences replaced); `None` for
/// a binary file (a NUL byte in its first 8 KiB).
fn text_of(bytes: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    let utf16 = |be: bool| {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|p| {
                if be {
                    u16::from_be_bytes([p[0], p[1]])
                } else {
                    u16::from_le_bytes([p[0], p[1]])
                }
            })
            .collect();
        std::borrow::Cow::Owned(String::from_utf16_lossy(&units))
    };
    match bytes {
        [0xFF, 0xFE, ..] => Some(utf16(false)),
        [0xFE, 0xFF, ..] => Some(utf16(true)),
        _ if bytes.iter().take(8192).any(|&b| b == 0) => None,
        _ => Some(String::from_utf8_lossy(bytes)),
    }
}

/// The places of `text`'s findings (line and column from 1; the column counts characters).
fn places(text: &str, min_confidence: f32) -> Vec<Place> {
    let findings = scan(text);
    let mut line_starts = vec![0usize];
    line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    findings
        .into_iter()
        .filter(|f| f.confidence >= min_confidence)
        .map(|f| {
            let line = line_starts.partition_point(|&s| s <= f.start);
            let start = line_starts[line - 1];
            Place {
                kind: f.kind,
                line,
                column: text
                    .get(start..f.start)
                    .map_or(1, |s| s.chars().count() + 1),
                confidence: f.confidence,
                detector: f.detector,
            }
        })
        .collect()
}

fn kinds(names: &[String]) -> anyhow::Result<Vec<Kind>> {
    let mut out = Vec::new();
    for n in names {
        let n = n.trim();
        if n == "all" {
            return Ok(Kind::ALL.to_vec());
        }
        match Kind::parse(n) {
            Some(k) => out.push(k),
            None => bail!(
                "--fail-on: unknown kind (use all or some of {})",
                Kind::ALL.map(Kind::as_str).join(", ")
            ),
        }
    }
    Ok(out)
}

/// Runs the scan and prints the report; an error when `--fail-on` kinds were found.
pub fn run(args: &ScanArgs) -> anyhow::Result<()> {
    let fail_on = kinds(&args.fail_on)?;
    if !(0.0..=1.0).contains(&args.min_confidence) {
        bail!("--min-confidence is between 0 and 1");
    }
    let (mut files, mut skipped) = (Vec::new(), Vec::new());
    for p in &args.paths {
        collect(p, &mut files, &mut skipped)?;
    }
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .collect();
    let total: u64 = sizes.iter().sum();
    let (started, mut shown) = (Instant::now(), Instant::now());
    let mut done = 0u64;
    let mut reports = Vec::new();
    for (path, size) in files.iter().zip(&sizes) {
        if *size > MAX_FILE {
            skipped.push((path.clone(), "larger than 1 GiB"));
            continue;
        }
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        done += *size;
        let Some(text) = text_of(&bytes) else {
            skipped.push((path.clone(), "binary"));
            continue;
        };
        reports.push(FileReport {
            path: path.clone(),
            bytes: *size,
            findings: places(&text, args.min_confidence),
        });
        if total >= PROGRESS_FROM && shown.elapsed() >= Duration::from_secs(1) {
            shown = Instant::now();
            eprint!("\rscanned {} of {} MiB", done >> 20, total >> 20);
            let _ = std::io::stderr().flush();
        }
    }
    if total >= PROGRESS_FROM {
        eprintln!(
            "\rscanned {} MiB in {:.1} s",
            total >> 20,
            started.elapsed().as_secs_f64()
        );
    }
    let mut counts: BTreeMap<Kind, (usize, usize)> = BTreeMap::new();
    for r in &reports {
        let mut seen = Vec::new();
        for f in &r.findings {
            let e = counts.entry(f.kind).or_default();
            e.0 += 1;
            if !seen.contains(&f.kind) {
                seen.push(f.kind);
                e.1 += 1;
            }
        }
    }
    match args.format {
        ScanFormat::Table => {
            println!("{:<14} {:>9} {:>7}  category", "kind", "findings", "files");
            for (k, (n, f)) in &counts {
                println!("{:<14} {n:>9} {f:>7}  {}", k.as_str(), k.taxonomy());
            }
            println!(
                "{} files, {} bytes, {} findings",
                reports.len(),
                reports.iter().map(|r| r.bytes).sum::<u64>(),
                counts.values().map(|c| c.0).sum::<usize>()
            );
            for r in &reports {
                for f in &r.findings {
                    println!(
                        "{}:{}:{}: {} ({:.2}, {})",
                        r.path.display(),
                        f.line,
                        f.column,
                        f.kind.as_str(),
                        f.confidence,
                        f.detector
                    );
                }
            }
            for (p, why) in &skipped {
                println!("skipped {}: {why}", p.display());
            }
        }
        ScanFormat::Json => {
            let files: Vec<serde_json::Value> = reports
                .iter()
                .map(|r| {
                    json!({
                        "path": r.path.display().to_string(),
                        "bytes": r.bytes,
                        "findings": r.findings.iter().map(|f| json!({
                            "kind": f.kind.as_str(), "category": f.kind.taxonomy(),
                            "line": f.line, "column": f.column,
                            "confidence": f.confidence, "detector": f.detector,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let summary: serde_json::Map<String, serde_json::Value> = counts
                .iter()
                .map(|(k, (n, f))| (k.as_str().to_owned(), json!({"findings": n, "files": f})))
                .collect();
            let skipped: Vec<serde_json::Value> = skipped
                .iter()
                .map(|(p, why)| json!({"path": p.display().to_string(), "reason": why}))
                .collect();
            println!(
                "{}",
                json!({"summary": summary, "files": files, "skipped": skipped})
            );
        }
    }
    let failing: Vec<&str> = fail_on
        .iter()
        .filter(|k| counts.contains_key(k))
        .map(|k| k.as_str())
        .collect();
    if !failing.is_empty() {
        bail!("personal data found: {}", failing.join(", "));
    }
    Ok(())
}

/// `--database`: classifies every column and prints those at or above `--min-confidence`
/// (table, column, category, detector, confidence, matched/sampled, name hint); an error when
/// `--fail-on` kinds were found (a column whose values are, or contain, that kind).
pub async fn run_database(args: &ScanArgs) -> anyhow::Result<()> {
    use custodian_core::rights::dataset::Dialect;
    use custodian_server::discovery::{MAX_SAMPLE, scan};
    let fail_on = kinds(&args.fail_on)?;
    if !(0.0..=1.0).contains(&args.min_confidence) {
        bail!("--min-confidence is between 0 and 1");
    }
    if !(1..=MAX_SAMPLE).contains(&args.sample_rows) {
        bail!("--sample-rows is between 1 and {MAX_SAMPLE}");
    }
    // `env:NAME` reads the URL from an environment variable, keeping its password out of
    // the process list and the shell history.
    let given = args.database.as_deref().unwrap_or_default();
    let url = match given.strip_prefix("env:") {
        Some(var) => std::env::var(var)
            .with_context(|| format!("--database env:{var}: the variable is not set"))?,
        None => given.to_owned(),
    };
    let url = url.as_str();
    let dialect = Dialect::of_url(url)
        .context("--database is a postgres://, mysql://, mariadb:// or sqlite: URL")?;
    let pool = custodian_server::datasets::connect(url)
        .await
        .context("the database did not answer")?;
    let tables = scan(&pool, dialect, args.sample_rows).await;
    pool.close().await;
    let tables = tables.map_err(|e| match e {
        custodian_server::datasets::RunError::Failed { collection, code } => anyhow::anyhow!(
            "reading {collection} failed (database error {})",
            code.unwrap_or_else(|| "unknown".into())
        ),
        _ => anyhow::anyhow!("the database did not answer"),
    })?;
    let mut rows = Vec::new();
    let mut classes = Vec::new();
    for t in &tables {
        for c in &t.columns {
            let Some(k) = c
                .class
                .as_ref()
                .filter(|k| k.confidence >= args.min_confidence)
            else {
                continue;
            };
            classes.push((k.kind, k.category));
            rows.push(json!({
                "table": t.name,
                "column": c.name,
                "data_type": c.data_type,
                "category": k.category,
                "kind": k.kind.map(Kind::as_str),
                "confidence": (k.confidence * 100.0).round() / 100.0,
                "sampled": k.sampled,
                "matched": k.matched,
                "embedded": k.embedded,
                "hint": k.hint,
            }));
        }
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        ScanFormat::Json => {
            let doc = json!({
                "tables": tables.len(),
                "columns": tables.iter().map(|t| t.columns.len()).sum::<usize>(),
                "personal_data": rows,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        ScanFormat::Table => {
            writeln!(
                out,
                "{:<32} {:<48} {:<12} {:>5} {:>9}  hint",
                "column", "category", "kind", "conf", "matched"
            )?;
            for r in &rows {
                writeln!(
                    out,
                    "{:<32} {:<48} {:<12} {:>5.2} {:>9}  {}",
                    format!(
                        "{}.{}",
                        r["table"].as_str().unwrap_or(""),
                        r["column"].as_str().unwrap_or("")
                    ),
                    r["category"].as_str().unwrap_or(""),
                    r["kind"].as_str().unwrap_or("-"),
                    r["confidence"].as_f64().unwrap_or(0.0),
                    format!("{}/{}", r["matched"], r["sampled"]),
                    r["hint"].as_str().unwrap_or("-"),
                )?;
            }
            writeln!(
                out,
                "{} tables, {} columns, {} hold personal data",
                tables.len(),
                tables.iter().map(|t| t.columns.len()).sum::<usize>(),
                rows.len()
            )?;
        }
    }
    let failing = database_failures(&classes, &fail_on);
    if !failing.is_empty() {
        bail!("personal data found: {}", failing.join(", "));
    }
    Ok(())
}

/// What of `fail_on` the classified columns (kind found in their values, category) hold,
/// sorted: a column whose values matched counts as that kind; one classified by its name
/// alone as every kind of its category, and, with every kind asked for (`all`), as its
/// category even when no kind stands for it (a `password` or `gender` column).
fn database_failures(
    classes: &[(Option<Kind>, &'static str)],
    fail_on: &[Kind],
) -> Vec<&'static str> {
    let mut failing = Vec::new();
    for &(kind, category) in classes {
        let kinds: Vec<Kind> = match kind {
            Some(k) => vec![k],
            None => Kind::ALL
                .into_iter()
                .filter(|k| k.taxonomy() == category)
                .collect(),
        };
        if kinds.is_empty() && fail_on.len() == Kind::ALL.len() {
            failing.push(category);
        }
        failing.extend(
            kinds
                .into_iter()
                .filter(|k| fail_on.contains(k))
                .map(Kind::as_str),
        );
    }
    failing.sort_unstable();
    failing.dedup();
    failing
}

#[cfg(test)]
mod tests {
    use super::{Kind, database_failures, text_of};

    #[test]
    fn columns_classified_by_name_alone_count_for_fail_on() {
        let classes = [
            (Some(Kind::Iban), "user.financial.bank_account"),
            // `password`, by its name: the category of secrets.
            (None, "user.authorization.credentials"),
            // `gender`, by its name: no detector kind has that category.
            (None, "user.demographic.gender"),
        ];
        assert_eq!(
            database_failures(&classes, &[Kind::UsSsn]),
            Vec::<&str>::new()
        );
        assert_eq!(database_failures(&classes, &[Kind::Iban]), ["iban"]);
        assert_eq!(database_failures(&classes, &[Kind::Secret]), ["secret"]);
        assert_eq!(
            database_failures(&classes, &Kind::ALL),
            ["iban", "secret", "user.demographic.gender"]
        );
    }

    #[test]
    fn utf16_with_a_byte_order_mark_is_text_and_nul_bytes_are_binary() {
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("a,é\n".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("a,é\n".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(text_of(&le).as_deref(), Some("a,é\n"));
        assert_eq!(text_of(&be).as_deref(), Some("a,é\n"));
        assert_eq!(text_of(b"plain").as_deref(), Some("plain"));
        assert_eq!(text_of(&[1, 0, 2]), None);
        assert_eq!(text_of(&[0xFF, 0xFE, 0x41]).as_deref(), Some(""));
    }
}
