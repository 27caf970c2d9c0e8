//! The vault's tables: collections, subject keys, records, cells, blind indexes, erasure ledger.

use std::collections::{HashMap, HashSet};

use custodian_core::Timestamp;
use custodian_core::ports::StoreError;
use custodian_core::vault::record::{
    Cell, Erased, IndexEntry, LimitKind, ProcessingLimit, Record, Rewrap, SealedUnder,
    StoredCollection, SubjectKey, TokenRecord,
};
use custodian_core::vault::schema::CollectionSchema;
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{PgPool, Postgres, QueryBuilder, Row, query};

use crate::{backend, ts};

/// One column of `rows`, as an array to bind to an `UNNEST($n::type[])` parameter (each
/// multi-row insert writes any number of rows in one statement this way).
fn column<'a, T, U>(rows: &'a [T], value: impl FnMut(&'a T) -> U) -> Vec<U> {
    rows.iter().map(value).collect()
}

pub(crate) fn collection_from(r: &PgRow) -> Result<StoredCollection, StoreError> {
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
    conn: &mut PgConnection,
    schema: &CollectionSchema,
    expected: Option<i64>,
    at: Timestamp,
) -> Result<i64, StoreError> {
    let at = at.as_millisecond();
    match expected {
        None => {
            let n = query(
                "INSERT INTO vault_collections (name, fields, version, created_at, updated_at) VALUES ($1, $2, 1, $3, $4) \
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
            let n = query("UPDATE vault_collections SET fields = $1, version = version + 1, updated_at = $2 WHERE name = $3 AND version = $4")
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

/// The names of a subject key's columns in a row: `vault_subject_keys`' own, or aliased where
/// a join also reads a record's columns of the same names.
pub(crate) struct KeyColumns {
    pub(crate) subject_id: &'static str,
    pub(crate) key_version: &'static str,
    pub(crate) kek_id: &'static str,
    pub(crate) wrapped_dek: &'static str,
    pub(crate) created_at: &'static str,
}

/// The columns of `vault_subject_keys` itself.
const KEY_COLUMNS: KeyColumns = KeyColumns {
    subject_id: "subject_id",
    key_version: "key_version",
    kek_id: "kek_id",
    wrapped_dek: "wrapped_dek",
    created_at: "created_at",
};

pub(crate) fn subject_key_from(r: &PgRow) -> Result<SubjectKey, StoreError> {
    subject_key_in(r, &KEY_COLUMNS)
}

/// A subject key from the columns `c` names in `r`.
pub(crate) fn subject_key_in(r: &PgRow, c: &KeyColumns) -> Result<SubjectKey, StoreError> {
    Ok(SubjectKey {
        subject_id: r.try_get(c.subject_id).map_err(backend)?,
        key_version: r.try_get::<i64, _>(c.key_version).map_err(backend)? as u32,
        kek_id: r.try_get(c.kek_id).map_err(backend)?,
        wrapped_dek: r.try_get(c.wrapped_dek).map_err(backend)?,
        created_at: ts(r.try_get(c.created_at).map_err(backend)?)?,
    })
}

/// Checks that `key` is the one a write for `subject_id` at `key_version` was sealed under,
/// and that the subject still holds it ([`SubjectKey::is_stored_as`], the stored row locked
/// until the commit), or, if it is `new`, stores it as the subject's first key. The check and
/// the write it guards share one transaction; an erasure that destroys the key meanwhile
/// makes one of them fail.
async fn ensure_key(
    conn: &mut PgConnection,
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
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (subject_id) DO NOTHING",
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
        holds_key(conn, key, false).await?
    };
    if !holds {
        return Err(StoreError::Conflict("subject_key"));
    }
    Ok(())
}

/// Whether `key` is the one stored as `version` and `wrapped` (see [`SubjectKey::is_stored_as`]).
fn stored_as(key: &SubjectKey, version: i64, wrapped: &[u8]) -> bool {
    u32::try_from(version).is_ok_and(|v| key.is_stored_as(v, wrapped))
}

/// Whether the subject of `key` still holds that very key ([`SubjectKey::is_stored_as`]). Its
/// row stays locked until the commit: shared, or, `for_update`, for a write that replaces it.
pub(crate) async fn holds_key(
    conn: &mut PgConnection,
    key: &SubjectKey,
    for_update: bool,
) -> Result<bool, StoreError> {
    let sql = if for_update {
        "SELECT key_version, wrapped_dek FROM vault_subject_keys WHERE subject_id = $1 FOR UPDATE"
    } else {
        "SELECT key_version, wrapped_dek FROM vault_subject_keys WHERE subject_id = $1 FOR SHARE"
    };
    Ok(query(sql)
        .bind(&key.subject_id)
        .fetch_optional(conn)
        .await
        .map_err(backend)?
        .is_some_and(|r| stored_as(key, r.get(0), &r.get::<Vec<u8>, _>(1))))
}

/// A new record as [`Store::insert_record`](custodian_core::ports::Store::insert_record) is
/// given it, owned, so that it can wait for its group (see `Appender`).
pub(crate) struct NewRecord {
    pub(crate) record: Record,
    pub(crate) key: SealedUnder,
    pub(crate) indexes: Vec<IndexEntry>,
    pub(crate) tokens: Vec<TokenRecord>,
}

/// Stores the `records` it can (their new keys, rows, cells, blind indexes and tokens) with one
/// statement per table, whatever their number, and answers which it stored. One is refused,
/// written nothing, and left for the caller to answer [`StoreError::Conflict`]`("subject_key")`,
/// when its key is not the record's, or is new and its subject has a key already (stored
/// before, or brought by an earlier one of `records`), or is held and its subject no longer
/// holds that very key (erased meanwhile, or rewrapped). Keys stored before this call are
/// checked before any new one is inserted. Any other
/// error is the statement's, and the caller's transaction must then be rolled back.
pub(crate) async fn insert_records(
    conn: &mut PgConnection,
    records: &[&NewRecord],
) -> Result<Vec<bool>, StoreError> {
    // A key, new or held, must be the record's: its subject's, at the record's version.
    let mut stored: Vec<bool> = records
        .iter()
        .map(|n| {
            let k = n.key.key();
            k.subject_id == n.record.subject_id && k.key_version == n.record.key_version
        })
        .collect();
    // Written under a key already stored: that very key, locked until the commit, so that an
    // erasure cannot destroy it under the record being written.
    let held: Vec<usize> = (0..records.len())
        .filter(|&i| stored[i] && records[i].key.new_key().is_none())
        .collect();
    if !held.is_empty() {
        let keys: HashMap<String, (i64, Vec<u8>)> = query(
            "SELECT subject_id, key_version, wrapped_dek FROM vault_subject_keys \
             WHERE subject_id = ANY($1) FOR SHARE",
        )
        .bind(column(&held, |&i| records[i].record.subject_id.as_str()))
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
        for &i in &held {
            let n = records[i];
            stored[i] = keys
                .get(&n.record.subject_id)
                .is_some_and(|(v, w)| stored_as(n.key.key(), *v, w));
        }
    }
    // A first key: the first of the group for its subject, unless one is stored already.
    let mut firsts: HashMap<&str, usize> = HashMap::new();
    for (i, n) in records.iter().enumerate() {
        if let (true, Some(k)) = (stored[i], n.key.new_key()) {
            stored[i] = !firsts.contains_key(k.subject_id.as_str());
            if stored[i] {
                firsts.insert(&k.subject_id, i);
            }
        }
    }
    if !firsts.is_empty() {
        let keys: Vec<&SubjectKey> = firsts
            .values()
            .filter_map(|&i| records[i].key.new_key())
            .collect();
        let inserted: HashSet<String> = query(
            "INSERT INTO vault_subject_keys (subject_id, key_version, kek_id, wrapped_dek, created_at) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bytea[], $5::bigint[]) \
             ON CONFLICT (subject_id) DO NOTHING RETURNING subject_id",
        )
        .bind(column(&keys, |k| k.subject_id.as_str()))
        .bind(column(&keys, |k| i64::from(k.key_version)))
        .bind(column(&keys, |k| k.kek_id.as_str()))
        .bind(column(&keys, |k| &k.wrapped_dek[..]))
        .bind(column(&keys, |k| k.created_at.as_millisecond()))
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?
        .iter()
        .map(|r| r.get(0))
        .collect();
        for (subject, &i) in &firsts {
            stored[i] = inserted.contains(*subject);
        }
    }
    let records: Vec<&NewRecord> = records
        .iter()
        .zip(&stored)
        .filter(|(_, ok)| **ok)
        .map(|(n, _)| *n)
        .collect();
    if records.is_empty() {
        return Ok(stored);
    }
    let rows: Vec<&Record> = records.iter().map(|n| &n.record).collect();
    query(
        "INSERT INTO vault_records (id, collection, subject_id, key_version, created_at, updated_at) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])",
    )
    .bind(column(&rows, |r| r.id.as_str()))
    .bind(column(&rows, |r| r.collection.as_str()))
    .bind(column(&rows, |r| r.subject_id.as_str()))
    .bind(column(&rows, |r| i64::from(r.key_version)))
    .bind(column(&rows, |r| r.created_at.as_millisecond()))
    .bind(column(&rows, |r| r.updated_at.as_millisecond()))
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    insert_cells(&mut *conn, &rows).await?;
    let indexes: Vec<(&Record, &IndexEntry)> = records
        .iter()
        .flat_map(|n| n.indexes.iter().map(move |i| (&n.record, i)))
        .collect();
    insert_indexes(&mut *conn, &indexes).await?;
    let tokens: Vec<&TokenRecord> = records.iter().flat_map(|n| &n.tokens).collect();
    insert_tokens(conn, &tokens).await?;
    Ok(stored)
}

/// A record from a row of `vault_records`' columns, without its cells.
pub(crate) fn record_from(r: &PgRow) -> Result<Record, StoreError> {
    Ok(Record {
        id: r.try_get("id").map_err(backend)?,
        collection: r.try_get("collection").map_err(backend)?,
        subject_id: r.try_get("subject_id").map_err(backend)?,
        key_version: r.try_get::<i64, _>("key_version").map_err(backend)? as u32,
        cells: Vec::new(),
        created_at: ts(r.try_get("created_at").map_err(backend)?)?,
        updated_at: ts(r.try_get("updated_at").map_err(backend)?)?,
    })
}

/// Loads the cells of these records and assembles them, keeping the rows' order.
pub(crate) async fn with_cells(pool: &PgPool, rows: Vec<PgRow>) -> Result<Vec<Record>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut records = rows
        .iter()
        .map(record_from)
        .collect::<Result<Vec<_>, _>>()?;
    let mut by_id: HashMap<String, Vec<Cell>> = HashMap::new();
    for chunk in records.chunks(500) {
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
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
    conn: &mut PgConnection,
    subject: &str,
    collection: &str,
    fields: &[String],
) -> Result<(), StoreError> {
    for field in fields {
        query(
            "DELETE FROM vault_tokens WHERE subject_id = $1 AND collection = $2 AND field = $3 \
             AND NOT EXISTS (SELECT 1 FROM vault_cells c JOIN vault_records r ON r.id = c.record_id \
             WHERE r.subject_id = $1 AND r.collection = $2 AND c.field = $3)",
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
    conn: &mut PgConnection,
    collection: &str,
    id: &str,
) -> Result<(), StoreError> {
    query("DELETE FROM vault_index WHERE record_id = $1 AND collection = $2")
        .bind(id)
        .bind(collection)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    query("DELETE FROM vault_cells WHERE record_id = $1 AND record_id IN (SELECT id FROM vault_records WHERE collection = $2)")
        .bind(id)
        .bind(collection)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    let n = query("DELETE FROM vault_records WHERE id = $1 AND collection = $2")
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
    conn: &mut PgConnection,
    subject_id: &str,
    pseudonym: &str,
    at: Timestamp,
) -> Result<Erased, StoreError> {
    query("DELETE FROM vault_index WHERE record_id IN (SELECT id FROM vault_records WHERE subject_id = $1)")
        .bind(subject_id)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    query("DELETE FROM vault_cells WHERE record_id IN (SELECT id FROM vault_records WHERE subject_id = $1)")
        .bind(subject_id)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    let records = query("DELETE FROM vault_records WHERE subject_id = $1")
        .bind(subject_id)
        .execute(&mut *conn)
        .await
        .map_err(backend)?
        .rows_affected();
    for sql in [
        "DELETE FROM vault_tokens WHERE subject_id = $1",
        "DELETE FROM vault_processing_limits WHERE subject_id = $1",
        "DELETE FROM subject_relationships WHERE subject_id = $1",
    ] {
        query(sql)
            .bind(subject_id)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    let keys = query("DELETE FROM vault_subject_keys WHERE subject_id = $1")
        .bind(subject_id)
        .execute(&mut *conn)
        .await
        .map_err(backend)?
        .rows_affected();
    query("INSERT INTO vault_erasure_ledger (pseudonym, erased_at) VALUES ($1, $2)")
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

/// Writes index entries, each with the record it indexes (their old ones must be gone), in
/// one statement whatever their number.
async fn insert_indexes(
    conn: &mut PgConnection,
    entries: &[(&Record, &IndexEntry)],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    query(
        "INSERT INTO vault_index (collection, field, idx, record_id) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::text[])",
    )
    .bind(column(entries, |(r, _)| r.collection.as_str()))
    .bind(column(entries, |(_, i)| i.field.as_str()))
    .bind(column(entries, |(_, i)| &i.index[..]))
    .bind(column(entries, |(r, _)| r.id.as_str()))
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Writes the cells of `records` (their old ones must be gone), in one statement whatever
/// their number.
async fn insert_cells(conn: &mut PgConnection, records: &[&Record]) -> Result<(), StoreError> {
    let cells: Vec<(&str, &Cell)> = records
        .iter()
        .flat_map(|r| r.cells.iter().map(move |c| (r.id.as_str(), c)))
        .collect();
    if cells.is_empty() {
        return Ok(());
    }
    query(
        "INSERT INTO vault_cells (record_id, field, ciphertext) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bytea[])",
    )
    .bind(column(&cells, |(r, _)| *r))
    .bind(column(&cells, |(_, c)| c.field.as_str()))
    .bind(column(&cells, |(_, c)| &c.ciphertext[..]))
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn update_record(
    conn: &mut PgConnection,
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
    let n = query("UPDATE vault_records SET updated_at = $1 WHERE id = $2 AND collection = $3 AND subject_id = $4 AND key_version = $5 AND updated_at = $6")
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
        let exists = query("SELECT 1 FROM vault_records WHERE id = $1 AND collection = $2")
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
        "DELETE FROM vault_cells WHERE record_id = $1",
        "DELETE FROM vault_index WHERE record_id = $1",
    ] {
        query(sql)
            .bind(&record.id)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    insert_cells(&mut *conn, &[record]).await?;
    let entries: Vec<(&Record, &IndexEntry)> = indexes.iter().map(|i| (record, i)).collect();
    insert_indexes(&mut *conn, &entries).await
}

pub(crate) async fn put_token(
    conn: &mut PgConnection,
    t: &TokenRecord,
    key: &SealedUnder,
) -> Result<(), StoreError> {
    let held = query("SELECT key_version FROM vault_tokens WHERE token = $1 AND subject_id = $2")
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
    insert_tokens(&mut *conn, &[t]).await
}

pub(crate) fn token_from(r: &PgRow) -> Result<TokenRecord, StoreError> {
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

pub(crate) fn limit_from(r: &PgRow) -> Result<ProcessingLimit, StoreError> {
    let kind: String = r.try_get("kind").map_err(backend)?;
    Ok(ProcessingLimit {
        subject_id: r.try_get("subject_id").map_err(backend)?,
        kind: LimitKind::from_stored(&kind)?,
        purpose: r.try_get("purpose").map_err(backend)?,
        since: ts(r.try_get("since").map_err(backend)?)?,
    })
}

pub(crate) async fn put_limit(
    conn: &mut PgConnection,
    l: &ProcessingLimit,
) -> Result<(), StoreError> {
    query("INSERT INTO vault_processing_limits (subject_id, kind, purpose, since) VALUES ($1, $2, $3, $4) ON CONFLICT (subject_id, kind, purpose) DO NOTHING")
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
    conn: &mut PgConnection,
    subject_id: &str,
    kind: LimitKind,
    purpose: &str,
) -> Result<(), StoreError> {
    let n = query(
        "DELETE FROM vault_processing_limits WHERE subject_id = $1 AND kind = $2 AND purpose = $3",
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
    conn: &mut PgConnection,
    entries: &[(String, Timestamp)],
) -> Result<u64, StoreError> {
    let mut added = 0;
    for (pseudonym, at) in entries {
        let held =
            query("SELECT 1 FROM vault_erasure_ledger WHERE pseudonym = $1 AND erased_at = $2")
                .bind(pseudonym)
                .bind(at.as_millisecond())
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?
                .is_some();
        // A restored database may still hold the erased subject's outbox messages.
        crate::outbox::forget_subject(&mut *conn, pseudonym, *at).await?;
        if !held {
            query("INSERT INTO vault_erasure_ledger (pseudonym, erased_at) VALUES ($1, $2)")
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

pub(crate) async fn rewrap(conn: &mut PgConnection, rewraps: &[Rewrap]) -> Result<u64, StoreError> {
    let mut n = 0;
    for r in rewraps {
        n += query("UPDATE vault_subject_keys SET kek_id = $1, wrapped_dek = $2 WHERE subject_id = $3 AND kek_id = $4 AND wrapped_dek = $5")
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
    conn: &mut PgConnection,
    old: &SubjectKey,
    new_key: &SubjectKey,
    records: &[Record],
    tokens: &[TokenRecord],
) -> Result<(), StoreError> {
    let subject = &new_key.subject_id;
    if &old.subject_id != subject
        || !holds_key(&mut *conn, old, true).await?
        || new_key.key_version <= old.key_version
    {
        return Err(StoreError::Conflict("subject_key"));
    }
    let mut held: Vec<(String, i64)> =
        query("SELECT id, updated_at FROM vault_records WHERE subject_id = $1")
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
    let mut held_tokens: Vec<String> =
        query("SELECT token FROM vault_tokens WHERE subject_id = $1")
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
    query("UPDATE vault_subject_keys SET key_version = $1, kek_id = $2, wrapped_dek = $3 WHERE subject_id = $4")
        .bind(i64::from(new_key.key_version))
        .bind(&new_key.kek_id)
        .bind(&new_key.wrapped_dek)
        .bind(subject)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    for r in records {
        query("UPDATE vault_records SET key_version = $1 WHERE id = $2")
            .bind(i64::from(new_key.key_version))
            .bind(&r.id)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        query("DELETE FROM vault_cells WHERE record_id = $1")
            .bind(&r.id)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        insert_cells(&mut *conn, &[r]).await?;
    }
    for t in tokens {
        query("UPDATE vault_tokens SET key_version = $1, ciphertext = $2 WHERE token = $3 AND subject_id = $4")
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
    conn: &mut PgConnection,
    tokens: &[&TokenRecord],
) -> Result<(), StoreError> {
    if tokens.is_empty() {
        return Ok(());
    }
    query(
        "INSERT INTO vault_tokens (token, subject_id, collection, field, key_version, ciphertext, created_at) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bytea[], $7::bigint[]) \
         ON CONFLICT (token, subject_id) DO NOTHING",
    )
    .bind(column(tokens, |t| t.token.as_str()))
    .bind(column(tokens, |t| t.subject_id.as_str()))
    .bind(column(tokens, |t| t.collection.as_str()))
    .bind(column(tokens, |t| t.field.as_str()))
    .bind(column(tokens, |t| i64::from(t.key_version)))
    .bind(column(tokens, |t| &t.ciphertext[..]))
    .bind(column(tokens, |t| t.created_at.as_millisecond()))
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}
