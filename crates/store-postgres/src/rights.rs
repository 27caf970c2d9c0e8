//! Rights requests and their history (`migrations/0007_rights.sql`).

use async_trait::async_trait;
use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, AuditEvent};
use custodian_core::ports::{RightsFilter, RightsStore, StoreError};
use custodian_core::rights::RequestType;
use custodian_core::rights::dataset::StoredDataset;
use custodian_core::rights::drp::DrpLink;
use custodian_core::rights::export::{ExportTake, RightsExport};
use custodian_core::rights::request::{
    Challenge, Channel, DeadlineView, ExtensionReason, RightsEvent, RightsRequest, SlaRow,
};
use custodian_core::rights::task::{RightsTask, TaskReason};
use custodian_core::rights::workflow::{Progress, RejectReason, State};
use custodian_core::vault::record::SubjectKey;
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Postgres, QueryBuilder, Row, query};

use crate::{PostgresStore, append_in, backend, opt_ts, ts};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("stored rights request {what} cannot be read"))
}

fn request_from(r: &PgRow) -> Result<RightsRequest, StoreError> {
    let get_s = |c: &str| r.try_get::<String, _>(c).map_err(backend);
    let get_os = |c: &str| r.try_get::<Option<String>, _>(c).map_err(backend);
    let get_ot = |c: &str| opt_ts(r.try_get::<Option<i64>, _>(c).map_err(backend)?);
    let request_type =
        RequestType::parse(&get_s("request_type")?).ok_or_else(|| corrupt("type"))?;
    let approvals: Vec<String> =
        serde_json::from_str(&get_s("approvals")?).map_err(|_| corrupt("approvals"))?;
    let progress = Progress {
        request_type,
        state: State::parse(&get_s("state")?).ok_or_else(|| corrupt("state"))?,
        assignee: get_os("assignee")?,
        submitted_by: get_os("submitted_by")?,
        approvals,
        extended_at: get_ot("extended_at")?,
        rejection: get_os("rejection")?
            .map(|s| RejectReason::parse(&s).ok_or_else(|| corrupt("rejection")))
            .transpose()?,
        verification: (get_ot("verification_started_at")?, get_ot("verified_at")?),
    };
    let challenge = match r
        .try_get::<Option<Vec<u8>>, _>("challenge_hash")
        .map_err(backend)?
    {
        None => None,
        Some(code_hash) => Some(Challenge {
            code_hash,
            expires_at: get_ot("challenge_expires_at")?.ok_or_else(|| corrupt("challenge"))?,
            attempts: r
                .try_get::<Option<i64>, _>("challenge_attempts")
                .map_err(backend)?
                .unwrap_or(0) as u32,
            sends: r
                .try_get::<Option<i64>, _>("challenge_sends")
                .map_err(backend)?
                .unwrap_or(0) as u32,
        }),
    };
    Ok(RightsRequest {
        id: get_s("id")?,
        jurisdiction: get_s("jurisdiction")?,
        time_zone: get_s("time_zone")?,
        rules_version: get_s("rules_version")?,
        channel: Channel::parse(&get_s("channel")?).ok_or_else(|| corrupt("channel"))?,
        subject_id: get_os("subject_id")?,
        requester_sealed: r.try_get("requester_sealed").map_err(backend)?,
        email_index: r.try_get("email_index").map_err(backend)?,
        progress,
        extension_reason: get_os("extension_reason")?
            .map(|s| ExtensionReason::parse(&s).ok_or_else(|| corrupt("extension reason")))
            .transpose()?,
        received_at: ts(r.try_get("received_at").map_err(backend)?)?,
        deadlines: get_os("deadlines")?
            .map(|s| DeadlineView::decode(&s).ok_or_else(|| corrupt("deadlines")))
            .transpose()?,
        closed_at: get_ot("closed_at")?,
        retain_until: get_ot("retain_until")?,
        challenge,
        version: r.try_get("version").map_err(backend)?,
        updated_at: ts(r.try_get("updated_at").map_err(backend)?)?,
        drp: get_os("drp")?
            .map(|s| DrpLink::decode(&s).ok_or_else(|| corrupt("drp link")))
            .transpose()?,
    })
}

