//! The writer's own connection: jobs that run on the writer's thread, through `rusqlite`.
//!
//! A job on the sqlx connection pays a round trip to that connection's thread for each
//! command, and the writer waits through each one; on two cores those hand-overs cost more
//! than the statements. The writes a hot path makes once per request (a vault record's
//! insert, and every audit append that is a whole job) run here instead, as plain calls on
//! the writer's thread, each statement prepared once and kept.
//!
//! A run of such jobs (those of one or more batches: see [`super::next_job`]) is one
//! transaction: `BEGIN IMMEDIATE` and the audit head's read, each
//! job in a savepoint (released when it succeeds, rolled back to when it fails or panics), then
//! the batch's audit events, tree nodes and head, and the commit, with `synchronous = NORMAL`:
//! the [`Flusher`](super::Flusher) makes it durable before any job is answered, as for the sqlx
//! connection's batches. The two connections take turns (a batch's jobs are split into a run
//! for each, the one committed before the other begins), so they never wait for each other's
//! lock.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::{Duration, Instant};

use custodian_core::audit::{AuditDraft, AuditEvent, AuditHead};
use custodian_core::ports::StoreError;
use rusqlite::{Connection, OpenFlags, params};

use super::{AuditBatch, Completion, Step, WAL_AUTOCHECKPOINT};

/// Prepared statements kept by the writer's own connection.
const STATEMENTS: usize = 64;

/// What a job on the writer's own connection sees: the connection, inside the batch's
/// transaction and the job's savepoint, and the batch's audit log.
pub(crate) struct FastTx<'t> {
    conn: &'t Connection,
    audit: &'t mut AuditBatch,
}

impl FastTx<'_> {
    /// The connection, inside the job's savepoint.
    pub(crate) fn conn(&self) -> &Connection {
        self.conn
    }

    /// Appends an audit event to this transaction: it is written with the batch, before the
    /// commit, and rolled back with the job if the job fails.
    pub(crate) fn append(&mut self, draft: AuditDraft) -> Result<AuditEvent, StoreError> {
        self.audit.append(draft)
    }
}

/// A failed statement, as the store reports it: constraint violations as the conflicts the
/// sqlx connection reports ([`crate::backend`]), anything else as a backend error (SQLite's
/// messages name tables and columns, never values).
pub(crate) fn failed(e: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        match f.extended_code {
            ffi::SQLITE_CONSTRAINT_PRIMARYKEY | ffi::SQLITE_CONSTRAINT_UNIQUE => {
                return StoreError::Conflict("unique");
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return StoreError::Conflict("reference"),
            _ => {}
        }
    }
    StoreError::Backend(e.to_string())
}

/// Runs a statement without parameters, prepared once per connection.
pub(crate) fn exec(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.execute([]))
        .map(|_| ())
        .map_err(failed)
}

/// Opens the writer's own connection to the database file at `db`, set up as the sqlx
/// connection of the writer is (foreign keys enforced, savepoint journals in memory, commits
/// that leave the fsync to the flusher and checkpoints to the checkpointer).
pub(super) fn open(db: &Path) -> Result<Connection, StoreError> {
    let cannot = |e: rusqlite::Error| {
        StoreError::Backend(format!("cannot open the SQLite writer's connection: {e}"))
    };
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(cannot)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(cannot)?;
    // Every statement the jobs and the batch use stays prepared (rusqlite keeps 16 by default,
    // about as many as a vault insert's batch uses alone).
    conn.set_prepared_statement_cache_capacity(STATEMENTS);
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA temp_store = memory; PRAGMA synchronous = NORMAL; \
         PRAGMA secure_delete = ON;",
    )
    .map_err(cannot)?;
    conn.execute_batch(&format!("{WAL_AUTOCHECKPOINT};"))
        .map_err(cannot)?;
    Ok(conn)
}

/// Begins a batch's transaction and reads the stored audit head.
fn begin(conn: &Connection, audit: &mut AuditBatch) -> Result<(), StoreError> {
    exec(conn, "BEGIN IMMEDIATE")?;
    let stored = conn
        .prepare_cached("SELECT size, chain, frontier FROM audit_head WHERE id = 1")
        .and_then(|mut st| {
            st.query_row([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, Vec<u8>>(1)?,
                    row.get::<_, Vec<u8>>(2)?,
                ))
            })
        });
    match stored {
        Ok((size, chain, frontier)) => {
            audit.begin(
                u64::try_from(size)
                    .ok()
                    .and_then(|size| AuditHead::from_stored(size, &chain, &frontier)),
            );
            Ok(())
        }
        // No head, or not of its types: a corrupt head, as on the sqlx connection (every
        // append of the batch fails; its other jobs still run).
        Err(
            rusqlite::Error::QueryReturnedNoRows
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..),
        ) => {
            audit.begin(None);
            Ok(())
        }
        // The transaction has begun: the caller rolls it back.
        Err(e) => Err(failed(e)),
    }
}

/// Writes the batch's audit events, tree nodes and head, and commits.
fn commit(conn: &Connection, audit: &AuditBatch) -> Result<(), StoreError> {
    if !audit.events.is_empty() {
        write_audit(conn, audit).map_err(|e| match e {
            StoreError::AuditUnavailable(_) => e,
            StoreError::Backend(detail) => StoreError::AuditUnavailable(detail),
            other => StoreError::AuditUnavailable(format!(
                "the batch's audit events could not be written: {other}"
            )),
        })?;
    }
    exec(conn, "COMMIT")
}

