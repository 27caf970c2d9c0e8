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
    let out = custodian(&["scan", "--fail-on", "shoe_size", path]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown kind"));
    let out = custodian(&["scan", tmp.path().join("missing").to_str().expect("path")]);
    assert!(!out.status.success());
}

/// A UTF-16 export (with its byte-order mark) is read as text; a link to a file is scanned as
/// the file, and a link to a directory is reported as skipped, not silently dropped: a CI gate
/// (`--fail-on`) must not pass over them.
#[test]
fn utf16_files_and_links_are_scanned_or_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("share");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    let mut utf16 = vec![0xFF, 0xFE];
    for u in "name,ssn\r\nJane,078-05-1120\r\n".encode_utf16() {
        utf16.extend(u.to_le_bytes());
    }
    std::fs::write(dir.join("export.csv"), utf16).expect("utf-16");
    std::fs::write(elsewhere.join("cards.txt"), "card 4111 1111 1111 1111\n").expect("txt");
    std::os::unix::fs::symlink(elsewhere.join("cards.txt"), dir.join("cards.txt")).expect("link");
    std::os::unix::fs::symlink(&elsewhere, dir.join("more")).expect("link");
    std::os::unix::fs::symlink(tmp.path().join("gone"), dir.join("gone.txt")).expect("link");
    let path = dir.to_str().expect("path");

    let out = custodian(&["scan", "--format", "json", path]);
    assert!(out.status.success(), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["summary"]["us_ssn"]["findings"], 1, "{report}");
    assert_eq!(report["summary"]["credit_card"]["findings"], 1, "{report}");
    let mut skipped: Vec<String> = report["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .map(|s| s["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    skipped.sort();
    assert_eq!(skipped, ["broken link", "link to a directory"], "{report}");
    let out = custodian(&["scan", "--fail-on", "us_ssn", path]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let out = custodian(&["scan", "--fail-on", "credit_card", path]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
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
    // An email inside a URL wins the overlap, and the rest of the URL is redacted as a URL's
    // (the plain scan reports only the email), each part with its kind's operator.
    let link = "Reset: https://app.example/reset/jane?to=jane@example.com&t=Zq9 today";
    let r = s
        .call(
            Method::POST,
            "/v1/redact",
            Some(&support),
            Body::Json(json!({"text": link, "operators": {"url": "mask"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.json["text"],
        "Reset: *****://***.*******/*****/****?**=<EMAIL>&*=*** today"
    );
    let kinds: Vec<&str> = r.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["url", "email", "url"]);
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
    assert!(!out.contains("4111 1111"));

    // Encrypted items: random per item (not linkable), opened only by the DPO or the admin,
    // an altered item is left as it is.
    let r = redact(json!({"email": "encrypt", "credit_card": "encrypt", "default": "keep"})).await;
    let sealed = r["text"].as_str().expect("text").to_owned();
    assert!(sealed.starts_with("Ticket: <EMAIL:enc:"), "{sealed}");
    assert!(
        !sealed.contains("jane.doe") && !sealed.contains("4111 1111"),
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
            json!({"text": text, "operators": {"shoe_size": "mask"}}),
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
        // The values, not "4111" alone: the events' hashes are hex and may hold those digits.
        !audit.contains("jane.doe")
            && !audit.contains("4111 1111")
            && !audit.contains("4111111111111111"),
        "no values in the audit log"
    );
}

#[tokio::test]
async fn text_is_redacted_into_vault_tokens_that_resolve_until_the_subject_is_erased() {
    use crate::harness::{Body, TestServer};
    use reqwest::Method;
    use serde_json::json;

    let s = TestServer::start().await;
    let (_, engineer) = s.operator_with_key("Eve Engineer", "engineer").await;
    let (_, support) = s.operator_with_key("Sam Support", "support").await;
    let (_, dpo) = s.operator_with_key("Dan DPO", "dpo").await;
    let engineer_call = |body: serde_json::Value| {
        let (s, key) = (&s, engineer.clone());
        async move {
            s.call_with(
                Method::POST,
                "/v1/redact",
                Some(&key),
                Body::Json(body),
                &[("custodian-purpose", "service_delivery")],
            )
            .await
        }
    };
    let r = s
        .call_with(
            Method::PUT,
            "/v1/collections/tickets",
            Some(&engineer),
            Body::Json(json!({"fields": [
                {"name": "email", "type": "email", "category": "user.contact.email", "sensitivity": "medium", "tokenization": "deterministic"},
                {"name": "card", "type": "card_number", "category": "user.financial.credit_card", "sensitivity": "high", "tokenization": "format_preserving"},
                {"name": "phone", "type": "phone", "category": "user.contact.phone_number", "sensitivity": "medium", "tokenization": "random"},
                {"name": "note", "type": "text", "category": "user", "sensitivity": "low"},
                {"name": "link", "type": "text", "category": "user.contact.url", "sensitivity": "low", "tokenization": "random"}
            ]})),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");

    let text = "Jane.Doe@Example.com paid with 4111 1111 1111 1111; again 4111 1111 1111 1111 from 203.0.113.7.";
    let ask = json!({
        "text": text,
        "operators": {"email": "tokenize", "credit_card": "tokenize", "default": "keep"},
        "tokenize": {"subject_id": "cus_7", "collection": "tickets", "fields": {"email": "email", "credit_card": "card"}}
    });
    let r = engineer_call(ask.clone()).await;
    assert_eq!(r.status, 200, "{r:?}");
    let out = r.json["text"].as_str().expect("text").to_owned();
    let items = r.json["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 4, "{r:?}");
    let email_token = items[0]["token"].as_str().expect("email token").to_owned();
    let card_token = items[1]["token"].as_str().expect("card token").to_owned();
    assert_eq!(items[0]["operator"], "tokenize");
    assert_eq!(
        items[2]["token"],
        card_token.as_str(),
        "one token per value"
    );
    assert_eq!(items[3]["operator"], "keep");
    assert!(items[3].get("token").is_none());
    // FF1: sixteen digits for sixteen digits, in place; the rest of the text untouched.
    assert_eq!(card_token.len(), 16, "{card_token}");
    assert!(card_token.bytes().all(|b| b.is_ascii_digit()));
    assert_ne!(card_token, "4111111111111111");
    assert_eq!(
        out,
        format!("{email_token} paid with {card_token}; again {card_token} from 203.0.113.7.")
    );
    // The values themselves are gone (a token may contain "4111" by chance: sixteen random
    // digits do about once in 800 runs).
    assert!(!out.contains("4111 1111") && !out.to_lowercase().contains("jane.doe@"));
    // Deterministic and format-preserving tokens: the same text gives the same tokens.
    let again = engineer_call(ask.clone()).await;
    assert_eq!(again.json["text"], out.as_str());
    // The part of a URL outside the email inside it is no value of its own: labelled, never
    // stored as a token.
    let r = engineer_call(json!({
        "text": "Reset: https://app.example/r?to=jane.doe@example.com now",
        "operators": {"url": "tokenize", "email": "tokenize"},
        "tokenize": {"subject_id": "cus_7", "collection": "tickets", "fields": {"url": "link", "email": "email"}}
    }))
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["items"][0]["kind"], "url", "{r:?}");
    assert_eq!(r.json["items"][0]["operator"], "label");
    assert!(r.json["items"][0].get("token").is_none());
    assert_eq!(r.json["items"][1]["operator"], "tokenize");
    assert_eq!(
        r.json["text"],
        format!(
            "Reset: <URL>{} now",
            r.json["items"][1]["token"].as_str().unwrap_or("?")
        )
    );

    // The tokens resolve through the vault, for whoever may reveal the field, audited.
    let detok = |key: String, purpose: &'static str, token: String| {
        let s = &s;
        async move {
            s.call_with(
                Method::POST,
                "/v1/detokenize",
                Some(&key),
                Body::Json(json!({ "token": token })),
                &[("custodian-purpose", purpose)],
            )
            .await
        }
    };
    let r = detok(dpo.clone(), "dsr", card_token.clone()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["value"], "4111111111111111");
    assert_eq!(r.json["subject_id"], "cus_7");
    let r = detok(dpo.clone(), "dsr", email_token.clone()).await;
    // The local part keeps its case (RFC 5321); the domain is lower-cased.
    assert_eq!(r.json["value"], "Jane.Doe@example.com", "{r:?}");
    assert_eq!(r.json["field"], "email");

    // A value the field's type refuses is labelled, never stored or echoed: the vault's phone
    // type wants the international form, so this national number gets no token.
    let r = engineer_call(json!({
        "text": "call 020 7946 0958 or mail Jane.Doe@example.COM",
        "operators": {"phone": "tokenize", "email": "tokenize"},
        "tokenize": {"subject_id": "cus_7", "collection": "tickets", "fields": {"phone": "phone", "email": "email"}}
    }))
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let phones: Vec<&serde_json::Value> = r.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["kind"] == "phone")
        .collect();
    assert_eq!(phones.len(), 1, "{r:?}");
    assert_eq!(phones[0]["operator"], "label");
    assert!(phones[0].get("token").is_none());
    assert!(
        r.json["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("call <PHONE> or"),
        "{r:?}"
    );
    assert!(
        r.json["text"]
            .as_str()
            .unwrap_or("")
            .ends_with(&format!("mail {email_token}")),
        "{r:?}"
    );

    // Bad requests: each a 422 naming the part, or the vault's own answer; nothing scanned.
    let base = |patch: serde_json::Value| {
        let mut b = ask.clone();
        for (k, v) in patch.as_object().expect("object") {
            b[k] = v.clone();
        }
        b
    };
    for (body, code, field) in [
        (
            base(json!({"tokenize": null})),
            "invalid_value",
            Some("tokenize"),
        ),
        (
            base(json!({"operators": {"default": "tokenize"}})),
            "invalid_value",
            Some("operators"),
        ),
        (
            base(json!({"operators": {"email": "mask"}})),
            "invalid_value",
            Some("tokenize"),
        ),
        (
            base(
                json!({"tokenize": {"subject_id": "cus_7", "collection": "tickets", "fields": {"email": "email"}}}),
            ),
            "invalid_value",
            Some("tokenize.fields"),
        ),
        (
            base(
                json!({"tokenize": {"subject_id": "cus_7", "collection": "tickets", "fields": {"email": "email", "credit_card": "card", "iban": "card"}}}),
            ),
            "invalid_value",
            Some("tokenize.fields"),
        ),
        (
            base(
                json!({"tokenize": {"subject_id": "cus_7", "collection": "tickets", "fields": {"email": "note", "credit_card": "card"}}}),
            ),
            "field_not_tokenized",
            None,
        ),
        (
            base(
                json!({"tokenize": {"subject_id": "cus_7", "collection": "tickets", "fields": {"email": "nope", "credit_card": "card"}}}),
            ),
            "unknown_field",
            None,
        ),
        (
            base(
                json!({"tokenize": {"subject_id": "not valid!", "collection": "tickets", "fields": {"email": "email", "credit_card": "card"}}}),
            ),
            "invalid_subject_id",
            None,
        ),
        (
            base(
                json!({"tokenize": {"subject_id": "cus_7", "collection": "nowhere", "fields": {"email": "email", "credit_card": "card"}}}),
            ),
            "collection_not_found",
            None,
        ),
        (
            base(
                json!({"tokenize": {"subject_id": "cus_7", "collection": "tickets", "fields": {"email": "email", "credit_card": "card"}, "extra": 1}}),
            ),
            "invalid_body",
            None,
        ),
    ] {
        let r = engineer_call(body).await;
        assert!(r.status == 422 || r.status == 404, "{code}: {r:?}");
        assert_eq!(r.json["error"]["code"], code, "{r:?}");
        if let Some(field) = field {
            assert_eq!(r.json["error"]["details"]["field"], field, "{r:?}");
        }
        // The value, not "4111" alone: the request id is random hex and may hold it.
        assert!(!r.json.to_string().contains("4111 1111"), "{r:?}");
    }
    // Support may redact but not write vault data: the refusal is a 403, before any scan.
    let r = s
        .call_with(
            Method::POST,
            "/v1/redact",
            Some(&support),
            Body::Json(ask.clone()),
            &[("custodian-purpose", "support")],
        )
        .await;
    r.assert_error(403, "access_denied");

    let audit = s.audit_text().await;
    assert!(audit.contains("token.issue") && audit.contains("scan.redact"));
    assert!(
        !audit.contains("4111 1111")
            && !audit.contains("4111111111111111")
            && !audit.to_lowercase().contains("jane.doe"),
        "no values in the audit log"
    );

    // Erasing the subject shreds the tokens: they no longer resolve.
    let r = s
        .call_with(
            Method::DELETE,
            "/v1/subjects/cus_7",
            Some(&dpo),
            Body::None,
            &[("custodian-purpose", "dsr")],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    for t in [card_token, email_token] {
        detok(dpo.clone(), "dsr", t)
            .await
            .assert_error(404, "token_not_found");
    }
}
