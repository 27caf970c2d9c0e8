//! The audit log over HTTP: signed checkpoints, proofs, fail-closed writes, tamper evidence,
//! offline export, and one log shared by several servers.

use custodian_cli::audit::{export, verify_file, verify_store};
use custodian_core::audit::merkle;
use custodian_crypto::note::{Checkpoint, NoteVerifier};
use reqwest::Method;
use serde_json::json;

use crate::harness::{Body, TestServer};

fn h(v: &serde_json::Value) -> [u8; 32] {
    hex::decode(v.as_str().expect("hex"))
        .expect("hex")
        .try_into()
        .expect("32 bytes")
}

#[tokio::test]
async fn checkpoints_are_signed_and_proofs_verify() {
    let s = TestServer::start().await;
    let (_, auditor) = s.operator_with_key("Ada Auditor", "auditor").await;
    let first = s
        .call(
            Method::GET,
            "/v1/audit/checkpoint",
            Some(&auditor),
            Body::None,
        )
        .await;
    assert_eq!(first.status, 200, "{first:?}");
    for i in 0..9 {
        s.operator_with_key(&format!("Op {i}"), "support").await;
    }
    let cp = s
        .call(
            Method::GET,
            "/v1/audit/checkpoint",
            Some(&auditor),
            Body::None,
        )
        .await;
    let verifier =
        NoteVerifier::parse(cp.json["verifier_key"].as_str().expect("vkey")).expect("vkey parses");
    let body = verifier
        .open(cp.json["checkpoint"].as_str().expect("note"))
        .expect("signature verifies");
    let checkpoint = Checkpoint::parse(body).expect("checkpoint");
    assert_eq!(checkpoint.size, cp.json["size"].as_u64().expect("size"));
    assert_eq!(checkpoint.root, h(&cp.json["root"]));
    // The read of the checkpoint is itself the last event it covers.
    let last = s
        .store
        .audit_events(checkpoint.size - 1, 1)
        .await
        .expect("events");
    assert_eq!(last[0].draft.action, "audit.read");
    assert_eq!(last[0].draft.resource, "audit_log:checkpoint");

    for seq in 0..checkpoint.size {
        let p = s
            .call(
                Method::GET,
                &format!("/v1/audit/events/{seq}/proof?tree_size={}", checkpoint.size),
                Some(&auditor),
                Body::None,
            )
            .await;
        assert_eq!(p.status, 200, "{p:?}");
        let proof: Vec<[u8; 32]> = p.json["proof"]
            .as_array()
            .expect("proof")
            .iter()
            .map(h)
            .collect();
        assert!(merkle::verify_inclusion(
            seq,
            checkpoint.size,
            &h(&p.json["leaf_hash"]),
            &proof,
            &checkpoint.root
        ));
    }
    let old_size = first.json["size"].as_u64().expect("size");
    let c = s
        .call(
            Method::GET,
            &format!(
                "/v1/audit/consistency?from={old_size}&to={}",
                checkpoint.size
            ),
            Some(&auditor),
            Body::None,
        )
        .await;
    assert_eq!(c.status, 200, "{c:?}");
    let proof: Vec<[u8; 32]> = c.json["proof"]
        .as_array()
        .expect("proof")
        .iter()
        .map(h)
        .collect();
    assert!(merkle::verify_consistency(
        old_size,
        checkpoint.size,
        &h(&first.json["root"]),
        &checkpoint.root,
        &proof
    ));

    let page = s
        .call_with(
            Method::GET,
            "/v1/audit/events?limit=5",
            Some(&auditor),
            Body::None,
            &[("custodian-purpose", "audit")],
        )
        .await;
    assert_eq!(page.json["events"].as_array().expect("events").len(), 5);
    assert_eq!(page.json["next"], 5);
    let text = page.json.to_string();
    assert!(
        !text.contains("Op 1"),
        "operator names never enter audit events"
    );
    let v = verify_store(s.store.as_ref()).await.expect("log verifies");
    assert!(v.size > checkpoint.size);
}

