//! Key-encryption-key rotation: a new KEK, and every subject's data key re-wrapped under it
//! while the servers keep serving.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use custodian_core::clock::Clock;
use custodian_core::ports::Store;
use custodian_core::rights::request::REQUESTER_PREFIX;
use custodian_core::vault::record::Rewrap;
use custodian_crypto::keys::{FileKeyProvider, KeyProvider};

use crate::admin::draft;

/// What a rotation did.
#[derive(Debug, Default)]
pub struct Rotation {
    /// The KEK retired by this rotation, if one was made.
    pub retired: Option<String>,
    /// The current KEK.
    pub current: String,
    /// Data keys re-wrapped.
    pub rewrapped: u64,
    /// Data keys still wrapped by another KEK, by KEK id (should be none).
    pub left: BTreeMap<String, u64>,
}

const PAGE: u32 = 500;

/// Re-wraps every data key not wrapped by the current KEK; repeats (up to three passes) while
/// keys wrapped meanwhile by a server that had not yet seen the new KEK turn up.
pub async fn rewrap_all(
    store: &dyn Store,
    provider: &FileKeyProvider,
    clock: &dyn Clock,
) -> anyhow::Result<Rotation> {
    let current = provider.current_kek_id()?;
    let mut report = Rotation {
        current: current.clone(),
        ..Rotation::default()
    };
    for _pass in 0..3 {
        let mut changed = 0;
        let mut after: Option<String> = None;
        loop {
            let keys = store.subject_keys(after.as_deref(), PAGE).await?;
            let Some(last) = keys.last() else { break };
            after = Some(last.subject_id.clone());
            let mut batch = Vec::new();
            for k in keys.iter().filter(|k| k.kek_id != current) {
                let dek = provider
                    .unwrap(&k.kek_id, &k.subject_id, &k.wrapped_dek)
                    .with_context(|| format!("cannot unwrap a data key wrapped by {}", k.kek_id))?;
                let w = provider.wrap(&k.subject_id, &dek)?;
                if w.kek_id != current {
                    // Yet another rotation began meanwhile; the count below shows it.
                    continue;
                }
                batch.push(Rewrap {
                    subject_id: k.subject_id.clone(),
                    old_kek_id: k.kek_id.clone(),
                    old_wrapped_dek: k.wrapped_dek.clone(),
                    new_kek_id: w.kek_id,
                    wrapped_dek: w.bytes,
                });
            }
            if !batch.is_empty() {
                let n = store
                    .rewrap_subject_keys(
                        &batch,
                        draft(clock, "keys.rewrap", format!("kek:{current}")),
                    )
                    .await?;
                // Keys erased or re-wrapped concurrently are skipped by the store.
                changed += n;
            }
        }
        report.rewrapped += changed;
        if changed == 0 {
            break;
        }
    }
    // What still needs an old KEK, after the passes.
    let mut after: Option<String> = None;
    loop {
        let keys = store.subject_keys(after.as_deref(), PAGE).await?;
        let Some(last) = keys.last() else { break };
        after = Some(last.subject_id.clone());
        for k in keys.iter().filter(|k| k.kek_id != current) {
            *report.left.entry(k.kek_id.clone()).or_insert(0) += 1;
        }
    }
    Ok(report)
}

/// Rotates the data key of `only` one subject, or of every subject: a job that can run
/// while the servers serve (each subject's rotation is one transaction, retried when its data
/// changes meanwhile). Returns how many subjects got a new key.
pub async fn rotate_data_keys(
    store: &dyn Store,
    crypto: &dyn custodian_core::vault::service::VaultCrypto,
    clock: &dyn Clock,
    only: Option<&str>,
) -> anyhow::Result<u64> {
    let vault = custodian_core::vault::service::Vault::new(store, crypto);
    let draft = || draft(clock, "keys.rotate_data_key", "subject".to_owned());
    if let Some(subject) = only {
        vault.rotate_data_key(subject, draft()).await?;
        return Ok(1);
    }
    let mut n = 0;
    let mut after: Option<String> = None;
    loop {
        let keys = store.subject_keys(after.as_deref(), PAGE).await?;
        let Some(last) = keys.last() else { break };
        after = Some(last.subject_id.clone());
        // A rights request's requester key seals one value, kept with the request: not a vault
        // subject's, so not rotated here (the vault refuses to rotate it).
        for k in keys
            .iter()
            .filter(|k| !k.subject_id.starts_with(REQUESTER_PREFIX))
        {
            match vault.rotate_data_key(&k.subject_id, draft()).await {
                Ok(_) => n += 1,
                // Erased meanwhile: nothing left to rotate.
                Err(
                    custodian_core::vault::service::VaultError::SubjectErased(_)
                    | custodian_core::vault::service::VaultError::SubjectNotFound,
                ) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(n)
}

/// Makes a new KEK in `data_dir` (the old one is kept as retired) and re-wraps every data key.
pub async fn rotate(
    store: &dyn Store,
    data_dir: &Path,
    clock: &dyn Clock,
    rewrap_only: bool,
) -> anyhow::Result<Rotation> {
    if crate::setup::pkcs11_config()?.is_some() {
        anyhow::bail!(
            "`keys rotate` rotates the file keyring; with a PKCS#11 KEK, rotate the key in the token with its own tools"
        );
    }
    let retired = if rewrap_only {
        None
    } else {
        let passphrase = crate::setup::kek_passphrase()?;
        let (old, new) =
            FileKeyProvider::rotate_dir_with(data_dir, passphrase.as_deref().map(String::as_str))
                .context("cannot make the new key-encryption key")?;
        store
            .append_audit(draft(clock, "keys.rotate", format!("kek:{old}->{new}")))
            .await?;
        Some(old)
    };
    let passphrase = crate::setup::kek_passphrase()?;
    let provider =
        FileKeyProvider::load_dir_with(data_dir, passphrase.as_deref().map(String::as_str))?;
    let mut r = rewrap_all(store, &provider, clock).await?;
    r.retired = retired;
    Ok(r)
}
