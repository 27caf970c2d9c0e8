//! Group commit: one thread owns the write connections and commits concurrent writes together.
//!
//! Each write is a job that runs inside its own SAVEPOINT of a shared `BEGIN IMMEDIATE`
//! transaction; a job that fails is rolled back to its savepoint alone. The transaction is
//! committed, and the write-ahead log fsynced after the commit (one fsync for everything
//! committed before it began, by the [`Flusher`], while the writer runs on), before any of
//! its jobs is answered, so an acknowledged write is as durable as with one transaction per
//! write.
//!
//! The writer has two connections to the database. Most jobs run on an sqlx connection
//! ([`Writer::write`]), which sqlx runs on a thread of its own: every command sent to it is a
//! round trip between two threads, which costs more than most statements, so the writer
//! sends few and spins rather than parks while it waits for their answers ([`spin_poll`]).
//! The writes a hot path makes once per request (a vault record's insert) run on the
//! writer's own `rusqlite` connection instead ([`Writer::write_fast`], [`fast`]), as plain
//! calls on the writer's thread. A batch (the jobs queued while the last one ran) is split
//! into at most two runs, one per connection, each its own transaction, committed before the
//! next begins ([`split`]).
//!
//! A run on the writer's own connection stays open while the flusher's fsync runs: jobs that
//! arrive meanwhile go into the same transaction, which is committed when the flusher is
//! ready for its next fsync ([`next_job`]), when it holds [`MAX_BATCH`] jobs, or before a run
//! on the sqlx connection. A commit made during an fsync would wait for the next one anyway;
//! held back, one commit carries everything that arrived during the fsync (and during the
//! wait before it under load, [`FLUSH_PACE`]), so the log gets
//! fewer, fuller pages (an audited read's commit once wrote the same audit pages again for a
//! handful of events) and readers' page caches are emptied once per fsync.
//!
//! Audit events are appended in memory ([`AuditBatch`]): the head is read when the batch
//! begins, each append is computed against it, and the batch's events, tree nodes and new
//! head are written just before the commit. A job rolled back to its savepoint takes its
//! events back out of the batch. An append that is the whole job ([`Writer::append`], every
//! audited read) needs no savepoint and runs on the writer's own connection, so audited reads
//! cost the writer almost nothing per request. On the sqlx connection, a job's savepoint is
//! released by the next job's command that opens its own (or by the commit).
//!
//! Checkpoints (copying the write-ahead log into the database file, with an fsync of each) run
//! on a connection and thread of their own ([`Checkpointer`]), woken after each flush, rather
//! than inside the writer's commits: SQLite's automatic checkpoint would make every thousandth
//! page's commit wait for both fsyncs while the writer holds every other write. The writer's
//! own commits still checkpoint when the log reaches 8,192 pages ([`WAL_AUTOCHECKPOINT`]; the
//! background checkpoints have copied most of it by then), which is also what lets the log
//! start again from its beginning under a load that never pauses.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use custodian_core::audit::merkle::{self, Node};
use custodian_core::audit::{AuditDraft, AuditEvent, AuditHead};
use futures::future::BoxFuture;
use futures::task::AtomicWaker;
use futures::{FutureExt, TryStreamExt};
use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqliteRow};
use sqlx::{Either, Executor, QueryBuilder, Row, Sqlite, query};
use tokio::sync::{mpsc, oneshot};

use custodian_core::ports::StoreError;

mod fast;
pub(crate) use fast::{FastTx, exec as exec_cached, failed as sqlite_failed};

/// The most jobs committed together.
const MAX_BATCH: usize = 512;
/// How long the writer spins waiting for a batch's next wake-up before it parks (see
/// [`spin_poll`]): longer than a statement's round trip to the connection's thread, shorter
/// than a commit that checkpoints (50 µs measured slower; 100 and 300 µs alike).
const SPIN_WINDOW: Duration = Duration::from_micros(100);
/// Under concurrent load (the last fsync answered at least [`PACE_AFTER`] jobs), the least
/// time from one fsync's start to the next's (see [`Flusher`]). The writer's open run counts
/// the wait as part of the fsync: jobs that arrive during the wait or the fsync are committed
/// together when it ends, and share the fsync after it. A lone writer, whose fsyncs answer a
/// job or two, is never held back.
const FLUSH_PACE: Duration = Duration::from_millis(1);
/// See [`FLUSH_PACE`].
const PACE_AFTER: usize = 4;
/// The least time between two background checkpoints while writes are few: each copies what
/// the commits since the last one wrote, and fsyncs the log and the database file.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(10);
/// The pause after a checkpoint that copied at least [`BUSY_FRAMES`] pages: under a heavy
/// write load the checkpointer then keeps up with the log closely enough to copy all of it
/// between two commits now and then, which lets the log start again from its beginning
/// before it reaches [`WAL_AUTOCHECKPOINT`] (whose checkpoint, and its two fsyncs, would run
/// inside one of the writer's commits: vault creates' p99 went from ~19-29 ms to ~15-17 ms).
const BUSY_PAUSE: Duration = Duration::from_millis(1);
/// See [`BUSY_PAUSE`] (256 KiB of 4 KiB pages).
const BUSY_FRAMES: i64 = 64;
/// Rows per multi-row insert when the batch's audit events are written (12 parameters each,
/// well under SQLite's limit on bound parameters).
const EVENT_ROWS: usize = 256;
/// Rows per multi-row insert of tree nodes (2 parameters each).
const NODE_ROWS: usize = 1024;

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A job on the sqlx connection (see [`Writer::write`]).
type Job = Box<dyn for<'c> FnOnce(&'c mut WriteTx) -> BoxFuture<'c, (bool, Completion)> + Send>;
/// A job on the writer's own connection (see [`Writer::write_fast`]).
type FastJob = Box<dyn for<'c, 't> FnOnce(&'c mut FastTx<'t>) -> (bool, Completion) + Send>;
/// An audit append and nothing else (see [`Writer::append`]).
type AppendJob = Box<dyn FnOnce(&mut AuditBatch) -> (bool, Completion) + Send>;

/// A queued job.
enum Queued {
    /// Runs on the sqlx connection, in a savepoint the writer opens first.
    Sqlx(Job),
    /// Runs on the writer's own connection, on its thread, in a savepoint.
    Fast(FastJob),
    /// Needs no connection: goes into whichever kind of batch it meets.
    Append(AppendJob),
}

/// One step of a run on the writer's own connection: a job, or an append.
enum Step {
    Job(FastJob),
    Append(AppendJob),
}

/// Splits a batch into its run for the writer's own connection (its jobs and every append)
/// and its run for the sqlx connection, each in queue order; each run is one transaction, the
/// first committed before the second begins. Every job of a batch was queued before any of
/// them was answered, so running one run before the other is an order their callers could
/// have seen anyway; two runs at most keep a mixed batch at two transactions.
fn split(batch: Vec<Queued>) -> (Vec<Step>, Vec<Job>) {
    let mut own = Vec::new();
    let mut sqlx = Vec::new();
    for q in batch {
        match q {
            Queued::Sqlx(j) => sqlx.push(j),
            Queued::Fast(j) => own.push(Step::Job(j)),
            Queued::Append(a) => own.push(Step::Append(a)),
        }
    }
    (own, sqlx)
}

