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

/// Shows how much of the file has been sent (a bar on a terminal, a line per 10% otherwise;
/// bytes only, per 64 MiB off a terminal, when the length is unknown) when the figure shown
/// changes, and returns that figure (a percentage, or MiB sent).
fn progress(terminal: bool, sent: u64, total: Option<u64>, shown: u64) -> u64 {
    let now = match total {
        // A file that grew while it was read is still at most 100%.
        Some(total) => (sent.saturating_mul(100) / total).min(100),
        None => sent >> 20,
    };
    if now == shown {
        return shown;
    }
    match total {
        Some(total) if terminal => {
            let bar = "#".repeat((now / 4) as usize);
            eprint!("\r[{bar:<25}] {now:>3}%  {sent} of {total} bytes sent");
        }
        Some(total) if now.is_multiple_of(10) => {
            eprintln!("{now}% ({sent} of {total} bytes sent)");
        }
        None if terminal => eprint!("\r{sent} bytes sent"),
        None if now.is_multiple_of(64) => eprintln!("{sent} bytes sent"),
        _ => {}
    }
    let _ = std::io::stderr().flush();
    now
}

/// Runs the import; returns the server's report as JSON.
pub async fn run(a: ImportArgs<'_>) -> anyhow::Result<serde_json::Value> {
    let file = tokio::fs::File::open(a.file)
        .await
        .with_context(|| format!("cannot open {}", a.file.display()))?;
    let meta = file.metadata().await?;
    if meta.is_dir() {
        bail!("{} is a directory", a.file.display());
    }
    // A pipe or a device has no length to show progress against: bytes sent only.
    let total = (meta.is_file() && meta.len() > 0).then_some(meta.len());
    let show = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let body =
        futures::stream::unfold((file, 0u64, 0u64), move |(mut f, sent, shown)| async move {
            let mut buf = vec![0u8; CHUNK];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    let sent = sent + n as u64;
                    Some((
                        Ok::<_, std::io::Error>(buf),
                        (f, sent, progress(show, sent, total, shown)),
                    ))
                }
                Err(e) => Some((Err(e), (f, sent, shown))),
            }
        })
        .boxed();
    let mut url = reqwest::Url::parse(a.server)
        .with_context(|| format!("--server {} is not a URL", a.server))?;
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("--server {} cannot have paths", a.server))?
        .pop_if_empty()
        // Each a segment of its own: a collection name cannot reach another path.
        .extend(["v1", "collections", a.collection, "records:import"]);
    let mut req = reqwest::Client::new()
        .post(url.clone())
        .bearer_auth(a.key)
        .header("content-type", a.format.content_type())
        .body(reqwest::Body::wrap_stream(body));
    if let Some(p) = a.purpose {
        req = req.header("custodian-purpose", p);
    }
    let resp = req.send().await.with_context(|| {
        format!(
            "cannot reach {url} (or reading {} failed)",
            a.file.display()
        )
    })?;
    if show {
        eprintln!();
    }
    let status = resp.status();
    let text = resp.text().await.context("the server's answer broke off")?;
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        bail!("the server answered {status}, and not in JSON (is --server a Custodian server?)");
    };
    if !status.is_success() {
        bail!(
            "the server refused the import ({status}): {}",
            json["error"]["message"].as_str().unwrap_or("no message")
        );
    }
    Ok(json)
}
