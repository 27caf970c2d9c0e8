//! The PostgreSQL store, for several `custodian serve` processes over one database.
//!
//! Audit appends lock the single `audit_head` row (`SELECT ... FOR UPDATE`) inside the
//! transaction of the change they record, so every process extends one chain and one tree.
//! An append that is a transaction of its own (every audited read) and a vault create (a
//! record and its event) go through [`Appender`], which commits the writes that arrive together
//! in one transaction: under concurrent load they no longer wait for each other's commits on
//! the head's row lock one by one.

mod consent;
mod governance;
mod map;
mod outbox;
mod retention;
mod rights;
mod vault;
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, AuditEvent, AuditHead, Decision, Hash};
use custodian_core::operator::{ApiKey, Operator, Role};
use custodian_core::ports::{Initialization, Installation, PolicySetRecord, Store, StoreError};
use custodian_core::vault::record::{
    Cell, Erased, IndexEntry, LimitKind, ProcessingLimit, Record, RecordForRead, Rewrap,
    SealedUnder, StoredCollection, SubjectKey, TokenRecord,
};
use custodian_core::vault::schema::CollectionSchema;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, QueryBuilder, Row, query};

/// The PostgreSQL implementation of [`Store`].
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    appender: Appender,
}

/// The most writes one group commits.
const MAX_GROUP: usize = 256;

/// A write waiting for its group: an audit event, with the new record it records for a vault
/// create; and where its answer goes.
struct Waiting {
    draft: AuditDraft,
    create: Option<Box<vault::NewRecord>>,
    answer: tokio::sync::oneshot::Sender<Result<AuditEvent, StoreError>>,
}

impl Waiting {
    /// What this write answers when its group failed with `e`.
    fn error(&self, e: &GroupError) -> StoreError {
        match e {
            GroupError::Write(e) => e.clone(),
            GroupError::Begin(m) | GroupError::Commit(m) if self.create.is_some() => {
                StoreError::Backend(m.clone())
            }
            GroupError::Begin(m) | GroupError::Commit(m) => StoreError::AuditUnavailable(m.clone()),
        }
    }
}

/// Commits audit appends that are a transaction of their own and vault creates in groups, on
/// a task of its own: it takes every write waiting (up to [`MAX_GROUP`]), writes them in one
/// transaction under the head's row lock (the head first, then the creates' keys, records,
/// cells, indexes and tokens, one statement per table, then the events), commits once, and
/// answers each; the writes that arrive meanwhile form the next group. A lone write is one
/// transaction, as before.
///
/// A create refused for its subject's key (the subject got a first key meanwhile, from another
/// create of the group or before it; its key was erased) is settled inside the group: it
/// writes nothing, records no event and is answered [`StoreError::Conflict`]`("subject_key")`,
/// and the others go ahead (after a restart, or with other processes writing, the first
/// create of a known subject brings a new key and is refused so, by design). A group whose
/// writes fail otherwise commits nothing, and each of its writes is then tried again in a
/// transaction of its own (not after a failed commit, whose outcome is unknown: each write
/// then answers the error), so that one write the database refuses (a reused id) fails alone,
/// with the error it would have had alone. When no transaction can be begun at all (the
/// database is unreachable), the group and every write waiting behind it fail at once rather
/// than each waiting out the pool's timeout in turn. A write is committed once queued, even if
/// its caller stops waiting for the answer (an audit log may hold an event, and the vault a
/// record, for a request whose answer was never sent). The task ends when the last clone of
/// the store is dropped.
#[derive(Clone)]
struct Appender {
    queue: tokio::sync::mpsc::Sender<Waiting>,
}

