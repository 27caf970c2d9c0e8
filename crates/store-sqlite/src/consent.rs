//! The consent tables: purposes, notices, the append-only ledger and its current state.

use async_trait::async_trait;
use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, AuditEvent};
use custodian_core::consent::ledger::{
    ConsentEvent, ConsentState, CurrentConsent, Method, NoticeRef, Proof,
};
use custodian_core::consent::notice::{Notice, NoticeDraft, decode_texts, encode_texts};
use custodian_core::consent::outbox::{Delivery, DueDelivery, OutboxMessage, Target};
use custodian_core::consent::purpose::{Purpose, StoredPurpose};
use custodian_core::ports::{ConsentStore, StoreError};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{Row, query};

use crate::{SqliteStore, backend, opt_ts, ts};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("stored {what} cannot be read"))
}

fn purpose_from(r: &SqliteRow) -> Result<StoredPurpose, StoreError> {
    let key: String = r.try_get("key").map_err(backend)?;
    let def: String = r.try_get("definition").map_err(backend)?;
    Ok(StoredPurpose {
        purpose: Purpose::decode(&key, &def).ok_or_else(|| corrupt("purpose"))?,
        version: r.try_get("version").map_err(backend)?,
        created_at: ts(r.try_get("created_at").map_err(backend)?)?,
        updated_at: ts(r.try_get("updated_at").map_err(backend)?)?,
    })
}

fn notice_from(r: &SqliteRow) -> Result<Notice, StoreError> {
    let texts: String = r.try_get("texts").map_err(backend)?;
    Ok(Notice {
        key: r.try_get("key").map_err(backend)?,
        version: r.try_get("version").map_err(backend)?,
        texts: decode_texts(&texts).ok_or_else(|| corrupt("notice"))?,
        content_hash: r.try_get("content_hash").map_err(backend)?,
        published_at: ts(r.try_get("published_at").map_err(backend)?)?,
    })
}

fn event_from(r: &SqliteRow) -> Result<ConsentEvent, StoreError> {
    let state: String = r.try_get("state").map_err(backend)?;
    let method: String = r.try_get("method").map_err(backend)?;
    let proof: String = r.try_get("proof").map_err(backend)?;
    let notice = match (
        r.try_get::<Option<String>, _>("notice_key")
            .map_err(backend)?,
        r.try_get::<Option<i64>, _>("notice_version")
            .map_err(backend)?,
        r.try_get::<Option<String>, _>("notice_hash")
            .map_err(backend)?,
    ) {
        (Some(key), Some(version), Some(hash)) => Some(NoticeRef { key, version, hash }),
        _ => None,
    };
    Ok(ConsentEvent {
        id: r.try_get("id").map_err(backend)?,
        subject: r.try_get("subject").map_err(backend)?,
        purpose: r.try_get("purpose").map_err(backend)?,
        state: ConsentState::parse(&state).ok_or_else(|| corrupt("consent state"))?,
        notice,
        language: r.try_get("language").map_err(backend)?,
        at: ts(r.try_get("at").map_err(backend)?)?,
        recorded_at: ts(r.try_get("recorded_at").map_err(backend)?)?,
        method: Method::parse(&method).ok_or_else(|| corrupt("consent method"))?,
        source: r.try_get("source").map_err(backend)?,
        jurisdiction: r.try_get("jurisdiction").map_err(backend)?,
        expires_at: opt_ts(r.try_get("expires_at").map_err(backend)?)?,
        proof: Proof::decode(&proof).ok_or_else(|| corrupt("consent proof"))?,
        receipt_id: r.try_get("receipt_id").map_err(backend)?,
    })
}

fn current_from(r: &SqliteRow) -> Result<CurrentConsent, StoreError> {
    let state: String = r.try_get("state").map_err(backend)?;
    let method: String = r.try_get("method").map_err(backend)?;
    Ok(CurrentConsent {
        subject: r.try_get("subject").map_err(backend)?,
        purpose: r.try_get("purpose").map_err(backend)?,
        state: ConsentState::parse(&state).ok_or_else(|| corrupt("consent state"))?,
        event_id: r.try_get("event_id").map_err(backend)?,
        at: ts(r.try_get("at").map_err(backend)?)?,
        expires_at: opt_ts(r.try_get("expires_at").map_err(backend)?)?,
        notice_version: r.try_get("notice_version").map_err(backend)?,
        method: Method::parse(&method).ok_or_else(|| corrupt("consent method"))?,
    })
}

