//! The storage conformance suite: every adapter must pass every test here.
//!
//! An adapter's `tests/conformance.rs` calls [`conformance_suite!`] with an async function
//! that returns a fresh, empty store and a guard that cleans it up when dropped, or `None`
//! when the backend is not configured (the test is then skipped).

// This crate is test code: a failed expectation must panic and fail the calling test.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;

use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, ChainVerifier, Decision, merkle};
use custodian_core::operator::{ApiKey, Operator, Role};
use custodian_core::ports::{Initialization, Installation, Store, StoreError};

/// Expands to one `#[tokio::test]` per conformance test, each on a fresh store from `$fresh`.
#[macro_export]
macro_rules! conformance_suite {
    ($fresh:path) => {
        $crate::conformance_suite!(@tests $fresh;
            initialize_once, operators, api_keys, policy_versions, audit_log_and_proofs,
            failed_change_writes_no_audit_event, concurrent_appends_keep_one_chain,
            concurrent_failures_roll_back_alone);
    };
    (@tests $fresh:path; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some((_guard, store)) = $fresh().await else {
                    eprintln!("skipped: this backend is not configured");
                    return;
                };
                $crate::$name(::std::sync::Arc::new(store)).await;
            }
        )*
    };
}

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_767_225_600 + s).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn draft(action: &str) -> AuditDraft {
    AuditDraft::new(t(0), "req", "cli", action, "test", Decision::Allow)
}

fn operator(id: &str, role: Role) -> Operator {
    Operator {
        id: id.into(),
        name: format!("Operator {id}"),
        role,
        training_valid_until: Some(t(86_400)),
        disabled: false,
        created_at: t(1),
    }
}

fn key(id: &str, operator_id: &str) -> ApiKey {
    ApiKey {
        id: id.into(),
        operator_id: operator_id.into(),
        prefix: "cst_abcdefgh".into(),
        hash: format!("{id:0>64}"),
        created_at: t(2),
        expires_at: Some(t(1000)),
        revoked_at: None,
    }
}

fn init() -> Initialization {
    Initialization {
        installation: Installation {
            id: "inst-1".into(),
            log_origin: "custodian/inst-1".into(),
            created_at: t(0),
        },
        admin: operator("admin", Role::Admin),
        admin_key: key("k-admin", "admin"),
        policies: "// none\n".into(),
        audit: draft("system.init"),
    }
}

/// `initialize` writes everything once and refuses a second time.
pub async fn initialize_once(s: Arc<dyn Store>) {
    assert_eq!(s.installation().await, Ok(None));
    let ev = s.initialize(init()).await.expect("first initialize");
    assert_eq!(ev.seq, 0);
    let inst = s.installation().await.expect("read").expect("present");
    assert_eq!(inst.log_origin, "custodian/inst-1");
    assert_eq!(inst.created_at, t(0));
    assert_eq!(
        s.initialize(init()).await,
        Err(StoreError::AlreadyInitialized)
    );
    assert_eq!(s.audit_head().await.expect("head").size, 1);
    assert_eq!(s.policy_version().await, Ok(1));
    let (k, op) = s
        .find_api_key(&key("k-admin", "admin").hash)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(k, key("k-admin", "admin"));
    assert_eq!(op, operator("admin", Role::Admin));
}

/// Operators are created, listed, read and disabled; ids are unique.
pub async fn operators(s: Arc<dyn Store>) {
    s.initialize(init()).await.expect("init");
    let a = operator("op-a", Role::Support);
    s.create_operator(&a, draft("operator.write"))
        .await
        .expect("create");
    assert_eq!(
        s.create_operator(&a, draft("operator.write")).await,
        Err(StoreError::Conflict("unique"))
    );
    let mut b = operator("op-b", Role::Auditor);
    b.training_valid_until = None;
    s.create_operator(&b, draft("operator.write"))
        .await
        .expect("create");
    let all = s.list_operators().await.expect("list");
    assert_eq!(all.len(), 3);
    assert_eq!(s.get_operator("op-b").await, Ok(Some(b.clone())));
    assert_eq!(s.get_operator("nobody").await, Ok(None));
    s.set_operator_disabled("op-b", true, draft("operator.write"))
        .await
        .expect("disable");
    assert!(
        s.get_operator("op-b")
            .await
            .expect("get")
            .expect("some")
            .disabled
    );
    assert_eq!(
        s.set_operator_disabled("nobody", true, draft("operator.write"))
            .await,
        Err(StoreError::NotFound)
    );
}

/// Keys are found by hash with their operator, listed, revoked once; unknown operators refused.
pub async fn api_keys(s: Arc<dyn Store>) {
    s.initialize(init()).await.expect("init");
    s.create_operator(&operator("op-a", Role::Engineer), draft("operator.write"))
        .await
        .expect("op");
    let k = key("k1", "op-a");
    s.create_api_key(&k, draft("operator.write"))
        .await
        .expect("key");
    assert_eq!(
        s.create_api_key(&key("k2", "ghost"), draft("operator.write"))
            .await,
        Err(StoreError::Conflict("reference"))
    );
    let (found, op) = s
        .find_api_key(&k.hash)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(found, k);
    assert_eq!(op.id, "op-a");
    assert_eq!(s.find_api_key(&"f".repeat(64)).await, Ok(None));
    assert_eq!(s.list_api_keys(Some("op-a")).await.expect("list").len(), 1);
    assert_eq!(s.list_api_keys(None).await.expect("list").len(), 2);
    s.revoke_api_key("k1", t(5), draft("operator.write"))
        .await
        .expect("revoke");
    assert_eq!(
        s.revoke_api_key("k1", t(6), draft("operator.write")).await,
        Err(StoreError::NotFound)
    );
    let (found, _) = s
        .find_api_key(&k.hash)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(found.revoked_at, Some(t(5)));
}