impl Appender {
    fn start(pool: PgPool) -> Self {
        let (queue, mut waiting) = tokio::sync::mpsc::channel::<Waiting>(4 * MAX_GROUP);
        tokio::spawn(async move {
            let mut group = Vec::with_capacity(MAX_GROUP);
            while waiting.recv_many(&mut group, MAX_GROUP).await > 0 {
                match write_group(&pool, &group).await {
                    Ok(answers) => {
                        for (w, answer) in group.drain(..).zip(answers) {
                            let _ = w.answer.send(answer);
                        }
                    }
                    Err(e @ GroupError::Begin(_)) => {
                        for w in group
                            .drain(..)
                            .chain(std::iter::from_fn(|| waiting.try_recv().ok()))
                        {
                            let err = w.error(&e);
                            let _ = w.answer.send(Err(err));
                        }
                    }
                    Err(GroupError::Write(_)) if group.len() > 1 => {
                        tracing::warn!(
                            writes = group.len(),
                            "a group of audited writes failed; each is tried alone"
                        );
                        for w in group.drain(..) {
                            let alone = match write_group(&pool, std::slice::from_ref(&w)).await {
                                Ok(mut answers) => answers.pop().unwrap_or_else(|| {
                                    Err(StoreError::AuditUnavailable(
                                        "no event was appended".into(),
                                    ))
                                }),
                                Err(e) => Err(w.error(&e)),
                            };
                            let _ = w.answer.send(alone);
                        }
                    }
                    // A lone write's error, or a failed commit (which may or may not have
                    // been applied: none is written again).
                    Err(e) => {
                        for w in group.drain(..) {
                            let err = w.error(&e);
                            let _ = w.answer.send(Err(err));
                        }
                    }
                }
            }
        });
        Self { queue }
    }

    /// Queues `draft` (with the record it records, for a vault create) and awaits its group.
    async fn write(
        &self,
        draft: AuditDraft,
        create: Option<Box<vault::NewRecord>>,
    ) -> Result<AuditEvent, StoreError> {
        let gone = || StoreError::AuditUnavailable("the audit appender has stopped".into());
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.queue
            .send(Waiting {
                draft,
                create,
                answer,
            })
            .await
            .map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }

    async fn append(&self, draft: AuditDraft) -> Result<AuditEvent, StoreError> {
        self.write(draft, None).await
    }
}

/// Why a group of writes failed (nothing of it was committed).
enum GroupError {
    /// No transaction could be begun.
    Begin(String),
    /// A write failed.
    Write(StoreError),
    /// The commit failed.
    Commit(String),
}

/// Writes `group`, in order, in one transaction of its own: the head's lock, the creates'
/// records, the events.
async fn write_group(
    pool: &PgPool,
    group: &[Waiting],
) -> Result<Vec<Result<AuditEvent, StoreError>>, GroupError> {
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| GroupError::Begin(e.to_string()))?;
    let head = lock_head(&mut tx).await.map_err(GroupError::Write)?;
    let creates: Vec<&vault::NewRecord> =
        group.iter().filter_map(|w| w.create.as_deref()).collect();
    // Which writes go ahead: every append, and the creates `insert_records` stored (a refused
    // one is settled here, without failing the group, and records no event).
    let mut stored = if creates.is_empty() {
        Vec::new()
    } else {
        vault::insert_records(&mut tx, &creates)
            .await
            .map_err(GroupError::Write)?
    }
    .into_iter();
    let goes_ahead: Vec<bool> = group
        .iter()
        .map(|w| w.create.is_none() || stored.next().unwrap_or(false))
        .collect();
    let drafts: Vec<AuditDraft> = group
        .iter()
        .zip(&goes_ahead)
        .filter(|(_, ok)| **ok)
        .map(|(w, _)| w.draft.clone())
        .collect();
    let mut events = if drafts.is_empty() {
        Vec::new()
    } else {
        write_events(&mut tx, head, drafts)
            .await
            .map_err(GroupError::Write)?
    }
    .into_iter();
    tx.commit()
        .await
        .map_err(|e| GroupError::Commit(e.to_string()))?;
    Ok(goes_ahead
        .into_iter()
        .map(|ok| {
            if !ok {
                return Err(StoreError::Conflict("subject_key"));
            }
            events
                .next()
                .ok_or_else(|| StoreError::AuditUnavailable("no event was appended".into()))
        })
        .collect())
}

fn backend(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Conflict("unique");
        }
        if db.is_foreign_key_violation() {
            return StoreError::Conflict("reference");
        }
    }
    StoreError::Backend(e.to_string())
}

fn audit_failed(e: sqlx::Error) -> StoreError {
    StoreError::AuditUnavailable(e.to_string())
}

fn ts(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms)
        .map_err(|_| StoreError::Corrupt("timestamp out of range".into()))
}

fn opt_ts(ms: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    ms.map(ts).transpose()
}

fn hash32(b: &[u8]) -> Result<Hash, StoreError> {
    b.try_into()
        .map_err(|_| StoreError::Corrupt("hash is not 32 bytes".into()))
}

