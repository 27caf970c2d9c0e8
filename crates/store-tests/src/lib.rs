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
use custodian_core::vault::record::{
    Cell, IndexEntry, LimitKind, ProcessingLimit, Record, RecordForRead, Rewrap, SealedUnder,
    SubjectKey, TokenRecord,
};
use custodian_core::vault::schema::{CollectionSchema, FieldSpec, Sensitivity, Tokenization};
use custodian_core::vault::value::FieldType;

/// Expands to one `#[tokio::test]` per conformance test, each on a fresh store from `$fresh`.
#[macro_export]
macro_rules! conformance_suite {
    ($fresh:path) => {
        $crate::conformance_suite!(@tests $fresh;
            initialize_once, operators, api_keys, policy_versions, audit_log_and_proofs,
            failed_change_writes_no_audit_event, concurrent_appends_keep_one_chain,
            concurrent_failures_roll_back_alone, vault_collections, vault_records_and_search,
            vault_subject_keys_are_race_safe, concurrent_vault_creates_fail_alone, vault_erasure,
            vault_writes_need_the_very_key, vault_reads_racing_an_erasure,
            vault_rectification_tokens_and_limits, consent_ledger, consent_outbox,
            rights_requests, datasets_and_tasks, map_entries, scan_proposals,
            retention_holds_and_jobs, training_register, incident_register,
            evidence_bundles_and_figures, register_entries);
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
        training_valid_until: None,
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
    let b = operator("op-b", Role::Auditor);
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

/// Concurrent changes, some of which fail, among plain audit appends: each failure takes back
/// only its own change and audit event, and every success is kept with its event.
pub async fn concurrent_failures_roll_back_alone(s: Arc<dyn Store>) {
    s.initialize(init()).await.expect("init");
    let appends: Vec<_> = (0..20)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.append_audit(draft(&format!("plain.{i}")))
                    .await
                    .expect("append")
            })
        })
        .collect();
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
    for r in futures::future::join_all(appends).await {
        r.expect("task");
    }
    assert_eq!(s.list_operators().await.expect("ops").len(), 27);
    let events = s.audit_events(0, 1000).await.expect("events");
    assert_eq!(
        events.len(),
        47,
        "one event per successful change and per plain append, plus init"
    );
    for i in 0..20 {
        let action = format!("plain.{i}");
        assert!(events.iter().any(|e| e.draft.action == action));
    }
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

fn collection(name: &str) -> CollectionSchema {
    let f = |n: &str, t, c: &str, searchable| FieldSpec {
        name: n.into(),
        field_type: t,
        category: c.into(),
        sensitivity: Sensitivity::Medium,
        required: false,
        searchable,
        tokenization: Tokenization::None,
    };
    CollectionSchema {
        name: name.into(),
        fields: vec![
            f("email", FieldType::Email, "user.contact.email", true),
            f(
                "phone",
                FieldType::Phone,
                "user.contact.phone_number",
                false,
            ),
        ],
    }
}

fn subject_key(subject: &str) -> SubjectKey {
    SubjectKey {
        subject_id: subject.into(),
        key_version: 1,
        kek_id: "kek-1".into(),
        wrapped_dek: vec![9; 60],
        created_at: t(3),
    }
}

/// A write sealed under `subject`'s first key (the one [`subject_key`] makes), stored with it.
fn first(subject: &str) -> SealedUnder {
    SealedUnder::New(subject_key(subject))
}

/// A write sealed under the key [`subject_key`] makes for `subject`, which it must hold.
fn held(subject: &str) -> SealedUnder {
    SealedUnder::Held(subject_key(subject))
}

/// What a read of record `id` of `customers` needs, which must be there.
async fn read_of(s: &dyn Store, id: &str) -> RecordForRead {
    s.record_for_read("customers", id)
        .await
        .expect("read")
        .expect("some")
}

fn record(id: &str, collection: &str, subject: &str) -> Record {
    Record {
        id: id.into(),
        collection: collection.into(),
        subject_id: subject.into(),
        key_version: 1,
        cells: vec![
            Cell {
                field: "email".into(),
                ciphertext: format!("sealed-email-{id}").into_bytes(),
            },
            Cell {
                field: "phone".into(),
                ciphertext: format!("sealed-phone-{id}").into_bytes(),
            },
        ],
        created_at: t(4),
        updated_at: t(4),
    }
}

fn index(v: u8) -> Vec<IndexEntry> {
    vec![IndexEntry {
        field: "email".into(),
        index: vec![v; 16],
    }]
}

/// Collections are declared once, then changed only from the version that was read.
pub async fn vault_collections(s: Arc<dyn Store>) {
    let c = collection("customers");
    // Read before it exists, then after each change: a store that remembers collections must
    // not answer from what it read before.
    assert_eq!(s.get_collection("customers").await, Ok(None));
    assert_eq!(
        s.put_collection(&c, None, t(1), draft("collection.write"))
            .await,
        Ok(1)
    );
    assert_eq!(
        s.put_collection(&c, None, t(1), draft("collection.write"))
            .await,
        Err(StoreError::Conflict("collection_exists"))
    );
    let first = s
        .get_collection("customers")
        .await
        .expect("get")
        .expect("declared");
    assert_eq!((first.schema.clone(), first.version), (c.clone(), 1));
    let mut changed = c.clone();
    changed.fields[1].sensitivity = Sensitivity::High;
    assert_eq!(
        s.put_collection(&changed, Some(1), t(2), draft("collection.write"))
            .await,
        Ok(2)
    );
    assert_eq!(
        s.put_collection(&changed, Some(1), t(2), draft("collection.write"))
            .await,
        Err(StoreError::Conflict("version")),
        "a change from a stale version is refused"
    );
    let stored = s
        .get_collection("customers")
        .await
        .expect("get")
        .expect("some");
    assert_eq!(stored.schema, changed);
    assert_eq!(
        (stored.version, stored.created_at, stored.updated_at),
        (2, t(1), t(2))
    );
    s.put_collection(&collection("leads"), None, t(1), draft("collection.write"))
        .await
        .expect("put");
    let names: Vec<String> = s
        .list_collections()
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.schema.name)
        .collect();
    assert_eq!(names, ["customers", "leads"]);
    assert_eq!(s.get_collection("nope").await, Ok(None));
    assert_eq!(s.collection_has_records("customers").await, Ok(false));
    assert_eq!(
        s.audit_head().await.expect("head").size,
        3,
        "failed changes leave no event"
    );
}

/// Records keep their sealed cells; blind indexes find them; deletion removes both.
pub async fn vault_records_and_search(s: Arc<dyn Store>) {
    for c in ["customers", "leads"] {
        s.put_collection(&collection(c), None, t(1), draft("collection.write"))
            .await
            .expect("put");
    }
    let k = subject_key("subj-1");
    s.insert_record(
        &record("r1", "customers", "subj-1"),
        &SealedUnder::New(k.clone()),
        &index(1),
        &[],
        draft("data.write"),
    )
    .await
    .expect("first");
    s.insert_record(
        &record("r2", "customers", "subj-1"),
        &held("subj-1"),
        &index(1),
        &[],
        draft("data.write"),
    )
    .await
    .expect("second");
    s.insert_record(
        &record("r3", "leads", "subj-1"),
        &held("subj-1"),
        &index(1),
        &[],
        draft("data.write"),
    )
    .await
    .expect("third");
    s.insert_record(
        &record("r4", "customers", "subj-2"),
        &first("subj-2"),
        &index(2),
        &[],
        draft("data.write"),
    )
    .await
    .expect("other subject");
    assert_eq!(s.subject_key("subj-1").await, Ok(Some(k)));
    assert_eq!(s.collection_has_records("customers").await, Ok(true));
    assert_eq!(
        s.get_record("customers", "r1").await,
        Ok(Some(record("r1", "customers", "subj-1")))
    );
    assert_eq!(
        s.get_record("leads", "r1").await,
        Ok(None),
        "records are found in their own collection only"
    );

    let found = s
        .find_records("customers", "email", &[1; 16], None, 10)
        .await
        .expect("find");
    assert_eq!(
        found.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["r1", "r2"]
    );
    assert_eq!(found[1], record("r2", "customers", "subj-1"));
    let page = s
        .find_records("customers", "email", &[1; 16], Some("r1"), 10)
        .await
        .expect("page");
    assert_eq!(
        page.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["r2"]
    );
    assert_eq!(
        s.find_records("customers", "email", &[1; 16], None, 1)
            .await
            .expect("limit")
            .len(),
        1
    );
    assert!(
        s.find_records("customers", "phone", &[1; 16], None, 10)
            .await
            .expect("find")
            .is_empty()
    );
    let all = s.subject_records("subj-1").await.expect("subject");
    assert_eq!(
        all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["r1", "r2", "r3"]
    );

    s.delete_record("customers", "r1", draft("data.delete"))
        .await
        .expect("delete");
    assert_eq!(s.get_record("customers", "r1").await, Ok(None));
    assert_eq!(
        s.find_records("customers", "email", &[1; 16], None, 10)
            .await
            .expect("find")
            .len(),
        1
    );
    assert_eq!(
        s.delete_record("customers", "r1", draft("data.delete"))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.delete_record("leads", "r2", draft("data.delete")).await,
        Err(StoreError::NotFound)
    );
    // What a read needs: the cells in field order whatever order they were written in, none
    // for a record without cells, the subject's key, no limits.
    let mut shuffled = record("r6", "customers", "subj-2");
    shuffled.cells.reverse();
    let mut bare = record("r7", "customers", "subj-2");
    bare.cells.clear();
    for r in [&shuffled, &bare] {
        s.insert_record(r, &held("subj-2"), &[], &[], draft("data.write"))
            .await
            .expect("insert");
    }
    for want in [record("r6", "customers", "subj-2"), bare.clone()] {
        let read = read_of(&*s, &want.id).await;
        assert_eq!(read.record, want);
        assert_eq!(read.key, Some(subject_key("subj-2")));
        assert!(read.limits.is_empty());
        assert_eq!(s.get_record("customers", &want.id).await, Ok(Some(want)));
    }
    let mut v = ChainVerifier::new();
    for e in &s.audit_events(0, 1000).await.expect("events") {
        v.push(e).expect("verifies");
    }
}

/// Two first writes for one subject cannot both store a key: the loser is told to retry.
pub async fn vault_subject_keys_are_race_safe(s: Arc<dyn Store>) {
    s.put_collection(
        &collection("customers"),
        None,
        t(1),
        draft("collection.write"),
    )
    .await
    .expect("put");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut k = subject_key("subj-race");
                k.wrapped_dek = vec![i as u8; 60];
                s.insert_record(
                    &record(&format!("r{i}"), "customers", "subj-race"),
                    &SealedUnder::New(k.clone()),
                    &[],
                    &[],
                    draft("data.write"),
                )
                .await
            })
        })
        .collect();
    let mut won = 0;
    for r in futures::future::join_all(tasks).await {
        match r.expect("task") {
            Ok(_) => won += 1,
            Err(e) => assert_eq!(e, StoreError::Conflict("subject_key")),
        }
    }
    assert_eq!(won, 1, "exactly one first write stores its key");
    assert_eq!(
        s.subject_records("subj-race").await.expect("records").len(),
        1,
        "losers wrote nothing"
    );
    // A record without a key of its version is refused.
    assert_eq!(
        s.insert_record(
            &record("rx", "customers", "subj-none"),
            &held("subj-none"),
            &[],
            &[],
            draft("data.write")
        )
        .await,
        Err(StoreError::Conflict("subject_key"))
    );
}

