//! `custodian import`: streams an NDJSON or CSV file to a running server's import endpoint,
//! showing progress, and prints the report.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use futures::StreamExt;
use tokio::io::AsyncReadExt;

/// The file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One `{"subject_id", "fields"}` object per line.
    Ndjson,
    /// A header with `subject_id` and field names, then one record per line.
    Csv,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv",
        }
    }

    /// `csv` for a `.csv` file, NDJSON otherwise.
    pub fn guess(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => Format::Csv,
            _ => Format::Ndjson,
        }
    }
}

/// What to import where.
pub struct ImportArgs<'a> {
    /// The file.
    pub file: &'a Path,
    /// The collection.
    pub collection: &'a str,
    /// The server's base URL.
    pub server: &'a str,
    /// The API key.
    pub key: &'a str,
    /// The purpose header, if any.
    pub purpose: Option<&'a str>,
    /// The format.
    pub format: Format,
}

const CHUNK: usize = 256 * 1024;

/// Runs the import; returns the server's report as JSON.
pub async fn run(a: ImportArgs<'_>) -> anyhow::Result<serde_json::Value> {
    let file = tokio::fs::File::open(a.file)
        .await
        .with_context(|| format!("cannot open {}", a.file.display()))?;
    let total = file.metadata().await?.len().max(1);
    let show = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let body =
        futures::stream::unfold((file, 0u64, 0u64), move |(mut f, sent, shown)| async move {
            let mut buf = vec![0u8; CHUNK];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    let sent = sent + n as u64;
                    let pct = sent * 100 / total;
                    let shown = if pct != shown {
                        let bar = "#".repeat((pct / 4) as usize);
                        if show {
                            eprint!("\r[{bar:<25}] {pct:>3}%  {sent} of {total} bytes sent");
                        } else if pct.is_multiple_of(10) {
                            eprintln!("{pct}% ({sent} of {total} bytes sent)");
                        }
                        let _ = std::io::stderr().flush();
                        pct
                    } else {
                        shown
                    };
                    Some((Ok::<_, std::io::Error>(buf), (f, sent, shown)))
                }
                Err(e) => Some((Err(e), (f, sent, shown))),
            }
        })
        .boxed();
    let url = format!(
        "{}/v1/collections/{}/records:import",
        a.server.trim_end_matches('/'),
        a.collection
    );
    let mut req = reqwest::Client::new()
        .post(&url)
        .bearer_auth(a.key)
        .header("content-type", a.format.content_type())
        .body(reqwest::Body::wrap_stream(body));
    if let Some(p) = a.purpose {
        req = req.header("custodian-purpose", p);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    if show {
        eprintln!();
    }
    let status = resp.status();
    let json: serde_json::Value = resp
        .json()
        .await
        .context("the server's answer is not JSON")?;
    if !status.is_success() {
        bail!(
            "the server refused the import ({status}): {}",
            json["error"]["message"].as_str().unwrap_or("no message")
        );
    }
    Ok(json)
}
