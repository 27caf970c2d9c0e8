//! Durable audit appends per second on a store, beside the raw durable insert rate of the
//! same database measured in the same run.
//!
//! Usage: `bench-appends sqlite|postgres CONCURRENCY SECONDS` (PostgreSQL from
//! `CUSTODIAN_BENCH_PG_URL`). Prints one JSON line per mode.

#![allow(clippy::disallowed_methods)] // a benchmark measures wall time

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, Decision};
use custodian_core::ports::Store;

enum Db {
    Sqlite(custodian_store_sqlite::SqliteStore),
    Postgres(custodian_store_postgres::PostgresStore),
}

impl Db {
    fn store(&self) -> Arc<dyn Store> {
        match self {
            Db::Sqlite(s) => Arc::new(s.clone()),
            Db::Postgres(s) => Arc::new(s.clone()),
        }
    }

    async fn raw_insert(&self, i: i64) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(s) => {
                sqlx::query("INSERT INTO bench_raw (n, payload) VALUES (?, ?)")
                    .bind(i)
                    .bind(vec![7u8; 96])
                    .execute(s.raw_pool())
                    .await?;
            }
            Db::Postgres(s) => {
                sqlx::query("INSERT INTO bench_raw (n, payload) VALUES ($1, $2)")
                    .bind(i)
                    .bind(vec![7u8; 96])
                    .execute(s.raw_pool())
                    .await?;
            }
        }
        Ok(())
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn drive<F, Fut>(
    concurrency: usize,
    seconds: u64,
    op: F,
) -> anyhow::Result<(u64, f64, u64, u64)>
where
    F: Fn(i64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|w| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut i = 0i64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    op(w as i64 * 10_000_000 + i).await?;
                    lat.push(t.elapsed().as_micros() as u64);
                    i += 1;
                }
                anyhow::Ok(lat)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in futures::future::join_all(tasks).await {
        all.extend(t??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    Ok((
        all.len() as u64,
        elapsed,
        percentile(&all, 0.5),
        percentile(&all, 0.99),
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let backend = args
        .get(1)
        .map(String::as_str)
        .unwrap_or("sqlite")
        .to_owned();
    let concurrency: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(32);
    let seconds: u64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(5);
    let tmp = tempfile::tempdir()?;
    let db = match backend.as_str() {
        "sqlite" => Db::Sqlite(custodian_store_sqlite::SqliteStore::open(tmp.path()).await?),
        "postgres" => {
            let url =
                std::env::var("CUSTODIAN_BENCH_PG_URL").context("set CUSTODIAN_BENCH_PG_URL")?;
            let schema = format!("bench_{}", std::process::id());
            Db::Postgres(
                custodian_store_postgres::PostgresStore::connect_in_schema(&url, &schema).await?,
            )
        }
        other => anyhow::bail!("unknown backend {other}"),
    };
    let create = "CREATE TABLE bench_raw (n BIGINT PRIMARY KEY, payload BLOB NOT NULL)";
    match &db {
        Db::Sqlite(s) => sqlx::query(create)
            .execute(s.raw_pool())
            .await
            .map(|_| ())?,
        Db::Postgres(s) => {
            sqlx::query("CREATE TABLE bench_raw (n BIGINT PRIMARY KEY, payload BYTEA NOT NULL)")
                .execute(s.raw_pool())
                .await
                .map(|_| ())?
        }
    }
    let db = Arc::new(db);
    let d = db.clone();
    let (n, secs, p50, p99) = drive(concurrency, seconds, move |i| {
        let d = d.clone();
        async move { d.raw_insert(i).await }
    })
    .await?;
    println!(
        "{{\"mode\":\"raw_insert\",\"backend\":\"{backend}\",\"concurrency\":{concurrency},\"ops\":{n},\"seconds\":{secs:.3},\"per_sec\":{:.1},\"p50_us\":{p50},\"p99_us\":{p99}}}",
        n as f64 / secs
    );
    let store = db.store();
    let (n, secs, p50, p99) = drive(concurrency, seconds, move |i| {
        let store = store.clone();
        async move {
            let draft = AuditDraft::new(
                Timestamp::now(),
                format!("bench-{i}"),
                "operator:0192bench",
                "data.reveal",
                "field:customers.email",
                Decision::Allow,
            )
            .with_purpose(Some("support"));
            store.append_audit(draft).await?;
            Ok(())
        }
    })
    .await?;
    println!(
        "{{\"mode\":\"audit_append\",\"backend\":\"{backend}\",\"concurrency\":{concurrency},\"ops\":{n},\"seconds\":{secs:.3},\"per_sec\":{:.1},\"p50_us\":{p50},\"p99_us\":{p99}}}",
        n as f64 / secs
    );
    if let Db::Postgres(s) = db.as_ref() {
        let schema = format!("bench_{}", std::process::id());
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(s.raw_pool())
            .await?;
    }
    Ok(())
}