/// Many creates at once, among plain appends (a backend may commit them together): new
/// subjects, a subject whose key is stored, a subject two creates bring a first key for, a
/// new key for a subject that has one, a record id used twice, a stale key version. Each
/// refused create writes nothing and fails with the error it would have had alone; every other
/// one is stored whole (record, cells, index, token) with its event, and the log stays one
/// verifiable chain.
pub async fn concurrent_vault_creates_fail_alone(s: Arc<dyn Store>) {
    s.put_collection(
        &collection("customers"),
        None,
        t(1),
        draft("collection.write"),
    )
    .await
    .expect("put");
    s.insert_record(
        &record("held-0", "customers", "subj-held"),
        &first("subj-held"),
        &[],
        &[],
        draft("data.write.held"),
    )
    .await
    .expect("first record of subj-held");
    let mut tasks = Vec::new();
    for i in 0..60u8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let (id, subject, new_key, version) = match i % 6 {
                // A subject with a stored key, written under it.
                1 => (format!("held-{i}"), "subj-held".to_owned(), false, 1),
                // A stored key, but not of this version: refused.
                2 if i == 2 => (format!("stale-{i}"), "subj-held".to_owned(), false, 2),
                // The id of a record that exists: refused.
                3 if i == 3 => ("held-0".to_owned(), format!("subj-{i}"), true, 1),
                // Two first keys for one subject: one of the two is refused.
                4 if i < 12 => (format!("pair-{i}"), "subj-pair".to_owned(), true, 1),
                // A new key for a subject that has one (a server that has not seen it yet):
                // refused.
                5 if i == 5 => (format!("rekeyed-{i}"), "subj-held".to_owned(), true, 1),
                _ => (format!("new-{i}"), format!("subj-{i}"), true, 1),
            };
            let mut r = record(&id, "customers", &subject);
            r.key_version = version;
            let key = if new_key {
                first(&subject)
            } else {
                SealedUnder::Held(SubjectKey {
                    key_version: version,
                    ..subject_key(&subject)
                })
            };
            let tok = token(&format!("tok-{i}"), &subject);
            s.insert_record(
                &r,
                &key,
                &index(i),
                &[tok],
                draft(&format!("data.write.{i}")),
            )
            .await
            .map(|_| (i, id))
        }));
    }
    let appends: Vec<_> = (0..20)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.append_audit(draft(&format!("plain.{i}"))).await })
        })
        .collect();
    let mut stored = Vec::new();
    let mut refused = Vec::new();
    for r in futures::future::join_all(tasks).await {
        match r.expect("task") {
            Ok(ok) => stored.push(ok),
            Err(e) => refused.push(e),
        }
    }
    refused.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        refused,
        [
            StoreError::Conflict("subject_key"),
            StoreError::Conflict("subject_key"),
            StoreError::Conflict("subject_key"),
            StoreError::Conflict("unique"),
        ],
        "the stale version, one of the pair, the second key, the reused id"
    );
    assert_eq!(stored.len(), 56);
    for r in futures::future::join_all(appends).await {
        r.expect("task").expect("append");
    }
    for (i, id) in &stored {
        let read = read_of(&*s, id).await;
        assert_eq!(
            read.record.cells,
            record(id, "customers", "x").cells,
            "{id}"
        );
        let found = s
            .find_records("customers", "email", &index(*i)[0].index, None, 10)
            .await
            .expect("find");
        assert!(
            found.iter().any(|r| &r.id == id),
            "{id} is found by its index"
        );
        assert_eq!(
            s.get_token(&format!("tok-{i}")).await.expect("token").len(),
            1,
            "{id}'s token"
        );
    }
    assert_eq!(
        s.get_record("customers", "stale-2").await.expect("get"),
        None
    );
    assert_eq!(
        s.get_record("customers", "held-0")
            .await
            .expect("get")
            .map(|r| r.subject_id),
        Some("subj-held".to_owned()),
        "the reused id still holds the first record"
    );
    assert_eq!(
        s.subject_key("subj-3").await.expect("key"),
        None,
        "nor its key"
    );
    let pair = s.subject_records("subj-pair").await.expect("records");
    assert_eq!(pair.len(), 1, "one of the pair");
    for i in [2, 3, 4, 5, 10] {
        let tok = format!("tok-{i}");
        let kept = s.get_token(&tok).await.expect("token").len();
        let of_pair_winner = pair[0].id == format!("pair-{i}");
        assert_eq!(kept, usize::from(of_pair_winner), "{tok}");
    }
    let events = s.audit_events(0, 1000).await.expect("events");
    // The collection, the first record of subj-held, the stored creates, the plain appends.
    assert_eq!(events.len(), 2 + 56 + 20);
    for (i, _) in &stored {
        let action = format!("data.write.{i}");
        assert!(events.iter().any(|e| e.draft.action == action), "{action}");
    }
    for i in [2, 3, 5] {
        let action = format!("data.write.{i}");
        assert!(events.iter().all(|e| e.draft.action != action), "{action}");
    }
    let mut v = ChainVerifier::new();
    for e in &events {
        v.push(e).expect("verifies");
    }
}

/// Erasure destroys the key, the records and the indexes, and leaves a pseudonym in the ledger.
pub async fn vault_erasure(s: Arc<dyn Store>) {
    s.put_collection(
        &collection("customers"),
        None,
        t(1),
        draft("collection.write"),
    )
    .await
    .expect("put");
    s.insert_record(
        &record("r1", "customers", "subj-1"),
        &first("subj-1"),
        &index(1),
        &[],
        draft("data.write"),
    )
    .await
    .expect("insert");
    s.insert_record(
        &record("r2", "customers", "subj-1"),
        &held("subj-1"),
        &index(1),
        &[],
        draft("data.write"),
    )
    .await
    .expect("insert");
    s.insert_record(
        &record("r3", "customers", "subj-2"),
        &first("subj-2"),
        &index(1),
        &[],
        draft("data.write"),
    )
    .await
    .expect("insert");
    let erased = s
        .erase_subject("subj-1", "pseudo-1", t(9), None, draft("data.erase"))
        .await
        .expect("erase");
    assert_eq!((erased.records, erased.key_destroyed), (2, true));
    assert_eq!(s.subject_key("subj-1").await, Ok(None));
    assert!(
        s.subject_records("subj-1")
            .await
            .expect("records")
            .is_empty()
    );
    let left = s
        .find_records("customers", "email", &[1; 16], None, 10)
        .await
        .expect("find");
    assert_eq!(
        left.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["r3"],
        "only the other subject's index remains"
    );
    assert_eq!(
        s.insert_record(
            &record("r9", "customers", "subj-1"),
            &held("subj-1"),
            &[],
            &[],
            draft("data.write")
        )
        .await,
        Err(StoreError::Conflict("subject_key")),
        "nothing can be written under a destroyed key"
    );
    let again = s
        .erase_subject("subj-1", "pseudo-1", t(10), None, draft("data.erase"))
        .await
        .expect("erase again");
    assert_eq!((again.records, again.key_destroyed), (0, false));
    assert_eq!(
        s.erasure_ledger().await.expect("ledger"),
        vec![
            ("pseudo-1".to_owned(), t(9)),
            ("pseudo-1".to_owned(), t(10))
        ]
    );
}

fn token(token: &str, subject: &str) -> TokenRecord {
    TokenRecord {
        token: token.into(),
        collection: "customers".into(),
        field: "email".into(),
        subject_id: subject.into(),
        key_version: 1,
        ciphertext: b"sealed-token".to_vec(),
        created_at: t(5),
    }
}

/// Allows every request: the reads below are about the vault's keys, not its policy.
struct AllowAll;

impl custodian_core::access::PolicyEngine for AllowAll {
    fn decide(
        &self,
        _: &custodian_core::access::AccessRequest,
    ) -> custodian_core::access::PolicyDecision {
        custodian_core::access::PolicyDecision {
            allowed: true,
            policies: vec!["test".into()],
            errors: Vec::new(),
        }
    }
}

/// A read that got its record or token before the subject was erased and its key after the
/// subject came back (a new first key of the same version, another data key) answers as after
/// the erasure (404), not with a failed decryption (500); a stored value that does not open
/// under its subject's key is still a failure.
pub async fn vault_reads_racing_an_erasure(s: Arc<dyn Store>) {
    use custodian_core::access::{AccessRequest, Action, Principal, Resource, authorize};
    use custodian_core::vault::record::CellPlace;
    use custodian_core::vault::service::{Grants, Vault, VaultCrypto, VaultError};
    use custodian_crypto::envelope::EnvelopeCrypto;
    use custodian_crypto::keys::FileKeyProvider;
    use custodian_crypto::vault::Key256;

    let crypto = EnvelopeCrypto::new(
        Arc::new(FileKeyProvider::from_key(Key256::generate().expect("kek"))),
        &Key256::generate().expect("root"),
    )
    .expect("crypto");
    let schema = collection("customers");
    s.put_collection(&schema, None, t(1), draft("collection.write"))
        .await
        .expect("put");
    // A first key for `subject`, and a record `id` and token `tok-1` sealed under it for real.
    let sealed = |subject: &str, id: &str| {
        let k = crypto.new_data_key(subject).expect("data key");
        fn place(record: &str) -> CellPlace<'_> {
            CellPlace {
                collection: "customers",
                record,
                field: "email",
                key_version: 1,
            }
        }
        let key = SubjectKey {
            kek_id: k.kek_id,
            wrapped_dek: k.wrapped,
            ..subject_key(subject)
        };
        let rec = Record {
            cells: vec![Cell {
                field: "email".into(),
                ciphertext: k.key.seal(&place(id), b"jane@example.com").expect("seal"),
            }],
            ..record(id, "customers", subject)
        };
        let tok = TokenRecord {
            ciphertext: k
                .key
                .seal(&place("token:tok-1"), b"jane@example.com")
                .expect("seal"),
            ..token("tok-1", subject)
        };
        (key, rec, tok)
    };
    let engine = AllowAll;
    let mut grants = Grants::new();
    let reveal = authorize(
        &engine,
        AccessRequest {
            principal: Principal {
                operator_id: "dpo".into(),
                role: Role::Dpo,
                training_current: true,
            },
            action: Action::DataReveal,
            resource: Resource::Field {
                collection: "customers".into(),
                field: "email".into(),
                category: "user.contact.email".into(),
                sensitivity: "medium".into(),
            },
            purpose: Some("dsr".into()),
            time: t(2),
        },
    )
    .expect("allowed");
    assert!(grants.add(&reveal));
    let schemas = HashMap::from([("customers".to_owned(), schema.clone())]);
    let vault = Vault::new(s.as_ref(), &crypto);
    let open = |r: Record| {
        let (vault, schemas, grants) = (&vault, &schemas, &grants);
        async move {
            vault
                .open_records(schemas, &[r], grants, vec![draft("data.read")])
                .await
                .map(|o| o[0].fields[0].value.clone())
        }
    };
    let open_token = |tok: TokenRecord| {
        let (vault, grants) = (&vault, &grants);
        async move { vault.open_token(&tok, grants, draft("token.reveal")).await }
    };

    let (k1, r1, tok1) = sealed("subj-1", "r1");
    s.insert_record(
        &r1,
        &SealedUnder::New(k1),
        &index(1),
        std::slice::from_ref(&tok1),
        draft("data.write"),
    )
    .await
    .expect("create");
    let jane = serde_json::json!("jane@example.com");
    assert_eq!(open(r1.clone()).await, Ok(jane.clone()));
    assert_eq!(open_token(tok1.clone()).await, Ok(jane.clone()));

    s.erase_subject("subj-1", "pseudo-1", t(5), None, draft("data.erase"))
        .await
        .expect("erase");
    let (k2, r2, tok2) = sealed("subj-1", "r2");
    s.insert_record(
        &r2,
        &SealedUnder::New(k2.clone()),
        &index(2),
        &[],
        draft("data.write"),
    )
    .await
    .expect("back, with a new first key");
    assert_eq!(open(r1.clone()).await, Err(VaultError::RecordNotFound));
    assert_eq!(
        open_token(tok1.clone()).await,
        Err(VaultError::TokenNotFound)
    );
    assert_eq!(open(r2.clone()).await, Ok(jane.clone()));
    // The token issued again meanwhile (a deterministic token is the same string): the read
    // that got the old one is told to try again.
    s.put_token(&tok2, &SealedUnder::Held(k2.clone()), draft("token.issue"))
        .await
        .expect("token again");
    assert_eq!(open_token(tok1.clone()).await, Err(VaultError::Busy));
    assert_eq!(open_token(tok2).await, Ok(jane));
    // Stored as read and still not opening: the failure stands.
    let forged = Record {
        id: "r3".into(),
        cells: r1.cells.clone(),
        ..r2.clone()
    };
    s.insert_record(
        &forged,
        &SealedUnder::Held(k2),
        &[],
        &[],
        draft("data.write"),
    )
    .await
    .expect("stored");
    assert!(
        matches!(open(forged).await, Err(VaultError::Crypto(_))),
        "a cell that does not open under its subject's key"
    );

    // A data-key rotation reads the key, then the records and tokens: when the subject was
    // erased and came back in between, the records do not open under the key it read. The
    // attempt is made again (`None`), not failed; from the key now held it succeeds.
    let stale = s.subject_key("subj-1").await.expect("key").expect("held");
    s.erase_subject("subj-1", "pseudo-1", t(6), None, draft("data.erase"))
        .await
        .expect("erase");
    let (k3, r3, _) = sealed("subj-1", "r4");
    s.insert_record(
        &r3,
        &SealedUnder::New(k3.clone()),
        &[],
        &[],
        draft("data.write"),
    )
    .await
    .expect("back again");
    assert_eq!(
        vault
            .rotate_from("subj-1", &stale, &draft("keys.rotate"))
            .await,
        Ok(None)
    );
    assert_eq!(
        vault
            .rotate_from("subj-1", &k3, &draft("keys.rotate"))
            .await,
        Ok(Some(2))
    );
    assert_eq!(
        vault.rotate_data_key("subj-1", draft("keys.rotate")).await,
        Ok(3)
    );
}

