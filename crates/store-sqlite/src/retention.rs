//! Legal holds, ends of relationships and retention job leases
//! (`migrations/0012_retention.sql`). One process owns an SQLite database, so a lease is a
//! plain conditional update on the single writer.

use async_trait::async_trait;
use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, AuditEvent};
use custodian_core::ports::{RetentionStore, StoreError, StoredHold};
use custodian_core::retention::{Hold, HoldScope};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, query};

use crate::{SqliteStore, backend, opt_ts, ts};

/// Whether a legal hold on the subject is active at `at`.
async fn subject_held(
    conn: &mut sqlx::SqliteConnection,
    subject: &str,
    at: Timestamp,
) -> Result<bool, StoreError> {
    Ok(query(
        "SELECT 1 FROM legal_holds WHERE scope = 'subject' AND target = ? \
         AND (released_at IS NULL OR released_at > ?) AND (expires_at IS NULL OR expires_at > ?) LIMIT 1",
    )
    .bind(subject)
    .bind(at.as_millisecond())
    .bind(at.as_millisecond())
    .fetch_optional(conn)
    .await
    .map_err(backend)?
    .is_some())
}

fn hold_from(r: &SqliteRow) -> Result<StoredHold, StoreError> {
    let scope: String = r.try_get("scope").map_err(backend)?;
    let target: String = r.try_get("target").map_err(backend)?;
    Ok(StoredHold {
        hold: Hold {
            id: r.try_get("id").map_err(backend)?,
            scope: match scope.as_str() {
                "subject" => HoldScope::Subject(target),
                "dataset" => HoldScope::Dataset(target),
                _ => return Err(StoreError::Backend(format!("unknown hold scope {scope}"))),
            },
            reason: r.try_get("reason").map_err(backend)?,
            created_at: ts(r.try_get("created_at").map_err(backend)?)?,
            expires_at: opt_ts(r.try_get("expires_at").map_err(backend)?)?,
            released_at: opt_ts(r.try_get("released_at").map_err(backend)?)?,
        },
        created_by: r.try_get("created_by").map_err(backend)?,
        released_by: r.try_get("released_by").map_err(backend)?,
    })
}

/// The stored scope and target of a hold.
fn scope_parts(scope: &HoldScope) -> (&'static str, &str) {
    match scope {
        HoldScope::Subject(s) => ("subject", s),
        HoldScope::Dataset(d) => ("dataset", d),
    }
}