/// The audit events of the batch under way, appended in memory against the head read when
/// the batch began, and written by its commit.
pub(crate) struct AuditBatch {
    /// The head after the batch's appends so far; an error if it could not be read when the
    /// batch began (every append of the batch then fails with it).
    head: Result<AuditHead, StoreError>,
    events: Vec<AuditEvent>,
    nodes: Vec<Node>,
}

/// Where a job found the batch's audit log, to put it back if the job is rolled back.
struct Mark {
    head: Result<AuditHead, StoreError>,
    events: usize,
    nodes: usize,
}

impl AuditBatch {
    fn new() -> Self {
        Self {
            head: Err(StoreError::AuditUnavailable("no batch has begun".into())),
            events: Vec::new(),
            nodes: Vec::new(),
        }
    }

    /// Starts a batch from the stored head (`None` if it could not be decoded).
    fn begin(&mut self, stored: Option<AuditHead>) {
        self.events.clear();
        self.nodes.clear();
        self.head = stored
            .ok_or_else(|| StoreError::AuditUnavailable("the stored audit head is corrupt".into()));
    }

    /// Appends an audit event to the batch: it is written with the batch, before the commit,
    /// and rolled back with the job if the job fails.
    fn append(&mut self, draft: AuditDraft) -> Result<AuditEvent, StoreError> {
        let head = self.head.as_ref().map_err(Clone::clone)?;
        let a = head.append(draft);
        self.events.push(a.event.clone());
        self.nodes.extend(a.nodes);
        self.head = Ok(a.head);
        Ok(a.event)
    }

    fn mark(&self) -> Mark {
        Mark {
            head: self.head.clone(),
            events: self.events.len(),
            nodes: self.nodes.len(),
        }
    }

    fn reset_to(&mut self, m: Mark) {
        self.head = m.head;
        self.events.truncate(m.events);
        self.nodes.truncate(m.nodes);
    }

    /// An event's `fields`, as stored (JSON).
    fn fields_json(e: &AuditEvent) -> Result<String, StoreError> {
        serde_json::to_string(&e.draft.fields)
            .map_err(|e| StoreError::AuditUnavailable(e.to_string()))
    }

    /// A tree node's key in `audit_tree`: its post-order position.
    fn node_pos(n: &Node) -> Result<i64, StoreError> {
        tree_pos(n.level, n.index).ok_or_else(|| {
            StoreError::AuditUnavailable(format!(
                "tree node {}/{} is beyond any position",
                n.level, n.index
            ))
        })
    }
}

/// The `audit_tree` key of the node at `(level, index)`: its post-order position
/// ([`merkle::postorder`], migration 0019); `None` beyond what the integer key holds (no such
/// node can exist).
pub(crate) fn tree_pos(level: u32, index: u64) -> Option<i64> {
    i64::try_from(merkle::postorder(level, index)?).ok()
}

/// What a job on the sqlx connection sees: the write connection inside the batch's
/// transaction (through `Deref`), and the batch's audit log.
pub(crate) struct WriteTx {
    conn: PoolConnection<Sqlite>,
    audit: AuditBatch,
}

impl Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

impl WriteTx {
    /// Appends an audit event to this transaction: it is written with the batch, before the
    /// commit, and rolled back with the job if the job fails.
    pub(crate) fn append(&mut self, draft: AuditDraft) -> Result<AuditEvent, StoreError> {
        self.audit.append(draft)
    }

    /// Begins a batch's transaction and reads the stored audit head, in one command.
    async fn begin(&mut self) -> Result<(), StoreError> {
        let qb = QueryBuilder::new(
            "BEGIN IMMEDIATE; SELECT size, chain, frontier FROM audit_head WHERE id = 1",
        );
        let outcomes = each_statement(&mut self.conn, qb).await;
        let outcomes = match outcomes {
            Ok(o) => o,
            Err(e) => {
                // The transaction may have begun even though the head could not be read.
                let _ = exec(&mut self.conn, "ROLLBACK").await;
                return Err(e);
            }
        };
        let row = outcomes.get(1).and_then(|o| o.rows.first());
        self.audit.begin(row.and_then(|row| {
            let size: i64 = row.try_get(0).ok()?;
            let chain: &[u8] = row.try_get(1).ok()?;
            let frontier: &[u8] = row.try_get(2).ok()?;
            AuditHead::from_stored(u64::try_from(size).ok()?, chain, frontier)
        }));
        Ok(())
    }

    /// Writes the batch's audit events, tree nodes and head, and commits, in one command.
    async fn commit(&mut self) -> Result<(), StoreError> {
        let audit = &self.audit;
        if audit.events.is_empty() {
            return exec(&mut self.conn, "COMMIT").await;
        }
        let head = audit.head.as_ref().map_err(Clone::clone)?;
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("");
        for events in audit.events.chunks(EVENT_ROWS) {
            qb.push(
                "INSERT INTO audit_events (seq, time_ms, request_id, actor, action, resource, \
                 subject, fields, purpose, decision, leaf_hash, chain_hash) ",
            );
            let fields = events
                .iter()
                .map(AuditBatch::fields_json)
                .collect::<Result<Vec<_>, _>>()?;
            qb.push_values(events.iter().zip(fields), |mut b, (e, f)| {
                b.push_bind(e.seq as i64)
                    .push_bind(e.draft.time.as_millisecond())
                    .push_bind(e.draft.request_id.clone())
                    .push_bind(e.draft.actor.clone())
                    .push_bind(e.draft.action.clone())
                    .push_bind(e.draft.resource.clone())
                    .push_bind(e.draft.subject.clone())
                    .push_bind(f)
                    .push_bind(e.draft.purpose.clone())
                    .push_bind(e.draft.decision.as_str())
                    .push_bind(e.leaf_hash.to_vec())
                    .push_bind(e.chain_hash.to_vec());
            });
            qb.push("; ");
        }
        for nodes in audit.nodes.chunks(NODE_ROWS) {
            let rows = nodes
                .iter()
                .map(|n| Ok((AuditBatch::node_pos(n)?, n.hash.to_vec())))
                .collect::<Result<Vec<_>, StoreError>>()?;
            qb.push("INSERT INTO audit_tree (pos, hash) ");
            qb.push_values(rows, |mut b, (pos, hash)| {
                b.push_bind(pos).push_bind(hash);
            });
            qb.push("; ");
        }
        qb.push("UPDATE audit_head SET size = ")
            .push_bind(head.size as i64)
            .push(", chain = ")
            .push_bind(head.chain.to_vec())
            .push(", frontier = ")
            .push_bind(head.frontier_bytes())
            .push(" WHERE id = 1; COMMIT");
        // Not kept in the statement cache: the row counts vary from batch to batch. Whatever
        // fails here is the audit log's write (a key collision too, not a caller's conflict).
        outcomes(run_statements(&mut self.conn, qb, false).await)
            .map(|_| ())
            .map_err(|e| match e {
                StoreError::Backend(detail) => StoreError::AuditUnavailable(detail),
                other => StoreError::AuditUnavailable(format!(
                    "the batch's audit events could not be written: {other}"
                )),
            })
    }
}

/// A handle that queues writes for the writer task.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Queued>,
}

fn cannot_start(e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("cannot start the SQLite writer: {e}"))
}

fn stopped() -> StoreError {
    StoreError::Backend("the SQLite writer has stopped".into())
}

