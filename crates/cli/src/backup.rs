//! Backups that cannot bring an erased person back: online backup, restore with erasure-ledger
//! replay, and the ledger's export and replay on their own (for PostgreSQL dumps).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, Decision};
use custodian_core::clock::Clock;
use custodian_core::ports::Store;
use custodian_core::vault::service::{Vault, VaultCrypto};
use custodian_store_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};

use crate::config::StoreLocation;
use crate::setup;

/// One line of an exported erasure ledger.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerLine {
    pseudonym: String,
    erased_at: String,
}

fn cli_draft(clock: &dyn Clock, action: &str, resource: &str) -> AuditDraft {
    AuditDraft::new(clock.now(), "cli", "cli", action, resource, Decision::Allow)
}

fn sqlite_only(loc: &StoreLocation, what: &str) -> anyhow::Result<()> {
    if loc.database_url.is_some() {
        bail!(
            "{what} works on the embedded SQLite database; for PostgreSQL use pg_dump / pg_restore, then run `custodian erasures replay --ledger FILE` with a ledger exported before the restore (`custodian erasures export`)"
        );
    }
    Ok(())
}

/// Writes a consistent copy of the live SQLite database to `out` (which must not exist),
/// while the server keeps serving.
pub async fn backup(loc: &StoreLocation, clock: &dyn Clock, out: &Path) -> anyhow::Result<()> {
    sqlite_only(loc, "backup")?;
    if out.exists() {
        bail!("{} already exists", out.display());
    }
    let store = SqliteStore::open(&loc.data_dir)
        .await
        .context("cannot open the database")?;
    setup::require_installation(&store).await?;
    store
        .append_audit(cli_draft(clock, "system.backup", "database"))
        .await?;
    store
        .backup_to(out)
        .await
        .with_context(|| format!("cannot write the backup {}", out.display()))?;
    store.close().await;
    Ok(())
}

/// Reads an exported ledger.
fn read_ledger(path: &Path) -> anyhow::Result<Vec<(String, Timestamp)>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let l: LedgerLine = serde_json::from_str(&line)
            .with_context(|| format!("{}: line {} is not a ledger entry", path.display(), n + 1))?;
        let at: Timestamp = l
            .erased_at
            .parse()
            .with_context(|| format!("{}: line {} has a bad time", path.display(), n + 1))?;
        if !l.pseudonym.starts_with("sp_") || l.pseudonym.len() > 64 {
            bail!("{}: line {} has a bad pseudonym", path.display(), n + 1);
        }
        out.push((l.pseudonym, at));
    }
    Ok(out)
}

/// Writes the store's erasure ledger as JSON Lines to `out` (which must not exist).
pub async fn export_ledger(store: &dyn Store, out: &Path) -> anyhow::Result<usize> {
    let ledger = store.erasure_ledger().await?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    for (pseudonym, at) in &ledger {
        let line = serde_json::to_string(&LedgerLine {
            pseudonym: pseudonym.clone(),
            erased_at: at.to_string(),
        })?;
        writeln!(f, "{line}")?;
    }
    f.sync_all()?;
    Ok(ledger.len())
}

/// Re-applies `extra` and the store's own ledger to the store; returns subjects erased.
pub async fn replay(
    store: &dyn Store,
    crypto: &dyn VaultCrypto,
    clock: &dyn Clock,
    extra: Vec<(String, Timestamp)>,
) -> anyhow::Result<u64> {
    let mut ledger = store.erasure_ledger().await?;
    ledger.extend(extra);
    let vault = Vault::new(store, crypto);
    Ok(vault
        .replay_erasures(
            &ledger,
            cli_draft(clock, "erasure.ledger.merge", "erasure_ledger"),
            |_| cli_draft(clock, "data.erase.replay", "subject"),
        )
        .await?)
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    /// Subjects erased again.
    pub erased: u64,
    /// Ledger entries known (live database, backup, and file).
    pub ledger_entries: usize,
    /// Where the replaced database went.
    pub previous: Option<PathBuf>,
}

const SQLITE_SUFFIXES: [&str; 3] = ["", "-wal", "-shm"];

