//! The `custodian` command: the server and its administration commands, as a library so the
//! integration tests can boot exactly what the binary boots.

pub mod admin;
pub mod audit;
pub mod backup;
pub mod config;
pub mod evidence;
pub mod import;
pub mod kek;
pub mod map;
pub mod receipt;
pub mod retention;
pub mod scan;
pub mod setup;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use custodian_core::clock::Clock;
use custodian_server::SystemClock;
use ipnet::IpNet;

use crate::config::{FileConfig, StoreLocation};

/// The command line.
#[derive(Parser)]
#[command(
    name = "custodian",
    version,
    about = "Custodian: a self-hosted customer-data privacy platform",
    after_help = "Examples:\n  custodian serve                          # start on 127.0.0.1:8080 with ./custodian-data\n  custodian audit verify                   # check the whole audit log\n  custodian operators create --name Dana --role dpo --key-file dana.key"
)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the data is (accepted before or after a subcommand).
#[derive(Args, Clone)]
pub struct StoreArgs {
    /// Data directory: keys, and the SQLite database unless --database-url is given.
    #[arg(long, global = true, env = "CUSTODIAN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://…) instead of the embedded SQLite database.
    #[arg(
        long,
        global = true,
        env = "CUSTODIAN_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// TOML configuration file (flags and CUSTODIAN_* variables override it).
    #[arg(long, global = true, env = "CUSTODIAN_CONFIG")]
    pub config: Option<PathBuf>,
}

impl StoreArgs {
    fn resolve(&self) -> anyhow::Result<(StoreLocation, FileConfig)> {
        let file = FileConfig::load(self.config.as_deref())?;
        Ok((
            StoreLocation::resolve(self.data_dir.clone(), self.database_url.clone(), &file),
            file,
        ))
    }
}

