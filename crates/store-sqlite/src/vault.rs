//! The vault's tables: collections, subject keys, records, cells, blind indexes, erasure ledger.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use custodian_core::Timestamp;
use custodian_core::ports::StoreError;
use custodian_core::vault::record::{
    Cell, Erased, IndexEntry, LimitKind, ProcessingLimit, Record, Rewrap, SealedUnder,
    StoredCollection, SubjectKey, TokenRecord,
};
use custodian_core::vault::schema::CollectionSchema;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, query};

use rusqlite::OptionalExtension;

use crate::writer::{FastTx, sqlite_failed};
use crate::{backend, ts};

/// The most collections remembered (a store with more reads the rest from the database).
const MAX_CACHED_COLLECTIONS: usize = 1024;

/// Collections as last read, absent ones included, so that each record request does not read
/// its collection's schema again. Valid because the process holding the store is its only
/// writer: [`forget`](Self::forget) runs after every schema change, and a read that began
/// before a change is not kept (the generation moved on meanwhile).
#[derive(Default)]
pub(crate) struct CollectionCache {
    generation: AtomicU64,
    by_name: RwLock<HashMap<String, Option<StoredCollection>>>,
}

impl CollectionCache {
    pub(crate) fn get(&self, name: &str) -> Option<Option<StoredCollection>> {
        self.by_name
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// The generation to hand back to [`keep`](Self::keep) after reading the database.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn keep(&self, generation: u64, name: &str, found: &Option<StoredCollection>) {
        let mut m = self.by_name.write().unwrap_or_else(PoisonError::into_inner);
        // Checked under the lock that `forget` also takes, so a stale read is never kept.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if m.len() >= MAX_CACHED_COLLECTIONS {
            m.clear();
        }
        m.insert(name.to_owned(), found.clone());
    }

    pub(crate) fn forget(&self) {
        let mut m = self.by_name.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        m.clear();
    }
}

pub(crate) fn collection_from(r: &SqliteRow) -> Result<StoredCollection, StoreError> {
    let name: String = r.try_get("name").map_err(backend)?;
    let fields: String = r.try_get("fields").map_err(backend)?;
    Ok(StoredCollection {
        schema: CollectionSchema::decode(&name, &fields)
            .ok_or_else(|| StoreError::Corrupt("a stored collection schema is malformed".into()))?,
        version: r.try_get("version").map_err(backend)?,
        created_at: ts(r.try_get("created_at").map_err(backend)?)?,
        updated_at: ts(r.try_get("updated_at").map_err(backend)?)?,
    })
}

pub(crate) async fn put_collection(
    conn: &mut SqliteConnection,
    schema: &CollectionSchema,
    expected: Option<i64>,
    at: Timestamp,
) -> Result<i64, StoreError> {
    let at = at.as_millisecond();
    match expected {
        None => {
            let n = query(
                "INSERT INTO vault_collections (name, fields, version, created_at, updated_at) VALUES (?, ?, 1, ?, ?) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(&schema.name)
            .bind(schema.encode_fields())
            .bind(at)
            .bind(at)
            .execute(conn)
            .await
            .map_err(backend)?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict("collection_exists"));
            }
            Ok(1)
        }
        Some(v) => {
            let n = query("UPDATE vault_collections SET fields = ?, version = version + 1, updated_at = ? WHERE name = ? AND version = ?")
                .bind(schema.encode_fields())
                .bind(at)
                .bind(&schema.name)
                .bind(v)
                .execute(conn)
                .await
                .map_err(backend)?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict("version"));
            }
            Ok(v + 1)
        }
    }
}

pub(crate) fn subject_key_from(r: &SqliteRow) -> Result<SubjectKey, StoreError> {
    Ok(SubjectKey {
        subject_id: r.try_get("subject_id").map_err(backend)?,
        key_version: r.try_get::<i64, _>("key_version").map_err(backend)? as u32,
        kek_id: r.try_get("kek_id").map_err(backend)?,
        wrapped_dek: r.try_get("wrapped_dek").map_err(backend)?,
        created_at: ts(r.try_get("created_at").map_err(backend)?)?,
    })
}