/// Every save makes a new version; the newest is current.
pub async fn policy_versions(s: Arc<dyn Store>) {
    s.initialize(init()).await.expect("init");
    let v2 = s
        .put_policy_set("// two\n", t(10), draft("policy.write"))
        .await
        .expect("put");
    assert_eq!(v2.version, 2);
    let v3 = s
        .put_policy_set("// three\n", t(11), draft("policy.write"))
        .await
        .expect("put");
    assert_eq!(v3.version, 3);
    let cur = s.policy_set().await.expect("get").expect("some");
    assert_eq!(cur, v3);
    assert_eq!(cur.updated_by, "cli");
    assert_eq!(s.policy_version().await, Ok(3));
}

/// Events read back exactly, the chain verifies, and stored nodes give the head's root and
/// valid RFC 9162 proofs.
pub async fn audit_log_and_proofs(s: Arc<dyn Store>) {
    let mut written = Vec::new();
    for i in 0..21 {
        let mut d = draft(&format!("test.{i}"));
        if i % 3 == 0 {
            d.subject = Some(format!("subj-{i}"));
            d.fields = vec!["email".into(), "phone".into()];
            d.purpose = Some("support".into());
            d.decision = Decision::Deny;
        }
        written.push(s.append_audit(d).await.expect("append"));
    }
    let head = s.audit_head().await.expect("head");
    assert_eq!(head.size, 21);
    let read = s.audit_events(0, 1000).await.expect("events");
    assert_eq!(read, written);
    assert_eq!(s.audit_events(20, 10).await.expect("tail").len(), 1);
    let mut v = ChainVerifier::new();
    for e in &read {
        v.push(e).expect("chain verifies");
    }
    assert_eq!(v.head(), &head);
    for size in [1u64, 7, 16, 21] {
        let nodes = s
            .audit_nodes(&merkle::nodes_for_root(size))
            .await
            .expect("nodes");
        let leaves: Vec<_> = read[..size as usize].iter().map(|e| e.leaf_hash).collect();
        assert_eq!(merkle::root_at(&nodes, size), Ok(merkle::root_of(&leaves)));
    }
    let root = head.root();
    for i in [0u64, 5, 20] {
        let nodes = s
            .audit_nodes(&merkle::nodes_for_inclusion(i, 21))
            .await
            .expect("nodes");
        let proof = merkle::inclusion_proof(&nodes, i, 21).expect("proof");
        assert!(merkle::verify_inclusion(
            i,
            21,
            &read[i as usize].leaf_hash,
            &proof,
            &root
        ));
    }
    let nodes = s
        .audit_nodes(&merkle::nodes_for_consistency(13, 21))
        .await
        .expect("nodes");
    let proof = merkle::consistency_proof(&nodes, 13, 21).expect("proof");
    let leaves13: Vec<_> = read[..13].iter().map(|e| e.leaf_hash).collect();
    assert!(merkle::verify_consistency(
        13,
        21,
        &merkle::root_of(&leaves13),
        &root,
        &proof
    ));
    let none: HashMap<_, _> = s.audit_nodes(&[(40, 0)]).await.expect("nodes");
    assert!(none.is_empty());
}

/// A change that fails leaves no audit event behind, and the log stays whole.
pub async fn failed_change_writes_no_audit_event(s: Arc<dyn Store>) {
    s.initialize(init()).await.expect("init");
    let before = s.audit_head().await.expect("head");
    assert!(
        s.create_operator(&operator("admin", Role::Admin), draft("operator.write"))
            .await
            .is_err()
    );
    assert!(
        s.revoke_api_key("ghost", t(1), draft("operator.write"))
            .await
            .is_err()
    );
    assert_eq!(s.audit_head().await.expect("head"), before);
}

/// Many concurrent appenders build one gap-free, verifiable chain.
pub async fn concurrent_appends_keep_one_chain(s: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    s.append_audit(draft(&format!("w{w}.{i}")))
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for r in futures::future::join_all(tasks).await {
        r.expect("task");
    }
    let events = s.audit_events(0, 1000).await.expect("events");
    assert_eq!(events.len(), 200);
    let mut v = ChainVerifier::new();
    for e in &events {
        v.push(e).expect("verifies");
    }
    assert_eq!(v.head(), &s.audit_head().await.expect("head"));
}

/// Concurrent changes, some of which fail: each failure takes back only its own change and
/// audit event, and every success is kept with its event.
pub async fn concurrent_failures_roll_back_alone(s: Arc<dyn Store>) {
    s.initialize(init()).await.expect("init");
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                // Every third write reuses the admin's id and must fail.
                let id = if i % 3 == 0 {
                    "admin".to_owned()
                } else {
                    format!("op-{i}")
                };
                s.create_operator(
                    &operator(&id, Role::Support),
                    draft(&format!("operator.write.{i}")),
                )
                .await
                .map(|_| i)
            })
        })
        .collect();
    let mut ok = Vec::new();
    for r in futures::future::join_all(tasks).await {
        match r.expect("task") {
            Ok(i) => ok.push(i),
            Err(e) => assert_eq!(e, StoreError::Conflict("unique")),
        }
    }
    assert_eq!(ok.len(), 26);
    assert_eq!(s.list_operators().await.expect("ops").len(), 27);
    let events = s.audit_events(0, 1000).await.expect("events");
    assert_eq!(
        events.len(),
        27,
        "one event per successful change, plus init"
    );
    for i in &ok {
        assert!(
            events
                .iter()
                .any(|e| e.draft.action == format!("operator.write.{i}"))
        );
    }
    let mut v = ChainVerifier::new();
    for e in &events {
        v.push(e).expect("verifies");
    }
}
