//! The training register (`migrations/0014_training.sql`) and the incident register
//! (`migrations/0015_incidents.sql`).

use async_trait::async_trait;
use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, AuditEvent};
use custodian_core::incident::record::Incident;
use custodian_core::operator::Role;
use custodian_core::ports::{
    ConsentFigure, EvidenceBundle, GovernanceStore, RetentionJob, StoreError, TrainingRow,
};
use custodian_core::register::{RegisterEntry, RegisterKind};
use custodian_core::training::{Completion, Course};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, query};

use crate::{SqliteStore, backend, opt_ts, ts};

fn course_from(r: &SqliteRow, roles: Vec<Role>) -> Result<Course, StoreError> {
    Ok(Course {
        key: r.try_get("key").map_err(backend)?,
        title: r.try_get("title").map_err(backend)?,
        description: r.try_get("description").map_err(backend)?,
        validity_days: u32::try_from(r.try_get::<i64, _>("validity_days").map_err(backend)?)
            .map_err(|_| StoreError::Corrupt("course validity out of range".into()))?,
        required_for: roles,
        version: r.try_get("version").map_err(backend)?,
        created_at: ts(r.try_get("created_at").map_err(backend)?)?,
        updated_at: ts(r.try_get("updated_at").map_err(backend)?)?,
    })
}

fn incident_from(r: &SqliteRow) -> Result<Incident, StoreError> {
    let body: String = r.try_get("body").map_err(backend)?;
    Incident::from_json(&body).ok_or_else(|| StoreError::Corrupt("an incident is malformed".into()))
}

fn entry_from(r: &SqliteRow) -> Result<RegisterEntry, StoreError> {
    let kind: String = r.try_get("kind").map_err(backend)?;
    Ok(RegisterEntry {
        kind: RegisterKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt("unknown register kind".into()))?,
        key: r.try_get("key").map_err(backend)?,
        body: r.try_get("body").map_err(backend)?,
        version: r.try_get("version").map_err(backend)?,
        created_at: ts(r.try_get("created_at").map_err(backend)?)?,
        updated_at: ts(r.try_get("updated_at").map_err(backend)?)?,
    })
}

fn completion_from(r: &SqliteRow) -> Result<Completion, StoreError> {
    Ok(Completion {
        id: r.try_get("id").map_err(backend)?,
        operator_id: r.try_get("operator_id").map_err(backend)?,
        course: r.try_get("course_key").map_err(backend)?,
        completed_at: ts(r.try_get("completed_at").map_err(backend)?)?,
        expires_at: ts(r.try_get("expires_at").map_err(backend)?)?,
        reference: r.try_get("reference").map_err(backend)?,
        recorded_by: r.try_get("recorded_by").map_err(backend)?,
        recorded_at: ts(r.try_get("recorded_at").map_err(backend)?)?,
        revoked_at: opt_ts(r.try_get("revoked_at").map_err(backend)?)?,
        revoked_by: r.try_get("revoked_by").map_err(backend)?,
    })
}

/// The required courses of every operator (or one) with their latest expiry.
pub(crate) async fn training_rows_in(
    conn: &mut SqliteConnection,
    operator_id: Option<&str>,
) -> Result<Vec<TrainingRow>, StoreError> {
    query(
        "SELECT o.id AS operator_id, r.course_key AS course, MAX(c.expires_at) AS latest \
         FROM operators o JOIN training_requirements r ON r.role = o.role \
         LEFT JOIN training_completions c ON c.operator_id = o.id AND c.course_key = r.course_key \
         AND c.revoked_at IS NULL \
         WHERE (?1 IS NULL OR o.id = ?1) GROUP BY o.id, r.course_key ORDER BY o.id, r.course_key",
    )
    .bind(operator_id)
    .fetch_all(conn)
    .await
    .map_err(backend)?
    .iter()
    .map(|r| {
        Ok(TrainingRow {
            operator_id: r.try_get("operator_id").map_err(backend)?,
            course: r.try_get("course").map_err(backend)?,
            latest_expiry: opt_ts(r.try_get("latest").map_err(backend)?)?,
        })
    })
    .collect()
}