/// Whether `key` is the one stored as `version` and `wrapped` (see [`SubjectKey::is_stored_as`]).
fn stored_as(key: &SubjectKey, version: i64, wrapped: &[u8]) -> bool {
    u32::try_from(version).is_ok_and(|v| key.is_stored_as(v, wrapped))
}

/// Whether the subject of `key` still holds that very key ([`SubjectKey::is_stored_as`]).
pub(crate) async fn holds_key(
    conn: &mut SqliteConnection,
    key: &SubjectKey,
) -> Result<bool, StoreError> {
    Ok(
        query("SELECT key_version, wrapped_dek FROM vault_subject_keys WHERE subject_id = ?")
            .bind(&key.subject_id)
            .fetch_optional(conn)
            .await
            .map_err(backend)?
            .is_some_and(|r| stored_as(key, r.get(0), &r.get::<Vec<u8>, _>(1))),
    )
}

/// Checks that `key` is the one a write for `subject_id` at `key_version` was sealed under,
/// and that the subject still holds it ([`SubjectKey::is_stored_as`]), or, if it is `new`,
/// stores it as the subject's first key. The check and the write it guards share one
/// transaction; an erasure that destroys the key meanwhile makes one of them fail.
async fn ensure_key(
    conn: &mut SqliteConnection,
    subject_id: &str,
    key_version: u32,
    key: &SubjectKey,
    new: bool,
) -> Result<(), StoreError> {
    if key.subject_id != subject_id || key.key_version != key_version {
        return Err(StoreError::Conflict("subject_key"));
    }
    let holds = if new {
        query(
            "INSERT INTO vault_subject_keys (subject_id, key_version, kek_id, wrapped_dek, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (subject_id) DO NOTHING",
        )
        .bind(&key.subject_id)
        .bind(i64::from(key.key_version))
        .bind(&key.kek_id)
        .bind(&key.wrapped_dek)
        .bind(key.created_at.as_millisecond())
        .execute(&mut *conn)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1
    } else {
        holds_key(conn, key).await?
    };
    if !holds {
        return Err(StoreError::Conflict("subject_key"));
    }
    Ok(())
}

/// Stores a new record with its cells, index entries and tokens, after checking the key it was
/// sealed under (as [`ensure_key`] does), on the writer's own connection (each statement a
/// call on the writer's thread, prepared once).
pub(crate) fn insert_record(
    tx: &FastTx<'_>,
    record: &Record,
    key: &SealedUnder,
    indexes: &[IndexEntry],
    tokens: &[TokenRecord],
) -> Result<(), StoreError> {
    let conn = tx.conn();
    let run = |sql: &str, params: &[&dyn rusqlite::ToSql]| {
        conn.prepare_cached(sql)
            .and_then(|mut st| st.execute(params))
            .map_err(sqlite_failed)
    };
    // The key decides first: the new key is stored, or the subject's key is the one the
    // record was sealed with. Otherwise the job fails and its savepoint undoes the rest.
    let k = key.key();
    let key_holds =
        k.subject_id == record.subject_id && k.key_version == record.key_version && match key {
            SealedUnder::New(k) => {
                run(
                    "INSERT INTO vault_subject_keys (subject_id, key_version, kek_id, \
                     wrapped_dek, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (subject_id) DO NOTHING",
                    rusqlite::params![
                        k.subject_id,
                        i64::from(k.key_version),
                        k.kek_id,
                        k.wrapped_dek,
                        k.created_at.as_millisecond()
                    ],
                )? == 1
            }
            SealedUnder::Held(k) => conn
                .prepare_cached(
                    "SELECT key_version, wrapped_dek FROM vault_subject_keys WHERE subject_id = ?1",
                )
                .and_then(|mut st| {
                    st.query_row([&record.subject_id], |r| {
                        Ok(stored_as(k, r.get(0)?, r.get_ref(1)?.as_blob()?))
                    })
                    .optional()
                })
                .map_err(sqlite_failed)?
                .unwrap_or(false),
        };
    if !key_holds {
        return Err(StoreError::Conflict("subject_key"));
    }
    run(
        "INSERT INTO vault_records (id, collection, subject_id, key_version, created_at, \
         updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![
            record.id,
            record.collection,
            record.subject_id,
            i64::from(record.key_version),
            record.created_at.as_millisecond(),
            record.updated_at.as_millisecond()
        ],
    )?;
    for c in &record.cells {
        run(
            "INSERT INTO vault_cells (record_id, field, ciphertext) VALUES (?1, ?2, ?3)",
            rusqlite::params![record.id, c.field, c.ciphertext],
        )?;
    }
    for i in indexes {
        run(
            "INSERT INTO vault_index (collection, field, idx, record_id) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![record.collection, i.field, i.index, record.id],
        )?;
    }
    for t in tokens {
        run(
            "INSERT INTO vault_tokens (token, subject_id, collection, field, key_version, \
             ciphertext, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (token, subject_id) DO NOTHING",
            rusqlite::params![
                t.token,
                t.subject_id,
                t.collection,
                t.field,
                i64::from(t.key_version),
                t.ciphertext,
                t.created_at.as_millisecond()
            ],
        )?;
    }
    Ok(())
}

