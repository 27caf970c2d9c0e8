//! Legal holds, ends of relationships and retention job leases
//! (`migrations/0012_retention.sql`). Several servers share the database: jobs are claimed
//! with `FOR UPDATE SKIP LOCKED`, so a job another process holds is passed over, not waited
//! for, and no two processes run the same job at once.

use async_trait::async_trait;
use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, AuditEvent};
use custodian_core::ports::{RetentionStore, StoreError, StoredHold};
use custodian_core::retention::{Hold, HoldScope};
use sqlx::postgres::PgRow;
use sqlx::{Row, query};

use crate::{PostgresStore, append_in, backend, opt_ts, ts};

/// Whether a legal hold on the subject is active at `at` (read under a share lock, so a
/// hold being placed concurrently is waited for).
async fn subject_held(
    conn: &mut sqlx::PgConnection,
    subject: &str,
    at: Timestamp,
) -> Result<bool, StoreError> {
    Ok(query(
        "SELECT 1 FROM legal_holds WHERE scope = 'subject' AND target = $1 \
         AND (released_at IS NULL OR released_at > $2) AND (expires_at IS NULL OR expires_at > $2) \
         LIMIT 1 FOR SHARE",
    )
    .bind(subject)
    .bind(at.as_millisecond())
    .fetch_optional(conn)
    .await
    .map_err(backend)?
    .is_some())
}

