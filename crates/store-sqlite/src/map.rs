//! The data map's entries (`migrations/0011_map.sql`).

use async_trait::async_trait;
use custodian_core::audit::{AuditDraft, AuditEvent};
use custodian_core::map::proposal::{ProposalStatus, ScanProposal};
use custodian_core::map::{MapEntry, MapKind};
use custodian_core::ports::{MapStore, StoreError};
use custodian_core::rights::dataset::StoredDataset;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, query};

use crate::{SqliteStore, backend, ts};

fn entry_from(r: &SqliteRow) -> Result<MapEntry, StoreError> {
    let kind: String = r.try_get("kind").map_err(backend)?;
    Ok(MapEntry {
        kind: MapKind::parse(&kind)
            .ok_or_else(|| StoreError::Backend(format!("unknown map kind {kind}")))?,
        key: r.try_get("key").map_err(backend)?,
        body: r.try_get("body").map_err(backend)?,
        version: r.try_get("version").map_err(backend)?,
        created_at: ts(r.try_get("created_at").map_err(backend)?)?,
        updated_at: ts(r.try_get("updated_at").map_err(backend)?)?,
    })
}

fn proposal_from(r: &SqliteRow) -> Result<ScanProposal, StoreError> {
    let status: String = r.try_get("status").map_err(backend)?;
    let count = |c: &str| -> Result<u32, StoreError> {
        let n: i64 = r.try_get(c).map_err(backend)?;
        u32::try_from(n).map_err(|_| StoreError::Backend(format!("proposal {c} out of range")))
    };
    let confidence: f64 = r.try_get("confidence").map_err(backend)?;
    Ok(ScanProposal {
        id: r.try_get("id").map_err(backend)?,
        dataset: r.try_get("dataset").map_err(backend)?,
        table: r.try_get("table_name").map_err(backend)?,
        column: r.try_get("column_name").map_err(backend)?,
        category: r.try_get("category").map_err(backend)?,
        kind: r.try_get("kind").map_err(backend)?,
        confidence: confidence as f32,
        hint: r.try_get("hint").map_err(backend)?,
        sampled: count("sampled")?,
        matched: count("matched")?,
        embedded: r.try_get("embedded").map_err(backend)?,
        status: ProposalStatus::parse(&status)
            .ok_or_else(|| StoreError::Backend(format!("unknown proposal status {status}")))?,
        created_at: ts(r.try_get("created_at").map_err(backend)?)?,
        created_by: r.try_get("created_by").map_err(backend)?,
        decided_by: r.try_get("decided_by").map_err(backend)?,
        decided_at: r
            .try_get::<Option<i64>, _>("decided_at")
            .map_err(backend)?
            .map(ts)
            .transpose()?,
    })
}

