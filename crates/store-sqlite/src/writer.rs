//! Group commit: one task owns the write connection and commits concurrent writes together.
//!
//! Each write is a job that runs inside its own SAVEPOINT of a shared `BEGIN IMMEDIATE`
//! transaction; a job that fails is rolled back to its savepoint alone. The transaction is
//! committed (one fsync for the whole batch) before any job of the batch is answered, so an
//! acknowledged write is as durable as with one transaction per write.

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Sqlite, query};
use tokio::sync::{mpsc, oneshot};

use custodian_core::ports::StoreError;

/// The most jobs committed together.
const MAX_BATCH: usize = 512;

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type Job =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, (bool, Completion)> + Send>;

/// A handle that queues writes for the writer task.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

fn stopped() -> StoreError {
    StoreError::Backend("the SQLite writer has stopped".into())
}

impl Writer {
    /// Starts the writer task on `conn`.
    pub fn start(conn: PoolConnection<Sqlite>) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        tokio::spawn(run(conn, rx));
        Self { tx }
    }

    /// Runs `f` in the next batch and answers once the batch is committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
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
        self.tx.send(job).await.map_err(|_| stopped())?;
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

async fn run(mut conn: PoolConnection<Sqlite>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = exec(&mut conn, "BEGIN IMMEDIATE").await {
            tracing::error!(error = %e, "cannot begin a write transaction");
            // Dropping the jobs drops their answer channels: each caller gets an error.
            continue;
        }
        let mut completions = Vec::with_capacity(batch.len());
        let mut broken = false;
        for job in batch {
            if broken {
                drop(job);
                continue;
            }
            if exec(&mut conn, "SAVEPOINT job").await.is_err() {
                broken = true;
                drop(job);
                continue;
            }
            // A job that panics is rolled back alone; its caller's channel is dropped (an
            // error for that caller) and the writer goes on serving the others.
            let (ok, completion) = match AssertUnwindSafe(job(&mut conn)).catch_unwind().await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::error!("a write job panicked; it was rolled back");
                    let noop: Completion = Box::new(|_| {});
                    (false, noop)
                }
            };
            let end = if ok {
                exec(&mut conn, "RELEASE job").await
            } else {
                match exec(&mut conn, "ROLLBACK TO job").await {
                    Ok(()) => exec(&mut conn, "RELEASE job").await,
                    Err(e) => Err(e),
                }
            };
            if end.is_err() {
                broken = true;
            }
            completions.push(completion);
        }
        let committed = if broken {
            Err(StoreError::Backend(
                "a write transaction could not be completed".into(),
            ))
        } else {
            exec(&mut conn, "COMMIT").await
        };
        if committed.is_err() {
            let _ = exec(&mut conn, "ROLLBACK").await;
        }
        for c in completions {
            c(committed.clone());
        }
    }
}