impl PostgresStore {
    /// Connects to `url` and applies migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let opts = PgConnectOptions::from_str(url).map_err(|_| {
            StoreError::Backend("the database URL is not a valid PostgreSQL URL".into())
        })?;
        Self::connect_with(opts).await
    }

    /// Connects to `url` with `search_path` set to `schema` (created if missing), and applies
    /// migrations there: one database can hold several isolated installations (tests do this).
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        if schema.is_empty()
            || !schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::Backend(
                "schema names are lower-case letters, digits and _".into(),
            ));
        }
        let opts = PgConnectOptions::from_str(url).map_err(|_| {
            StoreError::Backend("the database URL is not a valid PostgreSQL URL".into())
        })?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await
            .map_err(backend)?;
        query(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}"
        )))
        .execute(&admin)
        .await
        .map_err(backend)?;
        admin.close().await;
        Self::connect_with(opts.options([("search_path", schema)])).await
    }

    async fn connect_with(opts: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(backend)?;
        let appender = Appender::start(pool.clone());
        let store = Self { pool, appender };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the embedded migrations that have not run yet (under sqlx's advisory lock, so
    /// several processes may start at once).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))
    }

    /// The pool, for tests that need to reach below the port.
    pub fn raw_pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(backend)
    }
}

/// Appends an audit event inside the caller's transaction.
async fn append_in(conn: &mut PgConnection, draft: AuditDraft) -> Result<AuditEvent, StoreError> {
    let mut events = append_all_in(conn, vec![draft]).await?;
    events
        .pop()
        .ok_or_else(|| StoreError::AuditUnavailable("no event was appended".into()))
}

/// Appends `drafts`, in order, inside the caller's transaction: the head is locked and read
/// once, and the events, their tree nodes and the new head are written in three statements.
async fn append_all_in(
    conn: &mut PgConnection,
    drafts: Vec<AuditDraft>,
) -> Result<Vec<AuditEvent>, StoreError> {
    let head = lock_head(&mut *conn).await?;
    write_events(conn, head, drafts).await
}

/// Locks the audit head's row until the caller's transaction ends, and reads it.
async fn lock_head(conn: &mut PgConnection) -> Result<AuditHead, StoreError> {
    let row = query("SELECT size, chain, frontier FROM audit_head WHERE id = 1 FOR UPDATE")
        .fetch_one(&mut *conn)
        .await
        .map_err(audit_failed)?;
    let corrupt = || StoreError::AuditUnavailable("the stored audit head is corrupt".into());
    let size: i64 = row.try_get(0).map_err(|_| corrupt())?;
    let chain: &[u8] = row.try_get(1).map_err(|_| corrupt())?;
    let frontier: &[u8] = row.try_get(2).map_err(|_| corrupt())?;
    AuditHead::from_stored(size as u64, chain, frontier).ok_or_else(corrupt)
}

/// Appends `drafts` after `head` (read under its lock by [`lock_head`], in the same
/// transaction): the events, their tree nodes and the new head, in three statements.
async fn write_events(
    conn: &mut PgConnection,
    mut head: AuditHead,
    drafts: Vec<AuditDraft>,
) -> Result<Vec<AuditEvent>, StoreError> {
    let mut events = Vec::with_capacity(drafts.len());
    let mut nodes = Vec::new();
    for draft in drafts {
        let a = head.append(draft);
        events.push(a.event);
        nodes.extend(a.nodes);
        head = a.head;
    }
    let fields = events
        .iter()
        .map(|e| serde_json::to_string(&e.draft.fields))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::AuditUnavailable(e.to_string()))?;
    // One array per column, so that each statement's text (prepared once per connection) is
    // the same for any number of events.
    let text = |f: fn(&AuditEvent) -> &str| events.iter().map(f).collect::<Vec<_>>();
    let bytes = |f: fn(&AuditEvent) -> &[u8]| events.iter().map(f).collect::<Vec<_>>();
    let optional = |f: fn(&AuditEvent) -> Option<&str>| events.iter().map(f).collect::<Vec<_>>();
    query(
        "INSERT INTO audit_events (seq, time_ms, request_id, actor, action, resource, subject, \
         fields, purpose, decision, leaf_hash, chain_hash) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bytea[], $12::bytea[])",
    )
    .bind(events.iter().map(|e| e.seq as i64).collect::<Vec<_>>())
    .bind(
        events
            .iter()
            .map(|e| e.draft.time.as_millisecond())
            .collect::<Vec<_>>(),
    )
    .bind(text(|e| &e.draft.request_id))
    .bind(text(|e| &e.draft.actor))
    .bind(text(|e| &e.draft.action))
    .bind(text(|e| &e.draft.resource))
    .bind(optional(|e| e.draft.subject.as_deref()))
    .bind(fields)
    .bind(optional(|e| e.draft.purpose.as_deref()))
    .bind(text(|e| e.draft.decision.as_str()))
    .bind(bytes(|e| &e.leaf_hash[..]))
    .bind(bytes(|e| &e.chain_hash[..]))
    .execute(&mut *conn)
    .await
    .map_err(audit_failed)?;
    query(
        "INSERT INTO audit_nodes (level, idx, hash) \
         SELECT * FROM UNNEST($1::integer[], $2::bigint[], $3::bytea[])",
    )
    .bind(nodes.iter().map(|n| n.level as i32).collect::<Vec<_>>())
    .bind(nodes.iter().map(|n| n.index as i64).collect::<Vec<_>>())
    .bind(nodes.iter().map(|n| &n.hash[..]).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .map_err(audit_failed)?;
    query("UPDATE audit_head SET size = $1, chain = $2, frontier = $3 WHERE id = 1")
        .bind(head.size as i64)
        .bind(&head.chain[..])
        .bind(head.frontier_bytes())
        .execute(&mut *conn)
        .await
        .map_err(audit_failed)?;
    Ok(events)
}