#[async_trait]
impl MapStore for SqliteStore {
    async fn put_map(
        &self,
        entries: &[MapEntry],
        datasets: &[StoredDataset],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let (entries, datasets) = (entries.to_vec(), datasets.to_vec());
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    for e in &entries {
                        query(
                            "INSERT INTO map_entries (kind, key, body, version, created_at, updated_at) \
                             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET \
                             body = excluded.body, version = excluded.version, \
                             updated_at = excluded.updated_at",
                        )
                        .bind(e.kind.as_str())
                        .bind(&e.key)
                        .bind(&e.body)
                        .bind(e.version)
                        .bind(e.created_at.as_millisecond())
                        .bind(e.updated_at.as_millisecond())
                        .execute(&mut **tx)
                        .await
                        .map_err(backend)?;
                    }
                    for d in &datasets {
                        crate::rights::upsert_dataset(&mut *tx, d).await?;
                    }
                    tx.append(audit)
                })
            })
            .await
    }

    async fn map_entries(&self) -> Result<Vec<MapEntry>, StoreError> {
        query("SELECT * FROM map_entries ORDER BY kind, key")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(entry_from)
            .collect()
    }

    async fn delete_map_entry(
        &self,
        kind: MapKind,
        key: &str,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let key = key.to_owned();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let n = query("DELETE FROM map_entries WHERE kind = ? AND key = ?")
                        .bind(kind.as_str())
                        .bind(&key)
                        .execute(&mut **tx)
                        .await
                        .map_err(backend)?
                        .rows_affected();
                    if n == 0 {
                        return Err(StoreError::NotFound);
                    }
                    tx.append(audit)
                })
            })
            .await
    }
    async fn put_scan_proposals(
        &self,
        dataset: &str,
        proposals: &[ScanProposal],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let (dataset, proposals) = (dataset.to_owned(), proposals.to_vec());
        self.group
            .write(move |tx| {
                Box::pin(async move {
            query("DELETE FROM scan_proposals WHERE dataset = ? AND status = 'pending'")
                .bind(&dataset)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
            for p in &proposals {
                query(
                    "INSERT INTO scan_proposals (id, dataset, table_name, column_name, category, kind, \
                     confidence, hint, sampled, matched, embedded, status, created_at, created_by) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&p.id)
                .bind(&p.dataset)
                .bind(&p.table)
                .bind(&p.column)
                .bind(&p.category)
                .bind(&p.kind)
                .bind(f64::from(p.confidence))
                .bind(&p.hint)
                .bind(i64::from(p.sampled))
                .bind(i64::from(p.matched))
                .bind(p.embedded)
                .bind(p.status.as_str())
                .bind(p.created_at.as_millisecond())
                .bind(&p.created_by)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
            }

                    tx.append(audit)
                })
            })
            .await
    }

    async fn scan_proposals(&self, dataset: Option<&str>) -> Result<Vec<ScanProposal>, StoreError> {
        query("SELECT * FROM scan_proposals WHERE (? IS NULL OR dataset = ?) ORDER BY created_at DESC, id")
            .bind(dataset).bind(dataset)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(proposal_from)
            .collect()
    }

    async fn decide_scan_proposal(
        &self,
        decided: &ScanProposal,
        dataset: Option<&StoredDataset>,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let (d, dataset) = (decided.clone(), dataset.cloned());
        self.group
            .write(move |tx| {
                Box::pin(async move {
            let status: Option<String> = query("SELECT status FROM scan_proposals WHERE id = ?")
                .bind(&d.id)
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend)?
                .map(|r| r.try_get("status"))
                .transpose()
                .map_err(backend)?;
            match status.as_deref() {
                None => return Err(StoreError::NotFound),
                Some("pending") => {}
                Some(_) => return Err(StoreError::Conflict("decided")),
            }
            query("UPDATE scan_proposals SET status = ?, category = ?, decided_by = ?, decided_at = ? WHERE id = ?")
                .bind(d.status.as_str())
                .bind(&d.category)
                .bind(&d.decided_by)
                .bind(d.decided_at.map(|t| t.as_millisecond()))
                .bind(&d.id)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
            // The write is the check: a new declaration only if none exists, a next version
            // only over the one read; anything else changed it meanwhile.
            if let Some(ds) = &dataset {
                let write = if ds.version == 1 {
                    query(
                        "INSERT INTO datasets (key, declaration, version, created_at, updated_at) \
                         VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(&ds.key)
                    .bind(&ds.declaration)
                    .bind(ds.version)
                    .bind(ds.created_at.as_millisecond())
                    .bind(ds.updated_at.as_millisecond())
                } else {
                    query(
                        "UPDATE datasets SET declaration = ?, version = ?, updated_at = ? \
                         WHERE key = ? AND version = ?",
                    )
                    .bind(&ds.declaration)
                    .bind(ds.version)
                    .bind(ds.updated_at.as_millisecond())
                    .bind(&ds.key)
                    .bind(ds.version - 1)
                };
                let n = write.execute(&mut **tx).await.map_err(backend)?.rows_affected();
                if n != 1 {
                    return Err(StoreError::Conflict("version"));
                }
            }

                    tx.append(audit)
                })
            })
            .await
    }
}
