//! Point reads on the calling thread, for the reads every request of a hot path makes.
//!
//! sqlx runs each SQLite connection on a thread of its own, so each of its queries is a round
//! trip between the caller's thread and the connection's (a wake-up each way, and on two cores
//! the switches cost more than a lookup by primary key: a vault read spent most of its time in
//! them). The reads here instead run on the thread that asks, through `rusqlite`, on
//! read-only connections kept in a small stack: no hand-over, no wake-up.
//!
//! What may go here: lookups by primary key or by a unique index, of a bounded number of rows
//! (one record and its cells, one subject's limits and key), which take microseconds once the
//! pages are cached. Anything that scans, pages or may take long stays on the sqlx read pool,
//! whose threads keep such work off the server's request threads.
//!
//! The connections open the same database file read-only. In WAL mode a reader never waits
//! for the writer or a checkpoint; each read runs in a transaction of its own, so it sees one
//! committed snapshot, as the pool's reads do.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use custodian_core::ports::StoreError;
use custodian_core::vault::record::{
    Cell, LimitKind, ProcessingLimit, Record, RecordForRead, SubjectKey,
};
use rusqlite::{Connection, OpenFlags, params};

use crate::ts;
use crate::writer::{exec_cached, sqlite_failed as failed};

/// Connections kept open between reads (one per thread reading at once, at most; a read that
/// finds none opens one, and one returned to a full stack is closed).
const MAX_IDLE: usize = 8;

/// Read-only connections for [point reads](self), opened on demand and reused.
pub(crate) struct PointReads {
    path: PathBuf,
    state: Mutex<State>,
    /// Signalled when the last read under way ends after [`close`](PointReads::close).
    ended: Condvar,
}

#[derive(Default)]
struct State {
    idle: Vec<Connection>,
    /// Reads under way (each holds a connection outside the stack).
    busy: usize,
    closed: bool,
}

impl PointReads {
    /// Point reads of the database file at `path` (which must exist, in WAL mode).
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            state: Mutex::new(State::default()),
            ended: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn open(&self) -> Result<Connection, StoreError> {
        // No mutex of SQLite's own: a connection is used by one thread at a time, taken from
        // and returned to the stack under its lock.
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(failed)?;
        // A WAL reader waits only while another connection recovers the log after a crash; a
        // request thread waits at most this long, then the read fails.
        conn.busy_timeout(Duration::from_secs(1)).map_err(failed)?;
        Ok(conn)
    }

    /// Runs `read` on an idle connection (or a new one), then keeps the connection for the
    /// next read unless the read failed or the store is closing.
    fn with<T>(
        &self,
        read: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let taken = {
            let mut st = self.state();
            if st.closed {
                return Err(StoreError::Backend("the store is closed".into()));
            }
            st.busy += 1;
            st.idle.pop()
        };
        let (out, conn) = match taken.map_or_else(|| self.open(), Ok) {
            Ok(mut conn) => {
                let out = read(&mut conn);
                let keep = out.is_ok();
                (out, Some(conn).filter(|_| keep))
            }
            Err(e) => (Err(e), None),
        };
        let mut st = self.state();
        st.busy -= 1;
        if st.closed {
            // Closed here, before `close` (waiting for it) returns.
            drop(conn);
            if st.busy == 0 {
                self.ended.notify_all();
            }
        } else if let Some(conn) = conn
            && st.idle.len() < MAX_IDLE
        {
            st.idle.push(conn);
        }
        out
    }

    /// Closes every connection, waiting for the reads under way (each takes microseconds),
    /// and refuses later reads: a restore moves the database files once the store is closed.
    pub(crate) fn close(&self) {
        let mut st = self.state();
        st.closed = true;
        st.idle.clear();
        while st.busy > 0 {
            st = self.ended.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A record with its subject's processing limits and key, in one read transaction (one
    /// snapshot): what a vault read needs from the store.
    pub(crate) fn record_for_read(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<Option<RecordForRead>, StoreError> {
        self.with(|conn| {
            snapshot(conn, |conn| {
                let Some(record) = record(conn, collection, id)? else {
                    return Ok(None);
                };
                let limits = limits(conn, &record.subject_id)?;
                let key = subject_key(conn, &record.subject_id)?;
                Ok(Some(RecordForRead {
                    record,
                    limits,
                    key,
                }))
            })
        })
    }
}

/// Runs `read` in one read transaction (one snapshot), begun and ended by statements prepared
/// once per connection (`Connection::transaction` prepares both on every call: a measurable
/// share of a vault read). A failed read leaves the transaction open, so [`PointReads::with`]
/// closes the connection, which ends it.
fn snapshot<T>(
    conn: &Connection,
    read: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    exec_cached(conn, "BEGIN")?;
    let out = read(conn)?;
    exec_cached(conn, "COMMIT")?;
    Ok(out)
}

/// A record and its cells (one row per cell, ordered by field; one row with NULL cell
/// columns for a record without cells).
fn record(conn: &Connection, collection: &str, id: &str) -> Result<Option<Record>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT r.id, r.collection, r.subject_id, r.key_version, r.created_at, \
             r.updated_at, c.field, c.ciphertext FROM vault_records r \
             LEFT JOIN vault_cells c ON c.record_id = r.id \
             WHERE r.collection = ?1 AND r.id = ?2 ORDER BY c.field",
        )
        .map_err(failed)?;
    let mut rows = st.query(params![collection, id]).map_err(failed)?;
    let mut record: Option<Record> = None;
    while let Some(row) = rows.next().map_err(failed)? {
        let r = match &mut record {
            Some(r) => r,
            None => record.insert(Record {
                id: row.get(0).map_err(failed)?,
                collection: row.get(1).map_err(failed)?,
                subject_id: row.get(2).map_err(failed)?,
                key_version: version(row.get(3).map_err(failed)?)?,
                cells: Vec::new(),
                created_at: ts(row.get(4).map_err(failed)?)?,
                updated_at: ts(row.get(5).map_err(failed)?)?,
            }),
        };
        if let Some(field) = row.get::<_, Option<String>>(6).map_err(failed)? {
            r.cells.push(Cell {
                field,
                ciphertext: row.get(7).map_err(failed)?,
            });
        }
    }
    Ok(record)
}

fn limits(conn: &Connection, subject_id: &str) -> Result<Vec<ProcessingLimit>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT kind, purpose, since FROM vault_processing_limits WHERE subject_id = ?1 \
             ORDER BY kind, purpose",
        )
        .map_err(failed)?;
    let mut rows = st.query(params![subject_id]).map_err(failed)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(failed)? {
        let kind: String = row.get(0).map_err(failed)?;
        out.push(ProcessingLimit {
            subject_id: subject_id.to_owned(),
            kind: LimitKind::from_stored(&kind)?,
            purpose: row.get(1).map_err(failed)?,
            since: ts(row.get(2).map_err(failed)?)?,
        });
    }
    Ok(out)
}