fn operator_from(r: &PgRow) -> Result<Operator, StoreError> {
    Ok(Operator {
        id: r.get("id"),
        name: r.get("name"),
        role: Role::from_str(r.get::<&str, _>("role"))
            .map_err(|_| StoreError::Corrupt("unknown role".into()))?,
        // Derived from the training register by `with_training`.
        training_valid_until: None,
        disabled: r.get::<bool, _>("disabled"),
        created_at: ts(r.get("created_at"))?,
    })
}

fn key_from(r: &PgRow, prefix: &str) -> Result<ApiKey, StoreError> {
    let c = |n: &str| format!("{prefix}{n}");
    Ok(ApiKey {
        id: r.get(c("id").as_str()),
        operator_id: r.get(c("operator_id").as_str()),
        prefix: r.get(c("prefix").as_str()),
        hash: r.get(c("hash").as_str()),
        created_at: ts(r.get(c("created_at").as_str()))?,
        expires_at: opt_ts(r.get(c("expires_at").as_str()))?,
        revoked_at: opt_ts(r.get(c("revoked_at").as_str()))?,
    })
}

fn event_from(r: &PgRow) -> Result<AuditEvent, StoreError> {
    let fields: String = r.get("fields");
    Ok(AuditEvent {
        seq: r.get::<i64, _>("seq") as u64,
        draft: AuditDraft {
            time: ts(r.get("time_ms"))?,
            request_id: r.get("request_id"),
            actor: r.get("actor"),
            action: r.get("action"),
            resource: r.get("resource"),
            subject: r.get("subject"),
            fields: serde_json::from_str(&fields).map_err(|_| {
                StoreError::Corrupt("an audit event's field list is malformed".into())
            })?,
            purpose: r.get("purpose"),
            decision: Decision::parse(r.get("decision"))
                .ok_or_else(|| StoreError::Corrupt("unknown decision".into()))?,
        },
        leaf_hash: hash32(r.get("leaf_hash"))?,
        chain_hash: hash32(r.get("chain_hash"))?,
    })
}

