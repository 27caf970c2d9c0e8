//! Group commit: one task owns the write connection and commits concurrent writes together.
//!
//! Each write is a job that runs inside its own SAVEPOINT of a shared `BEGIN IMMEDIATE`
//! transaction; a job that fails is rolled back to its savepoint alone. The transaction is
//! committed (one fsync for the whole batch) before any job of the batch is answered, so an
//! acknowledged write is as durable as with one transaction per write.
//!
//! sqlx runs the connection on a thread of its own, so every command sent to it is a round
//! trip between two threads, which costs more than most statements: the writer sends few.
//! Audit events are appended in memory ([`WriteTx::append`]): the head is read in the command
//! that begins the batch, each append is computed against it, and the batch's events, tree
//! nodes and new head are written by the command that commits. A job rolled back to its
//! savepoint takes its events back out of the batch. An append that is the whole job
//! ([`Writer::append`]) needs no savepoint and sends nothing of its own, so audited reads cost
//! the writer almost nothing per request. A job's savepoint is released by the next job's
//! command that opens its own (or by the commit), and a job queued with
//! [`Writer::write_in_one`] opens its savepoint in its own first command.

use std::ops::{Deref, DerefMut};
use std::panic::AssertUnwindSafe;

use custodian_core::audit::merkle::Node;
use custodian_core::audit::{AuditDraft, AuditEvent, AuditHead};
use futures::future::BoxFuture;
use futures::{FutureExt, TryStreamExt};
use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqliteRow};
use sqlx::{Either, Executor, QueryBuilder, Row, Sqlite, query};
use tokio::sync::{mpsc, oneshot};

use custodian_core::ports::StoreError;

/// The most jobs committed together.
const MAX_BATCH: usize = 512;
/// Rows per multi-row insert when the batch's audit events are written (12 parameters each,
/// well under SQLite's limit on bound parameters).
const EVENT_ROWS: usize = 256;
/// Rows per multi-row insert of tree nodes (3 parameters each).
const NODE_ROWS: usize = 1024;

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type Job = Box<dyn for<'c> FnOnce(&'c mut WriteTx) -> BoxFuture<'c, (bool, Completion)> + Send>;

/// How a job's savepoint is opened.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Savepoint {
    /// None: the job executes no statement (an audit append).
    None,
    /// By the writer, before the job runs.
    Before,
    /// In the job's first command, which it builds with [`WriteTx::builder`].
    InFirstCommand,
}

/// A queued job and how its savepoint is opened.
struct Queued {
    savepoint: Savepoint,
    job: Job,
}

/// What a job sees: the write connection inside the batch's transaction (through `Deref`),
/// and the batch's audit log.
pub(crate) struct WriteTx {
    conn: PoolConnection<Sqlite>,
    /// The head after the batch's appends so far; an error if it could not be read when the
    /// batch began (every append of the batch then fails with it).
    head: Result<AuditHead, StoreError>,
    events: Vec<AuditEvent>,
    nodes: Vec<Node>,
    /// Where the savepoint of a job queued with [`Writer::write_in_one`] stands.
    first: FirstCommand,
}

/// The savepoint that a job's first command opens (jobs queued with [`Writer::write_in_one`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FirstCommand {
    /// Not such a job, or its savepoint is settled.
    Idle,
    /// These statements open the savepoint; no command has been built yet.
    Pending(&'static str),
    /// A builder holds the opening statements (this many), not sent yet.
    Built(usize),
    /// The command ran at least the opening statements: the savepoint is open.
    Opened,
    /// One of the opening statements failed: where the savepoints stand is unknown.
    Failed,
}

impl Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        // A job queued with `write_in_one` must open its savepoint with its first command:
        // a statement sent around it would run outside the job's savepoint.
        debug_assert!(
            !matches!(
                self.first,
                FirstCommand::Pending(_) | FirstCommand::Built(_)
            ),
            "a write_in_one job used the connection before its first command"
        );
        &mut self.conn
    }
}

/// Where a job found the batch's audit log, to put it back if the job is rolled back.
struct Mark {
    head: Result<AuditHead, StoreError>,
    events: usize,
    nodes: usize,
}