/// A write sealed under a key its subject no longer holds is refused, even when the subject
/// holds another key of the same version: erased, then given a new first key (as happens when
/// a write that read the old key is overtaken by an erasure and another first write), or
/// rewrapped. Every kind of write checks it: creates (alone and grouped), tokens,
/// rectification and data-key rotation; nothing of a refused write is stored.
pub async fn vault_writes_need_the_very_key(s: Arc<dyn Store>) {
    s.put_collection(
        &collection("customers"),
        None,
        t(1),
        draft("collection.write"),
    )
    .await
    .expect("put");
    let old = subject_key("subj-1");
    s.insert_record(
        &record("r1", "customers", "subj-1"),
        &SealedUnder::New(old.clone()),
        &index(1),
        &[],
        draft("data.write"),
    )
    .await
    .expect("first key");
    s.erase_subject("subj-1", "pseudo-1", t(4), None, draft("data.erase"))
        .await
        .expect("erase");
    // The subject comes back: a new first key of the same version, another data key.
    let new = SubjectKey {
        wrapped_dek: vec![7; 60],
        created_at: t(5),
        ..subject_key("subj-1")
    };
    s.insert_record(
        &record("r2", "customers", "subj-1"),
        &SealedUnder::New(new.clone()),
        &index(2),
        &[],
        draft("data.write"),
    )
    .await
    .expect("new first key");
    let stale = SealedUnder::Held(old.clone());
    let refused = Err(StoreError::Conflict("subject_key"));
    assert_eq!(
        s.insert_record(
            &record("r3", "customers", "subj-1"),
            &stale,
            &index(3),
            &[token("tok-stale", "subj-1")],
            draft("data.write"),
        )
        .await
        .map(|_| ()),
        refused,
        "a create sealed under the erased key"
    );
    // A key that is not the record's: another subject's, or another version.
    for key in [
        SealedUnder::Held(SubjectKey {
            subject_id: "subj-2".into(),
            ..new.clone()
        }),
        SealedUnder::Held(SubjectKey {
            key_version: 2,
            ..new.clone()
        }),
        SealedUnder::New(SubjectKey {
            subject_id: "subj-2".into(),
            ..new.clone()
        }),
    ] {
        assert_eq!(
            s.insert_record(
                &record("r3", "customers", "subj-1"),
                &key,
                &[],
                &[],
                draft("data.write"),
            )
            .await
            .map(|_| ()),
            refused,
            "{key:?}"
        );
    }
    assert_eq!(s.subject_key("subj-2").await, Ok(None), "no key was stored");
    // Grouped with others that commit, where a backend groups creates.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            let (old, new) = (old.clone(), new.clone());
            tokio::spawn(async move {
                let key = if i % 2 == 0 {
                    SealedUnder::Held(old)
                } else {
                    SealedUnder::Held(new)
                };
                let id = format!("g{i}");
                s.insert_record(
                    &record(&id, "customers", "subj-1"),
                    &key,
                    &[],
                    &[],
                    draft("data.write"),
                )
                .await
                .map(|_| (i, id))
            })
        })
        .collect();
    for r in futures::future::join_all(tasks).await {
        match r.expect("task") {
            Ok((i, id)) => assert_eq!(i % 2, 1, "{id} was sealed under the erased key"),
            Err(e) => assert_eq!(e, StoreError::Conflict("subject_key")),
        }
    }
    assert_eq!(
        s.put_token(&token("tok-stale", "subj-1"), &stale, draft("token.issue"))
            .await
            .map(|_| ()),
        refused,
        "a token sealed under the erased key"
    );
    let mut changed = record("r2", "customers", "subj-1");
    changed.updated_at = t(6);
    assert_eq!(
        s.update_record(&changed, &old, t(4), &[], &[], draft("data.rectify"))
            .await
            .map(|_| ()),
        refused,
        "a rectification sealed under the erased key"
    );
    let r2 = s
        .get_record("customers", "r2")
        .await
        .expect("get")
        .expect("some");
    let rotated = SubjectKey {
        key_version: 2,
        wrapped_dek: vec![8; 60],
        ..new.clone()
    };
    let resealed = Record {
        key_version: 2,
        ..r2.clone()
    };
    let group: Vec<Record> = (1..8)
        .step_by(2)
        .map(|i| {
            let mut r = record(&format!("g{i}"), "customers", "subj-1");
            r.key_version = 2;
            r
        })
        .chain([resealed])
        .collect();
    assert_eq!(
        s.rotate_subject_key(&old, &rotated, &group, &[], draft("rotate"))
            .await
            .map(|_| ()),
        refused,
        "a rotation from the erased key"
    );
    // Nothing of the refused writes is there; the held key works.
    let mut ids: Vec<String> = s
        .subject_records("subj-1")
        .await
        .expect("records")
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["g1", "g3", "g5", "g7", "r2"]);
    assert_eq!(s.get_token("tok-stale").await, Ok(Vec::new()));
    assert_eq!(s.subject_key("subj-1").await, Ok(Some(new.clone())));
    s.put_token(
        &token("tok-new", "subj-1"),
        &SealedUnder::Held(new.clone()),
        draft("token.issue"),
    )
    .await
    .expect("a token under the held key");
    s.update_record(&changed, &new, t(4), &[], &[], draft("data.rectify"))
        .await
        .expect("a rectification under the held key");
    // A KEK rotation rewraps the key: a write that read it before must read it again.
    let rewrapped = s
        .rewrap_subject_keys(
            &[Rewrap {
                subject_id: "subj-1".into(),
                old_kek_id: new.kek_id.clone(),
                old_wrapped_dek: new.wrapped_dek.clone(),
                new_kek_id: "kek-2".into(),
                wrapped_dek: vec![6; 60],
            }],
            draft("keys.rotate"),
        )
        .await
        .expect("rewrap");
    assert_eq!(rewrapped, 1);
    assert_eq!(
        s.insert_record(
            &record("r4", "customers", "subj-1"),
            &SealedUnder::Held(new.clone()),
            &[],
            &[],
            draft("data.write"),
        )
        .await
        .map(|_| ()),
        refused,
        "a create that read the key before it was rewrapped"
    );
    // An erasure conditional on a key (a ledger replay's) erases only under that very key.
    let size = s.audit_head().await.expect("head").size;
    let ledger = s.erasure_ledger().await.expect("ledger");
    for stale in [&old, &new] {
        assert_eq!(
            s.erase_subject("subj-1", "pseudo-1", t(4), Some(stale), draft("data.erase"))
                .await
                .map(|_| ()),
            refused,
            "an erasure under a key the subject no longer holds"
        );
    }
    assert_eq!(s.subject_records("subj-1").await.expect("records").len(), 5);
    assert_eq!(s.erasure_ledger().await.expect("ledger"), ledger);
    assert_eq!(s.audit_head().await.expect("head").size, size, "no event");
    let current = s.subject_key("subj-1").await.expect("key").expect("some");
    let erased = s
        .erase_subject(
            "subj-1",
            "pseudo-1",
            t(4),
            Some(&current),
            draft("data.erase"),
        )
        .await
        .expect("an erasure under the held key");
    assert_eq!((erased.records, erased.key_destroyed), (5, true));
}