/// One record with its cells, in one query (a join) rather than one for the record and one
/// for its cells: each query is a round trip to a connection's thread.
pub(crate) async fn record_by_id(
    pool: &SqlitePool,
    collection: &str,
    id: &str,
) -> Result<Option<Record>, StoreError> {
    let rows = query(RECORD_BY_ID)
        .bind(collection)
        .bind(id)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    record_from_rows(&rows)
}

/// A record and its cells, one row per cell (ordered by field), or one row with NULL cell
/// columns for a record without cells. Parameters: ?1 the collection, ?2 the id.
macro_rules! record_by_id {
    () => {
        "SELECT r.id, r.collection, r.subject_id, r.key_version, r.created_at, r.updated_at, \
         c.field, c.ciphertext FROM vault_records r \
         LEFT JOIN vault_cells c ON c.record_id = r.id \
         WHERE r.collection = ?1 AND r.id = ?2 ORDER BY c.field"
    };
}

/// See [`record_by_id!`].
const RECORD_BY_ID: &str = record_by_id!();

/// Assembles the rows of [`RECORD_BY_ID`].
fn record_from_rows(rows: &[SqliteRow]) -> Result<Option<Record>, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut record = Record {
        id: first.try_get("id").map_err(backend)?,
        collection: first.try_get("collection").map_err(backend)?,
        subject_id: first.try_get("subject_id").map_err(backend)?,
        key_version: first.try_get::<i64, _>("key_version").map_err(backend)? as u32,
        cells: Vec::with_capacity(rows.len()),
        created_at: ts(first.try_get("created_at").map_err(backend)?)?,
        updated_at: ts(first.try_get("updated_at").map_err(backend)?)?,
    };
    for row in rows {
        // A record without cells comes back as one row whose cell columns are NULL.
        if let Some(field) = row.try_get::<Option<String>, _>("field").map_err(backend)? {
            record.cells.push(Cell {
                field,
                ciphertext: row.try_get("ciphertext").map_err(backend)?,
            });
        }
    }
    Ok(Some(record))
}