fn write_audit(conn: &Connection, audit: &AuditBatch) -> Result<(), StoreError> {
    let head = audit.head.as_ref().map_err(Clone::clone)?;
    let mut events = conn
        .prepare_cached(
            "INSERT INTO audit_events (seq, time_ms, request_id, actor, action, resource, \
             subject, fields, purpose, decision, leaf_hash, chain_hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .map_err(failed)?;
    for e in &audit.events {
        let d = &e.draft;
        events
            .execute(params![
                e.seq as i64,
                d.time.as_millisecond(),
                d.request_id,
                d.actor,
                d.action,
                d.resource,
                d.subject,
                AuditBatch::fields_json(e)?,
                d.purpose,
                d.decision.as_str(),
                &e.leaf_hash[..],
                &e.chain_hash[..],
            ])
            .map_err(failed)?;
    }
    let mut nodes = conn
        .prepare_cached("INSERT INTO audit_tree (pos, hash) VALUES (?1, ?2)")
        .map_err(failed)?;
    for n in &audit.nodes {
        nodes
            .execute(params![AuditBatch::node_pos(n)?, &n.hash[..]])
            .map_err(failed)?;
    }
    conn.prepare_cached("UPDATE audit_head SET size = ?1, chain = ?2, frontier = ?3 WHERE id = 1")
        .and_then(|mut st| {
            st.execute(params![
                head.size as i64,
                &head.chain[..],
                head.frontier_bytes()
            ])
        })
        .map_err(failed)?;
    Ok(())
}

/// A transaction on the writer's own connection, open while jobs keep running into it: the
/// writer commits it when the flusher is ready for another fsync (see
/// [`super::run`]), so one commit carries everything that arrived during the last fsync.
pub(super) struct Run {
    begun_at: Instant,
    completions: Vec<Completion>,
    /// A savepoint could not be settled: where the transaction stands is unknown, so it is
    /// rolled back whole and every job of it answered with an error.
    broken: bool,
}

impl Run {
    /// Begins a transaction (and reads the audit head into `audit`); `None` if it could not
    /// begin (the caller drops the jobs: each caller gets an error).
    pub(super) fn begin(conn: &Connection, audit: &mut AuditBatch) -> Option<Self> {
        if let Err(e) = begin(conn, audit) {
            tracing::error!(error = %e, "cannot begin a write transaction");
            // BEGIN may have succeeded before the head's read failed.
            let _ = exec(conn, "ROLLBACK");
            return None;
        }
        Some(Self {
            begun_at: Instant::now(),
            completions: Vec::new(),
            broken: false,
        })
    }

    /// Jobs run in the transaction so far.
    pub(super) fn jobs(&self) -> usize {
        self.completions.len()
    }

    /// Whether the transaction must be ended now (it can take no more jobs).
    pub(super) fn broken(&self) -> bool {
        self.broken
    }

    /// Runs `steps` in the transaction, each job in a savepoint of its own.
    pub(super) fn run(&mut self, conn: &Connection, audit: &mut AuditBatch, steps: Vec<Step>) {
        for step in steps {
            if self.broken {
                drop(step);
                continue;
            }
            let mark = audit.mark();
            let (ok, completion) = match step {
                Step::Append(append) => append(audit),
                Step::Job(job) => {
                    if exec(conn, "SAVEPOINT job").is_err() {
                        self.broken = true;
                        drop(job);
                        continue;
                    }
                    // A job that panics is rolled back alone; its caller's channel is dropped
                    // (an error for that caller) and the writer goes on serving the others.
                    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        job(&mut FastTx {
                            conn,
                            audit: &mut *audit,
                        })
                    }));
                    let (ok, completion) = ran.unwrap_or_else(|_| {
                        tracing::error!("a write job panicked; it was rolled back");
                        let noop: Completion = Box::new(|_| {});
                        (false, noop)
                    });
                    let settled = if ok {
                        exec(conn, "RELEASE job")
                    } else {
                        exec(conn, "ROLLBACK TO job").and_then(|()| exec(conn, "RELEASE job"))
                    };
                    if settled.is_err() {
                        self.broken = true;
                    }
                    (ok, completion)
                }
            };
            if !ok {
                audit.reset_to(mark);
            }
            self.completions.push(completion);
        }
    }

    /// Rolls the transaction back and answers every job of it with `error`.
    pub(super) fn abandon(
        self,
        conn: &Connection,
        error: StoreError,
    ) -> (Vec<Completion>, Result<(), StoreError>) {
        let _ = exec(conn, "ROLLBACK");
        (self.completions, Err(error))
    }

    /// Writes the audit events and commits (without waiting for the disk), or rolls back a
    /// broken transaction. Answers as [`super::run_batch`] does.
    pub(super) fn end(
        self,
        conn: &Connection,
        audit: &AuditBatch,
    ) -> (Vec<Completion>, Result<(), StoreError>) {
        let committed = if self.broken {
            Err(StoreError::Backend(
                "a write transaction could not be completed".into(),
            ))
        } else {
            commit(conn, audit)
        };
        if committed.is_err() {
            let _ = exec(conn, "ROLLBACK");
        }
        tracing::debug!(
            jobs = self.completions.len(),
            micros = self.begun_at.elapsed().as_micros() as u64,
            committed = committed.is_ok(),
            "write batch (own connection)"
        );
        (self.completions, committed)
    }
}