/// Rectification replaces cells and indexes from the version read; tokens, processing limits,
/// subject-key listing and the ledger lookup; erasure takes tokens and limits too.
pub async fn vault_rectification_tokens_and_limits(s: Arc<dyn Store>) {
    s.put_collection(
        &collection("customers"),
        None,
        t(1),
        draft("collection.write"),
    )
    .await
    .expect("put");
    let r1 = record("r1", "customers", "subj-1");
    s.insert_record(&r1, &first("subj-1"), &index(1), &[], draft("w"))
        .await
        .expect("insert");
    let mut changed = r1.clone();
    changed.cells.truncate(1);
    changed.cells[0].ciphertext = b"sealed-email-new".to_vec();
    changed.updated_at = t(6);
    s.update_record(
        &changed,
        &subject_key("subj-1"),
        t(4),
        &index(2),
        &[],
        draft("data.rectify"),
    )
    .await
    .expect("update");
    let got = s
        .get_record("customers", "r1")
        .await
        .expect("get")
        .expect("some");
    assert_eq!(
        (got.cells.clone(), got.updated_at),
        (changed.cells.clone(), t(6))
    );
    assert!(
        s.find_records("customers", "email", &[1; 16], None, 10)
            .await
            .expect("find")
            .is_empty(),
        "the old index is gone"
    );
    assert_eq!(
        s.find_records("customers", "email", &[2; 16], None, 10)
            .await
            .expect("find")
            .len(),
        1
    );
    assert_eq!(
        s.update_record(
            &changed,
            &subject_key("subj-1"),
            t(4),
            &[],
            &[],
            draft("data.rectify")
        )
        .await
        .map(|_| ()),
        Err(StoreError::Conflict("record_version")),
        "a change from a stale read is refused"
    );
    let mut gone = changed.clone();
    gone.id = "nope".into();
    assert_eq!(
        s.update_record(
            &gone,
            &subject_key("subj-1"),
            t(6),
            &[],
            &[],
            draft("data.rectify")
        )
        .await
        .map(|_| ()),
        Err(StoreError::NotFound)
    );

    // Tokens: idempotent per subject, several subjects may hold one deterministic token, a
    // new subject's first token stores its key.
    s.put_token(
        &token("dtk_a", "subj-1"),
        &held("subj-1"),
        draft("token.issue"),
    )
    .await
    .expect("token");
    s.put_token(
        &token("dtk_a", "subj-1"),
        &held("subj-1"),
        draft("token.issue"),
    )
    .await
    .expect("again");
    s.put_token(
        &token("dtk_a", "subj-2"),
        &first("subj-2"),
        draft("token.issue"),
    )
    .await
    .expect("second subject");
    assert_eq!(s.get_token("dtk_a").await.expect("get").len(), 2);
    assert_eq!(
        s.put_token(
            &token("dtk_b", "subj-3"),
            &held("subj-3"),
            draft("token.issue")
        )
        .await
        .map(|_| ()),
        Err(StoreError::Conflict("subject_key")),
        "no token without a key"
    );
    let keys = s.subject_keys(None, 10).await.expect("keys");
    assert_eq!(
        keys.iter()
            .map(|k| k.subject_id.as_str())
            .collect::<Vec<_>>(),
        ["subj-1", "subj-2"]
    );
    assert_eq!(
        s.subject_keys(Some("subj-1"), 10).await.expect("k").len(),
        1
    );

    // Limits.
    let limit = ProcessingLimit {
        subject_id: "subj-1".into(),
        kind: LimitKind::Objection,
        purpose: "marketing".into(),
        since: t(7),
    };
    s.put_processing_limit(&limit, draft("subject.limit"))
        .await
        .expect("limit");
    s.put_processing_limit(&limit, draft("subject.limit"))
        .await
        .expect("idempotent");
    assert_eq!(
        s.processing_limits("subj-1").await.expect("limits"),
        vec![limit.clone()]
    );
    s.lift_processing_limit("subj-1", LimitKind::Objection, "marketing", draft("lift"))
        .await
        .expect("lift");
    assert_eq!(
        s.lift_processing_limit("subj-1", LimitKind::Objection, "marketing", draft("lift"))
            .await
            .map(|_| ()),
        Err(StoreError::NotFound)
    );
    s.put_processing_limit(&limit, draft("subject.limit"))
        .await
        .expect("limit");

    // Data-key rotation: all of the subject's records and tokens move to the new version
    // together, or nothing does.
    assert_eq!(s.subject_tokens("subj-1").await.expect("t").len(), 1);
    let current = s
        .get_record("customers", "r1")
        .await
        .expect("get")
        .expect("some");
    let mut resealed = current.clone();
    resealed.key_version = 2;
    resealed.cells[0].ciphertext = b"resealed".to_vec();
    let mut tok = token("dtk_a", "subj-1");
    tok.key_version = 2;
    tok.ciphertext = b"resealed-token".to_vec();
    let new_key = SubjectKey {
        key_version: 2,
        ..subject_key("subj-1")
    };
    assert_eq!(
        s.rotate_subject_key(
            &subject_key("subj-1"),
            &new_key,
            &[],
            std::slice::from_ref(&tok),
            draft("rotate")
        )
        .await
        .map(|_| ()),
        Err(StoreError::Conflict("record_version")),
        "a record left out"
    );
    assert_eq!(
        s.rotate_subject_key(
            &new_key,
            &new_key,
            std::slice::from_ref(&resealed),
            std::slice::from_ref(&tok),
            draft("rotate")
        )
        .await
        .map(|_| ()),
        Err(StoreError::Conflict("subject_key")),
        "a stale key version"
    );
    s.rotate_subject_key(
        &subject_key("subj-1"),
        &new_key,
        std::slice::from_ref(&resealed),
        std::slice::from_ref(&tok),
        draft("rotate"),
    )
    .await
    .expect("rotate");
    let got = s
        .get_record("customers", "r1")
        .await
        .expect("get")
        .expect("some");
    assert_eq!(
        (got.key_version, got.cells.clone()),
        (2, resealed.cells.clone())
    );
    assert_eq!(
        s.subject_key("subj-1")
            .await
            .expect("k")
            .map(|k| k.key_version),
        Some(2)
    );
    assert_eq!(
        s.subject_tokens("subj-1").await.expect("t")[0].ciphertext,
        b"resealed-token".to_vec()
    );
    // What a read needs, in one call: the record, the subject's limits, its current key.
    let read = read_of(&*s, "r1").await;
    assert_eq!(read.record, got);
    assert_eq!(read.limits, vec![limit.clone()]);
    assert_eq!(read.key.map(|k| k.key_version), Some(2));
    // With several limits, in the order `processing_limits` answers them.
    for (kind, purpose) in [
        (LimitKind::Objection, "analytics"),
        (LimitKind::Restriction, "*"),
    ] {
        let more = ProcessingLimit {
            kind,
            purpose: purpose.into(),
            ..limit.clone()
        };
        s.put_processing_limit(&more, draft("subject.limit"))
            .await
            .expect("limit");
    }
    let read = read_of(&*s, "r1").await;
    let all = s.processing_limits("subj-1").await.expect("limits");
    assert_eq!(all.len(), 3);
    assert_eq!(read.limits, all);
    assert_eq!(s.record_for_read("customers", "nope").await, Ok(None));
    assert_eq!(s.record_for_read("other", "r1").await, Ok(None));

    // Erasure takes tokens and limits; the ledger answers for the pseudonym.
    assert_eq!(s.erased_at("pseudo-1").await, Ok(None));
    s.erase_subject("subj-1", "pseudo-1", t(9), None, draft("data.erase"))
        .await
        .expect("erase");
    let left = s.get_token("dtk_a").await.expect("get");
    assert_eq!(
        left.iter()
            .map(|t| t.subject_id.as_str())
            .collect::<Vec<_>>(),
        ["subj-2"]
    );
    assert!(s.processing_limits("subj-1").await.expect("l").is_empty());
    assert_eq!(s.erased_at("pseudo-1").await, Ok(Some(t(9))));
    // Its records are gone, and with them anything a read could find.
    assert_eq!(s.record_for_read("customers", "r1").await, Ok(None));
    // Merging another copy of the ledger adds only what is missing.
    let other = vec![("pseudo-1".to_owned(), t(9)), ("pseudo-2".to_owned(), t(8))];
    assert_eq!(
        s.merge_erasure_ledger(&other, draft("ledger.merge")).await,
        Ok(1)
    );
    assert_eq!(
        s.merge_erasure_ledger(&other, draft("ledger.merge")).await,
        Ok(0)
    );
    assert_eq!(s.erased_at("pseudo-2").await, Ok(Some(t(8))));
}

fn consent_purpose(key: &str) -> custodian_core::consent::purpose::Purpose {
    use custodian_core::consent::purpose::{ConsentModel, LegalBasis, Purpose};
    Purpose {
        key: key.into(),
        names: [("en".to_owned(), "Newsletter".to_owned())].into(),
        descriptions: Default::default(),
        legal_basis: LegalBasis::Consent,
        special_condition: None,
        opt_out_kinds: vec![],
        consent: ConsentModel::OptIn,
        data_uses: vec!["marketing.communications.email".into()],
        data_categories: vec!["user.contact.email".into()],
        jurisdictions: vec!["EU".into()],
        notice: Some("privacy".into()),
        validity_days: None,
    }
}

fn consent_event(
    id: &str,
    subject: &str,
    purpose: &str,
    state: custodian_core::consent::ledger::ConsentState,
    at: i64,
) -> custodian_core::consent::ledger::ConsentEvent {
    use custodian_core::consent::ledger::{ConsentEvent, Method, NoticeRef, Proof};
    ConsentEvent {
        id: id.into(),
        subject: subject.into(),
        purpose: purpose.into(),
        state,
        notice: Some(NoticeRef {
            key: "privacy".into(),
            version: 1,
            hash: "ab".repeat(32),
        }),
        language: Some("en".into()),
        at: t(at),
        recorded_at: t(at + 1),
        method: Method::Banner,
        source: "www.example.com".into(),
        jurisdiction: Some("EU".into()),
        expires_at: None,
        proof: Proof {
            network: Some("203.0.113.0/24".into()),
            user_agent_sha256: Some("00".repeat(16)),
            actor: "public".into(),
            request_id: "req".into(),
        },
        receipt_id: format!("receipt-{id}"),
    }
}

/// Purposes are versioned optimistically; notices get consecutive immutable versions; the
/// ledger keeps every record, refuses a duplicate id, and the current state is the latest
/// record by time whatever the order records arrive in.
pub async fn consent_ledger(s: Arc<dyn Store>) {
    use custodian_core::consent::ledger::ConsentState::{Given, Refused, Withdrawn};
    use custodian_core::consent::notice::{NoticeDraft, NoticeText};
    s.initialize(init()).await.expect("init");
    // Purposes.
    let p = consent_purpose("newsletter");
    let (v, _) = s
        .put_purpose(&p, None, t(1), draft("consent.configure"))
        .await
        .expect("create");
    assert_eq!(v, 1);
    assert_eq!(
        s.put_purpose(&p, None, t(1), draft("consent.configure"))
            .await
            .map(|x| x.0),
        Err(StoreError::Conflict("purpose_exists"))
    );
    let mut p2 = p.clone();
    p2.validity_days = Some(365);
    assert_eq!(
        s.put_purpose(&p2, Some(1), t(2), draft("consent.configure"))
            .await
            .map(|x| x.0),
        Ok(2)
    );
    assert_eq!(
        s.put_purpose(&p2, Some(1), t(2), draft("consent.configure"))
            .await
            .map(|x| x.0),
        Err(StoreError::Conflict("version"))
    );
    let stored = s
        .get_purpose("newsletter")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(
        (
            stored.purpose,
            stored.version,
            stored.created_at,
            stored.updated_at
        ),
        (p2, 2, t(1), t(2))
    );
    assert_eq!(s.list_purposes().await.expect("list").len(), 1);
    assert_eq!(s.get_purpose("nope").await, Ok(None));
    // Notices.
    let mut d = NoticeDraft {
        key: "privacy".into(),
        texts: [(
            "en".to_owned(),
            NoticeText {
                title: "T".into(),
                body: "B1".into(),
                url: None,
            },
        )]
        .into(),
    };
    let (n1, _) = s
        .publish_notice(&d, t(3), draft("consent.configure"))
        .await
        .expect("v1");
    if let Some(t) = d.texts.get_mut("en") {
        t.body = "B2".into();
    }
    let (n2, _) = s
        .publish_notice(&d, t(4), draft("consent.configure"))
        .await
        .expect("v2");
    assert_eq!((n1.version, n2.version), (1, 2));
    assert_ne!(n1.content_hash, n2.content_hash);
    assert!(n1.intact() && n2.intact());
    assert_eq!(
        s.get_notice("privacy", None).await.expect("latest"),
        Some(n2.clone())
    );
    assert_eq!(
        s.get_notice("privacy", Some(1)).await.expect("v1"),
        Some(n1.clone())
    );
    assert_eq!(s.get_notice("privacy", Some(3)).await, Ok(None));
    assert_eq!(
        s.notice_versions("privacy").await.expect("history"),
        vec![n1, n2.clone()]
    );
    assert_eq!(s.list_notices().await.expect("list"), vec![n2]);
    // The ledger.
    let given = consent_event("e1", "sp_a", "newsletter", Given, 10);
    s.record_consent(std::slice::from_ref(&given), &[], draft("consent.record"))
        .await
        .expect("give");
    let before = s.audit_head().await.expect("head").size;
    assert_eq!(
        s.record_consent(std::slice::from_ref(&given), &[], draft("consent.record"))
            .await
            .map(|_| ()),
        Err(StoreError::Conflict("consent_event"))
    );
    assert_eq!(
        s.audit_head().await.expect("head").size,
        before,
        "a refused write writes no event"
    );
    let withdrawn = consent_event("e2", "sp_a", "newsletter", Withdrawn, 20);
    // An import of an older refusal arrives after the withdrawal: kept, but not current.
    let old = consent_event("e3", "sp_a", "newsletter", Refused, 5);
    let other = consent_event("e4", "sp_b", "newsletter", Given, 30);
    s.record_consent(
        &[withdrawn.clone(), old.clone(), other.clone()],
        &[],
        draft("consent.record"),
    )
    .await
    .expect("batch");
    let cur = s
        .current_consent("sp_a", "newsletter")
        .await
        .expect("cur")
        .expect("present");
    assert_eq!(
        (cur.state, cur.event_id.as_str(), cur.at),
        (Withdrawn, "e2", t(20))
    );
    assert_eq!(cur.notice_version, Some(1));
    assert_eq!(s.current_consent("sp_a", "other").await, Ok(None));
    assert_eq!(s.subject_consents("sp_b").await.expect("b").len(), 1);
    // Many pairs at once (more than one statement's worth): only those with a record come back.
    let mut pairs: Vec<(String, String)> = (0..1200)
        .map(|i| (format!("sp_none_{i}"), "newsletter".to_owned()))
        .collect();
    pairs.push(("sp_a".into(), "newsletter".into()));
    pairs.push(("sp_b".into(), "newsletter".into()));
    pairs.push(("sp_a".into(), "other".into()));
    let mut many = s.current_consents(&pairs).await.expect("many");
    many.sort_by(|a, b| a.subject.cmp(&b.subject));
    assert_eq!(
        many.iter()
            .map(|c| (c.subject.as_str(), c.state, c.event_id.as_str()))
            .collect::<Vec<_>>(),
        [("sp_a", Withdrawn, "e2"), ("sp_b", Given, "e4")]
    );
    assert_eq!(s.current_consents(&[]).await, Ok(Vec::new()));
    let all = s.consent_events("sp_a", None, 0, 10).await.expect("events");
    assert_eq!(
        all.iter().map(|(_, e)| e.id.as_str()).collect::<Vec<_>>(),
        ["e1", "e2", "e3"]
    );
    assert_eq!(all[0].1, given);
    let page = s
        .consent_events("sp_a", Some("newsletter"), all[0].0, 1)
        .await
        .expect("page");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].1, withdrawn);
    assert!(
        s.consent_events("sp_a", Some("other"), 0, 10)
            .await
            .expect("none")
            .is_empty()
    );
    assert_eq!(s.consent_event("e3").await.expect("one"), Some(old));
    assert_eq!(s.consent_event("nope").await, Ok(None));
}

