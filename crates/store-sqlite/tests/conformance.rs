//! The shared storage conformance suite, run against SQLite.

// Test code: failed expectations panic, and tests may read the wall clock.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use custodian_store_sqlite::SqliteStore;

async fn fresh() -> Option<(tempfile::TempDir, SqliteStore)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path()).await.expect("open store");
    Some((dir, store))
}

custodian_store_tests::conformance_suite!(fresh);
