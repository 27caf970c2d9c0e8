//! The compliance dashboard and the auditor's evidence bundle, as the issue checks them:
//! export two bundles in a row, verify them offline with only the public key (the second
//! proving the log grew consistently from the first), and tamper with one: every changed
//! byte fails. Then the same through the binary, offline.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use custodian_server::evidence::{VerifyError, verify};
use reqwest::Method;
use serde_json::json;

use crate::harness::{Body, Options, TestServer, fixed_clock};

const BIN: &str = env!("CARGO_BIN_EXE_custodian");

async fn bundle(s: &TestServer, key: &str) -> Vec<u8> {
    let r = s
        .http
        .post(format!("{}/v1/evidence", s.base))
        .bearer_auth(key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().expect("type"),
        "application/zip"
    );
    r.bytes().await.expect("body").to_vec()
}

/// The zip with one file's content replaced (its CRC recomputed: only the manifest can
/// tell).
fn rezip(bytes: &[u8], name: &str, content: &[u8]) -> Vec<u8> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..z.len() {
        let mut f = z.by_index(i).expect("entry");
        let n = f.name().to_owned();
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut buf).expect("read");
        w.start_file(
            n.as_str(),
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored),
        )
        .expect("start");
        w.write_all(if n == name { content } else { &buf })
            .expect("write");
    }
    w.finish().expect("finish").into_inner()
}