#[async_trait]
impl GovernanceStore for SqliteStore {
    async fn put_course(
        &self,
        course: &Course,
        expected_version: Option<i64>,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let c = course.clone();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    match expected_version {
                        None => {
                            query(
                                "INSERT INTO training_courses (key, title, description, validity_days, \
                                 version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            )
                            .bind(&c.key)
                            .bind(&c.title)
                            .bind(&c.description)
                            .bind(i64::from(c.validity_days))
                            .bind(c.version)
                            .bind(c.created_at.as_millisecond())
                            .bind(c.updated_at.as_millisecond())
                            .execute(&mut **tx)
                            .await
                            .map_err(|e| match backend(e) {
                                StoreError::Conflict(_) => StoreError::Conflict("course"),
                                other => other,
                            })?;
                        }
                        Some(v) => {
                            let done = query(
                                "UPDATE training_courses SET title = ?, description = ?, validity_days = ?, \
                                 version = ?, updated_at = ? WHERE key = ? AND version = ?",
                            )
                            .bind(&c.title)
                            .bind(&c.description)
                            .bind(i64::from(c.validity_days))
                            .bind(c.version)
                            .bind(c.updated_at.as_millisecond())
                            .bind(&c.key)
                            .bind(v)
                            .execute(&mut **tx)
                            .await
                            .map_err(backend)?;
                            if done.rows_affected() == 0 {
                                let exists = query("SELECT 1 FROM training_courses WHERE key = ?")
                                    .bind(&c.key)
                                    .fetch_optional(&mut **tx)
                                    .await
                                    .map_err(backend)?;
                                return Err(if exists.is_some() {
                                    StoreError::Conflict("version")
                                } else {
                                    StoreError::NotFound
                                });
                            }
                            query("DELETE FROM training_requirements WHERE course_key = ?")
                                .bind(&c.key)
                                .execute(&mut **tx)
                                .await
                                .map_err(backend)?;
                        }
                    }
                    for role in &c.required_for {
                        query("INSERT INTO training_requirements (course_key, role) VALUES (?, ?)")
                            .bind(&c.key)
                            .bind(role.as_str())
                            .execute(&mut **tx)
                            .await
                            .map_err(backend)?;
                    }
                    tx.append(audit)
                })
            })
            .await
    }

    async fn courses(&self) -> Result<Vec<Course>, StoreError> {
        let reqs = query("SELECT course_key, role FROM training_requirements")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        let rows = query("SELECT * FROM training_courses ORDER BY key")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let key: String = r.try_get("key").map_err(backend)?;
                let mut roles = Vec::new();
                for q in &reqs {
                    if q.try_get::<String, _>("course_key").map_err(backend)? == key {
                        let role: String = q.try_get("role").map_err(backend)?;
                        roles.push(
                            role.parse::<Role>()
                                .map_err(|_| StoreError::Corrupt("unknown role".into()))?,
                        );
                    }
                }
                roles.sort_by_key(|r| Role::ALL.iter().position(|x| x == r));
                course_from(r, roles)
            })
            .collect()
    }

    async fn record_completion(
        &self,
        completion: &Completion,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let c = completion.clone();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    query(
                        "INSERT INTO training_completions (id, operator_id, course_key, completed_at, \
                         expires_at, reference, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(&c.id)
                    .bind(&c.operator_id)
                    .bind(&c.course)
                    .bind(c.completed_at.as_millisecond())
                    .bind(c.expires_at.as_millisecond())
                    .bind(&c.reference)
                    .bind(&c.recorded_by)
                    .bind(c.recorded_at.as_millisecond())
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                    tx.append(audit)
                })
            })
            .await
    }

    async fn revoke_completion(
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
                    let done = query(
                        "UPDATE training_completions SET revoked_at = ?, revoked_by = ? \
                         WHERE id = ? AND revoked_at IS NULL",
                    )
                    .bind(at.as_millisecond())
                    .bind(&by)
                    .bind(&id)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                    if done.rows_affected() == 0 {
                        let exists = query("SELECT 1 FROM training_completions WHERE id = ?")
                            .bind(&id)
                            .fetch_optional(&mut **tx)
                            .await
                            .map_err(backend)?;
                        return Err(if exists.is_some() {
                            StoreError::Conflict("revoked")
                        } else {
                            StoreError::NotFound
                        });
                    }
                    tx.append(audit)
                })
            })
            .await
    }

    async fn completions(&self, operator_id: Option<&str>) -> Result<Vec<Completion>, StoreError> {
        query(
            "SELECT * FROM training_completions WHERE (?1 IS NULL OR operator_id = ?1) \
             ORDER BY recorded_at DESC, id DESC",
        )
        .bind(operator_id)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?
        .iter()
        .map(completion_from)
        .collect()
    }

    async fn training_rows(
        &self,
        operator_id: Option<&str>,
    ) -> Result<Vec<TrainingRow>, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(backend)?;
        training_rows_in(&mut conn, operator_id).await
    }

    async fn put_incident(
        &self,
        incident: &Incident,
        expected_version: Option<i64>,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let i = incident.clone();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let body = i.to_json();
                    match expected_version {
                        None => {
                            query(
                                "INSERT INTO incidents (id, status, body, version, created_at, updated_at) \
                                 VALUES (?, ?, ?, ?, ?, ?)",
                            )
                            .bind(&i.id)
                            .bind(i.status.as_str())
                            .bind(&body)
                            .bind(i.version)
                            .bind(i.created_at.as_millisecond())
                            .bind(i.updated_at.as_millisecond())
                            .execute(&mut **tx)
                            .await
                            .map_err(|e| match backend(e) {
                                StoreError::Conflict(_) => StoreError::Conflict("incident"),
                                other => other,
                            })?;
                        }
                        Some(v) => {
                            let done = query(
                                "UPDATE incidents SET status = ?, body = ?, version = ?, updated_at = ? \
                                 WHERE id = ? AND version = ?",
                            )
                            .bind(i.status.as_str())
                            .bind(&body)
                            .bind(i.version)
                            .bind(i.updated_at.as_millisecond())
                            .bind(&i.id)
                            .bind(v)
                            .execute(&mut **tx)
                            .await
                            .map_err(backend)?;
                            if done.rows_affected() == 0 {
                                let exists = query("SELECT 1 FROM incidents WHERE id = ?")
                                    .bind(&i.id)
                                    .fetch_optional(&mut **tx)
                                    .await
                                    .map_err(backend)?;
                                return Err(if exists.is_some() {
                                    StoreError::Conflict("version")
                                } else {
                                    StoreError::NotFound
                                });
                            }
                        }
                    }
                    tx.append(audit)
                })
            })
            .await
    }

    async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        query("SELECT body FROM incidents WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .map(|r| incident_from(&r))
            .transpose()
    }

    async fn incidents(&self) -> Result<Vec<Incident>, StoreError> {
        query("SELECT body FROM incidents ORDER BY created_at DESC, id DESC")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(incident_from)
            .collect()
    }

    async fn consent_figures(&self, now: Timestamp) -> Result<Vec<ConsentFigure>, StoreError> {
        query(
            "SELECT purpose, CASE WHEN state = 'given' AND expires_at IS NOT NULL AND expires_at <= ? \
             THEN 'expired' ELSE state END AS st, COUNT(*) AS n FROM consent_current \
             GROUP BY purpose, st ORDER BY purpose, st",
        )
        .bind(now.as_millisecond())
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?
        .iter()
        .map(|r| {
            Ok(ConsentFigure {
                purpose: r.try_get("purpose").map_err(backend)?,
                state: r.try_get("st").map_err(backend)?,
                count: u64::try_from(r.try_get::<i64, _>("n").map_err(backend)?).unwrap_or(0),
            })
        })
        .collect()
    }

    async fn retention_jobs(&self) -> Result<Vec<RetentionJob>, StoreError> {
        query("SELECT name, due_at, last_run_at, last_outcome FROM retention_jobs ORDER BY name")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| {
                Ok(RetentionJob {
                    name: r.try_get("name").map_err(backend)?,
                    due_at: ts(r.try_get("due_at").map_err(backend)?)?,
                    last_run_at: opt_ts(r.try_get("last_run_at").map_err(backend)?)?,
                    last_outcome: r.try_get("last_outcome").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn record_evidence_bundle(
        &self,
        bundle: &EvidenceBundle,
        previous: Option<&str>,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let b = bundle.clone();
        let previous = previous.map(str::to_owned);
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let latest: Option<String> = query("SELECT id FROM evidence_bundles ORDER BY tree_size DESC, created_at DESC, id DESC LIMIT 1")
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(backend)?
                        .map(|r| r.try_get("id"))
                        .transpose()
                        .map_err(backend)?;
                    if latest != previous {
                        return Err(StoreError::Conflict("previous"));
                    }
                    query(
                        "INSERT INTO evidence_bundles (id, created_at, tree_size, root, manifest_sha256, created_by) \
                         VALUES (?, ?, ?, ?, ?, ?)",
                    )
                    .bind(&b.id)
                    .bind(b.created_at.as_millisecond())
                    .bind(i64::try_from(b.tree_size).map_err(|_| StoreError::Conflict("tree_size"))?)
                    .bind(&b.root)
                    .bind(&b.manifest_sha256)
                    .bind(&b.created_by)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                    tx.append(audit)
                })
            })
            .await
    }

    async fn last_evidence_bundle(&self) -> Result<Option<EvidenceBundle>, StoreError> {
        let Some(r) =
            query("SELECT * FROM evidence_bundles ORDER BY tree_size DESC, created_at DESC, id DESC LIMIT 1")
                .fetch_optional(&self.reader)
                .await
                .map_err(backend)?
        else {
            return Ok(None);
        };
        Ok(Some(EvidenceBundle {
            id: r.try_get("id").map_err(backend)?,
            created_at: ts(r.try_get("created_at").map_err(backend)?)?,
            tree_size: u64::try_from(r.try_get::<i64, _>("tree_size").map_err(backend)?)
                .map_err(|_| StoreError::Corrupt("tree size out of range".into()))?,
            root: r.try_get("root").map_err(backend)?,
            manifest_sha256: r.try_get("manifest_sha256").map_err(backend)?,
            created_by: r.try_get("created_by").map_err(backend)?,
        }))
    }

    async fn put_register_entries(
        &self,
        entries: &[(RegisterEntry, Option<i64>)],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let entries = entries.to_vec();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    for (e, expected_version) in &entries {
                    match *expected_version {
                        None => {
                            query(
                                "INSERT INTO register_entries (kind, key, body, version, created_at, updated_at) \
                                 VALUES (?, ?, ?, ?, ?, ?)",
                            )
                            .bind(e.kind.as_str())
                            .bind(&e.key)
                            .bind(&e.body)
                            .bind(e.version)
                            .bind(e.created_at.as_millisecond())
                            .bind(e.updated_at.as_millisecond())
                            .execute(&mut **tx)
                            .await
                            .map_err(|err| match backend(err) {
                                StoreError::Conflict(_) => StoreError::Conflict("exists"),
                                other => other,
                            })?;
                        }
                        Some(v) => {
                            let done = query(
                                "UPDATE register_entries SET body = ?, version = ?, updated_at = ? \
                                 WHERE kind = ? AND key = ? AND version = ?",
                            )
                            .bind(&e.body)
                            .bind(e.version)
                            .bind(e.updated_at.as_millisecond())
                            .bind(e.kind.as_str())
                            .bind(&e.key)
                            .bind(v)
                            .execute(&mut **tx)
                            .await
                            .map_err(backend)?;
                            if done.rows_affected() == 0 {
                                let exists = query("SELECT 1 FROM register_entries WHERE kind = ? AND key = ?")
                                    .bind(e.kind.as_str())
                                    .bind(&e.key)
                                    .fetch_optional(&mut **tx)
                                    .await
                                    .map_err(backend)?;
                                return Err(if exists.is_some() {
                                    StoreError::Conflict("version")
                                } else {
                                    StoreError::NotFound
                                });
                            }
                        }
                    }
                    }
                    tx.append(audit)
                })
            })
            .await
    }

    async fn register_entry(
        &self,
        kind: RegisterKind,
        key: &str,
    ) -> Result<Option<RegisterEntry>, StoreError> {
        query("SELECT * FROM register_entries WHERE kind = ? AND key = ?")
            .bind(kind.as_str())
            .bind(key)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .map(|r| entry_from(&r))
            .transpose()
    }

    async fn register_entries(&self, kind: RegisterKind) -> Result<Vec<RegisterEntry>, StoreError> {
        query("SELECT * FROM register_entries WHERE kind = ? ORDER BY key")
            .bind(kind.as_str())
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(entry_from)
            .collect()
    }
}

impl SqliteStore {
    /// Fills in each operator's `training_valid_until` from the training register (rows of
    /// `one` only, when the operators are that one).
    pub(crate) async fn with_training(
        &self,
        mut ops: Vec<custodian_core::operator::Operator>,
        one: Option<&str>,
    ) -> Result<Vec<custodian_core::operator::Operator>, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(backend)?;
        let rows = training_rows_in(&mut conn, one).await?;
        let until = custodian_core::ports::training_by_operator(&rows);
        for op in &mut ops {
            op.training_valid_until = until.get(&op.id).copied().flatten();
        }
        Ok(ops)
    }
}