#[async_trait]
impl RetentionStore for SqliteStore {
    async fn put_hold(
        &self,
        hold: &StoredHold,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let h = hold.clone();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let (scope, target) = scope_parts(&h.hold.scope);
                    query(
                        "INSERT INTO legal_holds (id, scope, target, reason, created_by, created_at, \
                         expires_at, released_at, released_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(&h.hold.id)
                    .bind(scope)
                    .bind(target)
                    .bind(&h.hold.reason)
                    .bind(&h.created_by)
                    .bind(h.hold.created_at.as_millisecond())
                    .bind(h.hold.expires_at.map(|t| t.as_millisecond()))
                    .bind(h.hold.released_at.map(|t| t.as_millisecond()))
                    .bind(&h.released_by)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| match backend(e) {
                        StoreError::Conflict(_) => StoreError::Conflict("hold"),
                        other => other,
                    })?;
                    tx.append(audit)
                })
            })
            .await
    }

    async fn holds(&self) -> Result<Vec<StoredHold>, StoreError> {
        query("SELECT * FROM legal_holds ORDER BY created_at, id")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(hold_from)
            .collect()
    }

    async fn release_hold(
        &self,
        id: &str,
        at: Timestamp,
        by: &str,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let (id, by) = (id.to_owned(), by.to_owned());
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let released: Option<Option<i64>> =
                        query("SELECT released_at FROM legal_holds WHERE id = ?")
                            .bind(&id)
                            .fetch_optional(&mut **tx)
                            .await
                            .map_err(backend)?
                            .map(|r| r.try_get("released_at"))
                            .transpose()
                            .map_err(backend)?;
                    match released {
                        None => return Err(StoreError::NotFound),
                        Some(Some(_)) => return Err(StoreError::Conflict("released")),
                        Some(None) => {}
                    }
                    query("UPDATE legal_holds SET released_at = ?, released_by = ? WHERE id = ?")
                        .bind(at.as_millisecond())
                        .bind(&by)
                        .bind(&id)
                        .execute(&mut **tx)
                        .await
                        .map_err(backend)?;
                    tx.append(audit)
                })
            })
            .await
    }

    async fn dispose_record(
        &self,
        collection: &str,
        record_id: &str,
        fields: Option<&[String]>,
        expected_updated_at: Timestamp,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let (collection, id) = (collection.to_owned(), record_id.to_owned());
        let fields: Option<Vec<String>> = fields.map(<[String]>::to_vec);
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let row = query("SELECT subject_id, updated_at FROM vault_records WHERE id = ? AND collection = ?")
                        .bind(&id)
                        .bind(&collection)
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(backend)?
                        .ok_or(StoreError::NotFound)?;
                    let subject: String = row.try_get("subject_id").map_err(backend)?;
                    let updated: i64 = row.try_get("updated_at").map_err(backend)?;
                    if updated != expected_updated_at.as_millisecond() {
                        return Err(StoreError::Conflict("record_version"));
                    }
                    if subject_held(&mut *tx, &subject, at).await? {
                        return Err(StoreError::Conflict("held"));
                    }
                    let touched: Vec<String> = match &fields {
                        Some(f) => f.clone(),
                        None => query("SELECT field FROM vault_cells WHERE record_id = ?")
                            .bind(&id)
                            .fetch_all(&mut **tx)
                            .await
                            .map_err(backend)?
                            .iter()
                            .map(|r| r.try_get("field").map_err(backend))
                            .collect::<Result<_, _>>()?,
                    };
                    match &fields {
                        None => crate::vault::delete_record(&mut *tx, &collection, &id).await?,
                        Some(f) => {
                            for field in f {
                                query("DELETE FROM vault_cells WHERE record_id = ? AND field = ?")
                                    .bind(&id)
                                    .bind(field)
                                    .execute(&mut **tx)
                                    .await
                                    .map_err(backend)?;
                                query("DELETE FROM vault_index WHERE record_id = ? AND field = ?")
                                    .bind(&id)
                                    .bind(field)
                                    .execute(&mut **tx)
                                    .await
                                    .map_err(backend)?;
                            }
                            query("UPDATE vault_records SET updated_at = ? WHERE id = ?")
                                .bind(at.as_millisecond())
                                .bind(&id)
                                .execute(&mut **tx)
                                .await
                                .map_err(backend)?;
                        }
                    }
                    crate::vault::forget_tokens(&mut *tx, &subject, &collection, &touched).await?;
                    tx.append(audit)
                })
            })
            .await
    }

    async fn shred_for_retention(
        &self,
        subject_id: &str,
        pseudonym: &str,
        at: Timestamp,
        records: u64,
        latest_update: Option<Timestamp>,
        audit: AuditDraft,
    ) -> Result<custodian_core::vault::record::Erased, StoreError> {
        let (subject, pseudonym) = (subject_id.to_owned(), pseudonym.to_owned());
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    if subject_held(&mut *tx, &subject, at).await? {
                        return Err(StoreError::Conflict("held"));
                    }
                    let row = query(
                        "SELECT COUNT(*) AS n, MAX(updated_at) AS latest FROM vault_records WHERE subject_id = ?",
                    )
                    .bind(&subject)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(backend)?;
                    let n: i64 = row.try_get("n").map_err(backend)?;
                    let latest: Option<i64> = row.try_get("latest").map_err(backend)?;
                    if u64::try_from(n).unwrap_or(u64::MAX) != records
                        || latest != latest_update.map(|t| t.as_millisecond())
                    {
                        return Err(StoreError::Conflict("record_version"));
                    }
                    tx.append(audit)?;
                    crate::vault::erase_subject(&mut *tx, &subject, &pseudonym, at).await
                })
            })
            .await
    }

    async fn renew_retention_job(
        &self,
        name: &str,
        owner: &str,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let (name, owner) = (name.to_owned(), owner.to_owned());
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    Ok(query(
                        "UPDATE retention_jobs SET lease_until = ? WHERE name = ? AND lease_owner = ?",
                    )
                    .bind(until.as_millisecond())
                    .bind(&name)
                    .bind(&owner)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?
                    .rows_affected()
                        == 1)
                })
            })
            .await
    }

    async fn set_relationship_end(
        &self,
        subject_id: &str,
        ended_at: Option<Timestamp>,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let subject = subject_id.to_owned();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    match ended_at {
                        Some(t) => query(
                            "INSERT INTO subject_relationships (subject_id, ended_at) VALUES (?, ?) \
                             ON CONFLICT (subject_id) DO UPDATE SET ended_at = excluded.ended_at",
                        )
                        .bind(&subject)
                        .bind(t.as_millisecond()),
                        None => query("DELETE FROM subject_relationships WHERE subject_id = ?")
                            .bind(&subject),
                    }
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                    tx.append(audit)
                })
            })
            .await
    }

    async fn relationship_ends(&self) -> Result<Vec<(String, Timestamp)>, StoreError> {
        query("SELECT subject_id, ended_at FROM subject_relationships ORDER BY subject_id")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("subject_id").map_err(backend)?,
                    ts(r.try_get("ended_at").map_err(backend)?)?,
                ))
            })
            .collect()
    }

    async fn claim_retention_jobs(
        &self,
        names: &[String],
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        force: bool,
    ) -> Result<Vec<String>, StoreError> {
        let (names, owner) = (names.to_vec(), owner.to_owned());
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let mut claimed = Vec::new();
                    for name in &names {
                        query(
                            "INSERT INTO retention_jobs (name, due_at) VALUES (?, 0) \
                             ON CONFLICT (name) DO NOTHING",
                        )
                        .bind(name)
                        .execute(&mut **tx)
                        .await
                        .map_err(backend)?;
                        let n = query(
                            "UPDATE retention_jobs SET lease_owner = ?, lease_until = ? \
                             WHERE name = ? AND (? OR due_at <= ?) \
                             AND (lease_until IS NULL OR lease_until < ?)",
                        )
                        .bind(&owner)
                        .bind(until.as_millisecond())
                        .bind(name)
                        .bind(force)
                        .bind(now.as_millisecond())
                        .bind(now.as_millisecond())
                        .execute(&mut **tx)
                        .await
                        .map_err(backend)?
                        .rows_affected();
                        if n == 1 {
                            claimed.push(name.clone());
                        }
                    }
                    Ok(claimed)
                })
            })
            .await
    }

    async fn finish_retention_job(
        &self,
        name: &str,
        owner: &str,
        at: Timestamp,
        next_due: Timestamp,
        outcome: &str,
    ) -> Result<(), StoreError> {
        let (name, owner, outcome) = (name.to_owned(), owner.to_owned(), outcome.to_owned());
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    query(
                        "UPDATE retention_jobs SET lease_owner = NULL, lease_until = NULL, \
                         due_at = ?, last_run_at = ?, last_outcome = ? \
                         WHERE name = ? AND lease_owner = ?",
                    )
                    .bind(next_due.as_millisecond())
                    .bind(at.as_millisecond())
                    .bind(&outcome)
                    .bind(&name)
                    .bind(&owner)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                    Ok(())
                })
            })
            .await
    }
}
