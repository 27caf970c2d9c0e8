//! The shared storage conformance suite, run against PostgreSQL.
//!
//! Needs `CUSTODIAN_TEST_PG_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`); each test
//! gets a schema of its own, dropped afterwards. Without the variable the tests are skipped,
//! except under CI, where they fail.

// Test code: failed expectations panic, and tests may read the wall clock.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::sync::atomic::{AtomicU32, Ordering};

use custodian_store_postgres::PostgresStore;

/// Drops the test's schema when the test ends.
struct SchemaGuard {
    url: String,
    schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {schema} CASCADE"
                    )))
                    .execute(&pool)
                    .await;
                }
            });
        })
        .join();
    }
}

async fn fresh() -> Option<(SchemaGuard, PostgresStore)> {
    static N: AtomicU32 = AtomicU32::new(0);
    let url = match std::env::var("CUSTODIAN_TEST_PG_URL") {
        Ok(u) => u,
        Err(_) if std::env::var("CI").is_ok() => {
            panic!("CUSTODIAN_TEST_PG_URL must be set under CI")
        }
        Err(_) => return None,
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let schema = format!(
        "ct_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos
    );
    let store = PostgresStore::connect_in_schema(&url, &schema)
        .await
        .expect("connect to PostgreSQL");
    Some((SchemaGuard { url, schema }, store))
}

custodian_store_tests::conformance_suite!(fresh);

/// An append that PostgreSQL refuses (text holding a NUL byte) fails and commits nothing, and
/// the grouped appender goes on serving the appends after it; sent among many concurrent
/// appends (grouped with some of them, or not), it fails alone, and every other one is
/// answered with its own place in one chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouped_appends_survive_a_failed_group() {
    use custodian_core::Timestamp;
    use custodian_core::audit::{AuditDraft, ChainVerifier, Decision};
    use custodian_core::ports::{Store, StoreError};

    let Some((_guard, store)) = fresh().await else {
        eprintln!("skipped: this backend is not configured");
        return;
    };
    let draft = |action: &str, request: &str| {
        AuditDraft::new(
            Timestamp::UNIX_EPOCH,
            request,
            "cli",
            action,
            "test",
            Decision::Allow,
        )
    };
    store.append_audit(draft("first", "req")).await.unwrap();
    let refused = store.append_audit(draft("refused", "req\0nul")).await;
    assert!(
        matches!(refused, Err(StoreError::AuditUnavailable(_))),
        "{refused:?}"
    );
    assert_eq!(
        store.audit_head().await.unwrap().size,
        1,
        "nothing committed"
    );

    let store = std::sync::Arc::new(store);
    let tasks: Vec<_> = (0..65)
        .map(|i| {
            let s = store.clone();
            let request = if i == 32 { "bad\0req" } else { "req" };
            tokio::spawn(async move { s.append_audit(draft(&format!("c{i}"), request)).await })
        })
        .collect();
    let mut seqs: Vec<u64> = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let answer = t.await.unwrap();
        if i == 32 {
            assert!(
                matches!(answer, Err(StoreError::AuditUnavailable(_))),
                "{answer:?}"
            );
        } else {
            seqs.push(answer.unwrap().seq);
        }
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=64).collect::<Vec<u64>>(),
        "each answered with its own seq"
    );
    let events = store.audit_events(0, 1000).await.unwrap();
    assert_eq!(events.len(), 65);
    let mut v = ChainVerifier::new();
    for e in &events {
        v.push(e).unwrap();
    }
    assert_eq!(v.head(), &store.audit_head().await.unwrap());
}

/// Collections are not cached over PostgreSQL: a schema change made by another process is
/// what the next request of this one validates and authorizes against (a cached schema could
/// let a record be written without the blind index of a field made searchable meanwhile, or
/// take a re-declaration of the old schema for "unchanged").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_schema_change_is_seen_at_once() {
    use custodian_core::Timestamp;
    use custodian_core::audit::{AuditDraft, Decision};
    use custodian_core::ports::Store;
    use custodian_core::vault::schema::{CollectionSchema, FieldSpec, Sensitivity, Tokenization};
    use custodian_core::vault::value::FieldType;

    let Some((guard, a)) = fresh().await else {
        return;
    };
    let b = PostgresStore::connect_in_schema(&guard.url, &guard.schema)
        .await
        .expect("a second process");
    let schema = |searchable: bool| CollectionSchema {
        name: "customers".into(),
        fields: vec![FieldSpec {
            name: "email".into(),
            field_type: FieldType::Email,
            category: "user.contact.email".into(),
            sensitivity: Sensitivity::Medium,
            required: false,
            searchable,
            tokenization: Tokenization::None,
        }],
    };
    let draft = || {
        AuditDraft::new(
            Timestamp::UNIX_EPOCH,
            "req",
            "cli",
            "collection.write",
            "test",
            Decision::Allow,
        )
    };
    let searchable = |s: &PostgresStore| {
        let s = s.clone();
        async move {
            s.get_collection("customers")
                .await
                .expect("get")
                .map(|c| (c.version, c.schema.fields[0].searchable))
        }
    };
    assert_eq!(searchable(&b).await, None);
    a.put_collection(&schema(false), None, Timestamp::UNIX_EPOCH, draft())
        .await
        .expect("declare");
    assert_eq!(searchable(&b).await, Some((1, false)));
    a.put_collection(&schema(true), Some(1), Timestamp::UNIX_EPOCH, draft())
        .await
        .expect("change");
    assert_eq!(
        searchable(&b).await,
        Some((2, true)),
        "at once, not a second later"
    );
}