fn subject_key(conn: &Connection, subject_id: &str) -> Result<Option<SubjectKey>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT key_version, kek_id, wrapped_dek, created_at FROM vault_subject_keys \
             WHERE subject_id = ?1",
        )
        .map_err(failed)?;
    let mut rows = st.query(params![subject_id]).map_err(failed)?;
    let Some(row) = rows.next().map_err(failed)? else {
        return Ok(None);
    };
    Ok(Some(SubjectKey {
        subject_id: subject_id.to_owned(),
        key_version: version(row.get(0).map_err(failed)?)?,
        kek_id: row.get(1).map_err(failed)?,
        wrapped_dek: row.get(2).map_err(failed)?,
        created_at: ts(row.get(3).map_err(failed)?)?,
    }))
}

fn version(v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt("a stored key version is out of range".into()))
}

#[cfg(test)]
mod tests {
    use custodian_core::ports::Store;

    async fn seed(store: &crate::SqliteStore, sql: &'static str) {
        sqlx::raw_sql(sql)
            .execute(store.raw_pool())
            .await
            .expect("seed");
    }

    /// A reused connection sees what was committed after its last read (no snapshot is kept
    /// between reads), with the subject's limits and key read in the same transaction.
    #[tokio::test]
    async fn a_reused_connection_sees_later_commits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::SqliteStore::open(dir.path()).await.expect("open");
        seed(
            &store,
            "INSERT INTO vault_collections VALUES ('customers', '[]', 1, 0, 0)",
        )
        .await;
        let none = store
            .record_for_read("customers", "r1")
            .await
            .expect("read");
        assert!(none.is_none());
        assert_eq!(store.points.state().idle.len(), 1);
        seed(
            &store,
            "INSERT INTO vault_records VALUES ('r1', 'customers', 'subj-1', 1, 5, 6); \
             INSERT INTO vault_cells VALUES ('r1', 'b', x'02'), ('r1', 'a', x'01'); \
             INSERT INTO vault_processing_limits VALUES ('subj-1', 'restriction', '*', 7); \
             INSERT INTO vault_subject_keys VALUES ('subj-1', 1, 'kek-1', x'0badcafe', 8)",
        )
        .await;
        let read = store
            .record_for_read("customers", "r1")
            .await
            .expect("read")
            .expect("the record committed since the last read");
        assert_eq!(read.record.subject_id, "subj-1");
        let cells: Vec<_> = read.record.cells.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(cells, ["a", "b"]);
        assert_eq!(read.limits.len(), 1);
        assert_eq!(read.limits[0].purpose, "*");
        let key = read.key.expect("the subject's key");
        assert_eq!((key.key_version, key.kek_id.as_str()), (1, "kek-1"));
        assert_eq!(key.wrapped_dek, [0x0b, 0xad, 0xca, 0xfe]);
        // The same connection served both reads.
        assert_eq!(store.points.state().idle.len(), 1);
        // Another collection's record of that id is not this one.
        let other = store.record_for_read("orders", "r1").await.expect("read");
        assert!(other.is_none());
    }

    /// Closing the store closes the idle connections (a restore moves the files right after)
    /// and refuses later point reads.
    #[tokio::test]
    async fn closing_the_store_closes_the_point_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::SqliteStore::open(dir.path()).await.expect("open");
        let points = store.points.clone();
        store
            .record_for_read("customers", "r1")
            .await
            .expect("read");
        assert_eq!(points.state().idle.len(), 1);
        store.close().await;
        assert!(points.state().idle.is_empty());
        assert!(points.record_for_read("customers", "r1").is_err());
        assert!(points.state().idle.is_empty());
    }
}
