//! Importing a document into the stored map: read against the map in force, then every
//! changed entry and dataset written in one transaction with one audit event naming them.

use jiff::Timestamp;
use serde_json::Value;

use super::{DataMap, MapEntry, load, read_document};
use crate::audit::{AuditDraft, AuditEvent};
use crate::doc::DocError;
use crate::ports::{Store, StoreError};
use crate::rights::dataset::StoredDataset;

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    /// Entries (and datasets) that were new.
    pub added: Vec<String>,
    /// Entries that replaced a different one.
    pub replaced: Vec<String>,
    /// Entries identical to the stored ones (not written).
    pub unchanged: usize,
}

/// Why an import failed (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The document breaks a rule.
    #[error("{0}")]
    Invalid(DocError),
    /// The store failed, or the stored map no longer reads.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// The stored map, read.
pub async fn current(store: &dyn Store) -> Result<DataMap, StoreError> {
    let entries = store.map_entries().await?;
    let datasets = store.datasets().await?;
    load(&entries, &datasets).map_err(|e| StoreError::Backend(format!("stored map: {e}")))
}

/// Imports `doc`: validated against the map in force (taxonomy additions in the store or
/// earlier in the document), then written all at once. `audit` is completed with the action
/// `map.imported`, resource `map` and, as its fields, the entries written (`system:crm`,
/// `dataset:shop`). A document that changes nothing writes no entry; its event (with no
/// fields) is still appended.
pub async fn import(
    store: &dyn Store,
    doc: &Value,
    now: Timestamp,
    mut audit: AuditDraft,
) -> Result<(Imported, AuditEvent), ImportError> {
    let entries = store.map_entries().await?;
    let datasets = store.datasets().await?;
    let base =
        load(&entries, &datasets).map_err(|e| StoreError::Backend(format!("stored map: {e}")))?;
    let read = read_document(doc, &base).map_err(ImportError::Invalid)?;
    let mut out = Imported::default();
    let mut put = Vec::new();
    for (kind, key, value) in read.entries {
        let body = value.to_string();
        let name = format!("{}:{key}", kind.as_str());
        let before = entries.iter().find(|e| e.kind == kind && e.key == key);
        match before {
            Some(b) if b.body == body => {
                out.unchanged += 1;
                continue;
            }
            Some(_) => out.replaced.push(name),
            None => out.added.push(name),
        }
        put.push(MapEntry {
            kind,
            key,
            body,
            version: before.map_or(1, |b| b.version + 1),
            created_at: before.map_or(now, |b| b.created_at),
            updated_at: now,
        });
    }
    let mut put_datasets = Vec::new();
    for (key, value) in read.datasets {
        let declaration = value.to_string();
        let name = format!("dataset:{key}");
        let before = datasets.iter().find(|d| d.key == key);
        match before {
            Some(b) if b.declaration == declaration => {
                out.unchanged += 1;
                continue;
            }
            Some(_) => out.replaced.push(name),
            None => out.added.push(name),
        }
        put_datasets.push(StoredDataset {
            key,
            declaration,
            version: before.map_or(1, |b| b.version + 1),
            created_at: before.map_or(now, |b| b.created_at),
            updated_at: now,
        });
    }
    audit.action = "map.imported".into();
    audit.resource = "map".into();
    audit.fields = out.added.iter().chain(&out.replaced).cloned().collect();
    let event = if put.is_empty() && put_datasets.is_empty() {
        store.append_audit(audit).await?
    } else {
        store.put_map(&put, &put_datasets, audit).await?
    };
    Ok((out, event))
}

/// What the consent check needs of the installation's purposes: each purpose's data uses
/// and whether its notice has a published version.
pub async fn purpose_facts(
    store: &dyn Store,
) -> Result<Vec<super::check::PurposeFacts>, StoreError> {
    let notices = store.list_notices().await?;
    Ok(store
        .list_purposes()
        .await?
        .into_iter()
        .map(|p| super::check::PurposeFacts {
            published_notice: p
                .purpose
                .notice
                .as_ref()
                .is_some_and(|n| notices.iter().any(|x| &x.key == n)),
            key: p.purpose.key,
            data_uses: p.purpose.data_uses,
        })
        .collect())
}

/// Checks the stored map against a policy, with the installation's purposes and its DPIAs
/// (approved and not past their review date at `now`).
pub async fn check_stored(
    store: &dyn Store,
    policy: &[super::check::PolicyRule],
    now: Timestamp,
) -> Result<super::check::Report, StoreError> {
    let map = current(store).await?;
    let purposes = purpose_facts(store).await?;
    let dpias = crate::register::dpias(store).await?;
    let covers =
        |system: &str, data_use: &str| dpias.iter().any(|d| d.covers(system, data_use, now));
    Ok(super::check::evaluate(
        policy,
        &map,
        Some(&purposes),
        Some(&covers),
    ))
}