async fn insert_operator(conn: &mut PgConnection, op: &Operator) -> Result<(), StoreError> {
    query(
        "INSERT INTO operators (id, name, role, disabled, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&op.id)
    .bind(&op.name)
    .bind(op.role.as_str())
    .bind(op.disabled)
    .bind(op.created_at.as_millisecond())
    .execute(conn)
    .await
    .map_err(backend)?;
    Ok(())
}

async fn insert_key(conn: &mut PgConnection, k: &ApiKey) -> Result<(), StoreError> {
    query("INSERT INTO api_keys (id, operator_id, prefix, hash, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&k.id)
        .bind(&k.operator_id)
        .bind(&k.prefix)
        .bind(&k.hash)
        .bind(k.created_at.as_millisecond())
        .bind(k.expires_at.map(|t| t.as_millisecond()))
        .bind(k.revoked_at.map(|t| t.as_millisecond()))
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

async fn insert_policies(
    conn: &mut PgConnection,
    text: &str,
    at: Timestamp,
    by: &str,
) -> Result<PolicySetRecord, StoreError> {
    let version: i64 = query("SELECT COALESCE(MAX(version), 0) + 1 FROM policy_sets")
        .fetch_one(&mut *conn)
        .await
        .map_err(backend)?
        .get(0);
    query(
        "INSERT INTO policy_sets (version, text, updated_at, updated_by) VALUES ($1, $2, $3, $4)",
    )
    .bind(version)
    .bind(text)
    .bind(at.as_millisecond())
    .bind(by)
    .execute(conn)
    .await
    .map_err(backend)?;
    Ok(PolicySetRecord {
        version,
        text: text.to_owned(),
        updated_at: custodian_core::clock::to_millis(at),
        updated_by: by.to_owned(),
    })
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn installation(&self) -> Result<Option<Installation>, StoreError> {
        let row = query("SELECT install_id, log_origin, created_at FROM installation WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| {
            Ok(Installation {
                id: r.get(0),
                log_origin: r.get(1),
                created_at: ts(r.get(2))?,
            })
        })
        .transpose()
    }

    async fn initialize(&self, init: Initialization) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        let exists = query("SELECT 1 FROM installation WHERE id = 1 FOR UPDATE")
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        if exists.is_some() {
            return Err(StoreError::AlreadyInitialized);
        }
        let i = &init.installation;
        query("INSERT INTO installation (id, install_id, log_origin, created_at) VALUES (1, $1, $2, $3)")
            .bind(&i.id)
            .bind(&i.log_origin)
            .bind(i.created_at.as_millisecond())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        insert_operator(&mut tx, &init.admin).await?;
        insert_key(&mut tx, &init.admin_key).await?;
        insert_policies(&mut tx, &init.policies, i.created_at, &init.audit.actor).await?;
        let ev = append_in(&mut tx, init.audit).await?;
        tx.commit().await.map_err(backend)?;
        Ok(ev)
    }

    async fn create_operator(
        &self,
        op: &Operator,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        insert_operator(&mut tx, op).await?;
        let ev = append_in(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)?;
        Ok(ev)
    }

    async fn list_operators(&self) -> Result<Vec<Operator>, StoreError> {
        let ops = query("SELECT * FROM operators ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(operator_from)
            .collect::<Result<Vec<_>, _>>()?;
        self.with_training(ops, None).await
    }

    async fn get_operator(&self, id: &str) -> Result<Option<Operator>, StoreError> {
        let op = query("SELECT * FROM operators WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(operator_from)
            .transpose()?;
        match op {
            Some(op) => Ok(self.with_training(vec![op], Some(id)).await?.pop()),
            None => Ok(None),
        }
    }

    async fn set_operator_disabled(
        &self,
        id: &str,
        disabled: bool,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        let n = query("UPDATE operators SET disabled = $1 WHERE id = $2")
            .bind(disabled)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let ev = append_in(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)?;
        Ok(ev)
    }

    async fn create_api_key(
        &self,
        key: &ApiKey,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        insert_key(&mut tx, key).await?;
        let ev = append_in(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)?;
        Ok(ev)
    }

    async fn list_api_keys(&self, operator_id: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
        query("SELECT * FROM api_keys WHERE $1::text IS NULL OR operator_id = $1 ORDER BY created_at, id")
            .bind(operator_id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| key_from(r, ""))
            .collect()
    }

    async fn revoke_api_key(
        &self,
        id: &str,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        let n = query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(at.as_millisecond())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let ev = append_in(&mut tx, audit).await?;
        tx.commit().await.map_err(backend)?;
        Ok(ev)
    }

    async fn find_api_key(&self, hash: &str) -> Result<Option<(ApiKey, Operator)>, StoreError> {
        let row = query(
            "SELECT k.id AS k_id, k.operator_id AS k_operator_id, k.prefix AS k_prefix, k.hash AS k_hash, \
             k.created_at AS k_created_at, k.expires_at AS k_expires_at, k.revoked_at AS k_revoked_at, o.* \
             FROM api_keys k JOIN operators o ON o.id = k.operator_id WHERE k.hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some(r) = row else { return Ok(None) };
        let (key, op) = (key_from(&r, "k_")?, operator_from(&r)?);
        let id = op.id.clone();
        let op = self.with_training(vec![op], Some(&id)).await?.pop();
        Ok(op.map(|op| (key, op)))
    }

    async fn policy_set(&self) -> Result<Option<PolicySetRecord>, StoreError> {
        let row = query("SELECT version, text, updated_at, updated_by FROM policy_sets ORDER BY version DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| {
            Ok(PolicySetRecord {
                version: r.get(0),
                text: r.get(1),
                updated_at: ts(r.get(2))?,
                updated_by: r.get(3),
            })
        })
        .transpose()
    }

    async fn policy_version(&self) -> Result<i64, StoreError> {
        Ok(query("SELECT COALESCE(MAX(version), 0) FROM policy_sets")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?
            .get(0))
    }

    async fn put_policy_set(
        &self,
        text: &str,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<PolicySetRecord, StoreError> {
        let mut tx = self.begin().await?;
        let by = audit.actor.clone();
        // The audit append comes first: on PostgreSQL it locks the log's head, which also
        // serialises concurrent saves so versions never collide.
        append_in(&mut tx, audit).await?;
        let rec = insert_policies(&mut tx, text, at, &by).await?;
        tx.commit().await.map_err(backend)?;
        Ok(rec)
    }

    async fn append_audit(&self, draft: AuditDraft) -> Result<AuditEvent, StoreError> {
        self.appender.append(draft).await
    }

    async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        let row = query("SELECT size, chain, frontier FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        AuditHead::from_stored(
            row.get::<i64, _>(0) as u64,
            row.get::<&[u8], _>(1),
            row.get::<&[u8], _>(2),
        )
        .ok_or_else(|| StoreError::Corrupt("the stored audit head is corrupt".into()))
    }

    async fn audit_events(&self, from_seq: u64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        query("SELECT * FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT $2")
            .bind(from_seq as i64)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(event_from)
            .collect()
    }

    async fn audit_nodes(
        &self,
        coords: &[(u32, u64)],
    ) -> Result<HashMap<(u32, u64), Hash>, StoreError> {
        let mut out = HashMap::with_capacity(coords.len());
        for chunk in coords.chunks(200) {
            let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
                "SELECT level, idx, hash FROM audit_nodes WHERE (level, idx) IN (VALUES ",
            );
            let mut sep = qb.separated(", ");
            for (l, i) in chunk {
                sep.push("(");
                sep.push_bind_unseparated(*l as i32);
                sep.push_unseparated(", ");
                sep.push_bind_unseparated(*i as i64);
                sep.push_unseparated(")");
            }
            qb.push(")");
            for r in qb.build().fetch_all(&self.pool).await.map_err(backend)? {
                out.insert(
                    (r.get::<i32, _>(0) as u32, r.get::<i64, _>(1) as u64),
                    hash32(r.get(2))?,
                );
            }
        }
        Ok(out)
    }

    async fn put_collection(
        &self,
        schema: &CollectionSchema,
        expected_version: Option<i64>,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        append_in(&mut tx, audit).await?;
        let v = vault::put_collection(&mut tx, schema, expected_version, at).await?;
        tx.commit().await.map_err(backend)?;
        Ok(v)
    }

    async fn get_collection(&self, name: &str) -> Result<Option<StoredCollection>, StoreError> {
        query("SELECT * FROM vault_collections WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(vault::collection_from)
            .transpose()
    }

    async fn list_collections(&self) -> Result<Vec<StoredCollection>, StoreError> {
        query("SELECT * FROM vault_collections ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(vault::collection_from)
            .collect()
    }

    async fn collection_has_records(&self, name: &str) -> Result<bool, StoreError> {
        Ok(
            query("SELECT 1 FROM vault_records WHERE collection = $1 LIMIT 1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?
                .is_some(),
        )
    }

    async fn subject_key(&self, subject_id: &str) -> Result<Option<SubjectKey>, StoreError> {
        query("SELECT * FROM vault_subject_keys WHERE subject_id = $1")
            .bind(subject_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(vault::subject_key_from)
            .transpose()
    }

    async fn insert_record(
        &self,
        record: &Record,
        key: &SealedUnder,
        indexes: &[IndexEntry],
        tokens: &[TokenRecord],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let create = vault::NewRecord {
            record: record.clone(),
            key: key.clone(),
            indexes: indexes.to_vec(),
            tokens: tokens.to_vec(),
        };
        self.appender.write(audit, Some(Box::new(create))).await
    }

    async fn get_record(&self, collection: &str, id: &str) -> Result<Option<Record>, StoreError> {
        let rows = query("SELECT * FROM vault_records WHERE collection = $1 AND id = $2")
            .bind(collection)
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(vault::with_cells(&self.pool, rows)
            .await?
            .into_iter()
            .next())
    }

    /// One statement (one snapshot, one round trip): the record joined with its cells (a row
    /// each, ordered by field, or one row without a cell), and on every row the subject's key
    /// and its limits as arrays in (kind, purpose) order (gathered once, for the record).
    async fn record_for_read(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<Option<RecordForRead>, StoreError> {
        let rows = query(
            "SELECT r.id, r.collection, r.subject_id, r.key_version, r.created_at, r.updated_at, \
             c.field, c.ciphertext, k.subject_id AS k_subject_id, k.key_version AS k_version, \
             k.kek_id, k.wrapped_dek, k.created_at AS k_created_at, l.l_kinds, l.l_purposes, l.l_since \
             FROM vault_records r \
             CROSS JOIN LATERAL (SELECT \
                 COALESCE(array_agg(kind ORDER BY kind, purpose), '{}') AS l_kinds, \
                 COALESCE(array_agg(purpose ORDER BY kind, purpose), '{}') AS l_purposes, \
                 COALESCE(array_agg(since ORDER BY kind, purpose), '{}') AS l_since \
                 FROM vault_processing_limits WHERE subject_id = r.subject_id) l \
             LEFT JOIN vault_cells c ON c.record_id = r.id \
             LEFT JOIN vault_subject_keys k ON k.subject_id = r.subject_id \
             WHERE r.collection = $1 AND r.id = $2 ORDER BY c.field",
        )
        .bind(collection)
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut record = vault::record_from(first)?;
        let subject_id = record.subject_id.clone();
        for r in &rows {
            if let Some(field) = r.try_get::<Option<String>, _>("field").map_err(backend)? {
                record.cells.push(Cell {
                    field,
                    ciphertext: r.try_get("ciphertext").map_err(backend)?,
                });
            }
        }
        let key = match first
            .try_get::<Option<i64>, _>("k_version")
            .map_err(backend)?
        {
            Some(_) => Some(vault::subject_key_in(
                first,
                &vault::KeyColumns {
                    subject_id: "k_subject_id",
                    key_version: "k_version",
                    kek_id: "kek_id",
                    wrapped_dek: "wrapped_dek",
                    created_at: "k_created_at",
                },
            )?),
            None => None,
        };
        let kinds: Vec<String> = first.try_get("l_kinds").map_err(backend)?;
        let purposes: Vec<String> = first.try_get("l_purposes").map_err(backend)?;
        let since: Vec<i64> = first.try_get("l_since").map_err(backend)?;
        if kinds.len() != purposes.len() || kinds.len() != since.len() {
            return Err(StoreError::Corrupt(
                "a subject's processing limits were read inconsistently".into(),
            ));
        }
        let limits = kinds
            .iter()
            .zip(purposes)
            .zip(since)
            .map(|((kind, purpose), since)| {
                Ok(ProcessingLimit {
                    subject_id: subject_id.clone(),
                    kind: LimitKind::from_stored(kind)?,
                    purpose,
                    since: ts(since)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(RecordForRead {
            record,
            limits,
            key,
        }))
    }

    async fn find_records(
        &self,
        collection: &str,
        field: &str,
        index: &[u8],
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Record>, StoreError> {
        let rows = query(
            "SELECT r.* FROM vault_index i JOIN vault_records r ON r.id = i.record_id \
             WHERE i.collection = $1 AND i.field = $2 AND i.idx = $3 AND ($4::text IS NULL OR r.id > $4) \
             ORDER BY r.id LIMIT $5",
        )
        .bind(collection)
        .bind(field)
        .bind(index)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        vault::with_cells(&self.pool, rows).await
    }

    async fn subject_records(&self, subject_id: &str) -> Result<Vec<Record>, StoreError> {
        let rows =
            query("SELECT * FROM vault_records WHERE subject_id = $1 ORDER BY collection, id")
                .bind(subject_id)
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        vault::with_cells(&self.pool, rows).await
    }

    async fn delete_record(
        &self,
        collection: &str,
        id: &str,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        let ev = append_in(&mut tx, audit).await?;
        vault::delete_record(&mut tx, collection, id).await?;
        tx.commit().await.map_err(backend)?;
        Ok(ev)
    }

    async fn erase_subject(
        &self,
        subject_id: &str,
        pseudonym: &str,
        at: Timestamp,
        only_key: Option<&SubjectKey>,
        audit: AuditDraft,
    ) -> Result<Erased, StoreError> {
        let mut tx = self.begin().await?;
        if let Some(k) = only_key
            && (k.subject_id != subject_id || !vault::holds_key(&mut tx, k, true).await?)
        {
            return Err(StoreError::Conflict("subject_key"));
        }
        append_in(&mut tx, audit).await?;
        let erased = vault::erase_subject(&mut tx, subject_id, pseudonym, at).await?;
        tx.commit().await.map_err(backend)?;
        Ok(erased)
    }

    async fn erasure_ledger(&self) -> Result<Vec<(String, Timestamp)>, StoreError> {
        query("SELECT pseudonym, erased_at FROM vault_erasure_ledger ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get(0).map_err(backend)?,
                    ts(r.try_get(1).map_err(backend)?)?,
                ))
            })
            .collect()
    }

    async fn merge_erasure_ledger(
        &self,
        entries: &[(String, Timestamp)],
        audit: AuditDraft,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        append_in(&mut tx, audit).await?;
        let n = vault::merge_ledger(&mut tx, entries).await?;
        tx.commit().await.map_err(backend)?;
        Ok(n)
    }

    async fn erased_at(&self, pseudonym: &str) -> Result<Option<Timestamp>, StoreError> {
        let ms: Option<i64> =
            query("SELECT MAX(erased_at) FROM vault_erasure_ledger WHERE pseudonym = $1")
                .bind(pseudonym)
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?
                .try_get(0)
                .map_err(backend)?;
        opt_ts(ms)
    }

    async fn update_record(
        &self,
        record: &Record,
        key: &SubjectKey,
        expected_updated_at: Timestamp,
        indexes: &[IndexEntry],
        tokens: &[TokenRecord],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        let ev = append_in(&mut tx, audit).await?;
        vault::update_record(&mut tx, record, key, expected_updated_at, indexes).await?;
        vault::insert_tokens(&mut tx, &tokens.iter().collect::<Vec<_>>()).await?;
        tx.commit().await.map_err(backend)?;
        Ok(ev)
    }

    async fn put_token(
        &self,
        token: &TokenRecord,
        key: &SealedUnder,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        let ev = append_in(&mut tx, audit).await?;
        vault::put_token(&mut tx, token, key).await?;
        tx.commit().await.map_err(backend)?;
        Ok(ev)
    }

    async fn get_token(&self, token: &str) -> Result<Vec<TokenRecord>, StoreError> {
        query("SELECT * FROM vault_tokens WHERE token = $1 ORDER BY created_at, subject_id")
            .bind(token)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(vault::token_from)
            .collect()
    }

    async fn subject_tokens(&self, subject_id: &str) -> Result<Vec<TokenRecord>, StoreError> {
        query("SELECT * FROM vault_tokens WHERE subject_id = $1 ORDER BY token")
            .bind(subject_id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(vault::token_from)
            .collect()
    }

    async fn rotate_subject_key(
        &self,
        old: &SubjectKey,
        new_key: &SubjectKey,
        records: &[Record],
        tokens: &[TokenRecord],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        let ev = append_in(&mut tx, audit).await?;
        vault::rotate_key(&mut tx, old, new_key, records, tokens).await?;
        tx.commit().await.map_err(backend)?;
        Ok(ev)
    }

    async fn subject_keys(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SubjectKey>, StoreError> {
        query("SELECT * FROM vault_subject_keys WHERE subject_id > $1 ORDER BY subject_id LIMIT $2")
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(vault::subject_key_from)
            .collect()
    }

    async fn rewrap_subject_keys(
        &self,
        rewraps: &[Rewrap],
        audit: AuditDraft,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        append_in(&mut tx, audit).await?;
        let n = vault::rewrap(&mut tx, rewraps).await?;
        tx.commit().await.map_err(backend)?;
        Ok(n)
    }

    async fn put_processing_limit(
        &self,
        limit: &ProcessingLimit,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        let ev = append_in(&mut tx, audit).await?;
        vault::put_limit(&mut tx, limit).await?;
        tx.commit().await.map_err(backend)?;
        Ok(ev)
    }

    async fn lift_processing_limit(
        &self,
        subject_id: &str,
        kind: LimitKind,
        purpose: &str,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        let ev = append_in(&mut tx, audit).await?;
        vault::lift_limit(&mut tx, subject_id, kind, purpose).await?;
        tx.commit().await.map_err(backend)?;
        Ok(ev)
    }

    async fn processing_limits(
        &self,
        subject_id: &str,
    ) -> Result<Vec<ProcessingLimit>, StoreError> {
        query("SELECT * FROM vault_processing_limits WHERE subject_id = $1 ORDER BY kind, purpose")
            .bind(subject_id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(vault::limit_from)
            .collect()
    }
}
