//! `custodian map`: the data map from the command line. `import` and `export` move Fides
//! YAML in and out of the store (audited as actor `cli`); `check` runs a policy file over the
//! stored map or over YAML files alone (for a customer's CI); `ropa` writes the records of
//! processing.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use custodian_core::clock::Clock;
use custodian_core::map::check::{Report, Severity, evaluate, parse_policy};
use custodian_core::map::service::{ImportError, check_stored, current, import};
use custodian_core::map::{DataMap, document_of, read_document, ropa};
use custodian_core::ports::Store;
use serde_json::{Map, Value};

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CheckFormat {
    /// One line per violation.
    Text,
    /// One JSON object.
    Json,
}

/// Formats of the records of processing.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RopaFormat {
    /// One HTML page.
    Html,
    /// CSV, one line per record.
    Csv,
}

/// The map commands.
#[derive(Subcommand)]
pub enum MapCommand {
    /// Import Fides YAML (or JSON) files into the data map: all files together as one change,
    /// validated before anything is written.
    #[command(
        after_help = "Examples:\n  custodian map import examples/map/acme.yml\n  custodian map import systems/*.yml datasets/*.yml"
    )]
    Import {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Write the data map as one Fides YAML document.
    #[command(
        after_help = "Examples:\n  custodian map export\n  custodian map export --out map.yml"
    )]
    Export {
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a policy: against the given files alone, or the stored map when none is given.
    /// Prints each violation with where it is; exits non-zero when any error is found.
    #[command(
        after_help = "Examples:\n  custodian map check --policy examples/map/policy.yml\n  custodian map check --policy policy.yml map/*.yml --format json"
    )]
    Check {
        /// The policy file (YAML).
        #[arg(long)]
        policy: PathBuf,
        /// Fides YAML files to check instead of the stored map.
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Write the records of processing (GDPR Art. 30) generated from the stored map.
    #[command(
        after_help = "Examples:\n  custodian map ropa --out ropa.html\n  custodian map ropa --format csv --out ropa.csv"
    )]
    Ropa {
        /// Output format.
        #[arg(long, value_enum, default_value_t = RopaFormat::Html)]
        format: RopaFormat,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Reads a YAML (or JSON) file as a value; errors name the file and the line, not the text.
pub fn read_yaml(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    yaml_serde::from_str(&text).map_err(|e| match e.location() {
        Some(l) => anyhow::anyhow!(
            "{}: not valid YAML (line {}, column {})",
            path.display(),
            l.line(),
            l.column()
        ),
        None => anyhow::anyhow!("{}: not valid YAML", path.display()),
    })
}

/// The files as one document: each top-level list is the files' lists in order.
fn merged(files: &[PathBuf]) -> anyhow::Result<Value> {
    let mut doc = Map::new();
    for f in files {
        let v = read_yaml(f)?;
        let Value::Object(m) = v else {
            bail!(
                "{}: the document must be a mapping of lists (system: [...], dataset: [...])",
                f.display()
            );
        };
        for (k, v) in m {
            let Value::Array(items) = v else {
                bail!("{}: each top-level entry must be a list", f.display());
            };
            match doc.entry(k).or_insert_with(|| Value::Array(Vec::new())) {
                Value::Array(a) => a.extend(items),
                _ => unreachable!("only lists are inserted"),
            }
        }
    }
    Ok(Value::Object(doc))
}

fn write_out(out: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Prints a report; an error when it failed.
fn report(r: &Report, format: CheckFormat) -> anyhow::Result<()> {
    let errors = r
        .violations
        .iter()
        .filter(|v| v.severity == Severity::Error)
        .count();
    let warnings = r.violations.len() - errors;
    match format {
        CheckFormat::Text => {
            for v in &r.violations {
                let sev = match v.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                };
                println!("{sev}: {} {}: {} [{}]", v.entry, v.path, v.detail, v.rule);
            }
            for (rule, why) in &r.skipped {
                println!("skipped: {rule}: {why}");
            }
            println!("{errors} errors, {warnings} warnings");
        }
        CheckFormat::Json => {
            let violations: Vec<Value> = r
                .violations
                .iter()
                .map(|v| {
                    serde_json::json!({
                        "rule": v.rule, "entry": v.entry, "path": v.path, "detail": v.detail,
                        "severity": if v.severity == Severity::Error { "error" } else { "warning" },
                    })
                })
                .collect();
            let skipped: Vec<Value> = r
                .skipped
                .iter()
                .map(|(rule, why)| serde_json::json!({"rule": rule, "reason": why}))
                .collect();
            println!(
                "{}",
                serde_json::json!({"passed": !r.failed(), "violations": violations, "skipped": skipped})
            );
        }
    }
    if r.failed() {
        bail!("the map breaks the policy: {errors} errors");
    }
    Ok(())
}

/// Runs `map check` over files alone (no store needed).
pub fn check_files(policy: &Path, files: &[PathBuf], format: CheckFormat) -> anyhow::Result<()> {
    let rules = parse_policy(&read_yaml(policy)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", policy.display()))?;
    let map = read_document(&merged(files)?, &DataMap::default())
        .map_err(|e| anyhow::anyhow!("the map files break a rule: {e}"))?
        .map;
    report(&evaluate(&rules, &map, None, None), format)
}

/// An offline read is audited before anything is read (actor `cli`).
async fn read_audit(store: &dyn Store, clock: &dyn Clock) -> anyhow::Result<()> {
    store
        .append_audit(crate::admin::draft(clock, "map.read", "map".into()))
        .await?;
    Ok(())
}

/// Runs a map command against the store.
pub async fn run(store: &dyn Store, clock: &dyn Clock, command: MapCommand) -> anyhow::Result<()> {
    match command {
        MapCommand::Import { files } => {
            let doc = merged(&files)?;
            let draft = crate::admin::draft(clock, "map.imported", "map".into());
            let (done, _) = import(store, &doc, clock.now(), draft)
                .await
                .map_err(|e| match e {
                    ImportError::Invalid(e) => anyhow::anyhow!("nothing imported: {e}"),
                    ImportError::Store(e) => anyhow::anyhow!("nothing imported: {e}"),
                })?;
            println!(
                "imported: {} added, {} replaced, {} unchanged",
                done.added.len(),
                done.replaced.len(),
                done.unchanged
            );
            for name in done.added.iter().chain(&done.replaced) {
                println!("  {name}");
            }
            Ok(())
        }
        MapCommand::Export { out } => {
            read_audit(store, clock).await?;
            let doc = document_of(&store.map_entries().await?, &store.datasets().await?);
            let yaml = yaml_serde::to_string(&doc).context("cannot write YAML")?;
            write_out(out.as_deref(), &yaml)
        }
        MapCommand::Check {
            policy,
            files,
            format,
        } => {
            if !files.is_empty() {
                return check_files(&policy, &files, format);
            }
            let rules = parse_policy(&read_yaml(&policy)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", policy.display()))?;
            read_audit(store, clock).await?;
            report(&check_stored(store, &rules, clock.now()).await?, format)
        }
        MapCommand::Ropa { format, out } => {
            read_audit(store, clock).await?;
            let r = ropa::build(&current(store).await?);
            let text = match format {
                RopaFormat::Csv => ropa::csv(&r),
                RopaFormat::Html => ropa::html_page(&r, &clock.now().to_string()),
            };
            write_out(out.as_deref(), &text)
        }
    }
}