#[tokio::test]
async fn two_bundles_verify_offline_and_any_changed_byte_fails() {
    let clock = fixed_clock();
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let (_, auditor) = s.operator_with_key("Ada Auditor", "auditor").await;
    let (_, support) = s.operator_with_key("Sam Support", "support").await;
    let vkey = s
        .call(
            Method::GET,
            "/v1/audit/checkpoint",
            Some(&s.admin_key),
            Body::None,
        )
        .await
        .json["verifier_key"]
        .as_str()
        .expect("vkey")
        .to_owned();
    let r = s
        .call(
            Method::PUT,
            "/v1/training/courses/privacy",
            Some(&s.admin_key),
            Body::Json(json!({"title": "Privacy at work", "validity_days": 365, "required_for": ["support"]})),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");

    let first = bundle(&s, &auditor).await;
    let v1 = verify(&first, &vkey, None).expect("the first bundle verifies");
    assert!(v1.manifest.previous.is_none());
    assert!(!v1.consistency_checked);
    let names: Vec<&str> = v1.manifest.files.iter().map(|f| f.name.as_str()).collect();
    for expected in [
        "audit/checkpoint.txt",
        "records_of_processing.csv",
        "records_of_processing.html",
        "data_map.json",
        "policies/policies.cedar",
        "policies/schema.cedarschema",
        "policies/dpia_rules.json",
        "retention/rules.json",
        "retention/holds.json",
        "retention/jobs.json",
        "rights/sla.json",
        "consent/figures.json",
        "training/status.json",
        "training/courses.json",
        "incidents.json",
        "vendors.json",
        "dpias.json",
        "monitoring/rules.json",
        "monitoring/alerts.json",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }

    // More happens; the second bundle proves the log grew from the first's.
    let r = s
        .call(
            Method::POST,
            "/v1/incidents",
            Some(&s.admin_key),
            Body::Json(json!({
                "title": "Lost laptop", "discovered_at": "2026-01-01T00:00:00Z",
                "categories": ["user.contact"], "jurisdictions": ["GDPR"]
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let dash = s
        .call(
            Method::GET,
            "/v1/compliance/dashboard",
            Some(&auditor),
            Body::None,
        )
        .await;
    assert_eq!(dash.status, 200, "{dash:?}");
    assert_eq!(dash.json["incidents"]["open"], 1);
    assert_eq!(
        dash.json["incidents"]["next_due"], "2026-01-04T00:00:00Z",
        "{dash:?}"
    );
    assert_eq!(dash.json["training"]["operators"], 1);
    assert_eq!(dash.json["training"]["missing"], 1);
    assert_eq!(
        dash.json["last_evidence"]["bundle_id"],
        v1.manifest.bundle_id.as_str()
    );
    assert!(
        dash.json["audit"]["checkpoint"]
            .as_str()
            .expect("note")
            .contains("— ")
    );

    let second = bundle(&s, &auditor).await;
    let v2 = verify(&second, &vkey, Some(&first)).expect("the second bundle verifies");
    assert!(v2.consistency_checked);
    let prev = v2.manifest.previous.as_ref().expect("previous");
    assert_eq!(prev.bundle_id, v1.manifest.bundle_id);
    assert!(v2.manifest.audit_log.tree_size > v1.manifest.audit_log.tree_size);
    // Out of order, or a bundle as its own predecessor: refused.
    assert!(matches!(
        verify(&first, &vkey, Some(&second)),
        Err(VerifyError::Previous(_))
    ));
    assert!(matches!(
        verify(&second, &vkey, Some(&second)),
        Err(VerifyError::Previous(_))
    ));

    // Every single changed byte fails, wherever it is: each byte of the zip, in turn.
    for i in 0..second.len() {
        let mut t = second.clone();
        t[i] ^= 0x01;
        assert!(
            verify(&t, &vkey, None).is_err(),
            "byte {i} of {} changed, still verified",
            second.len()
        );
    }
    // A file changed inside a well-formed zip: its hash no longer matches the manifest.
    let altered = rezip(&second, "incidents.json", b"[]");
    assert!(matches!(
        verify(&altered, &vkey, None),
        Err(VerifyError::Files(_))
    ));
    // The manifest changed: its signature no longer matches.
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(&second[..])).expect("zip");
    let mut m = String::new();
    std::io::Read::read_to_string(&mut z.by_name("manifest.json").expect("manifest"), &mut m)
        .expect("read");
    let altered = rezip(
        &second,
        "manifest.json",
        m.replace("\"files\"", "\"files\" ").as_bytes(),
    );
    assert!(matches!(
        verify(&altered, &vkey, None),
        Err(VerifyError::Signature(_))
    ));
    // Another key: refused.
    let other = custodian_crypto::note::NoteSigner::from_pkcs8(
        "other",
        &custodian_crypto::note::NoteSigner::generate_pkcs8().expect("key"),
    )
    .expect("signer");
    assert!(matches!(
        verify(&second, &other.verifier_key(), None),
        Err(VerifyError::Signature(_))
    ));
    assert!(matches!(
        verify(b"not a zip", &vkey, None),
        Err(VerifyError::Unreadable(_))
    ));

    // Roles and the audit trail.
    for (m, path) in [
        (Method::POST, "/v1/evidence"),
        (Method::GET, "/v1/compliance/dashboard"),
    ] {
        s.call(m, path, Some(&support), Body::None)
            .await
            .assert_error(403, "access_denied");
    }
    assert!(s.audit_text().await.contains("evidence.exported"));
}

#[test]
fn the_binary_exports_and_verifies_bundles_offline() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("data");
    let d = dir.to_str().expect("path");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("CUSTODIAN_LOG", "warn")
            .output()
            .expect("run custodian")
    };
    let out = run(&["init", "--data-dir", d]);
    assert!(out.status.success(), "{out:?}");
    let key = run(&["keys", "log-public-key", "--data-dir", d]);
    assert!(key.status.success(), "{key:?}");
    let pubkey = tmp.path().join("log.pub");
    std::fs::write(&pubkey, &key.stdout).expect("write key");
    let (a, b) = (tmp.path().join("a.zip"), tmp.path().join("b.zip"));
    for z in [&a, &b] {
        let out = run(&[
            "evidence",
            "export",
            "--data-dir",
            d,
            "--out",
            z.to_str().expect("path"),
        ]);
        assert!(out.status.success(), "{out:?}");
    }
    let out = run(&[
        "evidence",
        "export",
        "--data-dir",
        d,
        "--out",
        a.to_str().expect("path"),
    ]);
    assert!(!out.status.success(), "an existing file is not overwritten");
    let verify = |bundle: &Path, previous: Option<&Path>| {
        let mut args = vec![
            "evidence".to_owned(),
            "verify".to_owned(),
            bundle.display().to_string(),
            "--public-key".to_owned(),
            pubkey.display().to_string(),
        ];
        if let Some(p) = previous {
            args.extend(["--previous".to_owned(), p.display().to_string()]);
        }
        Command::new(BIN)
            .args(&args)
            .env("CUSTODIAN_LOG", "warn")
            .output()
            .expect("run custodian")
    };
    let out = verify(&b, Some(&a));
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ok: follows bundle"), "{text}");
    let mut bytes = std::fs::read(&b).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    let tampered = tmp.path().join("tampered.zip");
    std::fs::write(&tampered, &bytes).expect("write");
    let out = verify(&tampered, None);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not verify"),
        "{out:?}"
    );
}