/// Replaces the SQLite database by the backup `from`, then re-applies every erasure known to
/// the database being replaced, to the backup, and to `ledger_file`. The server must be
/// stopped: the data directory's lock is taken exclusively first, so a restore is refused
/// while a server runs there (and a server refuses to start during a restore). The replaced
/// database is kept beside it as `custodian.db.pre-restore-<ms>`.
pub async fn restore(
    loc: &StoreLocation,
    clock: &dyn Clock,
    from: &Path,
    ledger_file: Option<&Path>,
) -> anyhow::Result<Restored> {
    sqlite_only(loc, "restore")?;
    if !from.is_file() {
        bail!("{} is not a file", from.display());
    }
    let dir = &loc.data_dir;
    let _lock = setup::lock_data_dir(dir, setup::DirUse::Restore)?;
    let live = dir.join(custodian_store_sqlite::DB_FILE);
    let mut extra = Vec::new();
    if let Some(f) = ledger_file {
        extra.extend(read_ledger(f)?);
    }
    if live.exists() {
        let current = SqliteStore::open(dir)
            .await
            .context("cannot open the database being replaced")?;
        extra.extend(current.erasure_ledger().await?);
        current.close().await;
    }
    let staging = dir.join(format!("{}.restoring", custodian_store_sqlite::DB_FILE));
    for s in SQLITE_SUFFIXES {
        let _ = std::fs::remove_file(format!("{}{s}", staging.display()));
    }
    std::fs::copy(from, &staging).with_context(|| format!("cannot copy {}", from.display()))?;
    let restored = SqliteStore::open_file(&staging)
        .await
        .context("the backup is not a Custodian database")?;
    let result = async {
        setup::require_installation(&restored).await?;
        let crypto = setup::load_vault_crypto(dir, &restored).await?;
        let ledger_entries = {
            let mut all = restored.erasure_ledger().await?;
            all.extend(extra.iter().cloned());
            all.sort();
            all.dedup();
            all.len()
        };
        let erased = replay(&restored, &crypto, clock, extra).await?;
        restored
            .append_audit(cli_draft(clock, "system.restore", "database"))
            .await?;
        anyhow::Ok((erased, ledger_entries))
    }
    .await;
    restored.close().await;
    let (erased, ledger_entries) = match result {
        Ok(r) => r,
        Err(e) => {
            for s in SQLITE_SUFFIXES {
                let _ = std::fs::remove_file(format!("{}{s}", staging.display()));
            }
            return Err(e);
        }
    };
    let previous = if live.exists() {
        let aside = dir.join(format!(
            "{}.pre-restore-{}",
            custodian_store_sqlite::DB_FILE,
            clock.now().as_millisecond()
        ));
        for s in SQLITE_SUFFIXES {
            let src = PathBuf::from(format!("{}{s}", live.display()));
            if src.exists() {
                std::fs::rename(&src, format!("{}{s}", aside.display()))
                    .with_context(|| format!("cannot move {} aside", src.display()))?;
            }
        }
        Some(aside)
    } else {
        None
    };
    for s in SQLITE_SUFFIXES {
        let src = PathBuf::from(format!("{}{s}", staging.display()));
        if src.exists() {
            std::fs::rename(&src, format!("{}{s}", live.display()))
                .with_context(|| format!("cannot move {} into place", src.display()))?;
        }
    }
    Ok(Restored {
        erased,
        ledger_entries,
        previous,
    })
}

/// `custodian erasures replay`: any store.
pub async fn replay_command(
    loc: &StoreLocation,
    clock: &dyn Clock,
    ledger_file: Option<&Path>,
) -> anyhow::Result<u64> {
    let store = setup::open_store(loc).await?;
    setup::require_installation(store.as_ref()).await?;
    let crypto = setup::load_vault_crypto(&loc.data_dir, store.as_ref()).await?;
    let extra = match ledger_file {
        Some(f) => read_ledger(f)?,
        None => Vec::new(),
    };
    replay(store.as_ref(), &crypto, clock, extra).await
}