fn hold_from(r: &PgRow) -> Result<StoredHold, StoreError> {
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

#[async_trait]
impl RetentionStore for PostgresStore {
    async fn put_hold(
        &self,
        hold: &StoredHold,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let h = hold;
        let (scope, target) = match &h.hold.scope {
            HoldScope::Subject(s) => ("subject", s.as_str()),
            HoldScope::Dataset(d) => ("dataset", d.as_str()),
        };
        let mut tx = self.begin().await?;
        query(
            "INSERT INTO legal_holds (id, scope, target, reason, created_by, created_at, \
             expires_at, released_at, released_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
        .execute(&mut *tx)
        .await
        .map_err(|e| match backend(e) {
            StoreError::Conflict(_) => StoreError::Conflict("hold"),
            other => other,
        })?;
        let event = append_in(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)?;
        Ok(event)
    }

    async fn holds(&self) -> Result<Vec<StoredHold>, StoreError> {
        query("SELECT * FROM legal_holds ORDER BY created_at, id")
            .fetch_all(&self.pool)
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
        let mut tx = self.begin().await?;
        let released: Option<Option<i64>> =
            query("SELECT released_at FROM legal_holds WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
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
        query("UPDATE legal_holds SET released_at = $1, released_by = $2 WHERE id = $3")
            .bind(at.as_millisecond())
            .bind(by)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let event = append_in(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)?;
        Ok(event)
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
        let mut tx = self.begin().await?;
        let out: Result<AuditEvent, StoreError> = async {
                    // The audit head first, as every writer of the vault locks it (see `Appender`).
                    let event = append_in(&mut tx, audit).await?;
                    let row = query("SELECT subject_id, updated_at FROM vault_records WHERE id = $1 AND collection = $2 FOR UPDATE")
                        .bind(&id)
                        .bind(&collection)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(backend)?
                        .ok_or(StoreError::NotFound)?;
                    let subject: String = row.try_get("subject_id").map_err(backend)?;
                    let updated: i64 = row.try_get("updated_at").map_err(backend)?;
                    if updated != expected_updated_at.as_millisecond() {
                        return Err(StoreError::Conflict("record_version"));
                    }
                    if subject_held(&mut tx, &subject, at).await? {
                        return Err(StoreError::Conflict("held"));
                    }
                    let touched: Vec<String> = match &fields {
                        Some(f) => f.clone(),
                        None => query("SELECT field FROM vault_cells WHERE record_id = $1")
                            .bind(&id)
                            .fetch_all(&mut *tx)
                            .await
                            .map_err(backend)?
                            .iter()
                            .map(|r| r.try_get("field").map_err(backend))
                            .collect::<Result<_, _>>()?,
                    };
                    match &fields {
                        None => crate::vault::delete_record(&mut tx, &collection, &id).await?,
                        Some(f) => {
                            for field in f {
                                query("DELETE FROM vault_cells WHERE record_id = $1 AND field = $2")
                                    .bind(&id)
                                    .bind(field)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(backend)?;
                                query("DELETE FROM vault_index WHERE record_id = $1 AND field = $2")
                                    .bind(&id)
                                    .bind(field)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(backend)?;
                            }
                            query("UPDATE vault_records SET updated_at = $1 WHERE id = $2")
                                .bind(at.as_millisecond())
                                .bind(&id)
                                .execute(&mut *tx)
                                .await
                                .map_err(backend)?;
                        }
                    }
                    crate::vault::forget_tokens(&mut tx, &subject, &collection, &touched).await?;
                    Ok(event)
        }
        .await;
        let out = out?;
        tx.commit().await.map_err(backend)?;
        Ok(out)
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
        let mut tx = self.begin().await?;
        // The audit head first, as every writer of the vault locks it (see `Appender`).
        append_in(&mut tx, audit).await?;
        if subject_held(&mut tx, subject_id, at).await? {
            return Err(StoreError::Conflict("held"));
        }
        let row = query(
            "SELECT COUNT(*) AS n, MAX(updated_at) AS latest FROM \
             (SELECT updated_at FROM vault_records WHERE subject_id = $1 FOR UPDATE) r",
        )
        .bind(subject_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        let n: i64 = row.try_get("n").map_err(backend)?;
        let latest: Option<i64> = row.try_get("latest").map_err(backend)?;
        if u64::try_from(n).unwrap_or(u64::MAX) != records
            || latest != latest_update.map(|t| t.as_millisecond())
        {
            return Err(StoreError::Conflict("record_version"));
        }
        let erased = crate::vault::erase_subject(&mut tx, subject_id, pseudonym, at).await?;
        tx.commit().await.map_err(backend)?;
        Ok(erased)
    }

    async fn renew_retention_job(
        &self,
        name: &str,
        owner: &str,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(
            query(
                "UPDATE retention_jobs SET lease_until = $1 WHERE name = $2 AND lease_owner = $3",
            )
            .bind(until.as_millisecond())
            .bind(name)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected()
                == 1,
        )
    }

    async fn set_relationship_end(
        &self,
        subject_id: &str,
        ended_at: Option<Timestamp>,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        match ended_at {
            Some(t) => query(
                "INSERT INTO subject_relationships (subject_id, ended_at) VALUES ($1, $2) \
                 ON CONFLICT (subject_id) DO UPDATE SET ended_at = excluded.ended_at",
            )
            .bind(subject_id)
            .bind(t.as_millisecond()),
            None => {
                query("DELETE FROM subject_relationships WHERE subject_id = $1").bind(subject_id)
            }
        }
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let event = append_in(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)?;
        Ok(event)
    }

    async fn relationship_ends(&self) -> Result<Vec<(String, Timestamp)>, StoreError> {
        query("SELECT subject_id, ended_at FROM subject_relationships ORDER BY subject_id")
            .fetch_all(&self.pool)
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
        query(
            "INSERT INTO retention_jobs (name, due_at) SELECT unnest($1::text[]), 0 \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(names)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        let mut tx = self.begin().await?;
        let rows = query(
            "SELECT name FROM retention_jobs WHERE name = ANY($1) AND ($2 OR due_at <= $3) \
             AND (lease_until IS NULL OR lease_until < $3) ORDER BY name \
             FOR UPDATE SKIP LOCKED",
        )
        .bind(names)
        .bind(force)
        .bind(now.as_millisecond())
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let claimed: Vec<String> = rows
            .iter()
            .map(|r| r.try_get("name").map_err(backend))
            .collect::<Result<_, _>>()?;
        query("UPDATE retention_jobs SET lease_owner = $1, lease_until = $2 WHERE name = ANY($3)")
            .bind(owner)
            .bind(until.as_millisecond())
            .bind(&claimed)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(claimed)
    }

    async fn finish_retention_job(
        &self,
        name: &str,
        owner: &str,
        at: Timestamp,
        next_due: Timestamp,
        outcome: &str,
    ) -> Result<(), StoreError> {
        query(
            "UPDATE retention_jobs SET lease_owner = NULL, lease_until = NULL, due_at = $1, \
             last_run_at = $2, last_outcome = $3 WHERE name = $4 AND lease_owner = $5",
        )
        .bind(next_due.as_millisecond())
        .bind(at.as_millisecond())
        .bind(outcome)
        .bind(name)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }
}