fn export_from(r: &PgRow) -> Result<RightsExport, StoreError> {
    Ok(RightsExport {
        token_hash: r.try_get("token_hash").map_err(backend)?,
        request_id: r.try_get("request_id").map_err(backend)?,
        sealed: r.try_get("sealed").map_err(backend)?,
        created_at: ts(r.try_get("created_at").map_err(backend)?)?,
        expires_at: ts(r.try_get("expires_at").map_err(backend)?)?,
        downloaded_at: opt_ts(
            r.try_get::<Option<i64>, _>("downloaded_at")
                .map_err(backend)?,
        )?,
    })
}

fn event_from(r: &PgRow) -> Result<RightsEvent, StoreError> {
    let state: String = r.try_get("state").map_err(backend)?;
    Ok(RightsEvent {
        request_id: r.try_get("request_id").map_err(backend)?,
        seq: r.try_get("seq").map_err(backend)?,
        at: ts(r.try_get("at").map_err(backend)?)?,
        actor: r.try_get("actor").map_err(backend)?,
        action: r.try_get("action").map_err(backend)?,
        state: State::parse(&state).ok_or_else(|| corrupt("event state"))?,
        detail: r.try_get("detail").map_err(backend)?,
    })
}

/// The columns of a request, in `COLUMNS` order, bound onto `qb` as one VALUES row.
const COLUMNS: &str = "id, request_type, jurisdiction, time_zone, rules_version, channel, subject_id, \
     requester_sealed, email_index, state, assignee, submitted_by, approvals, extended_at, \
     extension_reason, rejection, verification_started_at, verified_at, received_at, deadlines, \
     due_at, closed_at, retain_until, challenge_hash, challenge_expires_at, challenge_attempts, \
     challenge_sends, version, updated_at, drp";

fn push_request(qb: &mut QueryBuilder<Postgres>, r: &RightsRequest) -> Result<(), StoreError> {
    let ms = |t: Option<Timestamp>| t.map(|t| t.as_millisecond());
    let p = &r.progress;
    let approvals = serde_json::to_string(&p.approvals).map_err(|e| backend_msg(&e))?;
    let mut s = qb.separated(", ");
    s.push_bind(r.id.clone())
        .push_bind(p.request_type.as_str())
        .push_bind(r.jurisdiction.clone())
        .push_bind(r.time_zone.clone())
        .push_bind(r.rules_version.clone())
        .push_bind(r.channel.as_str())
        .push_bind(r.subject_id.clone())
        .push_bind(r.requester_sealed.clone())
        .push_bind(r.email_index.clone())
        .push_bind(p.state.as_str())
        .push_bind(p.assignee.clone())
        .push_bind(p.submitted_by.clone())
        .push_bind(approvals)
        .push_bind(ms(p.extended_at))
        .push_bind(r.extension_reason.map(ExtensionReason::as_str))
        .push_bind(p.rejection.map(RejectReason::as_str))
        .push_bind(ms(p.verification.0))
        .push_bind(ms(p.verification.1))
        .push_bind(r.received_at.as_millisecond())
        .push_bind(r.deadlines.as_ref().map(DeadlineView::encode))
        .push_bind(r.deadlines.as_ref().map(|d| d.due.end.as_millisecond()))
        .push_bind(ms(r.closed_at))
        .push_bind(ms(r.retain_until))
        .push_bind(r.challenge.as_ref().map(|c| c.code_hash.clone()))
        .push_bind(r.challenge.as_ref().map(|c| c.expires_at.as_millisecond()))
        .push_bind(r.challenge.as_ref().map(|c| i64::from(c.attempts)))
        .push_bind(r.challenge.as_ref().map(|c| i64::from(c.sends)))
        .push_bind(r.version)
        .push_bind(r.updated_at.as_millisecond())
        .push_bind(r.drp.as_ref().map(DrpLink::encode));
    Ok(())
}