/// Targets, the outbox written with records, claiming with a lease, outcomes and
/// acknowledgements.
pub async fn consent_outbox(s: Arc<dyn Store>) {
    use custodian_core::consent::outbox::{DeliveryState, OutboxMessage, Target, TargetKind};
    let target = |id: &str, purposes: &[&str]| Target {
        id: id.into(),
        kind: TargetKind::Webhook,
        url: Some("https://hooks.example/c".into()),
        purposes: purposes.iter().map(|p| (*p).to_owned()).collect(),
        enabled: true,
        description: None,
        secret_sealed: Some(vec![1, 2, 3]),
        previous_secret: None,
        created_at: t(0),
    };
    s.put_target(&target("wh_all", &[]), draft("consent.configure"))
        .await
        .expect("all");
    s.put_target(&target("wh_ads", &["ads"]), draft("consent.configure"))
        .await
        .expect("ads");
    let mut off = target("wh_off", &[]);
    off.enabled = false;
    s.put_target(&off, draft("consent.configure"))
        .await
        .expect("off");
    let listed = s.list_targets().await.expect("list");
    assert_eq!(listed.len(), 3);
    let ads = s.get_target("wh_ads").await.expect("get").expect("some");
    assert_eq!(ads.purposes, vec!["ads".to_owned()]);
    assert_eq!(ads.secret_sealed, Some(vec![1, 2, 3]));
    // A change applies only over the secret it was read with, and never revives a target.
    let mut changed = ads.clone();
    changed.enabled = false;
    changed.purposes = vec!["ads".into(), "news".into()];
    changed.secret_sealed = Some(vec![4, 5, 6]);
    changed.previous_secret = Some((vec![1, 2, 3], t(99)));
    assert!(
        s.update_target(&changed, Some(&[9, 9, 9]), draft("consent.configure"))
            .await
            .expect("stale")
            .is_none(),
        "another change came first"
    );
    assert!(
        s.update_target(&changed, Some(&[1, 2, 3]), draft("consent.configure"))
            .await
            .expect("update")
            .is_some()
    );
    assert_eq!(
        s.get_target("wh_ads").await.expect("get"),
        Some(changed.clone())
    );
    changed.enabled = true;
    changed.purposes = vec!["ads".into()];
    changed.previous_secret = None;
    changed.secret_sealed = Some(vec![1, 2, 3]);
    assert!(
        s.update_target(&changed, Some(&[4, 5, 6]), draft("consent.configure"))
            .await
            .expect("back")
            .is_some()
    );
    let mut ghost = changed.clone();
    ghost.id = "wh_ghost".into();
    assert!(
        s.update_target(&ghost, Some(&[1, 2, 3]), draft("consent.configure"))
            .await
            .expect("ghost")
            .is_none()
    );
    assert_eq!(s.get_target("wh_ghost").await.expect("get"), None);

    let e = consent_event(
        "e1",
        "sp_a",
        "newsletter",
        custodian_core::consent::ledger::ConsentState::Given,
        10,
    );
    let m = OutboxMessage {
        event_id: "e1".into(),
        purpose: "newsletter".into(),
        subject: "sp_a".into(),
        sealed: vec![9; 16],
    };
    s.record_consent(
        std::slice::from_ref(&e),
        std::slice::from_ref(&m),
        draft("consent.record"),
    )
    .await
    .expect("record");
    // Only the enabled target that wants every purpose gets a delivery.
    let d = s.deliveries("e1").await.expect("deliveries");
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].target_id.as_str(), d[0].state),
        ("wh_all", DeliveryState::Pending)
    );

    // Claimed once: a second claim within the lease gets nothing.
    let due = s
        .claim_deliveries(t(100), t(160), false, 10)
        .await
        .expect("claim");
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].purpose.as_str(), due[0].sealed.clone()),
        ("newsletter", vec![9; 16])
    );
    assert!(
        s.claim_deliveries(t(120), t(180), false, 10)
            .await
            .expect("again")
            .is_empty()
    );
    let mut done = due[0].delivery.clone();
    done.state = DeliveryState::Delivered;
    done.attempts = 1;
    done.next_attempt_at = None;
    done.last_status = Some(204);
    done.updated_at = t(101);
    s.finish_delivery(&done).await.expect("finish");
    assert_eq!(
        s.deliveries("e1").await.expect("d")[0].state,
        DeliveryState::Delivered
    );
    assert_eq!(
        s.acknowledge("wh_all", &["e1".into(), "nope".into()], t(102))
            .await
            .expect("ack"),
        1
    );
    // An acknowledged delivery is never downgraded by a late outcome.
    s.finish_delivery(&done).await.expect("late");
    assert_eq!(
        s.deliveries("e1").await.expect("d")[0].state,
        DeliveryState::Acknowledged
    );

    // Removing a target fails its pending deliveries.
    let e2 = consent_event(
        "e2",
        "sp_b",
        "ads",
        custodian_core::consent::ledger::ConsentState::Refused,
        20,
    );
    let m2 = OutboxMessage {
        event_id: "e2".into(),
        purpose: "ads".into(),
        subject: "sp_b".into(),
        sealed: vec![1],
    };
    s.record_consent(&[e2], &[m2], draft("consent.record"))
        .await
        .expect("record");
    assert_eq!(s.deliveries("e2").await.expect("d").len(), 2);
    assert!(
        s.delete_target("wh_ads", t(30), draft("consent.configure"))
            .await
            .expect("del")
            .is_some()
    );
    assert!(
        s.delete_target("wh_ads", t(30), draft("consent.configure"))
            .await
            .expect("del")
            .is_none()
    );
    let d2 = s.deliveries("e2").await.expect("d");
    let ads = d2.iter().find(|d| d.target_id == "wh_ads").expect("kept");
    assert_eq!(
        (ads.state, ads.last_error.as_deref()),
        (DeliveryState::Failed, Some("target_removed"))
    );

    // Erasing a subject fails its undelivered changes and deletes every sealed message that
    // names it, delivered or not; other subjects' changes are untouched.
    let e3 = consent_event(
        "e3",
        "sp_c",
        "newsletter",
        custodian_core::consent::ledger::ConsentState::Withdrawn,
        40,
    );
    let m3 = OutboxMessage {
        event_id: "e3".into(),
        purpose: "newsletter".into(),
        subject: "sp_c".into(),
        sealed: vec![3],
    };
    s.record_consent(&[e3], &[m3], draft("consent.record"))
        .await
        .expect("record");
    s.erase_subject("cust-c", "sp_c", t(50), None, draft("data.erase"))
        .await
        .expect("erase");
    let d3 = s.deliveries("e3").await.expect("d");
    assert_eq!(
        (d3[0].state, d3[0].last_error.as_deref()),
        (DeliveryState::Failed, Some("subject_erased"))
    );
    let due = s
        .claim_deliveries(t(10_000), t(10_060), false, 10)
        .await
        .expect("claim");
    assert_eq!(
        due.iter()
            .map(|d| d.delivery.event_id.as_str())
            .collect::<Vec<_>>(),
        vec!["e2"],
        "only sp_b's pending change is still due"
    );
    s.erase_subject("cust-a", "sp_a", t(60), None, draft("data.erase"))
        .await
        .expect("erase a");
    assert_eq!(
        s.deliveries("e1").await.expect("d")[0].state,
        DeliveryState::Acknowledged,
        "a finished delivery keeps its state"
    );
}