async fn insert_event(conn: &mut SqliteConnection, e: &ConsentEvent) -> Result<(), StoreError> {
    query(
        "INSERT INTO consent_events (id, subject, purpose, state, notice_key, notice_version, notice_hash, \
         language, at, recorded_at, method, source, jurisdiction, expires_at, proof, receipt_id) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&e.id)
    .bind(&e.subject)
    .bind(&e.purpose)
    .bind(e.state.as_str())
    .bind(e.notice.as_ref().map(|n| n.key.as_str()))
    .bind(e.notice.as_ref().map(|n| n.version))
    .bind(e.notice.as_ref().map(|n| n.hash.as_str()))
    .bind(e.language.as_deref())
    .bind(e.at.as_millisecond())
    .bind(e.recorded_at.as_millisecond())
    .bind(e.method.as_str())
    .bind(&e.source)
    .bind(e.jurisdiction.as_deref())
    .bind(e.expires_at.map(|t| t.as_millisecond()))
    .bind(e.proof.encode())
    .bind(&e.receipt_id)
    .execute(&mut *conn)
    .await
    .map_err(|err| match backend(err) {
        StoreError::Conflict(_) => StoreError::Conflict("consent_event"),
        other => other,
    })?;
    // The current state keeps the latest record by (time, id): an older record (an import of
    // history) is kept in the ledger but does not change it.
    query(
        "INSERT INTO consent_current (subject, purpose, state, event_id, at, expires_at, notice_version, method) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (subject, purpose) DO UPDATE SET state = excluded.state, event_id = excluded.event_id, \
         at = excluded.at, expires_at = excluded.expires_at, notice_version = excluded.notice_version, \
         method = excluded.method \
         WHERE excluded.at > consent_current.at \
            OR (excluded.at = consent_current.at AND excluded.event_id > consent_current.event_id)",
    )
    .bind(&e.subject)
    .bind(&e.purpose)
    .bind(e.state.as_str())
    .bind(&e.id)
    .bind(e.at.as_millisecond())
    .bind(e.expires_at.map(|t| t.as_millisecond()))
    .bind(e.notice.as_ref().map(|n| n.version))
    .bind(e.method.as_str())
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn put_purpose(
        &self,
        purpose: &Purpose,
        expected: Option<i64>,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(i64, AuditEvent), StoreError> {
        let (key, def, at) = (purpose.key.clone(), purpose.encode(), at.as_millisecond());
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let version = match expected {
                        None => {
                            let n = query(
                                "INSERT INTO consent_purposes (key, definition, version, created_at, updated_at) \
                                 VALUES (?, ?, 1, ?, ?) ON CONFLICT (key) DO NOTHING",
                            )
                            .bind(&key)
                            .bind(&def)
                            .bind(at)
                            .bind(at)
                            .execute(&mut **tx)
                            .await
                            .map_err(backend)?
                            .rows_affected();
                            if n == 0 {
                                return Err(StoreError::Conflict("purpose_exists"));
                            }
                            1
                        }
                        Some(v) => {
                            let n = query(
                                "UPDATE consent_purposes SET definition = ?, version = version + 1, updated_at = ? \
                                 WHERE key = ? AND version = ?",
                            )
                            .bind(&def)
                            .bind(at)
                            .bind(&key)
                            .bind(v)
                            .execute(&mut **tx)
                            .await
                            .map_err(backend)?
                            .rows_affected();
                            if n == 0 {
                                return Err(StoreError::Conflict("version"));
                            }
                            v + 1
                        }
                    };
                    let ev = tx.append(audit)?;
                    Ok((version, ev))
                })
            })
            .await
    }

    async fn get_purpose(&self, key: &str) -> Result<Option<StoredPurpose>, StoreError> {
        query("SELECT * FROM consent_purposes WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(purpose_from)
            .transpose()
    }

    async fn list_purposes(&self) -> Result<Vec<StoredPurpose>, StoreError> {
        query("SELECT * FROM consent_purposes ORDER BY key")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(purpose_from)
            .collect()
    }

    async fn publish_notice(
        &self,
        draft: &NoticeDraft,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(Notice, AuditEvent), StoreError> {
        let draft = draft.clone();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let version: i64 = query(
                        "SELECT COALESCE(MAX(version), 0) + 1 FROM consent_notices WHERE key = ?",
                    )
                    .bind(&draft.key)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(backend)?
                    .try_get(0)
                    .map_err(backend)?;
                    let notice = Notice {
                        key: draft.key.clone(),
                        version,
                        content_hash: draft.content_hash(),
                        texts: draft.texts.clone(),
                        published_at: at,
                    };
                    query(
                        "INSERT INTO consent_notices (key, version, texts, content_hash, published_at) \
                         VALUES (?, ?, ?, ?, ?)",
                    )
                    .bind(&notice.key)
                    .bind(version)
                    .bind(encode_texts(&notice.texts))
                    .bind(&notice.content_hash)
                    .bind(at.as_millisecond())
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| match backend(e) {
                        StoreError::Conflict(_) => StoreError::Conflict("version"),
                        other => other,
                    })?;
                    let ev = tx.append(audit)?;
                    Ok((notice, ev))
                })
            })
            .await
    }

    async fn get_notice(
        &self,
        key: &str,
        version: Option<i64>,
    ) -> Result<Option<Notice>, StoreError> {
        let row = match version {
            Some(v) => {
                query("SELECT * FROM consent_notices WHERE key = ? AND version = ?")
                    .bind(key)
                    .bind(v)
                    .fetch_optional(&self.reader)
                    .await
            }
            None => {
                query("SELECT * FROM consent_notices WHERE key = ? ORDER BY version DESC LIMIT 1")
                    .bind(key)
                    .fetch_optional(&self.reader)
                    .await
            }
        };
        row.map_err(backend)?.as_ref().map(notice_from).transpose()
    }

    async fn notice_versions(&self, key: &str) -> Result<Vec<Notice>, StoreError> {
        query("SELECT * FROM consent_notices WHERE key = ? ORDER BY version")
            .bind(key)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(notice_from)
            .collect()
    }

    async fn list_notices(&self) -> Result<Vec<Notice>, StoreError> {
        query(
            "SELECT n.* FROM consent_notices n JOIN (SELECT key, MAX(version) AS v FROM consent_notices GROUP BY key) l \
             ON n.key = l.key AND n.version = l.v ORDER BY n.key",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?
        .iter()
        .map(notice_from)
        .collect()
    }

    async fn record_consent(
        &self,
        events: &[ConsentEvent],
        outbox: &[OutboxMessage],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let events = events.to_vec();
        let outbox = outbox.to_vec();
        let at = audit.time;
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    for e in &events {
                        insert_event(&mut *tx, e).await?;
                    }
                    for m in &outbox {
                        crate::outbox::enqueue(&mut *tx, m, at).await?;
                    }
                    tx.append(audit)
                })
            })
            .await
    }

    async fn put_target(&self, t: &Target, audit: AuditDraft) -> Result<AuditEvent, StoreError> {
        self.put_target_impl(t, audit).await
    }

    async fn update_target(
        &self,
        t: &Target,
        expected: Option<&[u8]>,
        audit: AuditDraft,
    ) -> Result<Option<AuditEvent>, StoreError> {
        self.update_target_impl(t, expected, audit).await
    }

    async fn delete_target(
        &self,
        id: &str,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<Option<AuditEvent>, StoreError> {
        self.delete_target_impl(id, at, audit).await
    }

    async fn get_target(&self, id: &str) -> Result<Option<Target>, StoreError> {
        self.get_target_impl(id).await
    }

    async fn list_targets(&self) -> Result<Vec<Target>, StoreError> {
        self.list_targets_impl().await
    }

    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        nats: bool,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        self.claim_deliveries_impl(now, lease_until, nats, limit)
            .await
    }

    async fn finish_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
        self.finish_delivery_impl(d).await
    }

    async fn deliveries(&self, event_id: &str) -> Result<Vec<Delivery>, StoreError> {
        self.deliveries_impl(event_id).await
    }

    async fn acknowledge(
        &self,
        target_id: &str,
        event_ids: &[String],
        at: Timestamp,
    ) -> Result<u64, StoreError> {
        self.acknowledge_impl(target_id, event_ids, at).await
    }

    async fn current_consent(
        &self,
        subject: &str,
        purpose: &str,
    ) -> Result<Option<CurrentConsent>, StoreError> {
        query("SELECT * FROM consent_current WHERE subject = ? AND purpose = ?")
            .bind(subject)
            .bind(purpose)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(current_from)
            .transpose()
    }

    async fn current_consents(
        &self,
        pairs: &[(String, String)],
    ) -> Result<Vec<CurrentConsent>, StoreError> {
        let mut found = Vec::new();
        // Chunks keep each statement well under the databases' limits on bound parameters.
        for chunk in pairs.chunks(500) {
            let mut qb: sqlx::QueryBuilder<sqlx::Sqlite> = sqlx::QueryBuilder::new(
                "SELECT * FROM consent_current WHERE (subject, purpose) IN (",
            );
            let mut list = qb.separated(", ");
            for (subject, purpose) in chunk {
                list.push("(")
                    .push_bind_unseparated(subject)
                    .push_unseparated(", ")
                    .push_bind_unseparated(purpose)
                    .push_unseparated(")");
            }
            qb.push(")");
            for row in qb.build().fetch_all(&self.reader).await.map_err(backend)? {
                found.push(current_from(&row)?);
            }
        }
        Ok(found)
    }

    async fn subject_consents(&self, subject: &str) -> Result<Vec<CurrentConsent>, StoreError> {
        query("SELECT * FROM consent_current WHERE subject = ? ORDER BY purpose")
            .bind(subject)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(current_from)
            .collect()
    }

    async fn consent_events(
        &self,
        subject: &str,
        purpose: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, ConsentEvent)>, StoreError> {
        query(
            "SELECT * FROM consent_events WHERE subject = ? AND (? IS NULL OR purpose = ?) AND seq > ? \
             ORDER BY seq LIMIT ?",
        )
        .bind(subject)
        .bind(purpose)
        .bind(purpose)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?
        .iter()
        .map(|r| Ok((r.try_get("seq").map_err(backend)?, event_from(r)?)))
        .collect()
    }

    async fn consent_event(&self, id: &str) -> Result<Option<ConsentEvent>, StoreError> {
        query("SELECT * FROM consent_events WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(event_from)
            .transpose()
    }
}