/// The commands.
#[allow(missing_docs)] // variant fields are documented as clap help where it matters
#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP server; on an empty data directory, initialise a development installation first.
    #[command(
        after_help = "Examples:\n  custodian serve\n  custodian serve --data-dir /var/lib/custodian --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem\n  custodian serve --database-url postgres://custodian@db/custodian --data-dir /etc/custodian"
    )]
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "CUSTODIAN_LISTEN")]
        listen: Option<SocketAddr>,
        /// TLS certificate chain (PEM), for TLS without a proxy.
        #[arg(long, env = "CUSTODIAN_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM).
        #[arg(long, env = "CUSTODIAN_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// A proxy (CIDR) whose X-Forwarded-For is trusted; repeatable. None by default.
        #[arg(
            long = "trusted-proxy",
            env = "CUSTODIAN_TRUSTED_PROXIES",
            value_delimiter = ','
        )]
        trusted_proxies: Vec<IpNet>,
        /// Threads that answer requests [default: one per core]. Fewer leaves cores to other
        /// processes on the same machine (a database, a load generator).
        #[arg(long, env = "CUSTODIAN_WORKERS", value_parser = clap::value_parser!(u16).range(1..=256))]
        workers: Option<u16>,
    },
    /// Initialise a new installation: database, key files (mode 0600), first admin operator.
    #[command(
        after_help = "Examples:\n  custodian init --data-dir /var/lib/custodian --admin-key-file /root/custodian-admin.key\n  custodian init --data-dir /etc/custodian --database-url postgres://custodian@db/custodian"
    )]
    Init {
        #[command(flatten)]
        store: StoreArgs,
        /// Where to write the first admin API key [default: DATA_DIR/admin.key].
        #[arg(long)]
        admin_key_file: Option<PathBuf>,
    },
    /// Apply database migrations (serve also applies them at start).
    #[command(
        after_help = "Example:\n  custodian migrate --database-url postgres://custodian@db/custodian"
    )]
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Manage operators directly in the database (audited as actor `cli`).
    #[command(
        after_help = "Examples:\n  custodian operators list\n  custodian operators create --name \"Dana Auditor\" --role auditor --key-file dana.key\n  custodian operators disable 0192f0c1-7f3a-7c55-9d1e-3b6c2a9e4f10\n  custodian operators invite 0192f0c1-7f3a-7c55-9d1e-3b6c2a9e4f10 --url http://127.0.0.1:8080   # console enrolment link"
    )]
    Operators {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: admin::OperatorsCommand,
    },
    /// The data map: import and export Fides YAML, check a policy, write the records of
    /// processing (offline reads and changes are audited as actor `cli`).
    #[command(
        after_help = "Examples:\n  custodian map import systems.yml datasets.yml\n  custodian map export --out map.yml\n  custodian map check --policy privacy-policy.yml            # the stored map\n  custodian map check --policy privacy-policy.yml map/*.yml  # files alone, for CI\n  custodian map ropa --format csv --out ropa.csv"
    )]
    Map {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: map::MapCommand,
    },
    /// Retention: preview what would be disposed of, and why (runs happen in `serve`, hourly,
    /// or with POST /v1/retention/runs).
    #[command(
        after_help = "Examples:\n  custodian retention plan\n  custodian retention plan --at 2027-06-30T00:00:00Z"
    )]
    Retention {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: retention::RetentionCommand,
    },
    /// Find personal data in files (text, CSV, JSON, NDJSON; directories recursively): where
    /// each finding is and its kind, never its value. With --database, classify the columns
    /// of a database from their names and sampled rows instead.
    #[command(
        after_help = "Examples:\n  custodian scan exports/ logs/app.log\n  custodian scan --format json data.csv > findings.json\n  custodian scan --fail-on credit_card,us_ssn,secret src/   # for CI\n  custodian scan --database env:SHOP_DATABASE_URL --sample-rows 500"
    )]
    Scan(scan::ScanArgs),
    /// Manage API keys and show the audit log's public key.
    #[command(
        after_help = "Examples:\n  custodian keys create --operator 0192f0c1-7f3a-7c55-9d1e-3b6c2a9e4f10 --expires-in-days 90 --out key.txt\n  custodian keys list\n  custodian keys revoke 0192f0c2-1b7e-7d40-8a55-6f0e9c3d2b11\n  custodian keys log-public-key > log.pub"
    )]
    Keys {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: admin::KeysCommand,
    },
    /// Import records in bulk (NDJSON or CSV) into a collection through a running server.
    #[command(
        after_help = "Examples:\n  custodian import customers.ndjson --collection customers --key-file eng.key --purpose service_delivery\n  custodian import customers.csv --collection customers --server https://custodian.internal:8443 --key-file eng.key\n\nNDJSON: one {\"subject_id\": \"cus_1\", \"fields\": {...}} per line. CSV: a header with subject_id and\nfield names, then one record per line (empty cells are absent values). Refused rows are\nlisted by line number and nothing of them is stored; the exit status is 1 if any row was refused."
    )]
    Import {
        /// The file to import.
        file: PathBuf,
        /// The collection.
        #[arg(long)]
        collection: String,
        /// The server's base URL.
        #[arg(
            long,
            env = "CUSTODIAN_SERVER",
            default_value = "http://127.0.0.1:8080"
        )]
        server: String,
        /// A file holding the API key to use.
        #[arg(long, env = "CUSTODIAN_API_KEY_FILE")]
        key_file: PathBuf,
        /// The purpose of the writes (Custodian-Purpose).
        #[arg(long)]
        purpose: Option<String>,
        /// The format [default: from the file's extension, NDJSON unless .csv].
        #[arg(long, value_enum)]
        format: Option<import::Format>,
    },
    /// Take a consistent backup of the SQLite database while the server runs.
    #[command(after_help = "Example:\n  custodian backup --out /backups/custodian-$(date +%F).db")]
    Backup {
        #[command(flatten)]
        store: StoreArgs,
        /// The file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a SQLite backup and re-apply every erasure made since (stop the server first).
    #[command(
        after_help = "Examples:\n  custodian restore --from /backups/custodian-2026-11-01.db\n  custodian restore --from old.db --ledger erasures.jsonl   # plus a ledger exported elsewhere\n\nThe erasures known to the database being replaced, to the backup and to --ledger are\nre-applied, so restoring a backup never brings an erased person back. The replaced database\nis kept beside it as custodian.db.pre-restore-<ms>."
    )]
    Restore {
        #[command(flatten)]
        store: StoreArgs,
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// An exported erasure ledger (JSON Lines) to re-apply as well.
        #[arg(long)]
        ledger: Option<PathBuf>,
    },
    /// The erasure ledger: export it (keep a copy off the database), or replay it.
    #[command(
        after_help = "Examples:\n  custodian erasures export --out erasures.jsonl\n  custodian erasures replay --database-url postgres://custodian@db/custodian --ledger erasures.jsonl"
    )]
    Erasures {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: ErasuresCommand,
    },
    /// Verify a consent receipt offline, against the published key set.
    #[command(
        after_help = "Example:\n  curl -s http://127.0.0.1:8080/.well-known/custodian/receipt-keys > receipt-keys.json\n  custodian receipt verify --keys receipt-keys.json receipt.jws\n  echo \"$RECEIPT\" | custodian receipt verify --keys receipt-keys.json -"
    )]
    Receipt {
        #[command(subcommand)]
        command: ReceiptCommand,
    },
    /// Verify or export the audit log.
    #[command(
        after_help = "Examples:\n  custodian audit verify\n  custodian audit export --out audit.jsonl\n  custodian audit verify --file audit.jsonl --public-key log.pub"
    )]
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Export an auditor's evidence bundle, or verify one offline.
    #[command(
        after_help = "Examples:\n  custodian evidence export --out evidence.zip\n  custodian keys log-public-key > log.pub\n  custodian evidence verify evidence.zip --public-key log.pub --previous last-quarter.zip"
    )]
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
}