impl Writer {
    /// Starts the writer on `conn`, on a thread of its own that also owns a connection of its
    /// own to the database file at `db` (see [`Writer::write_fast`]), with a flusher (on
    /// another thread) that fsyncs the write-ahead log after each commit, and a
    /// [`Checkpointer`] on `checkpoints` (a connection of its own) that the flusher wakes.
    ///
    /// The writer waits on the sqlx connection's thread once per command, and every write
    /// waits for the writer: on its own thread, its wake-ups never queue behind request tasks
    /// on the server's runtime (a wake-up from outside a runtime goes to its global queue).
    pub fn start(
        conn: PoolConnection<Sqlite>,
        db: &Path,
        checkpoints: PoolConnection<Sqlite>,
    ) -> Result<Self, StoreError> {
        let fast = fast::open(db)?;
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        let checkpointer = Checkpointer::start(checkpoints).map_err(cannot_start)?;
        Self::start_with(
            conn,
            fast,
            Box::new(move || {
                std::fs::File::open(&wal)?.sync_data()?;
                checkpointer.wake();
                Ok(())
            }),
        )
    }

    /// As [`start`](Self::start), with `flush` as what makes a committed batch durable.
    fn start_with(
        conn: PoolConnection<Sqlite>,
        fast: rusqlite::Connection,
        flush: Flush,
    ) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Queued>(4096);
        // Timers only: without an IO driver the runtime parks on a futex rather than an
        // epoll/eventfd pair, a cheaper wake-up for each statement's answer.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(cannot_start)?;
        let flusher = Flusher::start(flush).map_err(cannot_start)?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || runtime.block_on(run(conn, fast, rx, flusher)))
            .map_err(cannot_start)?;
        Ok(Self { tx })
    }

    /// Runs `f` on the sqlx connection in the next batch, in a savepoint of its own, and
    /// answers once the batch is committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut WriteTx) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    {
        self.queue(|done| {
            Queued::Sqlx(Box::new(move |tx| {
                Box::pin(async move { answer(f(tx).await, done) })
            }))
        })
        .await
    }

    /// Runs `f` on the writer's own connection, on the writer's thread, in the next batch, in
    /// a savepoint of its own, and answers once the batch is committed. Its statements cost no
    /// round trip to another thread: for the writes a hot path makes once per request.
    pub async fn write_fast<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c, 't> FnOnce(&'c mut FastTx<'t>) -> Result<T, StoreError> + Send + 'static,
    {
        self.queue(|done| Queued::Fast(Box::new(move |tx| answer(f(tx), done))))
            .await
    }

    /// Appends one audit event in the next batch and answers once the batch is committed.
    pub async fn append(&self, draft: AuditDraft) -> Result<AuditEvent, StoreError> {
        self.queue(|done| Queued::Append(Box::new(move |audit| answer(audit.append(draft), done))))
            .await
    }

    /// Queues the job that `job` makes from the sender of its answer, and awaits the answer.
    async fn queue<T: Send + 'static>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Queued,
    ) -> Result<T, StoreError> {
        let (done_tx, done_rx) = oneshot::channel::<Result<T, StoreError>>();
        self.tx.send(job(done_tx)).await.map_err(|_| stopped())?;
        // A dropped answer means the job panicked or its batch could not begin (both logged),
        // not that the writer stopped.
        done_rx.await.map_err(|_| {
            StoreError::Backend("the write was abandoned; the server log says why".into())
        })?
    }
}

/// Whether a job succeeded, and how to answer it once its batch is committed (or not).
fn answer<T: Send + 'static>(
    outcome: Result<T, StoreError>,
    done: oneshot::Sender<Result<T, StoreError>>,
) -> (bool, Completion) {
    match outcome {
        Ok(value) => (
            true,
            Box::new(move |committed| {
                let _ = done.send(committed.map(|()| value));
            }),
        ),
        Err(e) => (
            false,
            Box::new(move |_| {
                let _ = done.send(Err(e));
            }),
        ),
    }
}

async fn exec(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), StoreError> {
    query(sql)
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| StoreError::Backend(e.to_string()))
}

/// What one statement of a several-statement command answered.
struct Outcome {
    /// The rows it returned.
    rows: Vec<SqliteRow>,
}

/// Sends the statements built in `qb` (separated by `;`, parameters numbered across all of
/// them) as one command, and answers each statement's outcome in order; the first statement
/// that fails stops the command and is the error.
///
/// Every command is a round trip to the thread that owns the connection, so a batch's
/// begin and commit each send their statements together. sqlx 0.9's SQLite driver runs each
/// statement of a prepared query and reports each one's completion; sqlx calls several
/// statements in one prepared query deprecated, so this is the one place that relies on it,
/// and every write of the store's conformance tests on the sqlx connection goes through it.
async fn each_statement(
    conn: &mut SqliteConnection,
    qb: QueryBuilder<Sqlite>,
) -> Result<Vec<Outcome>, StoreError> {
    outcomes(run_statements(conn, qb, true).await)
}

fn outcomes(
    (done, failed): (Vec<Outcome>, Option<StoreError>),
) -> Result<Vec<Outcome>, StoreError> {
    failed.map_or(Ok(done), Err)
}

/// The outcomes of the statements that completed, and the error that stopped the command if
/// one did.
async fn run_statements(
    conn: &mut SqliteConnection,
    mut qb: QueryBuilder<Sqlite>,
    persistent: bool,
) -> (Vec<Outcome>, Option<StoreError>) {
    query_outcomes(conn, qb.build().persistent(persistent)).await
}

async fn query_outcomes(
    conn: &mut SqliteConnection,
    q: Query<'_, Sqlite, SqliteArguments>,
) -> (Vec<Outcome>, Option<StoreError>) {
    let mut steps = conn.fetch_many(q);
    let mut out = Vec::new();
    let mut rows = Vec::new();
    loop {
        match steps.try_next().await {
            Ok(None) => return (out, None),
            Ok(Some(Either::Right(row))) => rows.push(row),
            Ok(Some(Either::Left(_))) => out.push(Outcome {
                rows: std::mem::take(&mut rows),
            }),
            Err(e) => return (out, Some(crate::backend(e))),
        }
    }
}

/// Runs several statements without parameters in one command.
async fn exec_all(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), StoreError> {
    sqlx::raw_sql(sql)
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| StoreError::Backend(e.to_string()))
}

