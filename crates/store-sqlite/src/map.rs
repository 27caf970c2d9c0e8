//! The data map's entries (`migrations/0011_map.sql`).

use async_trait::async_trait;
use custodian_core::audit::{AuditDraft, AuditEvent};
use custodian_core::map::{MapEntry, MapKind};
use custodian_core::ports::{MapStore, StoreError};
use custodian_core::rights::dataset::StoredDataset;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, query};

use crate::{SqliteStore, append_in, backend, ts};

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
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                    }
                    for d in &datasets {
                        crate::rights::upsert_dataset(&mut *tx, d).await?;
                    }
                    append_in(&mut *tx, audit).await
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
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?
                        .rows_affected();
                    if n == 0 {
                        return Err(StoreError::NotFound);
                    }
                    append_in(&mut *tx, audit).await
                })
            })
            .await
    }
}