#[tokio::test]
async fn when_the_audit_write_fails_the_request_fails_and_nothing_changes() {
    let s = TestServer::start().await;
    let admin = s.admin_key.clone();
    let raw = custodian_store_sqlite::SqliteStore::open(&s.data_dir)
        .await
        .expect("second handle");
    sqlx::query("CREATE TRIGGER audit_disk_full BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        .execute(raw.raw_pool())
        .await
        .expect("trigger");
    let ops = s.store.list_operators().await.expect("ops").len();
    let size = s.audit_size().await;

    s.call(
        Method::POST,
        "/v1/operators",
        Some(&admin),
        Body::Json(json!({"name": "New", "role": "dpo"})),
    )
    .await
    .assert_error(503, "audit_unavailable");
    s.call(
        Method::PUT,
        "/v1/policies",
        Some(&admin),
        Body::Json(json!({"text": "permit (principal in Custodian::Role::\"admin\", action == Custodian::Action::\"policy.write\", resource);\n"})),
    )
    .await
    .assert_error(503, "audit_unavailable");
    let r = s
        .call(
            Method::GET,
            "/v1/audit/checkpoint",
            Some(&admin),
            Body::None,
        )
        .await;
    r.assert_error(503, "audit_unavailable");
    assert!(r.json.get("checkpoint").is_none());
    s.call(Method::GET, "/v1/operators", Some(&admin), Body::None)
        .await
        .assert_error(503, "audit_unavailable");

    assert_eq!(s.store.list_operators().await.expect("ops").len(), ops);
    assert_eq!(s.store.policy_version().await.expect("version"), 1);
    assert_eq!(s.audit_size().await, size);
    sqlx::query("DROP TRIGGER audit_disk_full")
        .execute(raw.raw_pool())
        .await
        .expect("drop");
    assert_eq!(s.get("/v1/operators").await.status, 200);
    verify_store(s.store.as_ref())
        .await
        .expect("log still verifies");
}

#[tokio::test]
async fn verify_names_the_first_altered_event_and_exports_verify_offline() {
    let s = TestServer::start().await;
    for i in 0..4 {
        s.operator_with_key(&format!("Op {i}"), "support").await;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("audit.jsonl");
    let installation = s.store.installation().await.expect("i").expect("some");
    let signer = custodian_cli::setup::load_signer(&s.data_dir, &installation).expect("signer");
    let exported = export(
        s.store.as_ref(),
        &signer,
        &custodian_server::SystemClock,
        &file,
    )
    .await
    .expect("export");
    let verified = verify_file(&file, &signer.verifier_key()).expect("offline verify");
    assert_eq!(verified.size, exported.size);

    let text = std::fs::read_to_string(&file).expect("read");
    let tampered = dir.path().join("tampered.jsonl");
    std::fs::write(
        &tampered,
        text.replacen("operator.write", "operator.wrote", 1),
    )
    .expect("write");
    let err = verify_file(&tampered, &signer.verifier_key()).expect_err("tampering detected");
    assert!(err.to_string().contains("was altered"), "{err}");
    let truncated = dir.path().join("truncated.jsonl");
    std::fs::write(
        &truncated,
        text.lines().take(3).collect::<Vec<_>>().join("\n"),
    )
    .expect("write");
    assert!(verify_file(&truncated, &signer.verifier_key()).is_err());
    let other = custodian_crypto::note::NoteSigner::from_pkcs8(
        signer.name(),
        &custodian_crypto::note::NoteSigner::generate_pkcs8().expect("k"),
    )
    .expect("s");
    assert!(
        verify_file(&file, &other.verifier_key()).is_err(),
        "a different key must not verify"
    );

    let raw = custodian_store_sqlite::SqliteStore::open(&s.data_dir)
        .await
        .expect("handle");
    sqlx::query("UPDATE audit_events SET resource = resource || 'x' WHERE seq = 3")
        .execute(raw.raw_pool())
        .await
        .expect("tamper");
    let err = verify_store(s.store.as_ref())
        .await
        .expect_err("tampering detected");
    assert!(err.to_string().contains("event 3 was altered"), "{err}");
}

#[tokio::test]
async fn two_servers_over_one_postgres_database_build_one_log() {
    let Some((_db, a, b)) = TestServer::two_over_postgres().await else {
        return;
    };
    let admin = a.admin_key.clone();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (server_base, key, http) = if i % 2 == 0 {
            (a.base.clone(), admin.clone(), a.http.clone())
        } else {
            (b.base.clone(), admin.clone(), b.http.clone())
        };
        tasks.push(tokio::spawn(async move {
            http.post(format!("{server_base}/v1/operators"))
                .bearer_auth(key)
                .json(&json!({"name": format!("Op {i}"), "role": "support"}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for t in futures::future::join_all(tasks).await {
        assert_eq!(t.expect("task").expect("request"), 201);
    }
    let v = verify_store(a.store.as_ref())
        .await
        .expect("one verifiable log");
    assert_eq!(v.size, 41, "init + 40 creations");
    let ca = a.get("/v1/audit/checkpoint").await;
    let cb = b.get("/v1/audit/checkpoint").await;
    assert_eq!(
        cb.json["size"].as_u64(),
        ca.json["size"].as_u64().map(|s| s + 1)
    );
    assert_eq!(ca.json["verifier_key"], cb.json["verifier_key"]);
}