async fn run(
    conn: PoolConnection<Sqlite>,
    fast: rusqlite::Connection,
    mut rx: mpsc::Receiver<Queued>,
    flusher: Flusher,
) {
    let mut tx = WriteTx {
        conn,
        audit: AuditBatch::new(),
    };
    // The commit writes the batch to the write-ahead log; the flusher's fsync makes it
    // durable. So does the writer's own connection; the others keep `synchronous = FULL`.
    if let Err(e) = exec(&mut tx, "PRAGMA synchronous = NORMAL").await {
        // Every commit then syncs itself as well: slower, and as durable.
        tracing::warn!(error = %e, "the SQLite writer could not defer its syncs");
    }
    if let Err(e) = exec(&mut tx, WAL_AUTOCHECKPOINT).await {
        // Commits then checkpoint every 1,000 pages, as SQLite does by default: slower.
        tracing::warn!(error = %e, "the SQLite writer could not defer its checkpoints");
    }
    // The transaction on the writer's own connection that jobs are running into, committed
    // when the flusher is ready for its next fsync: a commit made while an fsync runs would
    // wait for the next one anyway, and committing then carries everything that arrived in
    // the meantime in one commit (fewer, fuller pages written to the log, and readers' page
    // caches emptied once per fsync rather than once per handful of jobs).
    let mut open: Option<fast::Run> = None;
    loop {
        let Some(first) = next_job(&mut rx, &flusher, &mut open, &fast, &mut tx.audit).await else {
            break;
        };
        let mut batch = vec![first];
        // A run never holds more than MAX_BATCH jobs, however many batches it took.
        let room = MAX_BATCH
            .saturating_sub(open.as_ref().map_or(0, fast::Run::jobs))
            .max(1);
        while batch.len() < room {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if flusher.failed() {
            // Dropped unanswered: each caller gets an error, and the log says why.
            tracing::error!("a write was refused: the write-ahead log could not be flushed");
            continue;
        }
        let (own, sqlx) = split(batch);
        if !own.is_empty() {
            if open.is_none() {
                // If it cannot begin, the jobs are dropped: each caller gets an error.
                open = fast::Run::begin(&fast, &mut tx.audit);
            }
            if let Some(run) = &mut open {
                run.run(&fast, &mut tx.audit, own);
            }
        }
        if !sqlx.is_empty() {
            // Each run is a transaction of its own, committed before the next begins: the two
            // connections never hold the write lock at once.
            end_run(&flusher, &fast, &tx.audit, open.take());
            settle(&flusher, spin_poll(run_batch(&mut tx, sqlx)).await);
        }
        if open
            .as_ref()
            .is_some_and(|r| r.broken() || r.jobs() >= MAX_BATCH || flusher.idle())
        {
            end_run(&flusher, &fast, &tx.audit, open.take());
        }
    }
    end_run(&flusher, &fast, &tx.audit, open.take());
    // Closed before the sqlx connection below, whose return to the pool is what
    // `SqliteStore::close` waits for: a restore moves the files right after.
    drop(fast);
    // Every handle is gone. Closed here, on this thread's runtime, rather than handed back to
    // the pool by a task that this runtime would not live to run.
    if let Err(e) = tx.conn.close().await {
        tracing::warn!(error = %e, "closing the SQLite writer's connection failed");
    }
}

/// The next job, once one is queued (`None` when every handle is gone). While a run is
/// open, the flusher becoming ready for another fsync commits it first.
async fn next_job(
    rx: &mut mpsc::Receiver<Queued>,
    flusher: &Flusher,
    open: &mut Option<fast::Run>,
    fast: &rusqlite::Connection,
    audit: &mut AuditBatch,
) -> Option<Queued> {
    loop {
        if open.is_none() {
            return rx.recv().await;
        }
        let ready = std::future::poll_fn(|cx| {
            if let Poll::Ready(job) = rx.poll_recv(cx) {
                return Poll::Ready(Some(job));
            }
            if flusher.poll_idle(cx).is_ready() {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await;
        match ready {
            Some(job) => return job,
            None => end_run(flusher, fast, audit, open.take()),
        }
    }
}

/// Commits the open run (if any) and hands its answers to the flusher; after a failed fsync,
/// rolls it back instead and answers its jobs with that failure (what is on disk is unknown,
/// and nothing more is committed until the store is opened again).
fn end_run(
    flusher: &Flusher,
    fast: &rusqlite::Connection,
    audit: &AuditBatch,
    run: Option<fast::Run>,
) {
    if let Some(run) = run {
        let ended = if flusher.failed() {
            run.abandon(fast, flush_failed())
        } else {
            run.end(fast, audit)
        };
        settle(flusher, Some(ended));
    }
}

/// Hands a committed run's answers to the flusher, or answers a failed run's jobs with its
/// error (a run that could not begin has dropped its jobs: each caller gets an error).
fn settle(flusher: &Flusher, ran: Option<(Vec<Completion>, Result<(), StoreError>)>) {
    match ran {
        Some((completions, Ok(()))) => flusher.flush_then_answer(completions),
        Some((completions, Err(e))) => {
            for c in completions {
                c(Err(e.clone()));
            }
        }
        None => {}
    }
}

/// The pages the write-ahead log holds before a commit of the writer checkpoints it (SQLite's
/// default is 1,000): a bound on the log (about 32 MiB of 4 KiB pages) rather than the usual
/// way checkpoints happen, which is the [`Checkpointer`].
const WAL_AUTOCHECKPOINT: &str = "PRAGMA wal_autocheckpoint = 8192";

/// Copies the write-ahead log into the database file on a connection and thread of its own,
/// when woken (after each flush), at most once per [`CHECKPOINT_PAUSE`], or per
/// [`BUSY_PAUSE`] after a checkpoint that had much to copy ([`pause_after`]).
///
/// A passive checkpoint waits for no reader or writer: it copies the pages of transactions
/// committed when it began and that no reader still needs, after an fsync of the log (the
/// connection has `synchronous = FULL`, so nothing reaches the database file before the log
/// holding it is durable), then fsyncs the database file. The writer goes on committing
/// meanwhile. Wake-ups that arrive while it runs are merged into one.
struct Checkpointer {
    wake: std::sync::mpsc::SyncSender<()>,
}

impl Checkpointer {
    fn start(mut conn: PoolConnection<Sqlite>) -> std::io::Result<Self> {
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                runtime.block_on(async move {
                    // Pages of the log the last checkpoint left copied.
                    let mut copied = 0;
                    // Ends when the flusher, and so the writer, is gone.
                    while woken.recv().is_ok() {
                        let checkpoint = sqlx::query_as::<_, (i64, i64, i64)>(
                            "PRAGMA wal_checkpoint(PASSIVE)",
                        )
                        .fetch_one(&mut *conn)
                        .await;
                        let pause = match checkpoint {
                            Ok((_, log, done)) => {
                                let pause = pause_after(copied, log, done);
                                copied = done.max(0);
                                pause
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "a background checkpoint failed");
                                CHECKPOINT_PAUSE
                            }
                        };
                        std::thread::sleep(pause);
                    }
                    // Closed here, as the writer's is: the pool's `close` waits for it.
                    if let Err(e) = conn.close().await {
                        tracing::warn!(error = %e, "closing the SQLite checkpointer's connection failed");
                    }
                });
            })?;
        Ok(Self { wake })
    }

    /// Asks for a checkpoint (merged with one already asked for).
    fn wake(&self) {
        let _ = self.wake.try_send(());
    }
}

/// The checkpointer's pause after a checkpoint that left `done` of the log's `log` pages
/// copied, when the one before left `before` copied: short if it copied at least
/// [`BUSY_FRAMES`] pages (a log shorter than `before` has started again from its beginning, so
/// all of `done` is new), as usual otherwise (and when SQLite answers -1: not a WAL database,
/// or the checkpoint could not run).
fn pause_after(before: i64, log: i64, done: i64) -> Duration {
    if log < 0 || done < 0 {
        return CHECKPOINT_PAUSE;
    }
    let new = if done >= before { done - before } else { done };
    if new >= BUSY_FRAMES {
        BUSY_PAUSE
    } else {
        CHECKPOINT_PAUSE
    }
}

/// What makes every batch committed so far durable (an fsync of the write-ahead log).
type Flush = Box<dyn Fn() -> std::io::Result<()> + Send>;

/// Makes committed batches durable, on a thread of its own, and only then answers their jobs.
///
/// The writer's connection commits with `synchronous = NORMAL`: a commit writes the batch to
/// the write-ahead log without waiting for the disk. The flusher then fsyncs the log and
/// answers the batch's jobs, so an acknowledged write is as durable as with `synchronous =
/// FULL`, while the writer already runs the next batch. An fsync covers every batch
/// committed before it began: batches that committed while one ran share the next.
///
/// A committed batch is visible to readers before its fsync ends (for up to one
/// [`FLUSH_PACE`] and one fsync; it could be lost only to a power failure, not to a crash of
/// the process). Every audited
/// answer waits for its own audit event's fsync, which covers whatever it read.
///
/// A failed fsync leaves what is on disk unknown: the batches waiting get an error, and the
/// writer refuses every later batch until the store is opened again.
struct Flusher {
    tx: std::sync::mpsc::Sender<Vec<Completion>>,
    failed: Arc<AtomicBool>,
    /// Runs handed over whose fsync has not ended yet.
    pending: Arc<AtomicUsize>,
    /// The writer, woken when `pending` falls to zero.
    ready: Arc<AtomicWaker>,
}

impl Flusher {
    fn start(flush: Flush) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<Completion>>();
        let failed = Arc::new(AtomicBool::new(false));
        let failing = failed.clone();
        let pending = Arc::new(AtomicUsize::new(0));
        let ready = Arc::new(AtomicWaker::new());
        let gone = FlusherGone {
            failed: failed.clone(),
            pending: pending.clone(),
            ready: ready.clone(),
        };
        let (pending_here, ready_here) = (pending.clone(), ready.clone());
        std::thread::Builder::new()
            .name("sqlite-flush".into())
            .spawn(move || {
                // Marks the flusher failed when its thread ends, however it ends.
                let _gone = gone;
                // When the last fsync began, and whether it answered enough jobs to pace by.
                let mut last: Option<(Instant, bool)> = None;
                while let Ok(mut waiting) = rx.recv() {
                    if let Some((began, true)) = last {
                        std::thread::sleep(FLUSH_PACE.saturating_sub(began.elapsed()));
                    }
                    // Everything committed by now is covered by one fsync.
                    let mut runs = 1;
                    while let Ok(more) = rx.try_recv() {
                        waiting.extend(more);
                        runs += 1;
                    }
                    last = Some((Instant::now(), waiting.len() >= PACE_AFTER));
                    let flushed = if failing.load(Ordering::Acquire) {
                        Err(flush_failed())
                    } else {
                        flush().map_err(|e| {
                            failing.store(true, Ordering::Release);
                            tracing::error!(
                                error = %e,
                                "the write-ahead log could not be flushed; writes are refused \
                                 until the store is opened again"
                            );
                            flush_failed()
                        })
                    };
                    // The writer may commit its next run now, while these are answered.
                    if pending_here.fetch_sub(runs, Ordering::AcqRel) == runs {
                        ready_here.wake();
                    }
                    for c in waiting {
                        c(flushed.clone());
                    }
                }
            })?;
        Ok(Self {
            tx,
            failed,
            pending,
            ready,
        })
    }

    /// Whether a flush has failed (the writer then refuses every batch).
    fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Whether no fsync is under way or waiting (a run committed now is flushed at once), or
    /// the flusher has failed (an open run must then end, rolled back).
    fn idle(&self) -> bool {
        self.pending.load(Ordering::Acquire) == 0 || self.failed()
    }

    /// Ready once the flusher is [idle](Self::idle).
    fn poll_idle(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.idle() {
            return Poll::Ready(());
        }
        self.ready.register(cx.waker());
        // Idle between the first look and the registration: that wake-up found no waker.
        if self.idle() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Answers a committed batch's jobs once it is durable.
    fn flush_then_answer(&self, completions: Vec<Completion>) {
        self.pending.fetch_add(1, Ordering::AcqRel);
        if let Err(std::sync::mpsc::SendError(completions)) = self.tx.send(completions) {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            // The flusher's thread is gone (it panicked): the batch's durability is unknown.
            for c in completions {
                c(Err(flush_failed()));
            }
        }
    }
}

/// Held by the flusher's thread: when the thread ends (a panic included), the flusher counts
/// as failed and idle, and the writer is woken, so that a run waiting for the next fsync is
/// rolled back and answered rather than held open forever.
struct FlusherGone {
    failed: Arc<AtomicBool>,
    pending: Arc<AtomicUsize>,
    ready: Arc<AtomicWaker>,
}

impl Drop for FlusherGone {
    fn drop(&mut self) {
        self.failed.store(true, Ordering::Release);
        self.pending.store(0, Ordering::Release);
        self.ready.wake();
    }
}

fn flush_failed() -> StoreError {
    StoreError::Backend("the write-ahead log could not be flushed to disk".into())
}

/// Drives `fut` on the writer's thread, spinning rather than parking while it waits.
///
/// Each command sent to the connection's thread is answered item by item (one per statement
/// and per row), and each item wakes the writer. Parked, the writer would cost a futex
/// wake-up on the connection's thread and a switch back onto this one for every item: on a
/// virtual machine that costs more than the statement. So the future is polled with a waker
/// that sets a flag, and while it waits the thread yields its core (to the connection's
/// thread, or to anyone else runnable) and polls again as soon as the flag is set. When no
/// wake-up has come for the spin window, the thread parks as usual (its runtime then drives
/// timers) until the next wake-up, and spins again from there.
async fn spin_poll<F: Future>(fut: F) -> F::Output {
    let flag = Arc::new(Flag {
        woken: AtomicBool::new(false),
        parked: AtomicWaker::new(),
    });
    let waker = Waker::from(flag.clone());
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(move |cx| {
        let mut spinning = Context::from_waker(&waker);
        // Whatever woke the runtime is about to be seen by this poll.
        flag.woken.store(false, Ordering::Relaxed);
        drop(flag.parked.take());
        loop {
            // A wake-up during the poll sets the flag: the future is then polled again.
            if let Poll::Ready(out) = fut.as_mut().poll(&mut spinning) {
                return Poll::Ready(out);
            }
            let since = Instant::now();
            loop {
                if flag.woken.swap(false, Ordering::Acquire) {
                    break;
                }
                if since.elapsed() >= SPIN_WINDOW {
                    flag.parked.register(cx.waker());
                    // A wake-up between the last look and the registration found no waker.
                    if flag.woken.swap(false, Ordering::Acquire) {
                        break;
                    }
                    return Poll::Pending;
                }
                std::thread::yield_now();
            }
        }
    })
    .await
}

/// The waker of [`spin_poll`]: sets the flag the spinning thread watches, and wakes the
/// runtime's task if the thread has parked.
struct Flag {
    woken: AtomicBool,
    parked: AtomicWaker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.parked.wake();
    }
}

