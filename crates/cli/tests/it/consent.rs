//! Consent over HTTP, as a new user meets it: define purposes and a notice, give, refuse and
//! withdraw consent, check it (one and batch), verify receipts with the published key, send
//! GPC through the public endpoints, and see the vault refuse a consent-based read without
//! consent. The freshness of checks across two servers is tested over PostgreSQL.

use base64::Engine;
use custodian_crypto::jws::{PublicJwk, verify};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Body, TestServer};

fn newsletter() -> Value {
    json!({
        "names": {"en": "Newsletter", "fr": "Lettre d'information"},
        "descriptions": {"en": "Offers by e-mail."},
        "legal_basis": "consent", "consent": "opt_in",
        "data_uses": ["marketing.communications.email"],
        "data_categories": ["user.contact.email"],
        "jurisdictions": ["EU"], "notice": "privacy", "validity_days": 365
    })
}

fn ad_sale() -> Value {
    json!({
        "names": {"en": "Sale of data to ad partners"},
        "legal_basis": "legitimate_interests", "consent": "opt_out",
        "opt_out_kinds": ["sale", "targeted_advertising"], "jurisdictions": ["US-CA"]
    })
}

async fn setup(s: &TestServer) -> i64 {
    let admin = s.admin_key.clone();
    let r = s
        .call(
            Method::PUT,
            "/v1/purposes/newsletter",
            Some(&admin),
            Body::Json(newsletter()),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json["legal_basis_article"], "GDPR Art. 6(1)(a)");
    let r = s
        .call(
            Method::PUT,
            "/v1/purposes/ad_sale",
            Some(&admin),
            Body::Json(ad_sale()),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json["honours_gpc"], true);
    let r = s
        .call(Method::POST, "/v1/notices/privacy/versions", Some(&admin), Body::Json(json!({
            "texts": {"en": {"title": "Your privacy", "body": "We e-mail offers if you agree.", "url": "https://example.com/privacy"}}
        })))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json["version"], 1);
    r.json["version"].as_i64().unwrap_or_default()
}

fn jwks(s: &Value) -> Vec<PublicJwk> {
    s["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| PublicJwk {
            x: k["x"].as_str().expect("x").into(),
            kid: k["kid"].as_str().expect("kid").into(),
        })
        .collect()
}