/// Loads the cells of these records and assembles them, keeping the rows' order.
pub(crate) async fn with_cells(
    pool: &SqlitePool,
    rows: Vec<SqliteRow>,
) -> Result<Vec<Record>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut records = Vec::with_capacity(rows.len());
    for r in &rows {
        records.push(Record {
            id: r.try_get("id").map_err(backend)?,
            collection: r.try_get("collection").map_err(backend)?,
            subject_id: r.try_get("subject_id").map_err(backend)?,
            key_version: r.try_get::<i64, _>("key_version").map_err(backend)? as u32,
            cells: Vec::new(),
            created_at: ts(r.try_get("created_at").map_err(backend)?)?,
            updated_at: ts(r.try_get("updated_at").map_err(backend)?)?,
        });
    }
    let mut by_id: HashMap<String, Vec<Cell>> = HashMap::new();
    for chunk in records.chunks(500) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT record_id, field, ciphertext FROM vault_cells WHERE record_id IN (",
        );
        let mut sep = qb.separated(", ");
        for r in chunk {
            sep.push_bind(r.id.clone());
        }
        qb.push(") ORDER BY record_id, field");
        for row in qb.build().fetch_all(pool).await.map_err(backend)? {
            by_id
                .entry(row.try_get("record_id").map_err(backend)?)
                .or_default()
                .push(Cell {
                    field: row.try_get("field").map_err(backend)?,
                    ciphertext: row.try_get("ciphertext").map_err(backend)?,
                });
        }
    }
    for r in &mut records {
        r.cells = by_id.remove(&r.id).unwrap_or_default();
    }
    Ok(records)
}

/// Deletes `subject`'s tokens of `fields` of `collection` that no record of theirs stands
/// behind any more (after retention disposed of those fields).
pub(crate) async fn forget_tokens(
    conn: &mut SqliteConnection,
    subject: &str,
    collection: &str,
    fields: &[String],
) -> Result<(), StoreError> {
    for field in fields {
        query(
            "DELETE FROM vault_tokens WHERE subject_id = ?1 AND collection = ?2 AND field = ?3 \
             AND NOT EXISTS (SELECT 1 FROM vault_cells c JOIN vault_records r ON r.id = c.record_id \
             WHERE r.subject_id = ?1 AND r.collection = ?2 AND c.field = ?3)",
        )
        .bind(subject)
        .bind(collection)
        .bind(field)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    }
    Ok(())
}