/// Evidence-bundle commands.
#[allow(missing_docs)]
#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// Build a bundle of the installation as it is now (records of processing, policies,
    /// retention, rights and consent figures, training, incidents, the signed checkpoint and
    /// a consistency proof from the previous bundle) under a signed manifest.
    #[command(
        after_help = "Example:\n  custodian evidence export --data-dir ./custodian-data --out evidence.zip"
    )]
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// The zip to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a bundle with only the audit log's public key: the manifest's signature, every
    /// file's hash, the checkpoint and the consistency proof; with --previous, that it follows
    /// that bundle. Exits non-zero if anything differs.
    #[command(
        after_help = "Example:\n  custodian evidence verify evidence.zip --public-key log.pub --previous last-quarter.zip"
    )]
    Verify {
        /// The bundle.
        bundle: PathBuf,
        /// The verifier key (or a file holding it), from `custodian keys log-public-key`.
        #[arg(long)]
        public_key: String,
        /// The bundle exported before it.
        #[arg(long)]
        previous: Option<PathBuf>,
    },
}

/// Erasure-ledger commands.
#[derive(Subcommand)]
pub enum ErasuresCommand {
    /// Write the ledger (pseudonyms and times, no personal data) as JSON Lines.
    #[command(after_help = "Example:\n  custodian erasures export --out erasures.jsonl")]
    Export {
        /// The file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Re-apply the database's ledger, and optionally an exported one, to the database (after
    /// restoring a PostgreSQL dump, for instance).
    #[command(after_help = "Example:\n  custodian erasures replay --ledger erasures.jsonl")]
    Replay {
        /// An exported ledger to re-apply as well.
        #[arg(long)]
        ledger: Option<PathBuf>,
    },
}

/// Receipt commands.
#[allow(missing_docs)]
#[derive(Subcommand)]
pub enum ReceiptCommand {
    /// Check a receipt's Ed25519 signature and print its claims; fails unless it verifies.
    #[command(
        after_help = "Examples:\n  custodian receipt verify --keys receipt-keys.json receipt.jws\n  custodian receipt verify --keys receipt-keys.json - < receipt.jws"
    )]
    Verify {
        /// The JWK set from `/.well-known/custodian/receipt-keys`, saved to a file.
        #[arg(long)]
        keys: PathBuf,
        /// A file holding the receipt (compact JWS), or `-` for standard input.
        receipt: PathBuf,
    },
}

