//! The SQLite store: one file in the data directory, WAL mode, `synchronous = FULL` (but on
//! the group-commit writer's connection, whose commits the writer's flusher fsyncs).
//!
//! Writes go through one writer task ([`writer`]) that commits concurrent writes together
//! (group commit: one `BEGIN IMMEDIATE` transaction, a savepoint per write, one fsync, made by
//! a flusher thread after the commit while the writer goes on); reads use a separate pool. A
//! write is acknowledged only after its transaction has committed and been fsynced.

mod consent;
mod governance;
mod map;
mod outbox;
mod point;
mod retention;
mod rights;
mod vault;
mod writer;

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, AuditEvent, AuditHead, Decision, Hash};
use custodian_core::operator::{ApiKey, Operator, Role};
use custodian_core::ports::{Initialization, Installation, PolicySetRecord, Store, StoreError};
use custodian_core::vault::record::{
    Erased, IndexEntry, LimitKind, ProcessingLimit, Record, RecordForRead, Rewrap, SealedUnder,
    StoredCollection, SubjectKey, TokenRecord,
};
use custodian_core::vault::schema::CollectionSchema;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, query};

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "custodian.db";

/// The SQLite implementation of [`Store`].
#[derive(Clone)]
pub struct SqliteStore {
    /// Four connections: the group-commit writer's, the checkpointer's, and two for
    /// migrations, backups and tests that reach below the port.
    writer: SqlitePool,
    /// Reads that scan or page, each a round trip to a connection's thread.
    reader: SqlitePool,
    group: writer::Writer,
    /// Collections by name, as last read (this process is the store's only writer).
    collections: Arc<vault::CollectionCache>,
    /// Point reads on the caller's thread (see [`point`]).
    points: Arc<point::PointReads>,
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

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir` and applies migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_file(&data_dir.join(DB_FILE)).await
    }

    /// Opens (creating if needed) the database file at `path` and applies migrations.
    pub async fn open_file(path: &Path) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Each write job of a group commit runs in a savepoint, whose statement journal
            // SQLite keeps in a temporary file unless told otherwise: in memory, a job's
            // pages are not written out twice (creates went from about 3,700/s to 5,000/s).
            .pragma("temp_store", "memory")
            // Deleted rows are overwritten with zeros, not left in the pages' free space: an
            // erased subject's wrapped key and sealed cells must not stay in the file.
            .pragma("secure_delete", "ON");
        // The group writer's connection, the checkpointer's, and two for migrations, backups
        // and tests. Both long-lived ones come from this pool so that closing it waits for
        // them to be closed (a restore renames the files only after that).
        let writer = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.clone())
            .await
            .map_err(backend)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            // sqlx would otherwise ping each connection it hands out: a round trip to the
            // connection's thread before every query, for a local file that cannot go away.
            .test_before_acquire(false)
            .connect_with(opts.clone().read_only(true))
            .await
            .map_err(backend)?;
        sqlx::migrate!("./migrations")
            .run(&writer)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        let conn = writer.acquire().await.map_err(backend)?;
        let checkpoints = writer.acquire().await.map_err(backend)?;
        let group = writer::Writer::start(conn, path, checkpoints)?;
        Ok(Self {
            writer,
            reader,
            group,
            collections: Arc::default(),
            points: Arc::new(point::PointReads::new(path)),
        })
    }

    /// Applies the embedded migrations that have not run yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations")
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))
    }

    /// Writes a consistent copy of the database to `dest` (which must not exist), online.
    pub async fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        let dest = dest
            .to_str()
            .ok_or_else(|| StoreError::Backend("backup path is not UTF-8".into()))?;
        query("VACUUM INTO ?")
            .bind(dest)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Stops the group-commit writer and closes every connection (the last close checkpoints
    /// the WAL into the database file).
    pub async fn close(self) {
        let Self {
            writer,
            reader,
            group,
            collections: _,
            points,
        } = self;
        drop(group);
        points.close();
        reader.close().await;
        writer.close().await;
    }

    /// The write pool, for tests that need to reach below the port.
    pub fn raw_pool(&self) -> &SqlitePool {
        &self.writer
    }
}

fn operator_from(r: &SqliteRow) -> Result<Operator, StoreError> {
    Ok(Operator {
        id: r.get("id"),
        name: r.get("name"),
        role: Role::from_str(r.get::<&str, _>("role"))
            .map_err(|_| StoreError::Corrupt("unknown role".into()))?,
        // Derived from the training register by `with_training`.
        training_valid_until: None,
        disabled: r.get::<i64, _>("disabled") != 0,
        created_at: ts(r.get("created_at"))?,
    })
}

fn key_from(r: &SqliteRow, prefix: &str) -> Result<ApiKey, StoreError> {
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

fn event_from(r: &SqliteRow) -> Result<AuditEvent, StoreError> {
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

async fn insert_operator(conn: &mut SqliteConnection, op: &Operator) -> Result<(), StoreError> {
    query("INSERT INTO operators (id, name, role, disabled, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(&op.id)
        .bind(&op.name)
        .bind(op.role.as_str())
        .bind(op.disabled as i64)
        .bind(op.created_at.as_millisecond())
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

async fn insert_key(conn: &mut SqliteConnection, k: &ApiKey) -> Result<(), StoreError> {
    query("INSERT INTO api_keys (id, operator_id, prefix, hash, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
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
    conn: &mut SqliteConnection,
    text: &str,
    at: Timestamp,
    by: &str,
) -> Result<PolicySetRecord, StoreError> {
    let version: i64 = query("SELECT COALESCE(MAX(version), 0) + 1 FROM policy_sets")
        .fetch_one(&mut *conn)
        .await
        .map_err(backend)?
        .get(0);
    query("INSERT INTO policy_sets (version, text, updated_at, updated_by) VALUES (?, ?, ?, ?)")
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
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn installation(&self) -> Result<Option<Installation>, StoreError> {
        let row = query("SELECT install_id, log_origin, created_at FROM installation WHERE id = 1")
            .fetch_optional(&self.reader)
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
        self.group
            .write(move |tx| {
                Box::pin(async move {
                        let exists = query("SELECT 1 FROM installation WHERE id = 1")
                            .fetch_optional(&mut **tx)
                            .await
                            .map_err(backend)?;
                        if exists.is_some() {
                            return Err(StoreError::AlreadyInitialized);
                        }
                        let i = &init.installation;
                        query(
                            "INSERT INTO installation (id, install_id, log_origin, created_at) VALUES (1, ?, ?, ?)",
                        )
                        .bind(&i.id)
                        .bind(&i.log_origin)
                        .bind(i.created_at.as_millisecond())
                        .execute(&mut **tx)
                        .await
                        .map_err(backend)?;
                        insert_operator(&mut *tx, &init.admin).await?;
                        insert_key(&mut *tx, &init.admin_key).await?;
                        insert_policies(&mut *tx, &init.policies, i.created_at, &init.audit.actor).await?;
                        let ev = tx.append(init.audit)?;
                    Ok(ev)
                })
            })
            .await
    }

    async fn create_operator(
        &self,
        op: &Operator,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let op = op.clone();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    insert_operator(&mut *tx, &op).await?;
                    let ev = tx.append(audit)?;
                    Ok(ev)
                })
            })
            .await
    }

    async fn list_operators(&self) -> Result<Vec<Operator>, StoreError> {
        let ops = query("SELECT * FROM operators ORDER BY created_at, id")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(operator_from)
            .collect::<Result<Vec<_>, _>>()?;
        self.with_training(ops, None).await
    }

    async fn get_operator(&self, id: &str) -> Result<Option<Operator>, StoreError> {
        let op = query("SELECT * FROM operators WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
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
        let id = id.to_owned();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let n = query("UPDATE operators SET disabled = ? WHERE id = ?")
                        .bind(disabled as i64)
                        .bind(&id)
                        .execute(&mut **tx)
                        .await
                        .map_err(backend)?
                        .rows_affected();
                    if n == 0 {
                        return Err(StoreError::NotFound);
                    }
                    let ev = tx.append(audit)?;
                    Ok(ev)
                })
            })
            .await
    }

    async fn create_api_key(
        &self,
        key: &ApiKey,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let key = key.clone();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    insert_key(&mut *tx, &key).await?;
                    let ev = tx.append(audit)?;
                    Ok(ev)
                })
            })
            .await
    }

    async fn list_api_keys(&self, operator_id: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
        query("SELECT * FROM api_keys WHERE ? IS NULL OR operator_id = ? ORDER BY created_at, id")
            .bind(operator_id)
            .bind(operator_id)
            .fetch_all(&self.reader)
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
        let id = id.to_owned();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let n = query(
                        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    )
                    .bind(at.as_millisecond())
                    .bind(&id)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?
                    .rows_affected();
                    if n == 0 {
                        return Err(StoreError::NotFound);
                    }
                    let ev = tx.append(audit)?;
                    Ok(ev)
                })
            })
            .await
    }

    async fn find_api_key(&self, hash: &str) -> Result<Option<(ApiKey, Operator)>, StoreError> {
        let row = query(
            "SELECT k.id AS k_id, k.operator_id AS k_operator_id, k.prefix AS k_prefix, k.hash AS k_hash, \
             k.created_at AS k_created_at, k.expires_at AS k_expires_at, k.revoked_at AS k_revoked_at, o.* \
             FROM api_keys k JOIN operators o ON o.id = k.operator_id WHERE k.hash = ?",
        )
        .bind(hash)
        .fetch_optional(&self.reader)
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
            .fetch_optional(&self.reader)
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
            .fetch_one(&self.reader)
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
        let text = text.to_owned();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let by = audit.actor.clone();
                    // The audit append comes first: on PostgreSQL it locks the log's head, which also
                    // serialises concurrent saves so versions never collide.
                    tx.append(audit)?;
                    let rec = insert_policies(&mut *tx, &text, at, &by).await?;
                    Ok(rec)
                })
            })
            .await
    }

    async fn append_audit(&self, draft: AuditDraft) -> Result<AuditEvent, StoreError> {
        self.group.append(draft).await.map_err(|e| match e {
            StoreError::Backend(detail) => StoreError::AuditUnavailable(detail),
            other => other,
        })
    }

    async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        let row = query("SELECT size, chain, frontier FROM audit_head WHERE id = 1")
            .fetch_one(&self.reader)
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
        query("SELECT * FROM audit_events WHERE seq >= ? ORDER BY seq LIMIT ?")
            .bind(from_seq as i64)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
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
        // Looked up by post-order position (see migration 0019); a coordinate with no
        // position names no node that can exist, so it is simply not found.
        let by_pos: HashMap<i64, (u32, u64)> = coords
            .iter()
            .filter_map(|&(l, i)| Some((writer::tree_pos(l, i)?, (l, i))))
            .collect();
        let positions: Vec<i64> = by_pos.keys().copied().collect();
        let mut out = HashMap::with_capacity(positions.len());
        for chunk in positions.chunks(500) {
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT pos, hash FROM audit_tree WHERE pos IN (");
            let mut sep = qb.separated(", ");
            for pos in chunk {
                sep.push_bind(*pos);
            }
            qb.push(")");
            for r in qb.build().fetch_all(&self.reader).await.map_err(backend)? {
                if let Some(&coord) = by_pos.get(&r.get::<i64, _>(0)) {
                    out.insert(coord, hash32(r.get(1))?);
                }
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
        let schema = schema.clone();
        let group = self.group.clone();
        let collections = self.collections.clone();
        // A task of its own, so that the cache is forgotten after the write even if the
        // caller stops waiting (a client that disconnects): the write may still commit.
        let written = tokio::spawn(async move {
            let written = group
                .write(move |tx| {
                    Box::pin(async move {
                        tx.append(audit)?;
                        vault::put_collection(&mut *tx, &schema, expected_version, at).await
                    })
                })
                .await;
            // Forgotten whatever the outcome: a failed commit may still have reached the file.
            collections.forget();
            written
        });
        written
            .await
            .map_err(|_| StoreError::Backend("a schema write was abandoned".into()))?
    }

    async fn get_collection(&self, name: &str) -> Result<Option<StoredCollection>, StoreError> {
        if let Some(c) = self.collections.get(name) {
            return Ok(c);
        }
        let generation = self.collections.generation();
        let found = query("SELECT * FROM vault_collections WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(vault::collection_from)
            .transpose()?;
        self.collections.keep(generation, name, &found);
        Ok(found)
    }

    async fn list_collections(&self) -> Result<Vec<StoredCollection>, StoreError> {
        query("SELECT * FROM vault_collections ORDER BY name")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(vault::collection_from)
            .collect()
    }

    async fn collection_has_records(&self, name: &str) -> Result<bool, StoreError> {
        Ok(
            query("SELECT 1 FROM vault_records WHERE collection = ? LIMIT 1")
                .bind(name)
                .fetch_optional(&self.reader)
                .await
                .map_err(backend)?
                .is_some(),
        )
    }

    async fn subject_key(&self, subject_id: &str) -> Result<Option<SubjectKey>, StoreError> {
        query("SELECT * FROM vault_subject_keys WHERE subject_id = ?")
            .bind(subject_id)
            .fetch_optional(&self.reader)
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
        let (record, key, indexes, tokens) = (
            record.clone(),
            key.clone(),
            indexes.to_vec(),
            tokens.to_vec(),
        );
        self.group
            .write_fast(move |tx| {
                let ev = tx.append(audit)?;
                vault::insert_record(tx, &record, &key, &indexes, &tokens)?;
                Ok(ev)
            })
            .await
    }

    async fn get_record(&self, collection: &str, id: &str) -> Result<Option<Record>, StoreError> {
        vault::record_by_id(&self.reader, collection, id).await
    }

    async fn record_for_read(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<Option<RecordForRead>, StoreError> {
        self.points.record_for_read(collection, id)
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
            "SELECT r.* FROM vault_index i JOIN vault_records r ON r.id = i.record_id              WHERE i.collection = ? AND i.field = ? AND i.idx = ? AND (? IS NULL OR r.id > ?)              ORDER BY r.id LIMIT ?",
        )
        .bind(collection)
        .bind(field)
        .bind(index)
        .bind(after)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        vault::with_cells(&self.reader, rows).await
    }

    async fn subject_records(&self, subject_id: &str) -> Result<Vec<Record>, StoreError> {
        let rows =
            query("SELECT * FROM vault_records WHERE subject_id = ? ORDER BY collection, id")
                .bind(subject_id)
                .fetch_all(&self.reader)
                .await
                .map_err(backend)?;
        vault::with_cells(&self.reader, rows).await
    }

    async fn delete_record(
        &self,
        collection: &str,
        id: &str,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let (collection, id) = (collection.to_owned(), id.to_owned());
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let ev = tx.append(audit)?;
                    vault::delete_record(&mut *tx, &collection, &id).await?;
                    Ok(ev)
                })
            })
            .await
    }

    async fn erase_subject(
        &self,
        subject_id: &str,
        pseudonym: &str,
        at: Timestamp,
        only_key: Option<&SubjectKey>,
        audit: AuditDraft,
    ) -> Result<Erased, StoreError> {
        let (subject_id, pseudonym, only_key) = (
            subject_id.to_owned(),
            pseudonym.to_owned(),
            only_key.cloned(),
        );
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    if let Some(k) = &only_key
                        && (k.subject_id != subject_id || !vault::holds_key(&mut *tx, k).await?)
                    {
                        return Err(StoreError::Conflict("subject_key"));
                    }
                    tx.append(audit)?;
                    vault::erase_subject(&mut *tx, &subject_id, &pseudonym, at).await
                })
            })
            .await
    }

    async fn erasure_ledger(&self) -> Result<Vec<(String, Timestamp)>, StoreError> {
        query("SELECT pseudonym, erased_at FROM vault_erasure_ledger ORDER BY seq")
            .fetch_all(&self.reader)
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
        let entries = entries.to_vec();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    tx.append(audit)?;
                    vault::merge_ledger(&mut *tx, &entries).await
                })
            })
            .await
    }

    async fn erased_at(&self, pseudonym: &str) -> Result<Option<Timestamp>, StoreError> {
        let ms: Option<i64> =
            query("SELECT MAX(erased_at) FROM vault_erasure_ledger WHERE pseudonym = ?")
                .bind(pseudonym)
                .fetch_one(&self.reader)
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
        let (record, key, indexes, tokens) = (
            record.clone(),
            key.clone(),
            indexes.to_vec(),
            tokens.to_vec(),
        );
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let ev = tx.append(audit)?;
                    vault::update_record(&mut *tx, &record, &key, expected_updated_at, &indexes)
                        .await?;
                    vault::insert_tokens(&mut *tx, &tokens).await?;
                    Ok(ev)
                })
            })
            .await
    }

    async fn put_token(
        &self,
        token: &TokenRecord,
        key: &SealedUnder,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let (token, key) = (token.clone(), key.clone());
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let ev = tx.append(audit)?;
                    vault::put_token(&mut *tx, &token, &key).await?;
                    Ok(ev)
                })
            })
            .await
    }

    async fn get_token(&self, token: &str) -> Result<Vec<TokenRecord>, StoreError> {
        query("SELECT * FROM vault_tokens WHERE token = ? ORDER BY created_at, subject_id")
            .bind(token)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(vault::token_from)
            .collect()
    }

    async fn subject_tokens(&self, subject_id: &str) -> Result<Vec<TokenRecord>, StoreError> {
        query("SELECT * FROM vault_tokens WHERE subject_id = ? ORDER BY token")
            .bind(subject_id)
            .fetch_all(&self.reader)
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
        let (old, new_key, records, tokens) = (
            old.clone(),
            new_key.clone(),
            records.to_vec(),
            tokens.to_vec(),
        );
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let ev = tx.append(audit)?;
                    vault::rotate_key(&mut *tx, &old, &new_key, &records, &tokens).await?;
                    Ok(ev)
                })
            })
            .await
    }

    async fn subject_keys(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SubjectKey>, StoreError> {
        query("SELECT * FROM vault_subject_keys WHERE subject_id > ? ORDER BY subject_id LIMIT ?")
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
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
        let rewraps = rewraps.to_vec();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    tx.append(audit)?;
                    vault::rewrap(&mut *tx, &rewraps).await
                })
            })
            .await
    }

    async fn put_processing_limit(
        &self,
        limit: &ProcessingLimit,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let limit = limit.clone();
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let ev = tx.append(audit)?;
                    vault::put_limit(&mut *tx, &limit).await?;
                    Ok(ev)
                })
            })
            .await
    }

    async fn lift_processing_limit(
        &self,
        subject_id: &str,
        kind: LimitKind,
        purpose: &str,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let (subject_id, purpose) = (subject_id.to_owned(), purpose.to_owned());
        self.group
            .write(move |tx| {
                Box::pin(async move {
                    let ev = tx.append(audit)?;
                    vault::lift_limit(&mut *tx, &subject_id, kind, &purpose).await?;
                    Ok(ev)
                })
            })
            .await
    }

    async fn processing_limits(
        &self,
        subject_id: &str,
    ) -> Result<Vec<ProcessingLimit>, StoreError> {
        query("SELECT * FROM vault_processing_limits WHERE subject_id = ? ORDER BY kind, purpose")
            .bind(subject_id)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(vault::limit_from)
            .collect()
    }
}