pub(crate) async fn delete_record(
    conn: &mut SqliteConnection,
    collection: &str,
    id: &str,
) -> Result<(), StoreError> {
    query("DELETE FROM vault_index WHERE record_id = ? AND collection = ?")
        .bind(id)
        .bind(collection)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    query("DELETE FROM vault_cells WHERE record_id = ? AND record_id IN (SELECT id FROM vault_records WHERE collection = ?)")
        .bind(id)
        .bind(collection)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    let n = query("DELETE FROM vault_records WHERE id = ? AND collection = ?")
        .bind(id)
        .bind(collection)
        .execute(&mut *conn)
        .await
        .map_err(backend)?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) async fn erase_subject(
    conn: &mut SqliteConnection,
    subject_id: &str,
    pseudonym: &str,
    at: Timestamp,
) -> Result<Erased, StoreError> {
    query("DELETE FROM vault_index WHERE record_id IN (SELECT id FROM vault_records WHERE subject_id = ?)")
        .bind(subject_id)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    query("DELETE FROM vault_cells WHERE record_id IN (SELECT id FROM vault_records WHERE subject_id = ?)")
        .bind(subject_id)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    let records = query("DELETE FROM vault_records WHERE subject_id = ?")
        .bind(subject_id)
        .execute(&mut *conn)
        .await
        .map_err(backend)?
        .rows_affected();
    for sql in [
        "DELETE FROM vault_tokens WHERE subject_id = ?",
        "DELETE FROM vault_processing_limits WHERE subject_id = ?",
        "DELETE FROM subject_relationships WHERE subject_id = ?",
    ] {
        query(sql)
            .bind(subject_id)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    let keys = query("DELETE FROM vault_subject_keys WHERE subject_id = ?")
        .bind(subject_id)
        .execute(&mut *conn)
        .await
        .map_err(backend)?
        .rows_affected();
    query("INSERT INTO vault_erasure_ledger (pseudonym, erased_at) VALUES (?, ?)")
        .bind(pseudonym)
        .bind(at.as_millisecond())
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    crate::outbox::forget_subject(&mut *conn, pseudonym, at).await?;
    Ok(Erased {
        records,
        key_destroyed: keys > 0,
    })
}

/// Writes the index entries of a record (its old ones must be gone).
async fn insert_indexes(
    conn: &mut SqliteConnection,
    record: &Record,
    indexes: &[IndexEntry],
) -> Result<(), StoreError> {
    if indexes.is_empty() {
        return Ok(());
    }
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("");
    push_indexes(&mut qb, record, indexes);
    qb.build().execute(&mut *conn).await.map_err(backend)?;
    Ok(())
}

fn push_indexes(qb: &mut QueryBuilder<Sqlite>, record: &Record, indexes: &[IndexEntry]) {
    qb.push("INSERT INTO vault_index (collection, field, idx, record_id) ");
    qb.push_values(indexes, |mut b, i| {
        b.push_bind(&record.collection)
            .push_bind(&i.field)
            .push_bind(&i.index)
            .push_bind(&record.id);
    });
}

/// Writes the cells of a record (its old ones must be gone).
async fn insert_cells(conn: &mut SqliteConnection, record: &Record) -> Result<(), StoreError> {
    if record.cells.is_empty() {
        return Ok(());
    }
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("");
    push_cells(&mut qb, record);
    qb.build().execute(&mut *conn).await.map_err(backend)?;
    Ok(())
}

fn push_cells(qb: &mut QueryBuilder<Sqlite>, record: &Record) {
    qb.push("INSERT INTO vault_cells (record_id, field, ciphertext) ");
    qb.push_values(&record.cells, |mut b, c| {
        b.push_bind(&record.id)
            .push_bind(&c.field)
            .push_bind(&c.ciphertext);
    });
}

pub(crate) async fn update_record(
    conn: &mut SqliteConnection,
    record: &Record,
    key: &SubjectKey,
    expected_updated_at: Timestamp,
    indexes: &[IndexEntry],
) -> Result<(), StoreError> {
    ensure_key(
        &mut *conn,
        &record.subject_id,
        record.key_version,
        key,
        false,
    )
    .await?;
    let n = query("UPDATE vault_records SET updated_at = ? WHERE id = ? AND collection = ? AND subject_id = ? AND key_version = ? AND updated_at = ?")
        .bind(record.updated_at.as_millisecond())
        .bind(&record.id)
        .bind(&record.collection)
        .bind(&record.subject_id)
        .bind(i64::from(record.key_version))
        .bind(expected_updated_at.as_millisecond())
        .execute(&mut *conn)
        .await
        .map_err(backend)?
        .rows_affected();
    if n == 0 {
        let exists = query("SELECT 1 FROM vault_records WHERE id = ? AND collection = ?")
            .bind(&record.id)
            .bind(&record.collection)
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?
            .is_some();
        return Err(if exists {
            StoreError::Conflict("record_version")
        } else {
            StoreError::NotFound
        });
    }
    for sql in [
        "DELETE FROM vault_cells WHERE record_id = ?",
        "DELETE FROM vault_index WHERE record_id = ?",
    ] {
        query(sql)
            .bind(&record.id)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    insert_cells(&mut *conn, record).await?;
    insert_indexes(&mut *conn, record, indexes).await
}

pub(crate) async fn put_token(
    conn: &mut SqliteConnection,
    t: &TokenRecord,
    key: &SealedUnder,
) -> Result<(), StoreError> {
    let held = query("SELECT key_version FROM vault_tokens WHERE token = ? AND subject_id = ?")
        .bind(&t.token)
        .bind(&t.subject_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
    let new = key.new_key().is_some();
    if held.is_some() && !new {
        return Ok(());
    }
    ensure_key(&mut *conn, &t.subject_id, t.key_version, key.key(), new).await?;
    insert_tokens(&mut *conn, std::slice::from_ref(t)).await
}

pub(crate) fn token_from(r: &SqliteRow) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        token: r.try_get("token").map_err(backend)?,
        collection: r.try_get("collection").map_err(backend)?,
        field: r.try_get("field").map_err(backend)?,
        subject_id: r.try_get("subject_id").map_err(backend)?,
        key_version: r.try_get::<i64, _>("key_version").map_err(backend)? as u32,
        ciphertext: r.try_get("ciphertext").map_err(backend)?,
        created_at: ts(r.try_get("created_at").map_err(backend)?)?,
    })
}