/// Rights requests: creation with the requester's key, optimistic updates with history,
/// filters, SLA rows, and the purge at the end of retention.
pub async fn rights_requests(s: Arc<dyn Store>) {
    use custodian_core::ports::RightsFilter;
    use custodian_core::rights::RequestType;
    use custodian_core::rights::request::{
        Challenge, Channel, RightsEvent, RightsRequest, requester_subject,
    };
    use custodian_core::rights::workflow::{Progress, State};
    s.initialize(init()).await.expect("init");
    let new = |n: u8, ty: RequestType, jurisdiction: &str| RightsRequest {
        id: format!("rr_{:032x}", n),
        jurisdiction: jurisdiction.into(),
        time_zone: "UTC".into(),
        rules_version: "2026-11-24".into(),
        channel: Channel::Operator,
        subject_id: Some(format!("cus_{n}")),
        requester_sealed: vec![n; 40],
        email_index: Some(vec![n % 2; 16]),
        progress: Progress::new(ty),
        extension_reason: None,
        received_at: t(i64::from(n)),
        deadlines: None,
        closed_at: None,
        retain_until: None,
        challenge: None,
        version: 1,
        updated_at: t(i64::from(n)),
        drp: None,
    };
    let key = |id: &str| SubjectKey {
        subject_id: requester_subject(id),
        key_version: 1,
        kek_id: "kek1".into(),
        wrapped_dek: vec![7; 40],
        created_at: t(0),
    };
    let first = |r: &RightsRequest| RightsEvent {
        request_id: r.id.clone(),
        seq: 1,
        at: r.received_at,
        actor: "operator:op_1".into(),
        action: "rights.received".into(),
        state: State::Received,
        detail: None,
    };
    let a = new(1, RequestType::Access, "GDPR");
    let b = new(2, RequestType::Erasure, "CCPA");
    let mut c = new(3, RequestType::OptOutSale, "CCPA");
    c.drp = Some(custodian_core::rights::drp::DrpLink {
        agent_id: "AGENT_A".into(),
        agent_request_id: Some("agent-1".into()),
        exercise: custodian_core::rights::drp::Exercise::SaleOptOut,
        regime: Some("ccpa".into()),
        status_callback: Some("https://agent.example/cb".into()),
    });
    for r in [&a, &b, &c] {
        s.create_rights_request(r, &key(&r.id), &first(r), draft("rights.manage"))
            .await
            .expect("create");
    }
    assert_eq!(
        s.create_rights_request(&a, &key("rr_other"), &first(&a), draft("rights.manage"))
            .await,
        Err(StoreError::Conflict("rights_request")),
        "an id is used once"
    );
    assert!(
        s.subject_key("requester:rr_other")
            .await
            .expect("key")
            .is_none(),
        "nothing half-written"
    );
    assert_eq!(
        s.get_rights_request(&a.id).await.expect("get"),
        Some(a.clone())
    );
    assert!(
        s.subject_key(&requester_subject(&a.id))
            .await
            .expect("key")
            .is_some()
    );

    // An update applies over the version it read, with its history entry.
    let mut a2 = a.clone();
    a2.progress.state = State::Verifying;
    a2.progress.verification.0 = Some(t(100));
    a2.challenge = Some(Challenge {
        code_hash: vec![9; 32],
        expires_at: t(1000),
        attempts: 1,
        sends: 1,
    });
    a2.version = 2;
    let ev = RightsEvent {
        seq: 2,
        action: "rights.verification_started".into(),
        state: State::Verifying,
        ..first(&a)
    };
    s.update_rights_request(&a2, 1, Some(&ev), draft("rights.manage"))
        .await
        .expect("update");
    assert_eq!(
        s.get_rights_request(&a.id).await.expect("get"),
        Some(a2.clone())
    );
    assert_eq!(
        s.update_rights_request(&a2, 1, None, draft("rights.manage"))
            .await,
        Err(StoreError::Conflict("version"))
    );
    let mut ghost = a2.clone();
    ghost.id = format!("rr_{:032x}", 99);
    assert_eq!(
        s.update_rights_request(&ghost, 1, None, draft("rights.manage"))
            .await,
        Err(StoreError::NotFound)
    );
    let history = s.rights_events(&a.id).await.expect("events");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1], ev);

    // Filters.
    let ids = |v: Vec<RightsRequest>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let all = RightsFilter::default();
    assert_eq!(
        ids(s.list_rights_requests(&all, 10).await.expect("list")),
        vec![a.id.clone(), b.id.clone(), c.id.clone()]
    );
    let page = s
        .list_rights_requests(
            &RightsFilter {
                after: Some(a.id.clone()),
                ..all.clone()
            },
            1,
        )
        .await
        .expect("page");
    assert_eq!(ids(page), vec![b.id.clone()]);
    let ccpa = RightsFilter {
        jurisdiction: Some("CCPA".into()),
        ..all.clone()
    };
    assert_eq!(
        s.list_rights_requests(&ccpa, 10).await.expect("ccpa").len(),
        2
    );
    let verifying = RightsFilter {
        state: Some(State::Verifying),
        ..all.clone()
    };
    assert_eq!(
        ids(s.list_rights_requests(&verifying, 10).await.expect("state")),
        vec![a.id.clone()]
    );
    let by_email = RightsFilter {
        email_index: Some(vec![1; 16]),
        ..all.clone()
    };
    assert_eq!(
        s.list_rights_requests(&by_email, 10)
            .await
            .expect("email")
            .len(),
        2
    );
    let by_subject = RightsFilter {
        subject_id: Some("cus_2".into()),
        ..all.clone()
    };
    assert_eq!(
        ids(s
            .list_rights_requests(&by_subject, 10)
            .await
            .expect("subject")),
        vec![b.id.clone()]
    );
    let erasures = RightsFilter {
        request_type: Some(RequestType::Erasure),
        ..all.clone()
    };
    assert_eq!(
        ids(s.list_rights_requests(&erasures, 10).await.expect("type")),
        vec![b.id.clone()]
    );

    // Close b; it leaves the open list, shows in the SLA rows, and is purged after retention.
    let mut b2 = b.clone();
    b2.progress.state = State::Completed;
    b2.closed_at = Some(t(500));
    b2.retain_until = Some(t(10_000));
    b2.version = 2;
    s.update_rights_request(&b2, 1, None, draft("rights.manage"))
        .await
        .expect("close");
    let open = RightsFilter {
        open: true,
        ..all.clone()
    };
    assert_eq!(
        ids(s.list_rights_requests(&open, 10).await.expect("open")),
        vec![a.id.clone(), c.id.clone()]
    );
    let rows = s.rights_sla_rows(t(0)).await.expect("sla");
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .any(|r| r.completed && r.closed_at == Some(t(500)))
    );
    assert_eq!(s.rights_sla_rows(t(3)).await.expect("since").len(), 1);

    assert!(
        s.purge_rights_requests(t(9_999), 10, draft("rights.purge"))
            .await
            .expect("early")
            .is_empty()
    );
    let head = s.audit_head().await.expect("head").size;
    let purged = s
        .purge_rights_requests(t(10_000), 10, draft("rights.purge"))
        .await
        .expect("purge");
    assert_eq!(purged, vec![b.id.clone()]);
    assert_eq!(s.audit_head().await.expect("head").size, head + 1);
    assert!(s.get_rights_request(&b.id).await.expect("gone").is_none());
    assert!(s.rights_events(&b.id).await.expect("events").is_empty());
    assert!(
        s.subject_key(&requester_subject(&b.id))
            .await
            .expect("key")
            .is_none(),
        "the identity is shredded"
    );
    assert!(
        s.subject_key(&requester_subject(&a.id))
            .await
            .expect("key")
            .is_some()
    );
    assert_eq!(
        s.get_rights_request(&c.id)
            .await
            .expect("get")
            .map(|r| r.drp),
        Some(c.drp.clone()),
        "the agent link is kept"
    );

    // DRP pair-wise tokens: one per agent, replaced by pairing again.
    let head = s.audit_head().await.expect("head").size;
    s.pair_drp_agent("AGENT_A", &[1; 32], t(1), draft("drp.agent_paired"))
        .await
        .expect("pair");
    s.pair_drp_agent("AGENT_B", &[2; 32], t(1), draft("drp.agent_paired"))
        .await
        .expect("pair");
    assert_eq!(s.audit_head().await.expect("head").size, head + 2);
    assert_eq!(
        s.drp_agent_by_token(&[1; 32])
            .await
            .expect("token")
            .as_deref(),
        Some("AGENT_A")
    );
    s.pair_drp_agent("AGENT_A", &[3; 32], t(2), draft("drp.agent_paired"))
        .await
        .expect("pair again");
    assert_eq!(s.drp_agent_by_token(&[1; 32]).await.expect("old"), None);
    assert_eq!(
        s.drp_agent_by_token(&[3; 32])
            .await
            .expect("new")
            .as_deref(),
        Some("AGENT_A")
    );
    assert_eq!(
        s.drp_agent_by_token(&[2; 32]).await.expect("b").as_deref(),
        Some("AGENT_B")
    );
    // Export packages: single use, until they expire; a new one replaces the old.
    use custodian_core::rights::export::{ExportTake, RightsExport};
    let export = |token: u8, expires: i64| RightsExport {
        token_hash: vec![token; 32],
        request_id: a.id.clone(),
        sealed: vec![token; 100],
        created_at: t(20_000),
        expires_at: t(expires),
        downloaded_at: None,
    };
    let head = s.audit_head().await.expect("head").size;
    s.create_rights_export(&export(1, 30_000), draft("rights.export_created"))
        .await
        .expect("export");
    assert_eq!(
        s.take_rights_export(&[9; 32], t(20_001), draft("rights.export_downloaded"))
            .await
            .expect("unknown"),
        ExportTake::Unknown
    );
    assert_eq!(
        s.take_rights_export(&[1; 32], t(30_000), draft("rights.export_downloaded"))
            .await
            .expect("expired"),
        ExportTake::Expired
    );
    assert_eq!(
        s.audit_head().await.expect("head").size,
        head + 1,
        "only the creation so far"
    );
    let ExportTake::Taken(got) = s
        .take_rights_export(&[1; 32], t(20_001), draft("rights.export_downloaded"))
        .await
        .expect("take")
    else {
        panic!("the package is there");
    };
    assert_eq!(got.sealed, vec![1; 100]);
    assert_eq!(got.downloaded_at, Some(t(20_001)));
    assert_eq!(
        s.take_rights_export(&[1; 32], t(20_002), draft("rights.export_downloaded"))
            .await
            .expect("again"),
        ExportTake::Used,
        "a link works once"
    );
    s.create_rights_export(&export(2, 30_000), draft("rights.export_created"))
        .await
        .expect("export");
    s.create_rights_export(&export(3, 30_000), draft("rights.export_created"))
        .await
        .expect("replace");
    assert_eq!(
        s.take_rights_export(&[2; 32], t(20_003), draft("rights.export_downloaded"))
            .await
            .expect("replaced"),
        ExportTake::Unknown,
        "a new package replaces the request's earlier one"
    );
    s.purge_rights_requests(t(30_000), 10, draft("rights.purge"))
        .await
        .expect("purge");
    assert_eq!(
        s.take_rights_export(&[3; 32], t(20_004), draft("rights.export_downloaded"))
            .await
            .expect("purged"),
        ExportTake::Unknown,
        "expired packages are purged"
    );
}

/// Dataset declarations replace by key and delete once; manual tasks are one per system and
/// request, and change over the version read.
pub async fn datasets_and_tasks(s: Arc<dyn Store>) {
    use custodian_core::rights::dataset::StoredDataset;
    use custodian_core::rights::task::{RightsTask, TaskReason};
    s.initialize(init()).await.expect("init");
    let ds = |key: &str, version: i64| StoredDataset {
        key: key.into(),
        declaration: format!("{{\"dataset\":[{{\"fides_key\":\"{key}\",\"v\":{version}}}]}}"),
        version,
        created_at: t(1),
        updated_at: t(version),
    };
    let head = s.audit_head().await.expect("head").size;
    s.put_dataset(&ds("shop", 1), draft("dataset.declared"))
        .await
        .expect("put");
    s.put_dataset(&ds("crm", 1), draft("dataset.declared"))
        .await
        .expect("put");
    s.put_dataset(&ds("shop", 2), draft("dataset.declared"))
        .await
        .expect("replace");
    let all = s.datasets().await.expect("list");
    assert_eq!(
        all,
        [ds("crm", 1), ds("shop", 2)],
        "by key, replaced in place"
    );
    s.delete_dataset("crm", draft("dataset.deleted"))
        .await
        .expect("delete");
    assert!(matches!(
        s.delete_dataset("crm", draft("dataset.deleted")).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.datasets().await.expect("list"), [ds("shop", 2)]);
    assert_eq!(s.audit_head().await.expect("head").size, head + 4);

    let task = |id: &str, request: &str, system: &str| RightsTask {
        id: id.into(),
        request_id: request.into(),
        system: system.into(),
        reason: TaskReason::NotConfigured,
        assignee: None,
        due_at: Some(t(86_400)),
        evidence: None,
        done_by: None,
        done_at: None,
        created_at: t(10),
        version: 1,
    };
    s.create_rights_tasks(
        &[
            task("task_1", "rr_1", "shop"),
            task("task_2", "rr_1", "crm"),
        ],
        draft("rights.tasks_created"),
    )
    .await
    .expect("create");
    s.create_rights_tasks(
        &[
            task("task_3", "rr_1", "shop"),
            task("task_4", "rr_2", "shop"),
        ],
        draft("rights.tasks_created"),
    )
    .await
    .expect("create again");
    let got = s.rights_tasks("rr_1").await.expect("list");
    assert_eq!(
        got.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["task_1", "task_2"],
        "one task per system in a request"
    );
    assert_eq!(got[0], task("task_1", "rr_1", "shop"));
    let mut done = got[0].clone();
    done.assignee = Some("op_1".into());
    done.evidence = Some("erased by hand".into());
    done.done_by = Some("op_1".into());
    done.done_at = Some(t(100));
    done.version = 2;
    s.update_rights_task(&done, 1, draft("rights.task_completed"))
        .await
        .expect("update");
    assert!(matches!(
        s.update_rights_task(&done, 1, draft("rights.task_completed"))
            .await,
        Err(StoreError::Conflict("version"))
    ));
    assert!(matches!(
        s.update_rights_task(
            &task("task_9", "rr_1", "x"),
            1,
            draft("rights.task_completed")
        )
        .await,
        Err(StoreError::NotFound)
    ));
    let got = s.rights_tasks("rr_1").await.expect("list");
    assert_eq!(got[0], done);
    assert!(!got[0].is_open() && got[1].is_open());
    assert_eq!(s.rights_tasks("rr_2").await.expect("list").len(), 1);
}

/// Map entries and datasets land together or not at all; entries replace by kind and key.
pub async fn map_entries(s: Arc<dyn Store>) {
    use custodian_core::map::{MapEntry, MapKind};
    use custodian_core::rights::dataset::StoredDataset;
    s.initialize(init()).await.expect("init");
    let entry = |kind: MapKind, key: &str, version: i64| MapEntry {
        kind,
        key: key.into(),
        body: format!("{{\"fides_key\":\"{key}\",\"v\":{version}}}"),
        version,
        created_at: t(1),
        updated_at: t(version),
    };
    let ds = StoredDataset {
        key: "shop".into(),
        declaration: "{\"dataset\":[{\"fides_key\":\"shop\"}]}".into(),
        version: 1,
        created_at: t(1),
        updated_at: t(1),
    };
    let head = s.audit_head().await.expect("head").size;
    s.put_map(
        &[
            entry(MapKind::System, "crm", 1),
            entry(MapKind::Organization, "acme", 1),
            entry(MapKind::DataCategory, "crm", 1),
        ],
        std::slice::from_ref(&ds),
        draft("map.imported"),
    )
    .await
    .expect("put");
    assert_eq!(s.audit_head().await.expect("head").size, head + 1);
    let all = s.map_entries().await.expect("entries");
    assert_eq!(all.len(), 3, "the same key under two kinds is two entries");
    assert_eq!(all[0].kind, MapKind::DataCategory);
    assert_eq!(all[0].created_at, t(1));
    assert_eq!(s.datasets().await.expect("datasets").len(), 1);
    s.put_map(
        &[entry(MapKind::System, "crm", 2)],
        &[],
        draft("map.imported"),
    )
    .await
    .expect("replace");
    let all = s.map_entries().await.expect("entries");
    let crm = all.iter().find(|e| e.kind == MapKind::System).expect("crm");
    assert_eq!((crm.version, crm.updated_at), (2, t(2)));
    assert!(crm.body.contains("\"v\":2"));
    s.delete_map_entry(MapKind::System, "crm", draft("map.deleted"))
        .await
        .expect("delete");
    assert!(matches!(
        s.delete_map_entry(MapKind::System, "crm", draft("map.deleted"))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.map_entries().await.expect("entries").len(), 2);
}

/// Scan proposals: a new scan replaces the dataset's pending proposals and keeps decided
/// ones; a decision is taken once; an acceptance stores the dataset at the next version in
/// the same transaction, and is refused (with nothing written) when the dataset moved on.
pub async fn scan_proposals(s: Arc<dyn Store>) {
    use custodian_core::map::proposal::{ProposalStatus, ScanProposal};
    use custodian_core::rights::dataset::StoredDataset;
    s.initialize(init()).await.expect("init");
    let proposal = |id: &str, column: &str, at: i64| ScanProposal {
        id: id.into(),
        dataset: "shop".into(),
        table: "customers".into(),
        column: column.into(),
        category: "user.contact.email".into(),
        kind: Some("email".into()),
        confidence: 0.75,
        hint: None,
        sampled: 100,
        matched: 97,
        embedded: false,
        status: ProposalStatus::Pending,
        created_at: t(at),
        created_by: "operator:eng".into(),
        decided_by: None,
        decided_at: None,
    };
    let head = s.audit_head().await.expect("head").size;
    s.put_scan_proposals(
        "shop",
        &[proposal("p1", "c7", 1), proposal("p2", "c9", 1)],
        draft("scan.database"),
    )
    .await
    .expect("put");
    assert_eq!(s.audit_head().await.expect("head").size, head + 1);
    let all = s.scan_proposals(Some("shop")).await.expect("list");
    assert_eq!(all.len(), 2);
    let p1 = all.iter().find(|p| p.id == "p1").expect("p1");
    assert_eq!(p1, &proposal("p1", "c7", 1), "every field round-trips");
    assert!(
        s.scan_proposals(Some("other"))
            .await
            .expect("list")
            .is_empty()
    );

    // Rejecting p2, then a new scan: c7's pending proposal is replaced, c9's rejection stays.
    let mut rejected = proposal("p2", "c9", 1);
    rejected.status = ProposalStatus::Rejected;
    rejected.decided_by = Some("operator:dpo".into());
    rejected.decided_at = Some(t(2));
    s.decide_scan_proposal(&rejected, None, draft("scan.proposal_rejected"))
        .await
        .expect("reject");
    assert!(matches!(
        s.decide_scan_proposal(&rejected, None, draft("scan.proposal_rejected"))
            .await,
        Err(StoreError::Conflict("decided"))
    ));
    assert!(matches!(
        s.decide_scan_proposal(&proposal("nope", "c1", 1), None, draft("x"))
            .await,
        Err(StoreError::NotFound)
    ));
    s.put_scan_proposals(
        "shop",
        &[proposal("p3", "c7", 3), proposal("p4", "c9", 3)],
        draft("scan.database"),
    )
    .await
    .expect("put again");
    let all = s.scan_proposals(None).await.expect("list");
    let ids: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        ["p3", "p4", "p2"],
        "newest first; p1 replaced, p2 kept"
    );
    assert_eq!(all[2], rejected);

    // Accepting stores the dataset; a stale version writes nothing.
    let ds = |version: i64| StoredDataset {
        key: "shop".into(),
        declaration: format!("{{\"v\":{version}}}"),
        version,
        created_at: t(1),
        updated_at: t(version),
    };
    let mut accepted = proposal("p3", "c7", 3);
    accepted.status = ProposalStatus::Accepted;
    accepted.decided_by = Some("operator:dpo".into());
    accepted.decided_at = Some(t(4));
    assert!(matches!(
        s.decide_scan_proposal(&accepted, Some(&ds(2)), draft("scan.proposal_accepted"))
            .await,
        Err(StoreError::Conflict("version"))
    ));
    let p3 = s.scan_proposals(None).await.expect("list");
    assert_eq!(
        p3[0].status,
        ProposalStatus::Pending,
        "the refused acceptance wrote nothing"
    );
    s.decide_scan_proposal(&accepted, Some(&ds(1)), draft("scan.proposal_accepted"))
        .await
        .expect("accept");
    assert_eq!(s.datasets().await.expect("datasets"), vec![ds(1)]);
    let mut p4 = proposal("p4", "c9", 3);
    p4.status = ProposalStatus::Accepted;
    p4.decided_by = Some("operator:dpo".into());
    p4.decided_at = Some(t(5));
    assert!(matches!(
        s.decide_scan_proposal(&p4, Some(&ds(1)), draft("scan.proposal_accepted"))
            .await,
        Err(StoreError::Conflict("version"))
    ));
    s.decide_scan_proposal(&p4, Some(&ds(2)), draft("scan.proposal_accepted"))
        .await
        .expect("accept at the next version");
    assert_eq!(s.datasets().await.expect("datasets")[0].version, 2);
    assert_eq!(s.scan_proposals(None).await.expect("list")[0], accepted);
    // A scan that proposes nothing clears what is still pending, of its dataset only.
    let mut other = proposal("p5", "c1", 6);
    other.dataset = "crm".into();
    s.put_scan_proposals("crm", &[other], draft("scan.database"))
        .await
        .expect("crm");
    s.put_scan_proposals("shop", &[proposal("p6", "c2", 6)], draft("scan.database"))
        .await
        .expect("p6");
    s.put_scan_proposals("shop", &[], draft("scan.database"))
        .await
        .expect("clear");
    let ids: Vec<String> = s
        .scan_proposals(None)
        .await
        .expect("list")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["p5", "p3", "p4", "p2"]);
}

