//! The propagation tables: targets, the outbox and deliveries (see
//! `custodian_core::consent::outbox`).

use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, AuditEvent};
use custodian_core::consent::outbox::{
    Delivery, DeliveryState, DueDelivery, OutboxMessage, Target, TargetKind,
};
use custodian_core::ports::StoreError;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{Row, query};

use crate::{SqliteStore, backend, opt_ts, ts};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("stored {what} cannot be read"))
}

/// An erasure's share of the outbox: the subject's undelivered changes made up to `at` are
/// never sent (their deliveries fail with `subject_erased`) and every sealed message made up
/// to then that names the subject is deleted, delivered or not, so no copy of the subject id
/// outlives the erasure. Also run for each entry of a merged erasure ledger (after a restore).
pub(crate) async fn forget_subject(
    conn: &mut SqliteConnection,
    pseudonym: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    query(
        "UPDATE consent_deliveries SET state = 'failed', next_attempt_at = NULL, \
         last_error = 'subject_erased', updated_at = ? WHERE state = 'pending' \
         AND event_id IN (SELECT event_id FROM consent_outbox WHERE subject = ? AND created_at <= ?)",
    )
    .bind(at.as_millisecond())
    .bind(pseudonym)
    .bind(at.as_millisecond())
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    query("DELETE FROM consent_outbox WHERE subject = ? AND created_at <= ?")
        .bind(pseudonym)
        .bind(at.as_millisecond())
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Replaces a target's purposes.
async fn write_purposes(conn: &mut SqliteConnection, t: &Target) -> Result<(), StoreError> {
    query("DELETE FROM consent_target_purposes WHERE target_id = ?")
        .bind(&t.id)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    for p in &t.purposes {
        query("INSERT INTO consent_target_purposes (target_id, purpose) VALUES (?, ?)")
            .bind(&t.id)
            .bind(p)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    Ok(())
}

/// Writes one message and a pending delivery for each enabled target that wants its purpose.
pub(crate) async fn enqueue(
    conn: &mut SqliteConnection,
    m: &OutboxMessage,
    at: Timestamp,
) -> Result<(), StoreError> {
    query(
        "INSERT INTO consent_outbox (event_id, purpose, subject, sealed, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&m.event_id)
    .bind(&m.purpose)
    .bind(&m.subject)
    .bind(&m.sealed)
    .bind(at.as_millisecond())
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    query(
        "INSERT INTO consent_deliveries (event_id, target_id, state, attempts, next_attempt_at, updated_at) \
         SELECT ?, t.id, 'pending', 0, ?, ? FROM consent_targets t WHERE t.enabled AND (t.all_purposes \
         OR EXISTS (SELECT 1 FROM consent_target_purposes p WHERE p.target_id = t.id AND p.purpose = ?))",
    )
    .bind(&m.event_id)
    .bind(at.as_millisecond())
    .bind(at.as_millisecond())
    .bind(&m.purpose)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

async fn purposes_of(store: &SqliteStore, id: &str) -> Result<Vec<String>, StoreError> {
    query("SELECT purpose FROM consent_target_purposes WHERE target_id = ? ORDER BY purpose")
        .bind(id)
        .fetch_all(&store.reader)
        .await
        .map_err(backend)?
        .iter()
        .map(|r| r.try_get("purpose").map_err(backend))
        .collect()
}

async fn target_from(store: &SqliteStore, r: &SqliteRow) -> Result<Target, StoreError> {
    let id: String = r.try_get("id").map_err(backend)?;
    let kind: String = r.try_get("kind").map_err(backend)?;
    let all: bool = r.try_get("all_purposes").map_err(backend)?;
    Ok(Target {
        kind: TargetKind::parse(&kind).ok_or_else(|| corrupt("target"))?,
        url: r.try_get("url").map_err(backend)?,
        purposes: if all {
            Vec::new()
        } else {
            purposes_of(store, &id).await?
        },
        enabled: r.try_get("enabled").map_err(backend)?,
        description: r.try_get("description").map_err(backend)?,
        secret_sealed: r.try_get("secret_sealed").map_err(backend)?,
        previous_secret: match (
            r.try_get::<Option<Vec<u8>>, _>("previous_secret_sealed")
                .map_err(backend)?,
            r.try_get::<Option<i64>, _>("previous_secret_until")
                .map_err(backend)?,
        ) {
            (Some(sealed), Some(until)) => Some((sealed, ts(until)?)),
            _ => None,
        },
        created_at: ts(r.try_get("created_at").map_err(backend)?)?,
        id,
    })
}

fn delivery_from(r: &SqliteRow) -> Result<Delivery, StoreError> {
    let state: String = r.try_get("state").map_err(backend)?;
    Ok(Delivery {
        event_id: r.try_get("event_id").map_err(backend)?,
        target_id: r.try_get("target_id").map_err(backend)?,
        state: DeliveryState::parse(&state).ok_or_else(|| corrupt("delivery"))?,
        attempts: u32::try_from(r.try_get::<i64, _>("attempts").map_err(backend)?)
            .map_err(|_| corrupt("delivery"))?,
        next_attempt_at: opt_ts(r.try_get("next_attempt_at").map_err(backend)?)?,
        last_status: r
            .try_get::<Option<i64>, _>("last_status")
            .map_err(backend)?
            .and_then(|s| u16::try_from(s).ok()),
        last_error: r.try_get("last_error").map_err(backend)?,
        updated_at: ts(r.try_get("updated_at").map_err(backend)?)?,
    })
}

impl SqliteStore {
    pub(crate) async fn put_target_impl(
        &self,
        t: &Target,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let t = t.clone();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    query(
                        "INSERT INTO consent_targets (id, kind, url, all_purposes, enabled, description, secret_sealed, \
                         previous_secret_sealed, previous_secret_until, created_at) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET url = excluded.url, \
                         all_purposes = excluded.all_purposes, enabled = excluded.enabled, \
                         description = excluded.description, secret_sealed = excluded.secret_sealed, \
                         previous_secret_sealed = excluded.previous_secret_sealed, \
                         previous_secret_until = excluded.previous_secret_until",
                    )
                    .bind(&t.id)
                    .bind(t.kind.as_str())
                    .bind(t.url.as_deref())
                    .bind(t.purposes.is_empty())
                    .bind(t.enabled)
                    .bind(t.description.as_deref())
                    .bind(t.secret_sealed.as_deref())
                    .bind(t.previous_secret.as_ref().map(|(s, _)| s.as_slice()))
                    .bind(t.previous_secret.as_ref().map(|(_, u)| u.as_millisecond()))
                    .bind(t.created_at.as_millisecond())
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                    write_purposes(&mut *tx, &t).await?;
                    tx.append(audit)
                })
            })
            .await
    }

    pub(crate) async fn update_target_impl(
        &self,
        t: &Target,
        expected: Option<&[u8]>,
        audit: AuditDraft,
    ) -> Result<Option<AuditEvent>, StoreError> {
        let (t, expected) = (t.clone(), expected.map(<[u8]>::to_vec));
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let changed = query(
                        "UPDATE consent_targets SET url = ?, all_purposes = ?, enabled = ?, description = ?, \
                         secret_sealed = ?, previous_secret_sealed = ?, previous_secret_until = ? \
                         WHERE id = ? AND secret_sealed IS ?",
                    )
                    .bind(t.url.as_deref())
                    .bind(t.purposes.is_empty())
                    .bind(t.enabled)
                    .bind(t.description.as_deref())
                    .bind(t.secret_sealed.as_deref())
                    .bind(t.previous_secret.as_ref().map(|(s, _)| s.as_slice()))
                    .bind(t.previous_secret.as_ref().map(|(_, u)| u.as_millisecond()))
                    .bind(&t.id)
                    .bind(expected.as_deref())
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?
                    .rows_affected();
                    if changed == 0 {
                        return Ok(None);
                    }
                    write_purposes(&mut *tx, &t).await?;
                    tx.append(audit).map(Some)
                })
            })
            .await
    }

    pub(crate) async fn delete_target_impl(
        &self,
        id: &str,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<Option<AuditEvent>, StoreError> {
        let id = id.to_owned();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let gone = query("DELETE FROM consent_targets WHERE id = ?")
                        .bind(&id)
                        .execute(&mut **tx)
                        .await
                        .map_err(backend)?
                        .rows_affected();
                    if gone == 0 {
                        return Ok(None);
                    }
                    query(
                        "UPDATE consent_deliveries SET state = 'failed', next_attempt_at = NULL, \
                         last_error = 'target_removed', updated_at = ? WHERE target_id = ? AND state = 'pending'",
                    )
                    .bind(at.as_millisecond())
                    .bind(&id)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                    tx.append(audit).map(Some)
                })
            })
            .await
    }

    pub(crate) async fn get_target_impl(&self, id: &str) -> Result<Option<Target>, StoreError> {
        let row = query("SELECT * FROM consent_targets WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        match row {
            Some(r) => Ok(Some(target_from(self, &r).await?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn list_targets_impl(&self) -> Result<Vec<Target>, StoreError> {
        let rows = query("SELECT * FROM consent_targets ORDER BY created_at, id")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(target_from(self, r).await?);
        }
        Ok(out)
    }

    pub(crate) async fn claim_deliveries_impl(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        nats: bool,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let rows = query(
                        "SELECT d.*, o.purpose, o.sealed FROM consent_deliveries d \
                         JOIN consent_outbox o ON o.event_id = d.event_id \
                         WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND (? OR d.target_id <> 'nats') \
                         ORDER BY d.next_attempt_at, d.event_id LIMIT ?",
                    )
                    .bind(now.as_millisecond())
                    .bind(nats)
                    .bind(i64::from(limit))
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(backend)?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let mut delivery = delivery_from(r)?;
                        query(
                            "UPDATE consent_deliveries SET next_attempt_at = ? WHERE event_id = ? AND target_id = ?",
                        )
                        .bind(lease_until.as_millisecond())
                        .bind(&delivery.event_id)
                        .bind(&delivery.target_id)
                        .execute(&mut **tx)
                        .await
                        .map_err(backend)?;
                        delivery.next_attempt_at = Some(lease_until);
                        out.push(DueDelivery {
                            delivery,
                            purpose: r.try_get("purpose").map_err(backend)?,
                            sealed: r.try_get("sealed").map_err(backend)?,
                        });
                    }
                    Ok(out)
                })
            })
            .await
    }

    pub(crate) async fn finish_delivery_impl(&self, d: &Delivery) -> Result<(), StoreError> {
        let d = d.clone();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    query(
                        "UPDATE consent_deliveries SET state = ?, attempts = ?, next_attempt_at = ?, \
                         last_status = ?, last_error = ?, updated_at = ? \
                         WHERE event_id = ? AND target_id = ? AND state = 'pending'",
                    )
                    .bind(d.state.as_str())
                    .bind(i64::from(d.attempts))
                    .bind(d.next_attempt_at.map(|t| t.as_millisecond()))
                    .bind(d.last_status.map(i64::from))
                    .bind(d.last_error.as_deref())
                    .bind(d.updated_at.as_millisecond())
                    .bind(&d.event_id)
                    .bind(&d.target_id)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                    Ok(())
                })
            })
            .await
    }

    pub(crate) async fn deliveries_impl(
        &self,
        event_id: &str,
    ) -> Result<Vec<Delivery>, StoreError> {
        query("SELECT * FROM consent_deliveries WHERE event_id = ? ORDER BY target_id")
            .bind(event_id)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(delivery_from)
            .collect()
    }

    pub(crate) async fn acknowledge_impl(
        &self,
        target_id: &str,
        event_ids: &[String],
        at: Timestamp,
    ) -> Result<u64, StoreError> {
        let (target_id, event_ids) = (target_id.to_owned(), event_ids.to_vec());
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let mut n = 0;
                    for e in &event_ids {
                        n += query(
                            "UPDATE consent_deliveries SET state = 'acknowledged', next_attempt_at = NULL, updated_at = ? \
                             WHERE event_id = ? AND target_id = ? AND state IN ('pending', 'delivered')",
                        )
                        .bind(at.as_millisecond())
                        .bind(e)
                        .bind(&target_id)
                        .execute(&mut **tx)
                        .await
                        .map_err(backend)?
                        .rows_affected();
                    }
                    Ok(n)
                })
            })
            .await
    }
}