/// Audit commands.
#[allow(missing_docs)]
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Verify the whole log (in the database, or an export file with only the public key).
    #[command(
        after_help = "Examples:\n  custodian audit verify --data-dir ./custodian-data\n  custodian audit verify --file audit.jsonl --public-key log.pub"
    )]
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// An export file to verify offline instead of the database.
        #[arg(long, requires = "public_key")]
        file: Option<PathBuf>,
        /// The verifier key (or a file holding it), from `custodian keys log-public-key`.
        #[arg(long, requires = "file")]
        public_key: Option<String>,
    },
    /// Export every event and a signed checkpoint to a file, for offline verification.
    #[command(
        after_help = "Example:\n  custodian audit export --out audit.jsonl && custodian keys log-public-key > log.pub"
    )]
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// The file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs one command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match cli.command {
        Command::Serve {
            store,
            listen,
            tls_cert,
            tls_key,
            trusted_proxies,
            workers: _,
        } => {
            let (loc, file) = store.resolve()?;
            let server_config =
                config::server_config(listen, tls_cert, tls_key, trusted_proxies, &file)?;
            serve(loc, server_config, clock).await
        }
        Command::Init {
            store,
            admin_key_file,
        } => {
            let (loc, _) = store.resolve()?;
            let s = setup::open_store(&loc).await?;
            let done = setup::initialize(&loc, s.as_ref(), clock.as_ref(), admin_key_file).await?;
            println!(
                "initialised installation {} in {}",
                done.installation.id,
                loc.data_dir.display()
            );
            println!(
                "first admin API key written to {} (mode 0600)",
                done.admin_key_file.display()
            );
            Ok(())
        }
        Command::Map {
            command:
                map::MapCommand::Check {
                    policy,
                    files,
                    format,
                },
            ..
        } if !files.is_empty() => map::check_files(&policy, &files, format),
        Command::Map { store, command } => {
            let (loc, _) = store.resolve()?;
            let s = setup::open_store(&loc).await?;
            setup::require_installation(s.as_ref()).await?;
            map::run(s.as_ref(), clock.as_ref(), command).await
        }
        Command::Retention {
            store,
            command: retention::RetentionCommand::Plan { at },
        } => {
            let (loc, _) = store.resolve()?;
            let s = setup::open_store(&loc).await?;
            setup::require_installation(s.as_ref()).await?;
            retention::plan(&loc, s.as_ref(), clock.as_ref(), at.as_deref()).await
        }
        Command::Scan(args) if args.database.is_some() => scan::run_database(&args).await,
        Command::Scan(args) => scan::run(&args),
        Command::Migrate { store } => {
            let (loc, _) = store.resolve()?;
            setup::open_store(&loc).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Operators {
            store,
            command: admin::OperatorsCommand::Invite { id, url },
        } => {
            let (loc, _) = store.resolve()?;
            admin::invite(&loc, clock.clone(), &id, url.as_deref()).await
        }
        Command::Operators { store, command } => {
            let (loc, _) = store.resolve()?;
            let s = setup::open_store(&loc).await?;
            setup::require_installation(s.as_ref()).await?;
            admin::operators(s.as_ref(), clock.as_ref(), command).await
        }
        Command::Keys { store, command } => {
            let (loc, _) = store.resolve()?;
            let s = setup::open_store(&loc).await?;
            let inst = setup::require_installation(s.as_ref()).await?;
            admin::keys(s.as_ref(), clock.as_ref(), &loc, &inst, command).await
        }
        Command::Import {
            file,
            collection,
            server,
            key_file,
            purpose,
            format,
        } => {
            let key = std::fs::read_to_string(&key_file)
                .with_context(|| format!("cannot read {}", key_file.display()))?;
            let report = import::run(import::ImportArgs {
                file: &file,
                collection: &collection,
                server: &server,
                key: key.trim(),
                purpose: purpose.as_deref(),
                format: format.unwrap_or_else(|| import::Format::guess(&file)),
            })
            .await?;
            println!(
                "{} rows: {} imported, {} refused",
                report["rows"], report["imported"], report["failed"]
            );
            if let Some(errors) = report["errors"].as_array() {
                for e in errors.iter().take(20) {
                    println!(
                        "  line {}: {} ({})",
                        e["row"],
                        e["message"].as_str().unwrap_or_default(),
                        e["code"].as_str().unwrap_or_default()
                    );
                }
                if errors.len() > 20 || report["errors_truncated"] == true {
                    println!("  … and more");
                }
            }
            if report["failed"].as_u64().unwrap_or(0) > 0 {
                anyhow::bail!("some rows were refused");
            }
            Ok(())
        }
        Command::Backup { store, out } => {
            let (loc, _) = store.resolve()?;
            backup::backup(&loc, clock.as_ref(), &out).await?;
            println!("backup written to {}", out.display());
            Ok(())
        }
        Command::Restore {
            store,
            from,
            ledger,
        } => {
            let (loc, _) = store.resolve()?;
            let r = backup::restore(&loc, clock.as_ref(), &from, ledger.as_deref()).await?;
            println!(
                "restored {}; {} erasure ledger entries known, {} subjects erased again",
                from.display(),
                r.ledger_entries,
                r.erased
            );
            if let Some(p) = r.previous {
                println!("the replaced database was kept as {}", p.display());
            }
            Ok(())
        }
        Command::Erasures { store, command } => {
            let (loc, _) = store.resolve()?;
            match command {
                ErasuresCommand::Export { out } => {
                    let s = setup::open_store(&loc).await?;
                    let n = backup::export_ledger(s.as_ref(), &out).await?;
                    println!("exported {n} erasure ledger entries to {}", out.display());
                }
                ErasuresCommand::Replay { ledger } => {
                    let n = backup::replay_command(&loc, clock.as_ref(), ledger.as_deref()).await?;
                    println!("{n} subjects erased again");
                }
            }
            Ok(())
        }
        Command::Receipt {
            command: ReceiptCommand::Verify { keys, receipt },
        } => {
            let keys = std::fs::read_to_string(&keys)
                .with_context(|| format!("cannot read {}", keys.display()))?;
            let text = if receipt.as_os_str() == "-" {
                let mut t = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)
                    .context("cannot read the receipt from standard input")?;
                t
            } else {
                std::fs::read_to_string(&receipt)
                    .with_context(|| format!("cannot read {}", receipt.display()))?
            };
            let v = receipt::verify(&text, &receipt::read_keys(&keys)?)?;
            if v.kid.is_empty() {
                println!("ok: signed by one of the keys (the receipt names none)");
            } else {
                println!("ok: signed by key {}", v.kid);
            }
            println!("{}", serde_json::to_string_pretty(&v.claims)?);
            Ok(())
        }
        Command::Evidence { command } => match command {
            EvidenceCommand::Export { store, out } => {
                let (loc, _) = store.resolve()?;
                let m = evidence::export(&loc, clock, &out).await?;
                println!(
                    "exported evidence bundle {} to {}: {} files, audit log of {} events{}",
                    m.bundle_id,
                    out.display(),
                    m.files.len() + 2,
                    m.audit_log.tree_size,
                    m.previous
                        .as_ref()
                        .map(|p| format!(", following bundle {}", p.bundle_id))
                        .unwrap_or_default()
                );
                Ok(())
            }
            EvidenceCommand::Verify {
                bundle,
                public_key,
                previous,
            } => {
                let v = evidence::verify(
                    &bundle,
                    &audit::read_vkey(&public_key)?,
                    previous.as_deref(),
                )?;
                println!(
                    "ok: bundle {} of {}, {} files, audit log of {} events, root {}",
                    v.manifest.bundle_id,
                    v.manifest.created_at,
                    v.manifest.files.len() + 2,
                    v.manifest.audit_log.tree_size,
                    v.manifest.audit_log.root
                );
                match (
                    &v.manifest.previous,
                    v.consistency_checked,
                    previous.is_some(),
                ) {
                    (Some(p), true, true) => println!(
                        "ok: follows bundle {} (log consistent from {} events)",
                        p.bundle_id, p.tree_size
                    ),
                    (Some(p), true, false) => println!(
                        "ok: log consistent with bundle {} ({} events); pass --previous to check that bundle too",
                        p.bundle_id, p.tree_size
                    ),
                    _ => println!(
                        "ok: the first bundle (no previous bundle to prove consistency from)"
                    ),
                }
                Ok(())
            }
        },
        Command::Audit { command } => match command {
            AuditCommand::Verify {
                file: Some(file),
                public_key: Some(key),
                ..
            } => {
                let v = audit::verify_file(&file, &audit::read_vkey(&key)?)?;
                println!("ok: {} events, root {}", v.size, hex::encode(v.root));
                Ok(())
            }
            AuditCommand::Verify { store, .. } => {
                let (loc, _) = store.resolve()?;
                let s = setup::open_store(&loc).await?;
                let v = audit::verify_store(s.as_ref()).await?;
                println!("ok: {} events, root {}", v.size, hex::encode(v.root));
                Ok(())
            }
            AuditCommand::Export { store, out } => {
                let (loc, _) = store.resolve()?;
                let s = setup::open_store(&loc).await?;
                let inst = setup::require_installation(s.as_ref()).await?;
                let signer = setup::load_signer(&loc.data_dir, &inst)?;
                let v = audit::export(s.as_ref(), &signer, clock.as_ref(), &out).await?;
                println!(
                    "exported {} events to {}, root {}",
                    v.size,
                    out.display(),
                    hex::encode(v.root)
                );
                Ok(())
            }
        },
    }
}

