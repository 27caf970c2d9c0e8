//! `custodian evidence export` and `custodian evidence verify`: the auditor's evidence
//! bundle (`custodian_server::evidence`) made from the database without a server, and checked
//! offline with nothing but the audit log's public key.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use custodian_core::audit::{AuditDraft, Decision};
use custodian_core::clock::Clock;
use custodian_server::evidence::{Manifest, Verified};

use crate::config::StoreLocation;
use crate::setup;

/// Builds a bundle of the installation as it is now into `out` (which must not exist) and
/// records it, so the next bundle proves consistency from this one.
pub async fn export(
    loc: &StoreLocation,
    clock: Arc<dyn Clock>,
    out: &Path,
) -> anyhow::Result<Manifest> {
    // Made first, so a path that cannot be written fails before a bundle is recorded.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .with_context(|| format!("cannot create {} (it must not exist)", out.display()))?;
    let made = async {
        let store = setup::open_store(loc).await?;
        let installation = setup::require_installation(store.as_ref()).await?;
        let now = clock.now();
        let state = setup::app_state(
            loc,
            store,
            &installation,
            clock,
            custodian_server::ServerConfig::default(),
        )
        .await?;
        let draft = AuditDraft::new(
            now,
            "cli",
            "cli",
            "evidence.export",
            "compliance",
            Decision::Allow,
        );
        custodian_server::evidence::build(&state, draft)
            .await
            .map_err(|e| anyhow!("{}: {}", e.code().code(), e.message()))
    }
    .await;
    match made {
        Ok(built) => {
            file.write_all(&built.bytes)
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write {}", out.display()))?;
            Ok(built.manifest)
        }
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(out);
            Err(e)
        }
    }
}

/// Verifies a bundle offline (and that it follows `previous`, when given).
pub fn verify(path: &Path, vkey: &str, previous: Option<&Path>) -> anyhow::Result<Verified> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
    let bytes = read(path)?;
    let before = previous.map(read).transpose()?;
    custodian_server::evidence::verify(&bytes, vkey, before.as_deref())
        .map_err(|e| anyhow!("the bundle does not verify: {e}"))
}