pub(crate) fn limit_from(r: &SqliteRow) -> Result<ProcessingLimit, StoreError> {
    let kind: String = r.try_get("kind").map_err(backend)?;
    Ok(ProcessingLimit {
        subject_id: r.try_get("subject_id").map_err(backend)?,
        kind: LimitKind::from_stored(&kind)?,
        purpose: r.try_get("purpose").map_err(backend)?,
        since: ts(r.try_get("since").map_err(backend)?)?,
    })
}

pub(crate) async fn put_limit(
    conn: &mut SqliteConnection,
    l: &ProcessingLimit,
) -> Result<(), StoreError> {
    query("INSERT INTO vault_processing_limits (subject_id, kind, purpose, since) VALUES (?, ?, ?, ?) ON CONFLICT (subject_id, kind, purpose) DO NOTHING")
        .bind(&l.subject_id)
        .bind(l.kind.as_str())
        .bind(&l.purpose)
        .bind(l.since.as_millisecond())
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(crate) async fn lift_limit(
    conn: &mut SqliteConnection,
    subject_id: &str,
    kind: LimitKind,
    purpose: &str,
) -> Result<(), StoreError> {
    let n = query(
        "DELETE FROM vault_processing_limits WHERE subject_id = ? AND kind = ? AND purpose = ?",
    )
    .bind(subject_id)
    .bind(kind.as_str())
    .bind(purpose)
    .execute(&mut *conn)
    .await
    .map_err(backend)?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) async fn merge_ledger(
    conn: &mut SqliteConnection,
    entries: &[(String, Timestamp)],
) -> Result<u64, StoreError> {
    let mut added = 0;
    for (pseudonym, at) in entries {
        let held =
            query("SELECT 1 FROM vault_erasure_ledger WHERE pseudonym = ? AND erased_at = ?")
                .bind(pseudonym)
                .bind(at.as_millisecond())
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?
                .is_some();
        // A restored database may still hold the erased subject's outbox messages.
        crate::outbox::forget_subject(&mut *conn, pseudonym, *at).await?;
        if !held {
            query("INSERT INTO vault_erasure_ledger (pseudonym, erased_at) VALUES (?, ?)")
                .bind(pseudonym)
                .bind(at.as_millisecond())
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
            added += 1;
        }
    }
    Ok(added)
}

pub(crate) async fn rewrap(
    conn: &mut SqliteConnection,
    rewraps: &[Rewrap],
) -> Result<u64, StoreError> {
    let mut n = 0;
    for r in rewraps {
        n += query("UPDATE vault_subject_keys SET kek_id = ?, wrapped_dek = ? WHERE subject_id = ? AND kek_id = ? AND wrapped_dek = ?")
            .bind(&r.new_kek_id)
            .bind(&r.wrapped_dek)
            .bind(&r.subject_id)
            .bind(&r.old_kek_id)
            .bind(&r.old_wrapped_dek)
            .execute(&mut *conn)
            .await
            .map_err(backend)?
            .rows_affected();
    }
    Ok(n)
}

pub(crate) async fn rotate_key(
    conn: &mut SqliteConnection,
    old: &SubjectKey,
    new_key: &SubjectKey,
    records: &[Record],
    tokens: &[TokenRecord],
) -> Result<(), StoreError> {
    let subject = &new_key.subject_id;
    if &old.subject_id != subject
        || !holds_key(&mut *conn, old).await?
        || new_key.key_version <= old.key_version
    {
        return Err(StoreError::Conflict("subject_key"));
    }
    let mut held: Vec<(String, i64)> =
        query("SELECT id, updated_at FROM vault_records WHERE subject_id = ?")
            .bind(subject)
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    let mut given: Vec<(String, i64)> = records
        .iter()
        .map(|r| (r.id.clone(), r.updated_at.as_millisecond()))
        .collect();
    held.sort();
    given.sort();
    let mut held_tokens: Vec<String> = query("SELECT token FROM vault_tokens WHERE subject_id = ?")
        .bind(subject)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut given_tokens: Vec<String> = tokens.iter().map(|t| t.token.clone()).collect();
    held_tokens.sort();
    given_tokens.sort();
    if held != given
        || held_tokens != given_tokens
        || records.iter().any(|r| &r.subject_id != subject)
    {
        return Err(StoreError::Conflict("record_version"));
    }
    query("UPDATE vault_subject_keys SET key_version = ?, kek_id = ?, wrapped_dek = ? WHERE subject_id = ?")
        .bind(i64::from(new_key.key_version))
        .bind(&new_key.kek_id)
        .bind(&new_key.wrapped_dek)
        .bind(subject)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    for r in records {
        query("UPDATE vault_records SET key_version = ? WHERE id = ?")
            .bind(i64::from(new_key.key_version))
            .bind(&r.id)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        query("DELETE FROM vault_cells WHERE record_id = ?")
            .bind(&r.id)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        insert_cells(&mut *conn, r).await?;
    }
    for t in tokens {
        query("UPDATE vault_tokens SET key_version = ?, ciphertext = ? WHERE token = ? AND subject_id = ?")
            .bind(i64::from(new_key.key_version))
            .bind(&t.ciphertext)
            .bind(&t.token)
            .bind(subject)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    Ok(())
}

/// Adds tokens whose subject key was checked in the same transaction; one the subject already
/// holds is kept.
pub(crate) async fn insert_tokens(
    conn: &mut SqliteConnection,
    tokens: &[TokenRecord],
) -> Result<(), StoreError> {
    if tokens.is_empty() {
        return Ok(());
    }
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("");
    push_tokens(&mut qb, tokens);
    qb.build().execute(&mut *conn).await.map_err(backend)?;
    Ok(())
}

fn push_tokens(qb: &mut QueryBuilder<Sqlite>, tokens: &[TokenRecord]) {
    qb.push(
        "INSERT INTO vault_tokens (token, subject_id, collection, field, key_version, \
         ciphertext, created_at) ",
    );
    qb.push_values(tokens, |mut b, t| {
        b.push_bind(&t.token)
            .push_bind(&t.subject_id)
            .push_bind(&t.collection)
            .push_bind(&t.field)
            .push_bind(i64::from(t.key_version))
            .push_bind(&t.ciphertext)
            .push_bind(t.created_at.as_millisecond());
    });
    qb.push(" ON CONFLICT (token, subject_id) DO NOTHING");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use custodian_core::ports::Store;

    /// A read whose caller stops waiting at any point (a client that disconnects) must not
    /// leave a connection inside the read's transaction: every later read still begins its
    /// own and sees the whole record. (Point reads run on the caller's thread, so nothing
    /// can stop one halfway; this keeps that true if the read ever moves back to a pool.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_read_leaves_no_transaction_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::SqliteStore::open(dir.path()).await.expect("open");
        // A record of many large cells (written below the port: no schema allows so many),
        // so that a read takes long enough to be abandoned in the middle.
        sqlx::raw_sql(
            "INSERT INTO vault_collections VALUES ('customers', '[]', 1, 0, 0); \
             INSERT INTO vault_records VALUES ('r1', 'customers', 'subj-1', 1, 0, 0); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO vault_cells SELECT 'r1', 'f' || i, randomblob(2048) FROM n;",
        )
        .execute(store.raw_pool())
        .await
        .expect("seed");
        let whole = store.record_for_read("customers", "r1").await;
        let cells = whole.expect("read").expect("some").record.cells.len();
        assert_eq!(cells, 2000);
        for i in 0..200u64 {
            // Given up after 0 to 4 ms: before, inside or after the command.
            let patience = Duration::from_micros(i * 20);
            let _ = tokio::time::timeout(patience, store.record_for_read("customers", "r1")).await;
        }
        // More reads at once than the pool has connections, so every connection serves some.
        let reads = (0..32).map(|_| store.record_for_read("customers", "r1"));
        for answer in futures::future::join_all(reads).await {
            let cells = answer.expect("read").expect("some").record.cells.len();
            assert_eq!(cells, 2000);
        }
    }
}