async fn serve(
    loc: StoreLocation,
    server_config: custodian_server::ServerConfig,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<()> {
    // Held until the server stops: a restore of this directory waits for that.
    let _lock = setup::lock_data_dir(&loc.data_dir, setup::DirUse::Serve)?;
    let store = setup::open_store(&loc).await?;
    let installation = match store.installation().await? {
        Some(i) => i,
        None => {
            let done = setup::initialize(&loc, store.as_ref(), clock.as_ref(), None).await?;
            println!(
                "Initialised a new development installation in {}",
                loc.data_dir.display()
            );
            println!(
                "  The first admin API key is in {} (mode 0600).",
                done.admin_key_file.display()
            );
            println!(
                "  Try: curl -H \"Authorization: Bearer $(cat {})\" http://{}/v1/me",
                done.admin_key_file.display(),
                server_config.listen
            );
            done.installation
        }
    };
    let listener = std::net::TcpListener::bind(server_config.listen)
        .with_context(|| format!("cannot listen on {}", server_config.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if server_config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let state = setup::app_state(&loc, store, &installation, clock, server_config).await?;
    let shutdown = shutdown_signal()?;
    println!("Custodian is listening on {scheme}://{addr} (API docs at {scheme}://{addr}/docs)");
    tracing::info!(%addr, "listening");
    custodian_server::serve(listener, state, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Registers the SIGTERM handler now, so a signal that arrives once the server has announced
/// itself is never missed, and returns the future that completes on SIGTERM or Ctrl-C.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        tracing::info!("shutting down");
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command's `--help` ends with examples.
    #[test]
    fn every_command_has_examples() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands() {
                let name = format!("{path} {}", sub.get_name());
                let has = sub
                    .get_after_help()
                    .is_some_and(|h| h.to_string().contains("Example"));
                if !has {
                    missing.push(name.clone());
                }
                walk(sub, &name, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "custodian", &mut missing);
        assert!(missing.is_empty(), "commands without examples: {missing:?}");
    }
}