impl WriteTx {
    /// Appends an audit event to this transaction: it is written with the batch, before the
    /// commit, and rolled back with the job if the job fails.
    pub(crate) fn append(&mut self, draft: AuditDraft) -> Result<AuditEvent, StoreError> {
        let head = self.head.as_ref().map_err(Clone::clone)?;
        let a = head.append(draft);
        self.events.push(a.event.clone());
        self.nodes.extend(a.nodes);
        self.head = Ok(a.head);
        Ok(a.event)
    }

    /// A builder for the job's next command: for a job queued with
    /// [`Writer::write_in_one`], its first command also opens its savepoint. Run it with
    /// [`each_statement`](Self::each_statement).
    pub(crate) fn builder(&mut self) -> QueryBuilder<Sqlite> {
        match self.first {
            FirstCommand::Pending(sql) => {
                self.first = FirstCommand::Built(sql.matches(';').count());
                QueryBuilder::new(sql)
            }
            _ => QueryBuilder::new(""),
        }
    }

    /// Runs a command from [`builder`](Self::builder) and answers the outcomes of the job's
    /// own statements.
    pub(crate) async fn each_statement(
        &mut self,
        qb: QueryBuilder<Sqlite>,
    ) -> Result<Vec<Outcome>, StoreError> {
        let skip = match self.first {
            FirstCommand::Built(skip) => skip,
            FirstCommand::Pending(_) => {
                // Not built by `builder`: sent as is, it would run outside a savepoint.
                return Err(StoreError::Backend(
                    "a write job's first command did not open its savepoint".into(),
                ));
            }
            _ => return each_statement(&mut self.conn, qb).await,
        };
        let (mut outcomes, failed) = run_statements(&mut self.conn, qb, true).await;
        self.first = if outcomes.len() >= skip {
            FirstCommand::Opened
        } else {
            FirstCommand::Failed
        };
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(outcomes.split_off(skip))
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

    /// Begins a batch's transaction and reads the stored audit head, in one command.
    async fn begin(&mut self) -> Result<(), StoreError> {
        self.events.clear();
        self.nodes.clear();
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
        let corrupt = || StoreError::AuditUnavailable("the stored audit head is corrupt".into());
        self.head = match row {
            None => Err(corrupt()),
            Some(row) => (|| {
                let size: i64 = row.try_get(0).ok()?;
                let chain: &[u8] = row.try_get(1).ok()?;
                let frontier: &[u8] = row.try_get(2).ok()?;
                AuditHead::from_stored(u64::try_from(size).ok()?, chain, frontier)
            })()
            .ok_or_else(corrupt),
        };
        Ok(())
    }

    /// Writes the batch's audit events, tree nodes and head, and commits, in one command.
    async fn commit(&mut self) -> Result<(), StoreError> {
        if self.events.is_empty() {
            return exec(&mut self.conn, "COMMIT").await;
        }
        let head = self.head.as_ref().map_err(Clone::clone)?;
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("");
        for events in self.events.chunks(EVENT_ROWS) {
            qb.push(
                "INSERT INTO audit_events (seq, time_ms, request_id, actor, action, resource, \
                 subject, fields, purpose, decision, leaf_hash, chain_hash) ",
            );
            let mut fields = Vec::with_capacity(events.len());
            for e in events {
                fields.push(
                    serde_json::to_string(&e.draft.fields)
                        .map_err(|e| StoreError::AuditUnavailable(e.to_string()))?,
                );
            }
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
        for nodes in self.nodes.chunks(NODE_ROWS) {
            qb.push("INSERT INTO audit_nodes (level, idx, hash) ");
            qb.push_values(nodes, |mut b, n| {
                b.push_bind(n.level as i64)
                    .push_bind(n.index as i64)
                    .push_bind(n.hash.to_vec());
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

fn stopped() -> StoreError {
    StoreError::Backend("the SQLite writer has stopped".into())
}

impl Writer {
    /// Starts the writer on `conn`, on a thread of its own.
    ///
    /// The writer waits on the connection's thread once per command, and every write waits
    /// for the writer: on its own thread, its wake-ups never queue behind request tasks on
    /// the server's runtime (a wake-up from outside a runtime goes to its global queue).
    pub fn start(conn: PoolConnection<Sqlite>) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Queued>(4096);
        // Timers only: without an IO driver the runtime parks on a futex rather than an
        // epoll/eventfd pair, a cheaper wake-up for each statement's answer.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| StoreError::Backend(format!("cannot start the SQLite writer: {e}")))?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || runtime.block_on(run(conn, rx)))
            .map_err(|e| StoreError::Backend(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self { tx })
    }

    /// Runs `f` in the next batch, in a savepoint of its own, and answers once the batch is
    /// committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut WriteTx) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    {
        self.queue(Savepoint::Before, f).await
    }

    /// Like [`write`](Self::write), for a job whose statements all go through
    /// [`WriteTx::builder`] and [`WriteTx::each_statement`]: its savepoint is opened by its
    /// first command rather than by a round trip of its own. Such a job must not use the
    /// connection directly.
    pub async fn write_in_one<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut WriteTx) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    {
        self.queue(Savepoint::InFirstCommand, f).await
    }

    /// Appends one audit event in the next batch and answers once the batch is committed.
    pub async fn append(&self, draft: AuditDraft) -> Result<AuditEvent, StoreError> {
        self.queue(Savepoint::None, move |tx: &mut WriteTx| {
            let appended = tx.append(draft);
            Box::pin(async move { appended })
        })
        .await
    }

    async fn queue<T, F>(&self, savepoint: Savepoint, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut WriteTx) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    {
        let (done_tx, done_rx) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                match f(conn).await {
                    Ok(value) => {
                        let completion: Completion = Box::new(move |committed| {
                            let _ = done_tx.send(committed.map(|()| value));
                        });
                        (true, completion)
                    }
                    Err(e) => {
                        let completion: Completion = Box::new(move |_| {
                            let _ = done_tx.send(Err(e));
                        });
                        (false, completion)
                    }
                }
            })
        });
        self.tx
            .send(Queued { savepoint, job })
            .await
            .map_err(|_| stopped())?;
        // A dropped answer means the job panicked or its batch could not begin (both logged),
        // not that the writer stopped.
        done_rx.await.map_err(|_| {
            StoreError::Backend("the write was abandoned; the server log says why".into())
        })?
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
pub(crate) struct Outcome {
    /// The rows it returned.
    pub rows: Vec<SqliteRow>,
    /// The rows it inserted, changed or deleted.
    pub changes: u64,
}

/// Sends the statements built in `qb` (separated by `;`, parameters numbered across all of
/// them) as one command, and answers each statement's outcome in order; the first statement
/// that fails stops the command and is the error.
///
/// Every command is a round trip to the thread that owns the connection, so the hot writes
/// send their statements together. sqlx 0.9's SQLite driver runs each statement of a
/// prepared query and reports each one's completion; sqlx calls several statements in one
/// prepared query deprecated, so this is the one place that relies on it, and the store's
/// conformance tests (which insert records through it) fail if an upgrade drops it.
pub(crate) async fn each_statement(
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

/// As [`run_statements`], for a query of several statements built some other way.
pub(crate) async fn query_outcomes(
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
            Ok(Some(Either::Left(done))) => out.push(Outcome {
                rows: std::mem::take(&mut rows),
                changes: done.rows_affected(),
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

async fn run(conn: PoolConnection<Sqlite>, mut rx: mpsc::Receiver<Queued>) {
    let mut tx = WriteTx {
        conn,
        head: Err(StoreError::AuditUnavailable("no batch has begun".into())),
        events: Vec::new(),
        nodes: Vec::new(),
        first: FirstCommand::Idle,
    };
    while let Some(first) = rx.recv().await {
        let begun_at = std::time::Instant::now();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = tx.begin().await {
            tracing::error!(error = %e, "cannot begin a write transaction");
            // Dropping the jobs drops their answer channels: each caller gets an error.
            continue;
        }
        let mut completions = Vec::with_capacity(batch.len());
        let mut broken = false;
        // Whether the last job's savepoint is still open: a job that succeeded keeps it open
        // until the next job's savepoint replaces it in the same command, or the commit
        // releases it (each command is a round trip to the connection's thread).
        let mut open = false;
        for Queued { savepoint, job } in batch {
            if broken {
                drop(job);
                continue;
            }
            let opening = if open {
                "RELEASE job; SAVEPOINT job;"
            } else {
                "SAVEPOINT job;"
            };
            match savepoint {
                Savepoint::None => {}
                Savepoint::Before => {
                    if exec_all(&mut tx, opening).await.is_err() {
                        broken = true;
                        drop(job);
                        continue;
                    }
                    open = true;
                }
                Savepoint::InFirstCommand => tx.first = FirstCommand::Pending(opening),
            }
            let mark = tx.mark();
            // A job that panics is rolled back alone; its caller's channel is dropped (an
            // error for that caller) and the writer goes on serving the others.
            let (ok, completion) = match AssertUnwindSafe(job(&mut tx)).catch_unwind().await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::error!("a write job panicked; it was rolled back");
                    let noop: Completion = Box::new(|_| {});
                    (false, noop)
                }
            };
            // A job that sent no command never opened its savepoint, and wrote nothing (nor
            // released the one a previous job left open).
            let first = std::mem::replace(&mut tx.first, FirstCommand::Idle);
            let opened = match savepoint {
                Savepoint::None => false,
                Savepoint::Before => true,
                Savepoint::InFirstCommand => first == FirstCommand::Opened,
            };
            if first == FirstCommand::Failed {
                // Rolling back to "job" might undo an earlier job's writes: the whole batch
                // is rolled back instead, and every job in it answered with an error.
                broken = true;
            }
            if opened {
                open = true;
            }
            if !ok {
                tx.reset_to(mark);
                if opened {
                    open = false;
                    if exec_all(&mut tx, "ROLLBACK TO job; RELEASE job")
                        .await
                        .is_err()
                    {
                        broken = true;
                    }
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
            let _ = exec(&mut tx, "ROLLBACK").await;
        }
        tracing::debug!(
            jobs = completions.len(),
            micros = begun_at.elapsed().as_micros() as u64,
            committed = committed.is_ok(),
            "write batch"
        );
        for c in completions {
            c(committed.clone());
        }
    }
    // Every handle is gone. Closed here, on this thread's runtime, rather than handed back to
    // the pool by a task that this runtime would not live to run.
    if let Err(e) = tx.conn.close().await {
        tracing::warn!(error = %e, "closing the SQLite writer's connection failed");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

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
            .fetch_all(store.raw_pool())
            .await
            .expect("select")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// Jobs that open their savepoint in their first command, in one batch: one that succeeds
    /// (its savepoint left open), one that builds its first command but fails before sending
    /// it, and one that fails after its statements ran. Only the last one's row is rolled
    /// back; the unsent command must not roll back to the first job's savepoint.
    #[tokio::test]
    async fn a_failed_job_rolls_back_to_its_own_savepoint_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::SqliteStore::open(dir.path()).await.expect("open");
        query("CREATE TABLE t (n INTEGER NOT NULL)")
            .execute(store.raw_pool())
            .await
            .expect("create");
        let w = store.group.clone();
        // The next three jobs queue behind the held batch, and make the next batch together.
        let (release, blocker) = hold_writer(&w).await;
        let insert = |n: i64, fail: bool| {
            w.write_in_one(move |tx| {
                Box::pin(async move {
                    let mut qb = tx.builder();
                    qb.push("INSERT INTO t (n) VALUES (").push_bind(n).push(")");
                    tx.each_statement(qb).await?;
                    if fail {
                        return Err(StoreError::Conflict("after"));
                    }
                    Ok(())
                })
            })
        };
        let unsent = w.write_in_one(|tx| {
            Box::pin(async move {
                let _qb = tx.builder();
                Err::<(), _>(StoreError::Conflict("before"))
            })
        });
        let (kept, unsent, failed, ()) =
            tokio::join!(insert(1, false), unsent, insert(2, true), async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = release.send(());
            });
        assert_eq!(blocker.await.expect("task"), Ok(()));
        assert_eq!(kept, Ok(()));
        assert_eq!(unsent, Err(StoreError::Conflict("before")));
        assert_eq!(failed, Err(StoreError::Conflict("after")));
        assert_eq!(numbers(&store).await, [1]);
        // The writer goes on: a later batch commits as usual.
        insert(3, false).await.expect("insert");
        assert_eq!(numbers(&store).await, [1, 3]);
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