/// Runs one batch of jobs in one transaction on the sqlx connection and commits it (without
/// waiting for the disk: see [`Flusher`]). Answers how to answer each job, and whether the
/// batch committed; `None` if the transaction could not begin (the jobs were dropped: each
/// caller gets an error).
async fn run_batch(
    tx: &mut WriteTx,
    batch: Vec<Job>,
) -> Option<(Vec<Completion>, Result<(), StoreError>)> {
    let begun_at = Instant::now();
    if let Err(e) = tx.begin().await {
        tracing::error!(error = %e, "cannot begin a write transaction");
        return None;
    }
    let mut completions = Vec::with_capacity(batch.len());
    let mut broken = false;
    // Whether the last job's savepoint is still open: a job that succeeded keeps it open
    // until the next job's savepoint replaces it in the same command, or the commit
    // releases it (each command is a round trip to the connection's thread).
    let mut open = false;
    for job in batch {
        if broken {
            drop(job);
            continue;
        }
        let opening = if open {
            "RELEASE job; SAVEPOINT job;"
        } else {
            "SAVEPOINT job;"
        };
        if exec_all(tx, opening).await.is_err() {
            broken = true;
            drop(job);
            continue;
        }
        open = true;
        let mark = tx.audit.mark();
        // A job that panics is rolled back alone; its caller's channel is dropped (an
        // error for that caller) and the writer goes on serving the others.
        let (ok, completion) = match AssertUnwindSafe(job(tx)).catch_unwind().await {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::error!("a write job panicked; it was rolled back");
                let noop: Completion = Box::new(|_| {});
                (false, noop)
            }
        };
        if !ok {
            tx.audit.reset_to(mark);
            open = false;
            if exec_all(tx, "ROLLBACK TO job; RELEASE job").await.is_err() {
                broken = true;
            }
        }
        completions.push(completion);
    }
    let committed = if broken {
        Err(StoreError::Backend(
            "a write transaction could not be completed".into(),
        ))
    } else {
        tx.commit().await
    };
    if committed.is_err() {
        let _ = exec(tx, "ROLLBACK").await;
    }
    tracing::debug!(
        jobs = completions.len(),
        micros = begun_at.elapsed().as_micros() as u64,
        committed = committed.is_ok(),
        "write batch"
    );
    Some((completions, committed))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Migration 0019 moves every node of the old `(level, idx)` table to the position
    /// `merkle::postorder` gives it (its popcount is spelled out bit by bit in SQL).
    #[test]
    fn migration_0019_keys_nodes_by_postorder() {
        let conn = rusqlite::Connection::open_in_memory().expect("db");
        conn.execute_batch(
            "CREATE TABLE audit_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, \
             hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID",
        )
        .expect("old table");
        let mut frontier = Vec::new();
        let mut nodes = Vec::new();
        for i in 0..3000u64 {
            nodes.extend(merkle::frontier_push(
                &mut frontier,
                i,
                merkle::sha256(&[&i.to_be_bytes()]),
            ));
        }
        // A node far out, whose index has high bits set (popcount over all 63 bits).
        let far = Node {
            level: 1,
            index: (1u64 << 52) + (1 << 40) + 7,
            hash: [7; 32],
        };
        nodes.push(far);
        for n in &nodes {
            conn.execute(
                "INSERT INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
                rusqlite::params![n.level, n.index as i64, &n.hash[..]],
            )
            .expect("old node");
        }
        conn.execute_batch(include_str!("../migrations/0019_audit_tree.sql"))
            .expect("migration");
        let count: i64 = conn
            .query_row("SELECT count(*) FROM audit_tree", [], |r| r.get(0))
            .expect("count");
        assert_eq!(count as usize, nodes.len());
        for n in &nodes {
            let pos = AuditBatch::node_pos(n).expect("position");
            let hash: Vec<u8> = conn
                .query_row("SELECT hash FROM audit_tree WHERE pos = ?1", [pos], |r| {
                    r.get(0)
                })
                .expect("node at its position");
            assert_eq!(hash, n.hash.to_vec(), "{n:?}");
        }
        let old: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'audit_nodes'",
                [],
                |r| r.get(0),
            )
            .expect("schema");
        assert_eq!(old, 0);
    }

    /// Holds the writer in a batch of one job until the sender is used.
    async fn hold_writer(
        w: &Writer,
    ) -> (
        oneshot::Sender<()>,
        tokio::task::JoinHandle<Result<(), StoreError>>,
    ) {
        let (release, hold) = oneshot::channel::<()>();
        let w = w.clone();
        let blocker = tokio::spawn(async move {
            w.write(move |_tx| {
                Box::pin(async move {
                    let _ = hold.await;
                    Ok(())
                })
            })
            .await
        });
        // Long enough for the writer to have taken the job.
        tokio::time::sleep(Duration::from_millis(50)).await;
        (release, blocker)
    }

    async fn numbers(store: &crate::SqliteStore) -> Vec<i64> {
        query("SELECT n FROM t ORDER BY n")
            .fetch_all(&store.reader)
            .await
            .expect("select")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// An audit draft of `action` by the tests.
    fn draft(action: &str, resource: &str) -> AuditDraft {
        let at = custodian_core::Timestamp::from_millisecond(1_700_000_000_000).expect("time");
        AuditDraft::new(
            at,
            "req-1",
            "operator:test",
            action,
            resource,
            custodian_core::audit::Decision::Allow,
        )
    }

    /// A store in `dir` with a table `t` of numbers.
    async fn store_with_t(dir: &Path) -> crate::SqliteStore {
        store_with_table(dir, "CREATE TABLE t (n INTEGER NOT NULL)").await
    }

    /// A store in `dir` with the table `create` makes.
    async fn store_with_table(dir: &Path, create: &'static str) -> crate::SqliteStore {
        let store = crate::SqliteStore::open(dir).await.expect("open");
        query(create)
            .execute(store.raw_pool())
            .await
            .expect("create");
        store
    }

    /// One batch of jobs on both connections, in order: on the writer's own connection one
    /// that succeeds, one that fails before writing and one that fails after its statement
    /// ran, an audit append, then a job on the sqlx connection, then the own connection again.
    /// Only the failed job's row is rolled back (to its own savepoint), the others and the
    /// append are committed, in order.
    #[tokio::test]
    async fn a_batch_on_both_connections_rolls_back_only_the_failed_job() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_with_t(dir.path()).await;
        let w = store.group.clone();
        // The next jobs queue behind the held batch, and make the next batch together.
        let (release, blocker) = hold_writer(&w).await;
        let fast = |n: i64, fail: bool| {
            w.write_fast(move |tx| {
                tx.conn()
                    .execute("INSERT INTO t (n) VALUES (?1)", [n])
                    .map_err(sqlite_failed)?;
                if fail {
                    return Err(StoreError::Conflict("after"));
                }
                Ok(())
            })
        };
        let before = w.write_fast(|_tx| Err::<(), _>(StoreError::Conflict("before")));
        let append = w.append(draft("test.append", "t"));
        let (kept, before, failed, appended, sqlx_job, last, ()) = tokio::join!(
            fast(1, false),
            before,
            fast(2, true),
            append,
            insert(&w, 3),
            fast(4, false),
            async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = release.send(());
            }
        );
        assert_eq!(blocker.await.expect("task"), Ok(()));
        assert_eq!(kept, Ok(()));
        assert_eq!(before, Err(StoreError::Conflict("before")));
        assert_eq!(failed, Err(StoreError::Conflict("after")));
        assert_eq!(sqlx_job, Ok(()));
        assert_eq!(last, Ok(()));
        assert_eq!(numbers(&store).await, [1, 3, 4]);
        // The append is stored where the head says, after the held batch's (which had none).
        let seq = appended.expect("appended").seq;
        let stored: i64 = query("SELECT COUNT(*) FROM audit_events WHERE seq = ?")
            .bind(seq as i64)
            .fetch_one(store.raw_pool())
            .await
            .expect("count")
            .get(0);
        assert_eq!(stored, 1);
        // The writer goes on: a later batch commits as usual.
        fast(5, false).await.expect("insert");
        assert_eq!(numbers(&store).await, [1, 3, 4, 5]);
    }

    /// A job on the writer's own connection that panics is rolled back alone, with its audit
    /// event; the writer goes on.
    #[tokio::test]
    async fn a_panicking_job_on_the_own_connection_is_rolled_back_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_with_t(dir.path()).await;
        let w = store.group.clone();
        let (release, blocker) = hold_writer(&w).await;
        let panicking = w.write_fast(|tx| -> Result<(), StoreError> {
            tx.append(draft("test.lost", "t"))?;
            tx.conn()
                .execute("INSERT INTO t (n) VALUES (1)", [])
                .map_err(sqlite_failed)?;
            panic!("a job that panics")
        });
        let kept = w.write_fast(|tx| {
            tx.conn()
                .execute("INSERT INTO t (n) VALUES (2)", [])
                .map_err(sqlite_failed)?;
            tx.append(draft("test.kept", "t"))
        });
        let (panicked, kept, ()) = tokio::join!(panicking, kept, async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = release.send(());
        });
        assert_eq!(blocker.await.expect("task"), Ok(()));
        assert!(panicked.is_err());
        let kept = kept.expect("kept");
        assert_eq!(numbers(&store).await, [2]);
        let actions: Vec<String> = query("SELECT action FROM audit_events ORDER BY seq")
            .fetch_all(store.raw_pool())
            .await
            .expect("events")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(actions.last().map(String::as_str), Some("test.kept"));
        assert!(!actions.iter().any(|a| a == "test.lost"));
        assert_eq!(kept.seq as usize, actions.len() - 1);
    }

    /// The checkpointer hurries only after a checkpoint that copied many new pages, counting
    /// a log that started again from its beginning, and never on SQLite's -1.
    #[test]
    fn the_checkpointer_hurries_only_after_copying_much() {
        assert_eq!(pause_after(0, 100, 100), BUSY_PAUSE);
        assert_eq!(pause_after(100, 150, 150), CHECKPOINT_PAUSE);
        assert_eq!(pause_after(100, 164, 164), BUSY_PAUSE);
        // Started again: 80 pages copied since, all new.
        assert_eq!(pause_after(5000, 80, 80), BUSY_PAUSE);
        assert_eq!(pause_after(5000, 20, 20), CHECKPOINT_PAUSE);
        assert_eq!(pause_after(0, -1, -1), CHECKPOINT_PAUSE);
    }

    /// The writer's poller completes what only its runtime's timers can wake (after parking),
    /// what another thread wakes while it spins, and wake-ups spaced wider than its window.
    #[test]
    fn spin_poll_completes_timers_and_wake_ups_from_other_threads() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let slept = tokio::time::timeout(
                Duration::from_secs(5),
                spin_poll(tokio::time::sleep(Duration::from_millis(5))),
            )
            .await;
            assert!(slept.is_ok(), "the timer never fired");
            let (tx, rx) = oneshot::channel();
            std::thread::spawn(move || tx.send(7));
            assert_eq!(spin_poll(rx).await, Ok(7));
            let (tx, mut rx) = mpsc::channel(4);
            std::thread::spawn(move || {
                for i in 0..3 {
                    std::thread::sleep(SPIN_WINDOW * 5);
                    let _ = tx.blocking_send(i);
                }
            });
            let got = spin_poll(async move {
                let mut got = Vec::new();
                while let Some(i) = rx.recv().await {
                    got.push(i);
                }
                got
            })
            .await;
            assert_eq!(got, [0, 1, 2]);
        });
    }

    /// A writer on the store's second write connection whose flush is `flush`, with the count
    /// of its flushes, after creating table `t`.
    async fn flushing_writer(
        store: &crate::SqliteStore,
        dir: &Path,
        flush: impl Fn() -> std::io::Result<()> + Send + 'static,
    ) -> (Writer, Arc<std::sync::atomic::AtomicUsize>) {
        query("CREATE TABLE t (n INTEGER NOT NULL)")
            .execute(store.raw_pool())
            .await
            .expect("create");
        let conn = store.raw_pool().acquire().await.expect("connection");
        let flushes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = flushes.clone();
        let flush = Box::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            flush()
        });
        let fast = fast::open(&dir.join(crate::DB_FILE)).expect("own connection");
        (
            Writer::start_with(conn, fast, flush).expect("start"),
            flushes,
        )
    }

    /// A [`flushing_writer`] whose every flush waits for a message on the sender answered,
    /// then succeeds, or fails when `fails`.
    async fn gated_writer(
        store: &crate::SqliteStore,
        dir: &Path,
        fails: bool,
    ) -> (
        Writer,
        Arc<std::sync::atomic::AtomicUsize>,
        std::sync::mpsc::Sender<()>,
    ) {
        let (open_gate, gate) = std::sync::mpsc::channel::<()>();
        let gate = std::sync::Mutex::new(gate);
        let (w, flushes) = flushing_writer(store, dir, move || {
            let gate = gate.lock().map_err(|_| std::io::Error::other("poisoned"))?;
            gate.recv().map_err(std::io::Error::other)?;
            if fails {
                Err(std::io::Error::other("the disk is gone"))
            } else {
                Ok(())
            }
        })
        .await;
        (w, flushes, open_gate)
    }

    /// Inserts `n` into table `t` through `w`.
    async fn insert(w: &Writer, n: i64) -> Result<(), StoreError> {
        w.write(move |tx| {
            Box::pin(async move {
                query("INSERT INTO t (n) VALUES (?)")
                    .bind(n)
                    .execute(&mut **tx)
                    .await
                    .map_err(crate::backend)?;
                Ok(())
            })
        })
        .await
    }

    /// The writer's commits leave checkpoints to the checkpointer: its connection checkpoints
    /// only at 8,192 pages, yet what it commits reaches the database file soon after, while
    /// the log is far from that size.
    #[tokio::test]
    async fn checkpoints_happen_beside_the_writer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_with_table(dir.path(), "CREATE TABLE t (b BLOB NOT NULL)").await;
        let pages: i64 = store
            .group
            .write(|tx| {
                Box::pin(async move {
                    query("PRAGMA wal_autocheckpoint")
                        .fetch_one(&mut **tx)
                        .await
                        .map(|r| r.get(0))
                        .map_err(crate::backend)
                })
            })
            .await
            .expect("pragma");
        assert_eq!(pages, 8192);
        let db = dir.path().join(crate::DB_FILE);
        let before = std::fs::metadata(&db).expect("db").len();
        // About 600 pages of 4 KiB in 20 batches: fewer than a commit would checkpoint at
        // (even with SQLite's default of 1,000), so only the checkpointer copies them.
        for _ in 0..20 {
            let writes = (0..10).map(|_| blob(&store.group, 12_000));
            for r in futures::future::join_all(writes).await {
                r.expect("insert");
            }
        }
        let grown = before + 200 * 12_000;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&db).expect("db").len() < grown {
            assert!(
                Instant::now() < deadline,
                "the database file did not grow: nothing was checkpointed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Inserts `bytes` random bytes into table `t` (column `b`) through `w`.
    async fn blob(w: &Writer, bytes: i64) -> Result<(), StoreError> {
        w.write(move |tx| {
            Box::pin(async move {
                query("INSERT INTO t (b) VALUES (randomblob(?))")
                    .bind(bytes)
                    .execute(&mut **tx)
                    .await
                    .map(|_| ())
                    .map_err(crate::backend)
            })
        })
        .await
    }

    /// Closing the store waits for every connection, the checkpointer's too: the last one
    /// checkpoints and removes the write-ahead log, so the files can then be moved (as a
    /// restore does).
    #[tokio::test]
    async fn closing_the_store_closes_the_checkpointer_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_with_table(dir.path(), "CREATE TABLE t (b BLOB NOT NULL)").await;
        for _ in 0..5 {
            blob(&store.group, 5_000).await.expect("insert");
        }
        let wal = dir.path().join(format!("{}-wal", crate::DB_FILE));
        assert!(wal.exists());
        store.close().await;
        assert!(!wal.exists(), "a connection was still open after close");
    }

    /// A committed batch is answered only after a flush that began after its commit.
    #[tokio::test]
    async fn a_write_is_answered_only_once_its_batch_is_flushed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::SqliteStore::open(dir.path()).await.expect("open");
        let (w, flushes, open_gate) = gated_writer(&store, dir.path(), false).await;
        let pending = tokio::spawn({
            let w = w.clone();
            async move { insert(&w, 1).await }
        });
        // Committed (visible to readers) and flushing, but not answered.
        let mut seen = Vec::new();
        for _ in 0..100 {
            seen = numbers(&store).await;
            if !seen.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(seen, [1]);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!pending.is_finished(), "answered before its flush ended");
        assert_eq!(flushes.load(Ordering::SeqCst), 1);
        open_gate.send(()).expect("gate");
        assert_eq!(pending.await.expect("task"), Ok(()));
        // The next batch has a flush of its own.
        open_gate.send(()).expect("gate");
        assert_eq!(insert(&w, 2).await, Ok(()));
        assert_eq!(flushes.load(Ordering::SeqCst), 2);
        assert_eq!(numbers(&store).await, [1, 2]);
    }

    /// Inserts `n` into table `t` through `w`'s own connection.
    async fn insert_fast(w: &Writer, n: i64) -> Result<(), StoreError> {
        w.write_fast(move |tx| {
            tx.conn()
                .execute("INSERT INTO t (n) VALUES (?1)", [n])
                .map(|_| ())
                .map_err(sqlite_failed)
        })
        .await
    }

    type Insert = tokio::task::JoinHandle<Result<(), StoreError>>;

    /// Inserts 1 through `w`'s own connection and waits until it is committed, then starts
    /// inserts of 2 to `last`: the first's, and the others' tasks.
    async fn first_then_more(
        w: &Writer,
        store: &crate::SqliteStore,
        last: i64,
    ) -> (Insert, Vec<Insert>) {
        let first = tokio::spawn({
            let w = w.clone();
            async move { insert_fast(&w, 1).await }
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while numbers(store).await.is_empty() {
            assert!(Instant::now() < deadline, "the first write never committed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let later = (2..=last)
            .map(|n| {
                let w = w.clone();
                tokio::spawn(async move { insert_fast(&w, n).await })
            })
            .collect();
        (first, later)
    }

    /// Jobs that arrive while an fsync runs go into one open transaction, committed when that
    /// fsync ends (a commit made earlier would wait for the next fsync anyway): they are
    /// neither visible nor answered before, and share the next fsync.
    #[tokio::test]
    async fn jobs_arriving_during_a_flush_are_committed_together_after_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::SqliteStore::open(dir.path()).await.expect("open");
        let (w, flushes, open_gate) = gated_writer(&store, dir.path(), false).await;
        // The first is committed at once (the flusher was idle), and its fsync hangs.
        let (first, later) = first_then_more(&w, &store, 4).await;
        let appended = tokio::spawn({
            let w = w.clone();
            async move { w.append(draft("ping", "t")).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(numbers(&store).await, [1], "committed during the fsync");
        assert!(later.iter().all(|t| !t.is_finished()) && !appended.is_finished());
        assert_eq!(flushes.load(Ordering::SeqCst), 1);
        // The fsync ends: the first is answered, the others are committed in one run and
        // share the second fsync.
        open_gate.send(()).expect("gate");
        assert_eq!(first.await.expect("task"), Ok(()));
        open_gate.send(()).expect("gate");
        for t in later {
            assert_eq!(t.await.expect("task"), Ok(()));
        }
        appended.await.expect("task").expect("append");
        assert_eq!(flushes.load(Ordering::SeqCst), 2);
        assert_eq!(numbers(&store).await, [1, 2, 3, 4]);
    }

    /// Jobs that ran into the open run while an fsync failed are rolled back, not committed
    /// after it: their callers get the failure, and nothing of theirs is in the database.
    #[tokio::test]
    async fn jobs_waiting_on_a_failing_flush_are_rolled_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::SqliteStore::open(dir.path()).await.expect("open");
        let (w, flushes, open_gate) = gated_writer(&store, dir.path(), true).await;
        let (first, later) = first_then_more(&w, &store, 3).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        open_gate.send(()).expect("gate");
        assert_eq!(first.await.expect("task"), Err(flush_failed()));
        for t in later {
            assert_eq!(t.await.expect("task"), Err(flush_failed()));
        }
        assert_eq!(insert_fast(&w, 4).await.map_err(|_| ()), Err(()));
        assert_eq!(
            numbers(&store).await,
            [1],
            "only what the failed fsync held"
        );
        assert_eq!(flushes.load(Ordering::SeqCst), 1);
    }

    /// After a failed flush, what is on disk is unknown: the batch's writes fail, and so does
    /// every later write, without running.
    #[tokio::test]
    async fn a_failed_flush_fails_its_writes_and_refuses_later_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::SqliteStore::open(dir.path()).await.expect("open");
        let (w, flushes) = flushing_writer(&store, dir.path(), || {
            Err(std::io::Error::other("the disk is gone"))
        })
        .await;
        assert_eq!(insert(&w, 1).await, Err(flush_failed()));
        assert!(insert(&w, 2).await.is_err());
        assert_eq!(numbers(&store).await, [1], "the second write never ran");
        assert_eq!(flushes.load(Ordering::SeqCst), 1);
    }

    /// A schema change whose caller stops waiting (a client that disconnects) still commits,
    /// and the collection cache must then forget what it held.
    #[tokio::test]
    async fn a_schema_change_abandoned_by_its_caller_is_not_hidden_by_the_cache() {
        use custodian_core::Timestamp;
        use custodian_core::audit::Decision;
        use custodian_core::ports::Store;
        use custodian_core::vault::schema::{
            CollectionSchema, FieldSpec, Sensitivity, Tokenization,
        };
        use custodian_core::vault::value::FieldType;

        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::SqliteStore::open(dir.path()).await.expect("open");
        assert_eq!(
            store.get_collection("leads").await,
            Ok(None),
            "cached absent"
        );
        let (release, blocker) = hold_writer(&store.group).await;
        let schema = CollectionSchema {
            name: "leads".into(),
            fields: vec![FieldSpec {
                name: "email".into(),
                field_type: FieldType::Email,
                category: "user.contact.email".into(),
                sensitivity: Sensitivity::Medium,
                required: false,
                searchable: true,
                tokenization: Tokenization::None,
            }],
        };
        let at = Timestamp::from_millisecond(1_700_000_000_000).expect("time");
        let draft = AuditDraft::new(
            at,
            "req-1",
            "operator:test",
            "collection.write",
            "collection:leads",
            Decision::Allow,
        );
        // The caller gives up while the write is still queued behind the blocker.
        let gave_up = tokio::time::timeout(
            Duration::from_millis(50),
            store.put_collection(&schema, None, at, draft),
        )
        .await;
        assert!(gave_up.is_err(), "the write was still queued");
        let _ = release.send(());
        assert_eq!(blocker.await.expect("task"), Ok(()));
        let mut seen = None;
        for _ in 0..100 {
            seen = store.get_collection("leads").await.expect("get");
            if seen.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(seen.map(|c| c.schema), Some(schema));
    }
}
