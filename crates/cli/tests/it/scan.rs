//! `custodian scan` through the real binary: a folder of mixed files (text, CSV, JSON, a
//! nested directory, a binary file), the summary table, the JSON report, `--fail-on` for CI,
//! and no value ever printed.

use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_custodian");

fn custodian(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run custodian")
}

#[test]
fn a_folder_of_mixed_files_is_scanned_and_no_value_is_printed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("exports");
    std::fs::create_dir_all(dir.join("old")).expect("dirs");
    std::fs::write(
        dir.join("notes.txt"),
        "Call Jane on +44 20 7946 0958.\nHer card: 4111 1111 1111 1111, order ORD-2024-000123.\n",
    )
    .expect("txt");
    std::fs::write(
        dir.join("customers.csv"),
        "id,mail,iban\n1,jane.doe@example.com,GB82 WEST 1234 5698 7654 32\n2,none,none\n",
    )
    .expect("csv");
    std::fs::write(
        dir.join("old").join("event.json"),
        "{\"ip\": \"203.0.113.7\", \"version\": \"1.2.3.4.5\", \"id\": \"9f1c1a52-6b1e-4c39-8d4b-3f2a1b0c9d8e\"}\n",
    )
    .expect("json");
    std::fs::write(dir.join("blob.bin"), [0u8, 1, 2, 3, 0, 4]).expect("bin");
    let path = dir.to_str().expect("path");

    let out = custodian(&["scan", path]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "credit_card            1       1  user.financial.credit_card",
        "email                  1       1  user.contact.email",
        "iban                   1       1  user.financial.bank_account",
        "ipv4                   1       1  user.device.ip_address",
        "phone                  1       1  user.contact.phone_number",
        "3 files, ",
        "notes.txt:2:11: credit_card",
        "customers.csv:2:3: email",
        "skipped ",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    for value in [
        "jane.doe@example.com",
        "4111",
        "GB82",
        "203.0.113.7",
        "7946",
    ] {
        assert!(!text.contains(value), "a value was printed: {value}");
    }
    assert!(
        !text.contains("event.json:1:") || text.matches("event.json").count() == 1,
        "only the IP address is found in the JSON (not the version string or the UUID):\n{text}"
    );

    let out = custodian(&["scan", "--format", "json", path]);
    assert!(out.status.success(), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["summary"]["credit_card"]["findings"], 1);
    assert_eq!(report["files"].as_array().map(Vec::len), Some(3));
    assert_eq!(report["skipped"][0]["reason"], "binary");

    // For CI: the listed kinds fail the command, others do not.
    let out = custodian(&["scan", "--fail-on", "credit_card,us_ssn", path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("personal data found: credit_card"));
    let out = custodian(&["scan", "--fail-on", "us_ssn", path]);
    assert!(out.status.success(), "{out:?}");
    let out = custodian(&["scan", "--fail-on", "nationality", path]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown kind"));
    let out = custodian(&["scan", tmp.path().join("missing").to_str().expect("path")]);
    assert!(!out.status.success());
}

#[tokio::test]
async fn text_is_scanned_and_redacted_over_http_with_each_operator() {
    use crate::harness::{Body, TestServer};
    use reqwest::Method;
    use serde_json::json;

    let s = TestServer::start().await;
    let (_, support) = s.operator_with_key("Sam Support", "support").await;
    let (_, marketing) = s.operator_with_key("Mia Marketing", "marketing").await;
    let text = "Ticket: jane.doe@example.com paid with 4111 1111 1111 1111 from 203.0.113.7.";
    let r = s
        .call(
            Method::POST,
            "/v1/scan/text",
            Some(&support),
            Body::Json(json!({"text": text})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let kinds: Vec<&str> = r.json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["email", "credit_card", "ipv4"]);
    let first = &r.json["findings"][0];
    assert_eq!(
        &text[first["start"].as_u64().unwrap_or(0) as usize
            ..first["end"].as_u64().unwrap_or(0) as usize],
        "jane.doe@example.com"
    );
    assert_eq!(first["category"], "user.contact.email");

    let redact = |ops: serde_json::Value| {
        let (s, support) = (&s, support.clone());
        async move {
            let r = s
                .call(
                    Method::POST,
                    "/v1/redact",
                    Some(&support),
                    Body::Json(json!({"text": text, "operators": ops})),
                )
                .await;
            assert_eq!(r.status, 200, "{r:?}");
            r.json
        }
    };
    let r = redact(json!({})).await;
    assert_eq!(
        r["text"],
        "Ticket: <EMAIL> paid with <CREDIT_CARD> from <IPV4>."
    );
    assert_eq!(r["items"][1]["operator"], "label");
    let r = redact(json!({"email": "mask", "credit_card": "hash", "default": "keep"})).await;
    let out = r["text"].as_str().expect("text");
    assert!(
        out.starts_with("Ticket: ****.***@*******.*** paid with <CREDIT_CARD:"),
        "{out}"
    );
    assert!(out.ends_with(" from 203.0.113.7."), "{out}");
    // The keyed hash is stable: the same value gives the same pseudonym.
    let again = redact(json!({"email": "mask", "credit_card": "hash", "default": "keep"})).await;
    assert_eq!(again["text"], r["text"]);
    assert!(!out.contains("4111"));

    // Encrypted items: random per item (not linkable), opened only by the DPO or the admin,
    // an altered item is left as it is.
    let r = redact(json!({"email": "encrypt", "credit_card": "encrypt", "default": "keep"})).await;
    let sealed = r["text"].as_str().expect("text").to_owned();
    assert!(sealed.starts_with("Ticket: <EMAIL:enc:"), "{sealed}");
    assert!(
        !sealed.contains("jane") && !sealed.contains("4111"),
        "{sealed}"
    );
    let again =
        redact(json!({"email": "encrypt", "credit_card": "encrypt", "default": "keep"})).await;
    assert_ne!(again["text"], r["text"], "a fresh nonce per item");
    let decrypt = |key: String, body: String| {
        let s = &s;
        async move {
            s.call(
                Method::POST,
                "/v1/redact/decrypt",
                Some(&key),
                Body::Json(json!({ "text": body })),
            )
            .await
        }
    };
    decrypt(support.clone(), sealed.clone())
        .await
        .assert_error(403, "access_denied");
    let (_, dpo) = s.operator_with_key("Dora DPO", "dpo").await;
    let opened = decrypt(dpo.clone(), sealed.clone()).await;
    assert_eq!(opened.status, 200, "{opened:?}");
    assert_eq!(opened.json["text"], text);
    assert_eq!(opened.json["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(opened.json["items"][0]["opened"], true);
    // An item moved to another kind's label, or altered, does not open.
    let relabelled = sealed.replacen("<EMAIL:enc:", "<PHONE:enc:", 1);
    let r = decrypt(dpo.clone(), relabelled.clone()).await;
    assert_eq!(r.json["items"][0]["opened"], false, "{r:?}");
    assert!(
        r.json["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("Ticket: <PHONE:enc:")
    );
    let body_at = sealed.find(":enc:").expect("item") + 6;
    let mut altered = sealed.clone().into_bytes();
    altered[body_at] = if altered[body_at] == b'A' { b'B' } else { b'A' };
    let r = decrypt(dpo.clone(), String::from_utf8(altered).expect("utf8")).await;
    assert_eq!(r.json["items"][0]["opened"], false, "{r:?}");
    assert_eq!(r.json["items"][1]["opened"], true, "{r:?}");

    for (body, field) in [
        (
            json!({"text": text, "operators": {"email": "tokenise"}}),
            "operators",
        ),
        (
            json!({"text": text, "operators": {"nationality": "mask"}}),
            "operators",
        ),
        (
            json!({"text": text, "min_confidence": 2.0}),
            "min_confidence",
        ),
    ] {
        let r = s
            .call(Method::POST, "/v1/redact", Some(&support), Body::Json(body))
            .await;
        r.assert_error(422, "invalid_value");
        assert_eq!(r.json["error"]["details"]["field"], field);
    }
    s.call(
        Method::POST,
        "/v1/scan/text",
        Some(&support),
        Body::Json(json!({"text": text, "extra": 1})),
    )
    .await
    .assert_error(422, "invalid_body");
    s.call(
        Method::POST,
        "/v1/scan/text",
        Some(&marketing),
        Body::Json(json!({"text": text})),
    )
    .await
    .assert_error(403, "access_denied");
    let audit = s.audit_text().await;
    assert!(
        audit.contains("scan.text")
            && audit.contains("scan.redact")
            && audit.contains("scan.decrypt")
            && audit.contains("credit_card")
    );
    assert!(
        !audit.contains("jane.doe") && !audit.contains("4111"),
        "no values in the audit log"
    );
}