async fn check(s: &TestServer, key: &str, subject: &str, purpose: &str) -> Value {
    let r = s
        .call(
            Method::GET,
            &format!("/v1/consent/check?subject={subject}&purpose={purpose}"),
            Some(key),
            Body::None,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.json
}

#[tokio::test]
async fn give_refuse_withdraw_check_and_verify_receipts() {
    let s = TestServer::start().await;
    setup(&s).await;
    let engineer = s.operator_with_key("Eve", "engineer").await.1;
    let marketing = s.operator_with_key("Mia", "marketing").await.1;

    // Nothing recorded: the opt-in purpose is denied, the opt-out one allowed.
    let c = check(&s, &marketing, "cust-1", "newsletter").await;
    assert_eq!(
        (c["allowed"].as_bool(), c["basis"].as_str()),
        (Some(false), Some("no_consent"))
    );
    let c = check(&s, &marketing, "cust-1", "ad_sale").await;
    assert_eq!(
        (c["allowed"].as_bool(), c["basis"].as_str()),
        (Some(true), Some("not_opted_out"))
    );

    // Give consent through the API, with the notice shown.
    let r = s
        .call_with(Method::POST, "/v1/consent", Some(&engineer), Body::Json(json!({
            "subject_id": "cust-1", "source": "www.example.com", "jurisdiction": "EU", "language": "en",
            "notice": {"key": "privacy", "version": 1},
            "choices": [{"purpose": "newsletter", "state": "given"}, {"purpose": "ad_sale", "state": "refused"}]
        })), &[("user-agent", "Mozilla/5.0 test")])
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let recorded = r.json["recorded"].as_array().expect("recorded").clone();
    assert_eq!(recorded.len(), 2);
    assert!(
        check(&s, &marketing, "cust-1", "newsletter").await["allowed"]
            .as_bool()
            .unwrap_or(false)
    );
    assert_eq!(
        check(&s, &marketing, "cust-1", "ad_sale").await["basis"],
        "opted_out"
    );

    // The receipt verifies offline with the published key, and says what was agreed.
    let keys = jwks(
        &s.call(
            Method::GET,
            "/.well-known/custodian/receipt-keys",
            None,
            Body::None,
        )
        .await
        .json,
    );
    let receipt = recorded[0]["receipt"].as_str().expect("receipt");
    let claims: Value =
        serde_json::from_slice(&verify(receipt, &keys).expect("verifies")).expect("json");
    assert_eq!(claims["pii_principal_id"], "cust-1");
    assert_eq!(claims["purpose"], "newsletter");
    assert_eq!(claims["event_state"], "given");
    assert_eq!(claims["privacy_notice"]["version"], 1);
    assert_eq!(
        claims["privacy_notice"]["sha256"].as_str().map(str::len),
        Some(64)
    );
    assert_eq!(claims["lawful_basis"], "GDPR Art. 6(1)(a)");
    assert!(claims["validity"].is_string());
    // A tampered receipt does not.
    let parts: Vec<&str> = receipt.split('.').collect();
    let forged_claims = serde_json::to_vec(&json!({"event_state": "refused"})).expect("json");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged_claims),
        parts[2]
    );
    assert!(verify(&forged, &keys).is_err());
    // The same, offline with the command line: the key set and the receipt as files.
    let dir = tempfile::tempdir().expect("dir");
    let set = s
        .call(
            Method::GET,
            "/.well-known/custodian/receipt-keys",
            None,
            Body::None,
        )
        .await
        .json;
    std::fs::write(dir.path().join("keys.json"), set.to_string()).expect("keys");
    let cli = |receipt: &str| {
        std::fs::write(dir.path().join("r.jws"), receipt).expect("receipt");
        std::process::Command::new(env!("CARGO_BIN_EXE_custodian"))
            .args(["receipt", "verify", "--keys"])
            .arg(dir.path().join("keys.json"))
            .arg(dir.path().join("r.jws"))
            .output()
            .expect("run")
    };
    let out = cli(receipt);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.starts_with("ok: signed by key "), "{stdout}");
    assert!(stdout.contains("\"event_state\": \"given\""), "{stdout}");
    let out = cli(&forged);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not verified"),
        "{out:?}"
    );

    // Withdrawal is as easy as giving, and the very next check honours it.
    let r = s
        .call(
            Method::POST,
            "/v1/consent",
            Some(&engineer),
            Body::Json(json!({
                "subject_id": "cust-1", "source": "www.example.com",
                "choices": [{"purpose": "newsletter", "state": "withdrawn"}]
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let c = check(&s, &marketing, "cust-1", "newsletter").await;
    assert_eq!(
        (c["allowed"].as_bool(), c["basis"].as_str()),
        (Some(false), Some("withdrawn"))
    );

    // Batch check, in order.
    let r = s
        .call(
            Method::POST,
            "/v1/consent/check",
            Some(&marketing),
            Body::Json(json!({"checks": [
                {"subject_id": "cust-1", "purpose": "newsletter"},
                {"subject_id": "cust-2", "purpose": "ad_sale"}
            ]})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["results"][0]["allowed"], false);
    assert_eq!(r.json["results"][1]["allowed"], true);

    // The ledger keeps everything, refusals included, with proofs that hold no address.
    let r = s.get("/v1/consent/subjects/cust-1/events").await;
    assert_eq!(r.status, 200, "{r:?}");
    let events = r.json["events"].as_array().expect("events");
    assert_eq!(events.len(), 3);
    assert_eq!(events[1]["state"], "refused");
    assert_eq!(events[0]["proof"]["network"], "127.0.0.0/24");
    assert_eq!(
        events[0]["receipt"], recorded[0]["receipt"],
        "receipts are reproducible"
    );
    let raw = r.json.to_string();
    assert!(!raw.contains("127.0.0.1") && !raw.contains("Mozilla"));
    let r = s.get("/v1/consent/subjects/cust-1").await;
    assert_eq!(r.status, 200, "{r:?}");
    let states: Vec<(&str, &str)> = r.json["purposes"]
        .as_array()
        .expect("purposes")
        .iter()
        .map(|p| {
            (
                p["purpose"].as_str().unwrap_or_default(),
                p["basis"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [("ad_sale", "opted_out"), ("newsletter", "withdrawn")]
    );

    // Notices: versions are immutable and their history readable.
    let admin = s.admin_key.clone();
    let r = s
        .call(
            Method::POST,
            "/v1/notices/privacy/versions",
            Some(&admin),
            Body::Json(json!({
                "texts": {"en": {"title": "Your privacy", "body": "Changed text."}}
            })),
        )
        .await;
    assert_eq!(r.json["version"], 2);
    let r = s.get("/v1/notices/privacy/versions").await;
    assert_eq!(r.json.as_array().map(Vec::len), Some(2));
    assert_ne!(r.json[0]["content_hash"], r.json[1]["content_hash"]);
    assert_eq!(
        s.get("/v1/notices/privacy/versions/1").await.json["texts"]["en"]["body"],
        "We e-mail offers if you agree."
    );
    s.get("/v1/notices/privacy/versions/9")
        .await
        .assert_error(404, "notice_not_found");
}

#[tokio::test]
async fn bad_inputs_are_refused_with_stable_codes() {
    let s = TestServer::start().await;
    setup(&s).await;
    let admin = s.admin_key.clone();
    let support = s.operator_with_key("Sam", "support").await.1;
    let marketing = s.operator_with_key("Mia", "marketing").await.1;
    let before = s.audit_size().await;
    let mut bad_purpose = newsletter();
    bad_purpose["consent"] = json!("opt_out");
    s.call(
        Method::PUT,
        "/v1/purposes/x",
        Some(&admin),
        Body::Json(bad_purpose),
    )
    .await
    .assert_error(422, "invalid_purpose_definition");
    let mut bad_use = newsletter();
    bad_use["data_uses"] = json!(["marketing.nope"]);
    let r = s
        .call(
            Method::PUT,
            "/v1/purposes/x",
            Some(&admin),
            Body::Json(bad_use),
        )
        .await;
    r.assert_error(422, "invalid_purpose_definition");
    assert_eq!(r.json["error"]["details"]["field"], "data_uses");
    s.call(
        Method::PUT,
        "/v1/purposes/Bad%20Key",
        Some(&admin),
        Body::Json(newsletter()),
    )
    .await
    .assert_error(400, "invalid_path_parameter");
    s.call(
        Method::POST,
        "/v1/notices/privacy/versions",
        Some(&admin),
        Body::Json(json!({"texts": {}})),
    )
    .await
    .assert_error(422, "invalid_notice");
    assert_eq!(s.audit_size().await, before, "refused writes write nothing");
    let record = |body: Value| {
        let support = support.clone();
        let s = &s;
        async move {
            s.call(
                Method::POST,
                "/v1/consent",
                Some(&support),
                Body::Json(body),
            )
            .await
        }
    };
    for (body, code, field) in [
        (
            json!({"subject_id": "a@b.com", "source": "x", "choices": [{"purpose": "newsletter", "state": "given"}]}),
            "invalid_subject_id",
            None,
        ),
        (
            json!({"subject_id": "c1", "source": "x", "choices": []}),
            "invalid_consent",
            Some("choices"),
        ),
        (
            json!({"subject_id": "c1", "source": "x", "choices": [{"purpose": "nope", "state": "given"}]}),
            "invalid_consent",
            Some("choices.purpose"),
        ),
        (
            json!({"subject_id": "c1", "source": "x", "choices": [{"purpose": "newsletter", "state": "expired"}]}),
            "invalid_consent",
            Some("choices.state"),
        ),
        (
            json!({"subject_id": "c1", "source": "x", "choices": [{"purpose": "newsletter", "state": "given"}, {"purpose": "newsletter", "state": "refused"}]}),
            "invalid_consent",
            Some("choices.purpose"),
        ),
        (
            json!({"subject_id": "c1", "source": "x", "notice": {"key": "privacy", "version": 7}, "choices": [{"purpose": "newsletter", "state": "given"}]}),
            "invalid_consent",
            Some("notice"),
        ),
        (
            json!({"subject_id": "c1", "source": "x", "jurisdiction": "california", "choices": [{"purpose": "newsletter", "state": "given"}]}),
            "invalid_consent",
            Some("jurisdiction"),
        ),
        (
            json!({"subject_id": "c1", "source": "x", "method": "gpc", "choices": [{"purpose": "newsletter", "state": "given"}]}),
            "invalid_consent",
            Some("method"),
        ),
        (
            json!({"subject_id": "c1", "source": "", "choices": [{"purpose": "newsletter", "state": "given"}]}),
            "invalid_consent",
            Some("source"),
        ),
    ] {
        let r = record(body).await;
        r.assert_error(422, code);
        if let Some(f) = field {
            assert_eq!(r.json["error"]["details"]["field"], f, "{r:?}");
        }
        assert!(!r.json.to_string().contains("a@b.com"));
    }
    // Checks: unknown purpose, bad subject, oversized batch, no right to check.
    s.call(
        Method::GET,
        "/v1/consent/check?subject=c1&purpose=nope",
        Some(&marketing),
        Body::None,
    )
    .await
    .assert_error(404, "purpose_not_found");
    s.call(
        Method::GET,
        "/v1/consent/check?subject=a@b.com&purpose=newsletter",
        Some(&marketing),
        Body::None,
    )
    .await
    .assert_error(422, "invalid_subject_id");
    s.call(
        Method::GET,
        "/v1/consent/check?subject=c1",
        Some(&marketing),
        Body::None,
    )
    .await
    .assert_error(400, "invalid_query");
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"subject_id": "c1", "purpose": "newsletter"}))
        .collect();
    s.call(
        Method::POST,
        "/v1/consent/check",
        Some(&marketing),
        Body::Json(json!({"checks": many})),
    )
    .await
    .assert_error(422, "invalid_consent");
    let auditor = s.operator_with_key("Ada", "auditor").await.1;
    s.call(
        Method::GET,
        "/v1/consent/check?subject=c1&purpose=newsletter",
        Some(&auditor),
        Body::None,
    )
    .await
    .assert_error(403, "access_denied");
    s.call(Method::POST, "/v1/consent", Some(&marketing), Body::Json(json!({"subject_id": "c1", "source": "x", "choices": [{"purpose": "newsletter", "state": "given"}]}))).await
        .assert_error(403, "access_denied");
    // Public endpoints: only visitor ids this server issues.
    s.call(Method::POST, "/v1/public/consent", None, Body::Json(json!({"visitor_id": "cust-1", "choices": [{"purpose": "newsletter", "state": "given"}]}))).await
        .assert_error(422, "invalid_visitor_id");
    s.call(
        Method::GET,
        "/v1/public/consent?visitor_id=cust-1",
        None,
        Body::None,
    )
    .await
    .assert_error(422, "invalid_visitor_id");
}

#[tokio::test]
async fn gpc_is_recorded_as_an_opt_out_and_only_when_exactly_one() {
    let s = TestServer::start().await;
    setup(&s).await;
    let r = s
        .call(Method::GET, "/.well-known/gpc.json", None, Body::None)
        .await;
    assert_eq!(r.json["gpc"], true);
    assert!(r.json["lastUpdate"].as_str().is_some_and(|d| d.len() == 10));

    // Not exactly "1": ignored, nothing recorded, no visitor id minted.
    for v in ["0", "true", "1.0", "yes"] {
        let r = s
            .call_with(
                Method::GET,
                "/v1/public/consent",
                None,
                Body::None,
                &[("sec-gpc", v)],
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.json["gpc"], false, "{v}");
        assert!(r.json["visitor_id"].is_null());
    }
    // The banner's first visit with GPC on: opted out of the sale purpose, method gpc.
    let r = s
        .call_with(
            Method::GET,
            "/v1/public/consent?lang=fr",
            None,
            Body::None,
            &[("sec-gpc", "1")],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["gpc"], true);
    let visitor = r.json["visitor_id"].as_str().expect("visitor").to_owned();
    let states: Vec<(&str, Option<&str>)> = r.json["purposes"]
        .as_array()
        .expect("p")
        .iter()
        .map(|p| (p["key"].as_str().unwrap_or_default(), p["state"].as_str()))
        .collect();
    assert_eq!(states, [("ad_sale", Some("refused")), ("newsletter", None)]);
    assert_eq!(r.json["purposes"][1]["name"], "Lettre d'information");
    assert_eq!(r.json["notices"][0]["version"], 1);
    let marketing = s.operator_with_key("Mia", "marketing").await.1;
    assert_eq!(
        check(&s, &marketing, &visitor, "ad_sale").await["basis"],
        "opted_out"
    );
    let events = s
        .get(&format!("/v1/consent/subjects/{visitor}/events"))
        .await;
    assert_eq!(events.json["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(events.json["events"][0]["method"], "gpc");
    // A second GPC visit records nothing new.
    s.call_with(
        Method::GET,
        &format!("/v1/public/consent?visitor_id={visitor}"),
        None,
        Body::None,
        &[("sec-gpc", "1")],
    )
    .await;
    let again = s
        .get(&format!("/v1/consent/subjects/{visitor}/events"))
        .await;
    assert_eq!(again.json["events"].as_array().map(Vec::len), Some(1));

    // The banner records choices; with GPC the sale purpose stays refused whatever is chosen.
    let r = s
        .call_with(Method::POST, "/v1/public/consent", None, Body::Json(json!({
            "visitor_id": visitor, "notice": {"key": "privacy", "version": 1}, "language": "en",
            "choices": [{"purpose": "newsletter", "state": "given"}, {"purpose": "ad_sale", "state": "given"}]
        })), &[("sec-gpc", "1"), ("origin", "https://shop.example.com")])
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let methods: Vec<(&str, &str, &str)> = r.json["recorded"]
        .as_array()
        .expect("r")
        .iter()
        .map(|e| {
            (
                e["purpose"].as_str().unwrap_or_default(),
                e["state"].as_str().unwrap_or_default(),
                e["method"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        methods,
        [
            ("newsletter", "given", "banner"),
            ("ad_sale", "refused", "gpc")
        ]
    );
    assert!(
        check(&s, &marketing, &visitor, "newsletter").await["allowed"]
            .as_bool()
            .unwrap_or(false)
    );
    let events = s
        .get(&format!("/v1/consent/subjects/{visitor}/events"))
        .await;
    assert_eq!(events.json["events"][1]["source"], "shop.example.com");
}

#[tokio::test]
async fn the_vault_refuses_a_consent_based_read_without_consent() {
    let s = TestServer::start().await;
    setup(&s).await;
    let admin = s.admin_key.clone();
    let engineer = s.operator_with_key("Eve", "engineer").await.1;
    let dpo = s.operator_with_key("Dan", "dpo").await.1;
    let r = s
        .call(Method::PUT, "/v1/collections/customers", Some(&admin), Body::Json(json!({"fields": [
            {"name": "email", "type": "email", "category": "user.contact.email", "sensitivity": "medium", "searchable": true}
        ]})))
        .await;
    assert!(r.status == 201 || r.status == 200, "{r:?}");
    let r = s
        .call_with(
            Method::POST,
            "/v1/collections/customers/records",
            Some(&engineer),
            Body::Json(json!({
                "subject_id": "cust-9", "fields": {"email": "nine@example.com"}
            })),
            &[("custodian-purpose", "service_delivery")],
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.json["id"].as_str().expect("id").to_owned();
    // Let DPOs read for the newsletter purpose, so only consent can stand in the way.
    let policies = s.get("/v1/policies").await.json["text"]
        .as_str()
        .expect("text")
        .to_owned()
        + "\n@id(\"dpo-newsletter\")\npermit (principal in Custodian::Role::\"dpo\", action == Custodian::Action::\"data.reveal\", resource) when { context.purpose == \"newsletter\" };\n";
    let r = s
        .call(
            Method::PUT,
            "/v1/policies",
            Some(&admin),
            Body::Json(json!({"text": policies})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let path = format!("/v1/collections/customers/records/{id}");
    let read = || {
        s.call_with(
            Method::GET,
            &path,
            Some(&dpo),
            Body::None,
            &[("custodian-purpose", "newsletter")],
        )
    };
    let before = s.audit_size().await;
    let r = read().await;
    r.assert_error(403, "consent_missing");
    assert_eq!(r.json["error"]["details"]["basis"], "no_consent");
    assert_eq!(s.audit_size().await, before + 1, "the refusal is audited");
    let search = s
        .call_with(
            Method::GET,
            "/v1/collections/customers/records?email=nine@example.com",
            Some(&dpo),
            Body::None,
            &[("custodian-purpose", "newsletter")],
        )
        .await;
    assert_eq!(search.status, 200, "{search:?}");
    assert_eq!(
        search.json["records"].as_array().map(Vec::len),
        Some(0),
        "{search:?}"
    );
    // Consent given: the read goes through; withdrawn: refused again at once.
    for (state, ok) in [("given", true), ("withdrawn", false)] {
        let r = s.call(Method::POST, "/v1/consent", Some(&engineer), Body::Json(json!({
            "subject_id": "cust-9", "source": "crm", "choices": [{"purpose": "newsletter", "state": state}]
        }))).await;
        assert_eq!(r.status, 201, "{r:?}");
        let r = read().await;
        if ok {
            assert_eq!(r.status, 200, "{r:?}");
            assert_eq!(r.json["fields"]["email"], "nine@example.com", "{r:?}");
        } else {
            r.assert_error(403, "consent_missing");
        }
    }
}

#[tokio::test]
async fn a_withdrawal_on_one_server_is_honoured_by_the_next_check_on_another() {
    let Some((_db, a, b)) = TestServer::two_over_postgres().await else {
        eprintln!("skipped: CUSTODIAN_TEST_PG_URL is not set");
        return;
    };
    setup(&a).await;
    let engineer = a.operator_with_key("Eve", "engineer").await.1;
    // Wait until b's listener is connected (its cache is then live).
    for _ in 0..50 {
        let r = b
            .call(
                Method::GET,
                "/v1/consent/check?subject=warm&purpose=newsletter",
                Some(&engineer),
                Body::None,
            )
            .await;
        if r.status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for round in 0..20 {
        let subject = format!("cust-{}", round % 3);
        for (state, allowed) in [("given", true), ("withdrawn", false)] {
            // Warm b's cache with the old answer first.
            check(&b, &engineer, &subject, "newsletter").await;
            let r = a.call(Method::POST, "/v1/consent", Some(&engineer), Body::Json(json!({
                "subject_id": subject, "source": "crm", "choices": [{"purpose": "newsletter", "state": state}]
            }))).await;
            assert_eq!(r.status, 201, "{r:?}");
            let c = check(&b, &engineer, &subject, "newsletter").await;
            assert_eq!(
                c["allowed"].as_bool(),
                Some(allowed),
                "round {round} {state}: {c}"
            );
        }
    }
    // Batches read their states together, and are as fresh: cust-1 gives consent on a, and
    // the next batch on b says so, beside subjects without a record.
    let r = a.call(Method::POST, "/v1/consent", Some(&engineer), Body::Json(json!({
        "subject_id": "cust-1", "source": "crm", "choices": [{"purpose": "newsletter", "state": "given"}]
    }))).await;
    assert_eq!(r.status, 201, "{r:?}");
    let checks: Vec<Value> = ["cust-0", "cust-1", "cust-2", "nobody", "cust-1"]
        .iter()
        .map(|s| json!({"subject_id": s, "purpose": "newsletter"}))
        .collect();
    let r = b
        .call(
            Method::POST,
            "/v1/consent/check",
            Some(&engineer),
            Body::Json(json!({ "checks": checks })),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let got: Vec<(&str, bool, &str)> = r.json["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|x| {
            (
                x["subject_id"].as_str().unwrap_or_default(),
                x["allowed"].as_bool().unwrap_or_default(),
                x["basis"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("cust-0", false, "withdrawn"),
            ("cust-1", true, "consent"),
            ("cust-2", false, "withdrawn"),
            ("nobody", false, "no_consent"),
            ("cust-1", true, "consent"),
        ]
    );
}

/// TC and GPP strings from public reference libraries (crates/iab/tests/vectors, with
/// attribution there), decoded and re-encoded over HTTP.
#[tokio::test]
async fn tcf_and_gpp_strings_are_decoded_and_encoded_over_http() {
    let s = TestServer::start().await;
    let marketing = s.operator_with_key("Mia", "marketing").await.1;
    let auditor = s.operator_with_key("Ann", "auditor").await.1;
    let tc = "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA";
    let r = s
        .call(
            Method::POST,
            "/v1/tcf/decode",
            Some(&marketing),
            Body::Json(json!({ "string": tc })),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let d = &r.json["tc"];
    assert_eq!(d["cmp_id"], 27);
    assert_eq!(d["vendor_list_version"], 15);
    assert_eq!(d["consent_language"], "EN");
    assert_eq!(d["purposes_consent"], json!([1, 2, 3]));
    assert_eq!(d["vendor_consents"], json!([2, 6, 8]));
    assert_eq!(d["vendor_legitimate_interests"], json!([2, 6, 8]));
    assert_eq!(d["created"], "2020-02-20T23:57:39.3Z");
    // Policy version 2, not service-specific, no DisclosedVendors: not valid under v2.3.
    assert_eq!(r.json["valid_v23"], false);
    assert!(r.json["violations"].as_array().expect("list").len() >= 3);

    // Encoding the decoded fields gives the same string back.
    let r2 = s
        .call(
            Method::POST,
            "/v1/tcf/encode",
            Some(&marketing),
            Body::Json(json!({ "tc": d })),
        )
        .await;
    assert_eq!(r2.status, 200, "{r2:?}");
    let again = s
        .call(
            Method::POST,
            "/v1/tcf/decode",
            Some(&marketing),
            Body::Json(json!({ "string": r2.json["string"] })),
        )
        .await;
    assert_eq!(&again.json["tc"], d);

    // A v2.3-valid string: service-specific, policy 5, day-aligned dates, disclosed vendors.
    let mut v23 = d.clone();
    v23["tcf_policy_version"] = json!(5);
    v23["is_service_specific"] = json!(true);
    v23["created"] = json!("2025-06-01T00:00:00Z");
    v23["last_updated"] = json!("2025-06-01T00:00:00Z");
    v23["disclosed_vendors"] = json!([2, 6, 8, 10]);
    let e = s
        .call(
            Method::POST,
            "/v1/tcf/encode",
            Some(&marketing),
            Body::Json(json!({ "tc": v23 })),
        )
        .await;
    assert_eq!(e.status, 200, "{e:?}");
    let back = s
        .call(
            Method::POST,
            "/v1/tcf/decode",
            Some(&marketing),
            Body::Json(json!({ "string": e.json["string"] })),
        )
        .await;
    assert_eq!(back.json["valid_v23"], true, "{back:?}");
    assert_eq!(back.json["tc"]["disclosed_vendors"], json!([2, 6, 8, 10]));

    // GPP: a usnat v1 section (every opt-out set, GPC sub-section) from the vectors.
    let g = s
        .call(
            Method::POST,
            "/v1/gpp/decode",
            Some(&marketing),
            Body::Json(json!({ "string": "DBABLA~BVVVVVVVVWA.YA" })),
        )
        .await;
    assert_eq!(g.status, 200, "{g:?}");
    assert_eq!(g.json["header"]["section_ids"], json!([7]));
    let sec = &g.json["sections"][0];
    assert_eq!(
        (sec["id"].as_u64(), sec["name"].as_str()),
        (Some(7), Some("usnat"))
    );
    assert_eq!(sec["fields"]["sale_opt_out"], "OptedOut");
    assert_eq!(sec["fields"]["gpc"], true);
    let ge = s
        .call(
            Method::POST,
            "/v1/gpp/encode",
            Some(&marketing),
            Body::Json(json!({ "sections": g.json["sections"] })),
        )
        .await;
    assert_eq!(ge.status, 200, "{ge:?}");
    assert_eq!(ge.json["string"], "DBABLA~BVVVVVVVVWA.YA");
    // A TCF EU v2 section and a uspv1 section.
    let g = s
        .call(
            Method::POST,
            "/v1/gpp/decode",
            Some(&marketing),
            Body::Json(json!({ "string": format!("DBACNY~{tc}~1YNN") })),
        )
        .await;
    assert_eq!(g.status, 200, "{g:?}");
    assert_eq!(g.json["sections"][0]["name"], "tcfeuv2");
    assert_eq!(g.json["sections"][0]["fields"]["cmp_id"], 27);
    assert_eq!(g.json["sections"][1]["name"], "uspv1");

    // Bad input: stable codes, nothing echoed.
    for (path, body, code) in [
        (
            "/v1/tcf/decode",
            json!({ "string": "not a tc string!" }),
            "invalid_tc_string",
        ),
        (
            "/v1/tcf/decode",
            json!({ "string": "" }),
            "invalid_tc_string",
        ),
        (
            "/v1/tcf/decode",
            json!({ "string": "A".repeat(70_000) }),
            "invalid_tc_string",
        ),
        (
            "/v1/tcf/encode",
            json!({ "tc": { "cmp_id": 1 } }),
            "invalid_tc_string",
        ),
        (
            "/v1/gpp/decode",
            json!({ "string": "DBABLA~" }),
            "invalid_gpp_string",
        ),
        (
            "/v1/gpp/decode",
            json!({ "string": "DBABLA~BVV~x" }),
            "invalid_gpp_string",
        ),
        (
            "/v1/gpp/encode",
            json!({ "sections": [] }),
            "invalid_gpp_string",
        ),
        (
            "/v1/gpp/encode",
            json!({ "sections": [{ "id": 7, "fields": { "x": 1 } }] }),
            "invalid_gpp_string",
        ),
        ("/v1/tcf/decode", json!({ "tc": "x" }), "invalid_body"),
    ] {
        let r = s
            .call(Method::POST, path, Some(&marketing), Body::Json(body))
            .await;
        r.assert_error(422, code);
        assert!(!r.json.to_string().contains("not a tc string"), "{r:?}");
    }
    // The auditor may read the ledger but not check consent, so not decode either.
    s.call(
        Method::POST,
        "/v1/tcf/decode",
        Some(&auditor),
        Body::Json(json!({ "string": tc })),
    )
    .await
    .assert_error(403, "access_denied");
}

async fn usnat(s: &TestServer, id: &str) -> String {
    let r = s.get(&format!("/v1/consent/subjects/{id}")).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.json["gpp_usnat"].as_str().expect("usnat").to_owned()
}

async fn usnat_fields(s: &TestServer, gpp: String) -> Value {
    let r = s
        .call(
            Method::POST,
            "/v1/gpp/decode",
            Some(&s.admin_key),
            Body::Json(json!({ "string": gpp })),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.json["sections"][0]["fields"].clone()
}

/// A subject's opt-outs as a GPP usnat string follows the ledger.
#[tokio::test]
async fn a_subjects_opt_outs_are_expressed_as_a_gpp_usnat_string() {
    let s = TestServer::start().await;
    setup(&s).await;
    let admin = s.admin_key.clone();
    // Nothing recorded: ad_sale (sale, targeted advertising) is not opted out.
    let f = usnat_fields(&s, usnat(&s, "cust-9").await).await;
    assert_eq!(f["sale_opt_out"], "DidNotOptOut");
    assert_eq!(f["targeted_advertising_opt_out"], "DidNotOptOut");
    assert_eq!(f["sharing_opt_out"], "NotApplicable");
    assert_eq!(f["sale_opt_out_notice"], "Provided");
    assert_eq!(f["gpc"], false);
    // Refusing ad_sale opts out of both kinds it covers.
    let r = s
        .call(Method::POST, "/v1/consent", Some(&admin), Body::Json(json!({
            "subject_id": "cust-9", "source": "crm", "choices": [{"purpose": "ad_sale", "state": "refused"}]
        })))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let f = usnat_fields(&s, usnat(&s, "cust-9").await).await;
    assert_eq!(f["sale_opt_out"], "OptedOut");
    assert_eq!(f["targeted_advertising_opt_out"], "OptedOut");
    // A GPC opt-out sets the GPC sub-field.
    let r = s
        .call_with(
            Method::POST,
            "/v1/public/consent",
            None,
            Body::Json(json!({ "choices": [], "gpc": true })),
            &[("origin", "https://shop.example")],
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json["recorded"][0]["method"], "gpc");
    assert_eq!(
        r.headers
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap_or_default()),
        Some("*")
    );
    let visitor = r.json["subject_id"].as_str().expect("visitor").to_owned();
    let f = usnat_fields(&s, usnat(&s, &visitor).await).await;
    assert_eq!(
        (f["sale_opt_out"].as_str(), f["gpc"].as_bool()),
        (Some("OptedOut"), Some(true))
    );
}

/// Existing consent records imported from CSV and NDJSON become ledger records with method
/// import; bad rows are listed by line, and an older import never overrides a newer choice.
#[tokio::test]
async fn consent_records_are_imported_from_csv_and_ndjson() {
    let s = TestServer::start().await;
    setup(&s).await;
    let admin = s.admin_key.clone();
    let marketing = s.operator_with_key("Mia", "marketing").await.1;
    // cust-2 withdrew through the API today; the import's older "given" must not revive it.
    let r = s
        .call(Method::POST, "/v1/consent", Some(&admin), Body::Json(json!({
            "subject_id": "cust-2", "source": "app", "choices": [{"purpose": "newsletter", "state": "withdrawn"}]
        })))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    // The purpose's 365-day validity would have lapsed these 2024 consents; expires_at
    // carries the original system's own expiry instead.
    let csv = "subject_id,purpose,state,at,source,notice_key,notice_version,jurisdiction,expires_at\n\
        cust-1,newsletter,given,2024-05-01T10:00:00Z,old-crm,privacy,1,EU,2099-01-01T00:00:00Z\n\
        cust-2,newsletter,given,2024-05-01T10:00:00Z,old-crm,,,,2099-01-01T00:00:00Z\n\
        cust-3,ad_sale,refused,2024-06-01T10:00:00Z,,,,US-CA,\n\
        cust-4,nonexistent,given,2024-06-01T10:00:00Z,,,,,\n\
        cust-5,newsletter,given,2999-01-01T00:00:00Z,,,,,\n\
        cust-6,newsletter,given,2024-06-01T10:00:00Z,,privacy,7,,\n\
        cust 7,newsletter,given,2024-06-01T10:00:00Z,,,,,\n\
        cust-8,newsletter,maybe,2024-06-01T10:00:00Z,,,,,\n\
        cust-11,newsletter,given,2024-06-01T10:00:00Z,,,,,\n";
    let r = s
        .call(
            Method::POST,
            "/v1/consent:import",
            Some(&admin),
            Body::Raw("text/csv", csv.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        (r.json["recorded"].as_u64(), r.json["refused"].as_u64()),
        (Some(4), Some(5)),
        "{r:?}"
    );
    let lines: Vec<u64> = r.json["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["line"].as_u64().expect("line"))
        .collect();
    assert_eq!(lines, vec![5, 6, 7, 8, 9]);
    let text = r.json.to_string();
    assert!(
        !text.contains("cust 7") && !text.contains("nonexistent"),
        "{r:?}"
    );

    assert_eq!(
        check(&s, &marketing, "cust-1", "newsletter").await["allowed"],
        true
    );
    assert_eq!(
        check(&s, &marketing, "cust-2", "newsletter").await["allowed"],
        false
    );
    assert_eq!(
        check(&s, &marketing, "cust-3", "ad_sale").await["allowed"],
        false
    );
    // Without expires_at, the purpose's validity runs from the original time: lapsed.
    let c = check(&s, &marketing, "cust-11", "newsletter").await;
    assert_eq!(
        (c["allowed"].as_bool(), c["state"].as_str()),
        (Some(false), Some("expired"))
    );
    let ev = s
        .call(
            Method::GET,
            "/v1/consent/subjects/cust-1/events",
            Some(&admin),
            Body::None,
        )
        .await;
    assert_eq!(ev.status, 200, "{ev:?}");
    let e = &ev.json["events"][0];
    assert_eq!(e["method"], "import");
    assert_eq!(e["source"], "old-crm");
    assert_eq!(e["at"], "2024-05-01T10:00:00Z");
    assert_eq!(e["notice"]["version"], 1);

    // NDJSON, with a row that is not JSON.
    let nd = concat!(
        r#"{"subject_id":"cust-10","purpose":"newsletter","state":"given","at":"2025-01-01T00:00:00Z","notice_key":"privacy","notice_version":1,"expires_at":"2099-01-01T00:00:00Z"}"#,
        "\n{not json\n",
        r#"{"subject_id":"cust-10","purpose":"ad_sale","state":"refused","at":"2025-01-01T00:00:00Z","ip":"1.2.3.4"}"#,
        "\n"
    );
    let r = s
        .call(
            Method::POST,
            "/v1/consent:import",
            Some(&admin),
            Body::Raw("application/x-ndjson", nd.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        (r.json["recorded"].as_u64(), r.json["refused"].as_u64()),
        (Some(1), Some(2))
    );
    assert!(!r.json.to_string().contains("1.2.3.4"));
    assert_eq!(
        check(&s, &marketing, "cust-10", "newsletter").await["allowed"],
        true
    );

    // Sending the CSV again (say, after a dropped connection) records nothing twice; a row
    // repeated within one body is recorded once.
    let r = s
        .call(
            Method::POST,
            "/v1/consent:import",
            Some(&admin),
            Body::Raw("text/csv", csv.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        (
            r.json["recorded"].as_u64(),
            r.json["duplicates"].as_u64(),
            r.json["refused"].as_u64()
        ),
        (Some(0), Some(4), Some(5)),
        "{r:?}"
    );
    let twice = format!("{}{}", &nd[..nd.find('\n').expect("line") + 1], nd);
    let r = s
        .call(
            Method::POST,
            "/v1/consent:import",
            Some(&admin),
            Body::Raw("application/x-ndjson", twice.into_bytes()),
        )
        .await;
    assert_eq!(
        (r.json["recorded"].as_u64(), r.json["duplicates"].as_u64()),
        (Some(0), Some(2)),
        "{r:?}"
    );
    let ev = s
        .call(
            Method::GET,
            "/v1/consent/subjects/cust-1/events",
            Some(&admin),
            Body::None,
        )
        .await;
    assert_eq!(
        ev.json["events"].as_array().map(Vec::len),
        Some(1),
        "{ev:?}"
    );
    let fresh = concat!(
        r#"{"subject_id":"cust-12","purpose":"newsletter","state":"refused","at":"2025-02-01T00:00:00Z"}"#,
        "\n",
        r#"{"subject_id":"cust-12","purpose":"newsletter","state":"refused","at":"2025-02-01T00:00:00Z"}"#,
        "\n"
    );
    let r = s
        .call(
            Method::POST,
            "/v1/consent:import",
            Some(&admin),
            Body::Raw("application/x-ndjson", fresh.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(
        (r.json["recorded"].as_u64(), r.json["duplicates"].as_u64()),
        (Some(1), Some(1)),
        "{r:?}"
    );

    // Whole-request refusals.
    s.call(
        Method::POST,
        "/v1/consent:import",
        Some(&admin),
        Body::Raw("text/plain", b"x".to_vec()),
    )
    .await
    .assert_error(415, "unsupported_media_type");
    s.call(
        Method::POST,
        "/v1/consent:import",
        Some(&admin),
        Body::Raw(
            "text/csv",
            b"subject_id,purpose\ncust-1,newsletter\n".to_vec(),
        ),
    )
    .await
    .assert_error(422, "invalid_body");
    s.call(
        Method::POST,
        "/v1/consent:import",
        Some(&marketing),
        Body::Raw("text/csv", csv.as_bytes().to_vec()),
    )
    .await
    .assert_error(403, "access_denied");
}