/// Legal holds are placed and released once; ends of relationships are set and cleared;
/// retention jobs are leased to one owner at a time, even when claimed concurrently.
pub async fn retention_holds_and_jobs(s: Arc<dyn Store>) {
    use custodian_core::ports::StoredHold;
    use custodian_core::retention::{Hold, HoldScope};
    s.initialize(init()).await.expect("init");
    let hold = |id: &str, scope: HoldScope| StoredHold {
        hold: Hold {
            id: id.into(),
            scope,
            reason: "Case 2026-17".into(),
            created_at: t(10),
            expires_at: Some(t(1000)),
            released_at: None,
        },
        created_by: "operator:dpo".into(),
        released_by: None,
    };
    s.put_hold(
        &hold("h1", HoldScope::Subject("cus_1".into())),
        draft("retention.hold_placed"),
    )
    .await
    .expect("hold");
    s.put_hold(
        &hold("h2", HoldScope::Dataset("shop".into())),
        draft("retention.hold_placed"),
    )
    .await
    .expect("hold");
    assert!(matches!(
        s.put_hold(
            &hold("h1", HoldScope::Dataset("x".into())),
            draft("retention.hold_placed")
        )
        .await,
        Err(StoreError::Conflict("hold"))
    ));
    let all = s.holds().await.expect("holds");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], hold("h1", HoldScope::Subject("cus_1".into())));
    s.release_hold(
        "h1",
        t(20),
        "operator:dpo2",
        draft("retention.hold_released"),
    )
    .await
    .expect("release");
    assert!(matches!(
        s.release_hold(
            "h1",
            t(21),
            "operator:dpo2",
            draft("retention.hold_released")
        )
        .await,
        Err(StoreError::Conflict("released"))
    ));
    assert!(matches!(
        s.release_hold("nope", t(21), "x", draft("retention.hold_released"))
            .await,
        Err(StoreError::NotFound)
    ));
    let h1 = s.holds().await.expect("holds").remove(0);
    assert_eq!(
        (h1.hold.released_at, h1.released_by.as_deref()),
        (Some(t(20)), Some("operator:dpo2"))
    );

    s.set_relationship_end("cus_1", Some(t(5)), draft("retention.relationship_ended"))
        .await
        .expect("end");
    s.set_relationship_end("cus_1", Some(t(6)), draft("retention.relationship_ended"))
        .await
        .expect("end");
    s.set_relationship_end("cus_2", Some(t(7)), draft("retention.relationship_ended"))
        .await
        .expect("end");
    s.set_relationship_end("cus_2", None, draft("retention.relationship_ended"))
        .await
        .expect("clear");
    assert_eq!(
        s.relationship_ends().await.expect("ends"),
        vec![("cus_1".to_owned(), t(6))]
    );
    // A retention shred is refused while a hold is active, and when the subject's records
    // are not what the plan saw; it removes the end of the relationship with the rest.
    s.put_hold(
        &hold("h3", HoldScope::Subject("cus_1".into())),
        draft("retention.hold_placed"),
    )
    .await
    .expect("hold");
    assert!(matches!(
        s.shred_for_retention(
            "cus_1",
            "sp_1",
            t(30),
            0,
            None,
            draft("retention.crypto_shred")
        )
        .await,
        Err(StoreError::Conflict("held"))
    ));
    s.release_hold(
        "h3",
        t(29),
        "operator:dpo",
        draft("retention.hold_released"),
    )
    .await
    .expect("release");
    assert!(matches!(
        s.shred_for_retention(
            "cus_1",
            "sp_1",
            t(30),
            1,
            Some(t(3)),
            draft("retention.crypto_shred")
        )
        .await,
        Err(StoreError::Conflict("record_version"))
    ));
    s.shred_for_retention(
        "cus_1",
        "sp_1",
        t(30),
        0,
        None,
        draft("retention.crypto_shred"),
    )
    .await
    .expect("shred");
    assert!(s.relationship_ends().await.expect("ends").is_empty());
    assert_eq!(s.erasure_ledger().await.expect("ledger").len(), 1);

    let names: Vec<String> = vec!["vault".into(), "dataset:shop".into()];
    let got = s
        .claim_retention_jobs(&names, "a", t(100), t(160), false)
        .await
        .expect("claim");
    assert_eq!(got.len(), 2, "new jobs are due");
    assert!(
        s.claim_retention_jobs(&names, "b", t(110), t(170), true)
            .await
            .expect("claim")
            .is_empty(),
        "leased jobs are not claimed, even forced"
    );
    s.finish_retention_job("vault", "b", t(111), t(9999), "stolen")
        .await
        .expect("not the owner: no-op");
    assert!(
        s.claim_retention_jobs(&names[..1], "b", t(120), t(180), false)
            .await
            .expect("claim")
            .is_empty()
    );
    assert!(
        s.renew_retention_job("vault", "a", t(190))
            .await
            .expect("renew")
    );
    assert!(
        !s.renew_retention_job("vault", "b", t(190))
            .await
            .expect("renew"),
        "not b's lease"
    );
    s.finish_retention_job("vault", "a", t(130), t(3700), "ok")
        .await
        .expect("finish");
    assert!(
        s.claim_retention_jobs(&names[..1], "b", t(140), t(200), false)
            .await
            .expect("claim")
            .is_empty(),
        "not due until the next run"
    );
    assert_eq!(
        s.claim_retention_jobs(&names[..1], "b", t(140), t(200), true)
            .await
            .expect("claim"),
        vec!["vault".to_owned()],
        "a forced run takes a job that is not leased"
    );
    assert_eq!(
        s.claim_retention_jobs(&names[1..], "c", t(161), t(220), false)
            .await
            .expect("claim")
            .len(),
        1,
        "an expired lease can be taken over"
    );
    // Concurrent claims of the same due jobs never overlap.
    let many: Vec<String> = (0..20).map(|i| format!("job{i}")).collect();
    let (a, b) = tokio::join!(
        s.claim_retention_jobs(&many, "x", t(300), t(360), false),
        s.claim_retention_jobs(&many, "y", t(300), t(360), false)
    );
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_eq!(a.len() + b.len(), 20, "every job is claimed once");
    assert!(a.iter().all(|n| !b.contains(n)));
}