fn backend_msg(e: &dyn std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

async fn insert_event(conn: &mut PgConnection, e: &RightsEvent) -> Result<(), StoreError> {
    query(
        "INSERT INTO rights_events (request_id, seq, at, actor, action, state, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&e.request_id)
    .bind(e.seq)
    .bind(e.at.as_millisecond())
    .bind(&e.actor)
    .bind(&e.action)
    .bind(e.state.as_str())
    .bind(e.detail.as_deref())
    .execute(&mut *conn)
    .await
    .map_err(|err| match backend(err) {
        StoreError::Conflict(_) => StoreError::Conflict("rights_event"),
        other => other,
    })?;
    Ok(())
}

fn push_filter(qb: &mut QueryBuilder<Postgres>, f: &RightsFilter) {
    qb.push(" WHERE 1 = 1");
    if let Some(s) = f.state {
        qb.push(" AND state = ").push_bind(s.as_str());
    }
    if let Some(t) = f.request_type {
        qb.push(" AND request_type = ").push_bind(t.as_str());
    }
    if let Some(j) = &f.jurisdiction {
        qb.push(" AND jurisdiction = ").push_bind(j.clone());
    }
    if f.open || f.due_before.is_some() {
        qb.push(" AND closed_at IS NULL");
    }
    if let Some(d) = f.due_before {
        qb.push(" AND due_at <= ").push_bind(d.as_millisecond());
    }
    if let Some(a) = &f.assignee {
        qb.push(" AND assignee = ").push_bind(a.clone());
    }
    if let Some(e) = &f.email_index {
        qb.push(" AND email_index = ").push_bind(e.clone());
    }
    if let Some(s) = &f.subject_id {
        qb.push(" AND subject_id = ").push_bind(s.clone());
    }
    if let Some(a) = &f.after {
        qb.push(" AND id > ").push_bind(a.clone());
    }
}

fn dataset_from(r: &PgRow) -> Result<StoredDataset, StoreError> {
    Ok(StoredDataset {
        key: r.try_get("key").map_err(backend)?,
        declaration: r.try_get("declaration").map_err(backend)?,
        version: r.try_get("version").map_err(backend)?,
        created_at: ts(r.try_get("created_at").map_err(backend)?)?,
        updated_at: ts(r.try_get("updated_at").map_err(backend)?)?,
    })
}

fn task_from(r: &PgRow) -> Result<RightsTask, StoreError> {
    let reason: String = r.try_get("reason").map_err(backend)?;
    Ok(RightsTask {
        id: r.try_get("id").map_err(backend)?,
        request_id: r.try_get("request_id").map_err(backend)?,
        system: r.try_get("system").map_err(backend)?,
        reason: TaskReason::parse(&reason).ok_or_else(|| corrupt("task reason"))?,
        assignee: r.try_get("assignee").map_err(backend)?,
        due_at: opt_ts(r.try_get("due_at").map_err(backend)?)?,
        evidence: r.try_get("evidence").map_err(backend)?,
        done_by: r.try_get("done_by").map_err(backend)?,
        done_at: opt_ts(r.try_get("done_at").map_err(backend)?)?,
        created_at: ts(r.try_get("created_at").map_err(backend)?)?,
        version: r.try_get("version").map_err(backend)?,
    })
}

#[async_trait]
impl RightsStore for PostgresStore {
    async fn create_rights_request(
        &self,
        request: &RightsRequest,
        requester_key: &SubjectKey,
        event: &RightsEvent,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let (request, key, event) = (request.clone(), requester_key.clone(), event.clone());
        let mut tx = self.begin().await?;
        let out: Result<_, StoreError> = async {
                    // The audit head first, as every writer of the vault locks it (see `Appender`).
                    let appended = append_in(&mut tx, audit).await?;
                    let n = query(
                        "INSERT INTO vault_subject_keys (subject_id, key_version, kek_id, wrapped_dek, created_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (subject_id) DO NOTHING",
                    )
                    .bind(&key.subject_id)
                    .bind(i64::from(key.key_version))
                    .bind(&key.kek_id)
                    .bind(&key.wrapped_dek)
                    .bind(key.created_at.as_millisecond())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?
                    .rows_affected();
                    if n == 0 {
                        return Err(StoreError::Conflict("subject_key"));
                    }
                    let mut qb = QueryBuilder::new(format!("INSERT INTO rights_requests ({COLUMNS}) VALUES ("));
                    push_request(&mut qb, &request)?;
                    qb.push(")");
                    qb.build().execute(&mut *tx).await.map_err(|err| match backend(err) {
                        StoreError::Conflict(_) => StoreError::Conflict("rights_request"),
                        other => other,
                    })?;
                    insert_event(&mut tx, &event).await?;
                    Ok(appended)
        }
        .await;
        let out = out?;
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }

    async fn get_rights_request(&self, id: &str) -> Result<Option<RightsRequest>, StoreError> {
        query("SELECT * FROM rights_requests WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(request_from)
            .transpose()
    }

    async fn list_rights_requests(
        &self,
        filter: &RightsFilter,
        limit: u32,
    ) -> Result<Vec<RightsRequest>, StoreError> {
        let mut qb = QueryBuilder::new("SELECT * FROM rights_requests");
        push_filter(&mut qb, filter);
        qb.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
        qb.build()
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(request_from)
            .collect()
    }

    async fn update_rights_request(
        &self,
        request: &RightsRequest,
        expected: i64,
        event: Option<&RightsEvent>,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let (request, event) = (request.clone(), event.cloned());
        let mut tx = self.begin().await?;
        let out: Result<_, StoreError> = async {
            let found: Option<i64> =
                query("SELECT version FROM rights_requests WHERE id = $1 FOR UPDATE")
                    .bind(&request.id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?
                    .map(|r| r.get(0));
            match found {
                None => return Err(StoreError::NotFound),
                Some(v) if v != expected => return Err(StoreError::Conflict("version")),
                Some(_) => {}
            }
            // Replace the row: delete and insert the new values, in the transaction.
            query("DELETE FROM rights_requests WHERE id = $1")
                .bind(&request.id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            let mut qb =
                QueryBuilder::new(format!("INSERT INTO rights_requests ({COLUMNS}) VALUES ("));
            push_request(&mut qb, &request)?;
            qb.push(")");
            qb.build().execute(&mut *tx).await.map_err(backend)?;
            if let Some(e) = &event {
                insert_event(&mut tx, e).await?;
            }
            append_in(&mut tx, audit).await
        }
        .await;
        let out = out?;
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }

    async fn rights_events(&self, id: &str) -> Result<Vec<RightsEvent>, StoreError> {
        query("SELECT * FROM rights_events WHERE request_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(event_from)
            .collect()
    }

    async fn rights_sla_rows(&self, since: Timestamp) -> Result<Vec<SlaRow>, StoreError> {
        query(
            "SELECT request_type, jurisdiction, received_at, due_at, closed_at, state \
             FROM rights_requests WHERE received_at >= $1",
        )
        .bind(since.as_millisecond())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?
        .iter()
        .map(|r| {
            let t: String = r.try_get(0).map_err(backend)?;
            let state: String = r.try_get(5).map_err(backend)?;
            Ok(SlaRow {
                request_type: RequestType::parse(&t).ok_or_else(|| corrupt("type"))?,
                jurisdiction: r.try_get(1).map_err(backend)?,
                received_at: ts(r.try_get(2).map_err(backend)?)?,
                due: opt_ts(r.try_get(3).map_err(backend)?)?,
                closed_at: opt_ts(r.try_get(4).map_err(backend)?)?,
                completed: state == State::Completed.as_str(),
            })
        })
        .collect()
    }

    async fn pair_drp_agent(
        &self,
        agent_id: &str,
        token_hash: &[u8],
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        let out: Result<_, StoreError> = async {
            query(
                "INSERT INTO drp_agents (agent_id, token_hash, paired_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (agent_id) DO UPDATE SET token_hash = excluded.token_hash, \
                 paired_at = excluded.paired_at",
            )
            .bind(agent_id)
            .bind(token_hash)
            .bind(at.as_millisecond())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            append_in(&mut tx, audit).await
        }
        .await;
        let out = out?;
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }

    async fn drp_agent_by_token(&self, token_hash: &[u8]) -> Result<Option<String>, StoreError> {
        query("SELECT agent_id FROM drp_agents WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .map(|r| r.try_get::<String, _>(0).map_err(backend))
            .transpose()
    }

    async fn create_rights_export(
        &self,
        export: &RightsExport,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        let out: Result<_, StoreError> = async {
            query("DELETE FROM rights_exports WHERE request_id = $1")
                .bind(&export.request_id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            query(
                "INSERT INTO rights_exports (token_hash, request_id, sealed, created_at, expires_at, downloaded_at) \
                 VALUES ($1, $2, $3, $4, $5, NULL)",
            )
            .bind(&export.token_hash)
            .bind(&export.request_id)
            .bind(&export.sealed)
            .bind(export.created_at.as_millisecond())
            .bind(export.expires_at.as_millisecond())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            append_in(&mut tx, audit).await
        }
        .await;
        let out = out?;
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }

    async fn take_rights_export(
        &self,
        token_hash: &[u8],
        now: Timestamp,
        audit: AuditDraft,
    ) -> Result<ExportTake, StoreError> {
        let mut tx = self.begin().await?;
        let out: Result<_, StoreError> = async {
            let Some(row) = query("SELECT * FROM rights_exports WHERE token_hash = $1 FOR UPDATE")
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?
            else {
                return Ok(ExportTake::Unknown);
            };
            let export = export_from(&row)?;
            if export.downloaded_at.is_some() {
                return Ok(ExportTake::Used);
            }
            if export.expires_at <= now {
                return Ok(ExportTake::Expired);
            }
            query(
                "UPDATE rights_exports SET downloaded_at = $1, sealed = $2 WHERE token_hash = $3",
            )
            .bind(now.as_millisecond())
            .bind(Vec::<u8>::new())
            .bind(token_hash)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            append_in(&mut tx, audit).await?;
            Ok(ExportTake::Taken(RightsExport {
                downloaded_at: Some(now),
                ..export
            }))
        }
        .await;
        let out = out?;
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }

    async fn purge_rights_requests(
        &self,
        now: Timestamp,
        limit: u32,
        audit: AuditDraft,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.begin().await?;
        let out: Result<_, StoreError> = async {
            // The audit head first, as every writer of the vault locks it (see `Appender`).
            crate::lock_head(&mut tx).await?;
            let ids: Vec<String> = query(
                "SELECT id FROM rights_requests WHERE closed_at IS NOT NULL \
                         AND retain_until <= $1 ORDER BY id LIMIT $2",
            )
            .bind(now.as_millisecond())
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| r.get(0))
            .collect();
            query("DELETE FROM rights_exports WHERE expires_at <= $1")
                .bind(now.as_millisecond())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            if ids.is_empty() {
                return Ok(ids);
            }
            for id in &ids {
                for sql in [
                    "DELETE FROM rights_events WHERE request_id = $1",
                    "DELETE FROM rights_exports WHERE request_id = $1",
                    "DELETE FROM rights_tasks WHERE request_id = $1",
                    "DELETE FROM rights_requests WHERE id = $1",
                ] {
                    query(sql)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                }
                query("DELETE FROM vault_subject_keys WHERE subject_id = $1")
                    .bind(custodian_core::rights::request::requester_subject(id))
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
            append_in(&mut tx, audit).await?;
            Ok(ids)
        }
        .await;
        let out = out?;
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }
    async fn put_dataset(
        &self,
        dataset: &StoredDataset,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let d = dataset.clone();
        let mut tx = self.begin().await?;
        let out: Result<_, StoreError> = async {
            upsert_dataset(&mut tx, &d).await?;
            append_in(&mut tx, audit).await
        }
        .await;
        let out = out?;
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }

    async fn datasets(&self) -> Result<Vec<StoredDataset>, StoreError> {
        query("SELECT * FROM datasets ORDER BY key")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(dataset_from)
            .collect()
    }

    async fn delete_dataset(&self, key: &str, audit: AuditDraft) -> Result<AuditEvent, StoreError> {
        let key = key.to_owned();
        let mut tx = self.begin().await?;
        let out: Result<_, StoreError> = async {
            let n = query("DELETE FROM datasets WHERE key = $1")
                .bind(&key)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            append_in(&mut tx, audit).await
        }
        .await;
        let out = out?;
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }

    async fn create_rights_tasks(
        &self,
        tasks: &[RightsTask],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let tasks = tasks.to_vec();
        let mut tx = self.begin().await?;
        let out: Result<_, StoreError> = async {
            for t in &tasks {
                query(
                    "INSERT INTO rights_tasks (id, request_id, system, reason, assignee, due_at, \
                             evidence, done_by, done_at, created_at, version) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                             ON CONFLICT (request_id, system) DO NOTHING",
                )
                .bind(&t.id)
                .bind(&t.request_id)
                .bind(&t.system)
                .bind(t.reason.as_str())
                .bind(&t.assignee)
                .bind(t.due_at.map(|t| t.as_millisecond()))
                .bind(&t.evidence)
                .bind(&t.done_by)
                .bind(t.done_at.map(|t| t.as_millisecond()))
                .bind(t.created_at.as_millisecond())
                .bind(t.version)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            }
            append_in(&mut tx, audit).await
        }
        .await;
        let out = out?;
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }

    async fn rights_tasks(&self, request_id: &str) -> Result<Vec<RightsTask>, StoreError> {
        query("SELECT * FROM rights_tasks WHERE request_id = $1 ORDER BY created_at, id")
            .bind(request_id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(task_from)
            .collect()
    }

    async fn update_rights_task(
        &self,
        task: &RightsTask,
        expected_version: i64,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let t = task.clone();
        let mut tx = self.begin().await?;
        let out: Result<_, StoreError> = async {
            let found: Option<i64> = query("SELECT version FROM rights_tasks WHERE id = $1")
                .bind(&t.id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?
                .map(|r| r.get(0));
            match found {
                None => return Err(StoreError::NotFound),
                Some(v) if v != expected_version => {
                    return Err(StoreError::Conflict("version"));
                }
                Some(_) => {}
            }
            query(
                "UPDATE rights_tasks SET assignee = $1, due_at = $2, evidence = $3, done_by = $4, \
                         done_at = $5, version = $6 WHERE id = $7",
            )
            .bind(&t.assignee)
            .bind(t.due_at.map(|t| t.as_millisecond()))
            .bind(&t.evidence)
            .bind(&t.done_by)
            .bind(t.done_at.map(|t| t.as_millisecond()))
            .bind(t.version)
            .bind(&t.id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            append_in(&mut tx, audit).await
        }
        .await;
        let out = out?;
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }
}

/// Declares a dataset or replaces its declaration, inside the caller's transaction.
pub(crate) async fn upsert_dataset(
    conn: &mut sqlx::PgConnection,
    d: &StoredDataset,
) -> Result<(), StoreError> {
    query(
        "INSERT INTO datasets (key, declaration, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO UPDATE SET \
         declaration = excluded.declaration, version = excluded.version, \
         updated_at = excluded.updated_at",
    )
    .bind(&d.key)
    .bind(&d.declaration)
    .bind(d.version)
    .bind(d.created_at.as_millisecond())
    .bind(d.updated_at.as_millisecond())
    .execute(conn)
    .await
    .map_err(backend)?;
    Ok(())
}