/// Courses, required roles and completions; operators read carry the training they derive.
pub async fn training_register(s: Arc<dyn Store>) {
    use custodian_core::training::{CourseInput, valid_until};
    s.initialize(init()).await.expect("init");
    for (id, role) in [("op-a", Role::Support), ("op-b", Role::Auditor)] {
        s.create_operator(&operator(id, role), draft("operator.write"))
            .await
            .expect("create");
    }
    let course = |key: &str, version: i64, roles: &[Role]| {
        CourseInput {
            key,
            title: "Privacy at work",
            description: Some("What we may do with customers' data."),
            validity_days: 10,
            required_for: roles,
        }
        .validate(version, t(0), t(version))
        .expect("course")
    };
    let until = |id: &'static str| {
        let s = s.clone();
        async move {
            s.get_operator(id)
                .await
                .expect("get")
                .expect("some")
                .training_valid_until
        }
    };
    let basics = course("basics", 1, &[Role::Support]);
    s.put_course(&basics, None, draft("training.manage"))
        .await
        .expect("put");
    assert_eq!(
        s.put_course(&basics, None, draft("training.manage")).await,
        Err(StoreError::Conflict("course"))
    );
    assert_eq!(
        s.put_course(&course("nope", 2, &[]), Some(1), draft("training.manage"))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.put_course(&course("basics", 3, &[]), Some(2), draft("training.manage"))
            .await,
        Err(StoreError::Conflict("version"))
    );
    assert_eq!(s.courses().await, Ok(vec![basics.clone()]));
    assert_eq!(until("op-a").await, None, "required but never completed");

    let done = |id: &str, op: &str, course: &custodian_core::training::Course, at: i64| {
        course
            .completion(id.into(), op, t(at), Some("LMS-1"), "cli", t(at + 1))
            .expect("completion")
    };
    let first = done("c1", "op-a", &basics, 100);
    s.record_completion(&first, draft("training.record"))
        .await
        .expect("record");
    assert_eq!(until("op-a").await, Some(first.expires_at));
    assert_eq!(
        until("op-b").await,
        None,
        "the auditor's role requires nothing"
    );
    let listed = s.list_operators().await.expect("list");
    assert_eq!(
        listed
            .iter()
            .find(|o| o.id == "op-a")
            .and_then(|o| o.training_valid_until),
        Some(first.expires_at)
    );
    let mut unknown = done("c0", "op-a", &basics, 100);
    unknown.operator_id = "nobody".into();
    assert_eq!(
        s.record_completion(&unknown, draft("training.record"))
            .await,
        Err(StoreError::Conflict("reference"))
    );

    // A second required course: training counts only once both are done, until the
    // earlier expiry.
    let security = course("security", 1, &[Role::Support, Role::Auditor]);
    s.put_course(&security, None, draft("training.manage"))
        .await
        .expect("put");
    assert_eq!(until("op-a").await, None);
    let second = done("c2", "op-a", &security, 50);
    s.record_completion(&second, draft("training.record"))
        .await
        .expect("record");
    assert_eq!(until("op-a").await, Some(second.expires_at));
    let renewed = done("c3", "op-a", &basics, 400);
    s.record_completion(&renewed, draft("training.record"))
        .await
        .expect("record");
    assert_eq!(
        until("op-a").await,
        valid_until(&[Some(renewed.expires_at), Some(second.expires_at)])
    );
    let rows = s.training_rows(Some("op-a")).await.expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].course, "basics");
    assert_eq!(rows[0].latest_expiry, Some(renewed.expires_at));
    assert_eq!(s.training_rows(None).await.expect("rows").len(), 3);
    let mine = s.completions(Some("op-a")).await.expect("completions");
    assert_eq!(
        mine.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["c3", "c1", "c2"],
        "newest recorded first"
    );
    assert_eq!(s.completions(Some("op-b")).await, Ok(vec![]));

    // Retiring the second course's requirement for support leaves the first.
    let retired = course("security", 2, &[Role::Auditor]);
    s.put_course(&retired, Some(1), draft("training.manage"))
        .await
        .expect("update");
    assert_eq!(until("op-a").await, Some(renewed.expires_at));
    assert_eq!(
        s.courses().await.expect("courses")[1].required_for,
        vec![Role::Auditor]
    );
    // Revoking the renewal: the earlier completion counts again, and nothing else.
    s.revoke_completion("c3", t(500), "cli", draft("training.record"))
        .await
        .expect("revoke");
    assert_eq!(until("op-a").await, Some(first.expires_at));
    assert_eq!(
        s.revoke_completion("c3", t(501), "cli", draft("training.record"))
            .await,
        Err(StoreError::Conflict("revoked"))
    );
    assert_eq!(
        s.revoke_completion("nope", t(501), "cli", draft("training.record"))
            .await,
        Err(StoreError::NotFound)
    );
    let c3 = s.completions(Some("op-a")).await.expect("completions");
    assert_eq!(c3[0].revoked_at, Some(t(500)));
    assert_eq!(c3[0].revoked_by.as_deref(), Some("cli"));
}

/// Incidents are kept whole, updated only over the version read, newest first.
pub async fn incident_register(s: Arc<dyn Store>) {
    use custodian_core::incident::record::Incident;
    use custodian_core::incident::{Risk, Status};
    s.initialize(init()).await.expect("init");
    let incident = |id: &str, at: i64| Incident {
        id: id.into(),
        title: "Misdirected export".into(),
        description: Some("A file went to the wrong partner.".into()),
        status: Status::Open,
        discovered_at: t(at),
        aware_at: t(at),
        occurred_from: None,
        occurred_until: None,
        systems: vec![],
        datasets: vec!["shop".into()],
        collections: vec!["customers".into()],
        categories: vec!["user.contact".into()],
        estimated_subjects: Some(12),
        jurisdictions: vec!["GDPR".into()],
        time_zone: "UTC".into(),
        risk: None,
        risk_rationale: None,
        decisions: Default::default(),
        affected: None,
        version: 1,
        created_at: t(at),
        updated_at: t(at),
        created_by: "cli".into(),
    };
    let a = incident("inc-a", 10);
    s.put_incident(&a, None, draft("incident.manage"))
        .await
        .expect("put");
    assert_eq!(
        s.put_incident(&a, None, draft("incident.manage")).await,
        Err(StoreError::Conflict("incident"))
    );
    s.put_incident(&incident("inc-b", 20), None, draft("incident.manage"))
        .await
        .expect("put");
    let mut changed = a.clone();
    changed.risk = Some(Risk::HighRisk);
    changed.status = Status::Contained;
    changed.version = 2;
    s.put_incident(&changed, Some(1), draft("incident.manage"))
        .await
        .expect("update");
    assert_eq!(
        s.put_incident(&changed, Some(1), draft("incident.manage"))
            .await,
        Err(StoreError::Conflict("version"))
    );
    assert_eq!(
        s.put_incident(&incident("nope", 1), Some(1), draft("incident.manage"))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(s.incident("inc-a").await, Ok(Some(changed)));
    assert_eq!(s.incident("nope").await, Ok(None));
    let all = s.incidents().await.expect("list");
    assert_eq!(
        all.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["inc-b", "inc-a"]
    );
}

/// Evidence bundles are recorded and the latest read back; consent figures count current
/// states per purpose, a consent past its expiry as expired; retention jobs list their runs.
pub async fn evidence_bundles_and_figures(s: Arc<dyn Store>) {
    use custodian_core::ports::{ConsentFigure, EvidenceBundle};
    s.initialize(init()).await.expect("init");
    assert_eq!(s.last_evidence_bundle().await, Ok(None));
    let bundle = |id: &str, at: i64, size: u64| EvidenceBundle {
        id: id.into(),
        created_at: t(at),
        tree_size: size,
        root: "ab".repeat(32),
        manifest_sha256: "cd".repeat(32),
        created_by: "cli".into(),
    };
    let before = s.audit_head().await.expect("head").size;
    s.record_evidence_bundle(&bundle("b1", 10, 3), None, draft("evidence.export"))
        .await
        .expect("record");
    // A second export that also thinks it is the first would fork the chain: refused.
    assert_eq!(
        s.record_evidence_bundle(&bundle("bx", 11, 3), None, draft("evidence.export"))
            .await,
        Err(StoreError::Conflict("previous"))
    );
    s.record_evidence_bundle(&bundle("b2", 20, 5), Some("b1"), draft("evidence.export"))
        .await
        .expect("record");
    assert_eq!(
        s.record_evidence_bundle(&bundle("by", 30, 6), Some("b1"), draft("evidence.export"))
            .await,
        Err(StoreError::Conflict("previous"))
    );
    assert_eq!(
        s.last_evidence_bundle().await,
        Ok(Some(bundle("b2", 20, 5)))
    );
    assert_eq!(
        s.audit_head().await.expect("head").size,
        before + 2,
        "refused records write no audit event"
    );
    assert_eq!(s.consent_figures(t(0)).await, Ok(vec![]));
    assert_eq!(s.retention_jobs().await, Ok(vec![]));
    s.claim_retention_jobs(&["vault".to_owned()], "me", t(0), t(60), true)
        .await
        .expect("claim");
    s.finish_retention_job("vault", "me", t(5), t(3_600), "disposed:0")
        .await
        .expect("finish");
    let jobs = s.retention_jobs().await.expect("jobs");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].last_outcome.as_deref(), Some("disposed:0"));
    assert_eq!(jobs[0].due_at, t(3_600));
    use custodian_core::consent::ledger::ConsentState::{Given, Refused};
    let mut expiring = consent_event("e3", "sp_c", "newsletter", Given, 10);
    expiring.expires_at = Some(t(100));
    let events = [
        consent_event("e1", "sp_a", "newsletter", Given, 10),
        consent_event("e2", "sp_b", "newsletter", Refused, 10),
        expiring,
        consent_event("e4", "sp_a", "analytics", Refused, 10),
    ];
    s.record_consent(&events, &[], draft("consent.record"))
        .await
        .expect("record");
    let fig = |purpose: &str, state: &str, count: u64| ConsentFigure {
        purpose: purpose.into(),
        state: state.into(),
        count,
    };
    assert_eq!(
        s.consent_figures(t(50)).await,
        Ok(vec![
            fig("analytics", "refused", 1),
            fig("newsletter", "given", 2),
            fig("newsletter", "refused", 1),
        ])
    );
    assert_eq!(
        s.consent_figures(t(100)).await,
        Ok(vec![
            fig("analytics", "refused", 1),
            fig("newsletter", "expired", 1),
            fig("newsletter", "given", 1),
            fig("newsletter", "refused", 1),
        ])
    );
}

/// Register entries are kept by kind and key, replaced only over the version read.
pub async fn register_entries(s: Arc<dyn Store>) {
    use custodian_core::register::{RegisterEntry, RegisterKind};
    s.initialize(init()).await.expect("init");
    let entry = |kind, key: &str, version: i64, body: &str| RegisterEntry {
        kind,
        key: key.into(),
        body: body.into(),
        version,
        created_at: t(1),
        updated_at: t(version),
    };
    let v1 = entry(RegisterKind::Vendor, "mailer", 1, "{\"a\":1}");
    s.put_register_entry(&v1, None, draft("vendor.manage"))
        .await
        .expect("put");
    assert_eq!(
        s.put_register_entry(&v1, None, draft("vendor.manage"))
            .await,
        Err(StoreError::Conflict("exists"))
    );
    // The same key under another kind is another entry.
    s.put_register_entry(
        &entry(RegisterKind::Dpia, "mailer", 1, "{}"),
        None,
        draft("dpia.write"),
    )
    .await
    .expect("put");
    let v2 = entry(RegisterKind::Vendor, "mailer", 2, "{\"a\":2}");
    s.put_register_entry(&v2, Some(1), draft("vendor.manage"))
        .await
        .expect("update");
    assert_eq!(
        s.put_register_entry(&v2, Some(1), draft("vendor.manage"))
            .await,
        Err(StoreError::Conflict("version"))
    );
    assert_eq!(
        s.put_register_entry(
            &entry(RegisterKind::Vendor, "nope", 2, "{}"),
            Some(1),
            draft("vendor.manage")
        )
        .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.register_entry(RegisterKind::Vendor, "mailer").await,
        Ok(Some(v2.clone()))
    );
    assert_eq!(
        s.register_entry(RegisterKind::Vendor, "nope").await,
        Ok(None)
    );
    s.put_register_entry(
        &entry(RegisterKind::Vendor, "acme", 1, "{}"),
        None,
        draft("vendor.manage"),
    )
    .await
    .expect("put");
    let all = s
        .register_entries(RegisterKind::Vendor)
        .await
        .expect("list");
    assert_eq!(
        all.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        ["acme", "mailer"]
    );
    assert_eq!(
        s.register_entries(RegisterKind::Dpia)
            .await
            .expect("list")
            .len(),
        1
    );
}
