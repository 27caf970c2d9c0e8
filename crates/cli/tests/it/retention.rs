//! Retention on a fixed clock, as a DPO meets it: rules bound to the data map, every trigger
//! (record creation, last activity, end of relationship, consent withdrawal), legal holds on
//! a subject and on a connected database that block disposal and, once released or lapsed,
//! let it proceed; what went is checked in the vault and in the SQLite database, and the
//! audit trail of it. Then two servers over one PostgreSQL database run at once and each
//! disposal happens exactly once.

use jiff::{SignedDuration, Timestamp};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Row;

use crate::harness::{Body, Options, Resp, TestServer, fixed_clock};

const DAY: i64 = 86_400;

const MAP: &str = "
retention_rule:
  - key: orders_90_days
    data_categories: [user.financial]
    period: P90D
    trigger: record_creation
    action: delete
  - key: marketing_contacts
    data_categories: [user.contact.email]
    data_uses: [marketing]
    consent_purpose: newsletter
    period: P30D
    trigger: consent_withdrawal
    action: anonymize
  - key: closed_accounts
    data_categories: [user.name]
    period: P1Y
    trigger: end_of_relationship
    action: crypto_shred
  - key: idle_phones
    data_categories: [user.contact.phone_number]
    period: P6M
    trigger: last_activity
    action: anonymize
  - key: visit_logs
    data_categories: [user.device.ip_address]
    period: P30D
    trigger: record_creation
    action: delete
dataset:
  - fides_key: web
    collections:
      - name: visits
        custodian:
          retention: {created: seen_at}
        fields:
          - {name: id, fides_meta: {primary_key: true}}
          - {name: ip, data_categories: [user.device.ip_address]}
          - {name: seen_at}
";

async fn call(s: &TestServer, key: &str, m: Method, path: &str, body: Body) -> Resp {
    s.call_with(
        m,
        path,
        Some(key),
        body,
        &[("custodian-purpose", "service_delivery")],
    )
    .await
}

async fn record(s: &TestServer, key: &str, collection: &str, subject: &str, fields: Value) {
    let r = call(
        s,
        key,
        Method::POST,
        &format!("/v1/collections/{collection}/records"),
        Body::Json(json!({"subject_id": subject, "fields": fields})),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
}

/// The fields each of the subject's records still holds, by collection.
async fn held(s: &TestServer, subject: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = s
        .store
        .subject_records(subject)
        .await
        .expect("records")
        .into_iter()
        .map(|r| {
            let mut f: Vec<String> = r.cells.into_iter().map(|c| c.field).collect();
            f.sort();
            (r.collection, f)
        })
        .collect();
    out.sort();
    out
}

fn fields(list: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    list.iter()
        .map(|(c, f)| ((*c).to_owned(), f.iter().map(|x| (*x).to_owned()).collect()))
        .collect()
}

async fn run(s: &TestServer, dpo: &str) -> Value {
    let r = s
        .call(Method::POST, "/v1/retention/runs", Some(dpo), Body::None)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.json
}

#[tokio::test]
async fn retention_disposes_on_every_trigger_and_holds_block_it_until_released() {
    let tmp = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}?mode=rwc", tmp.path().join("web.db").display());
    let web = sqlx::SqlitePool::connect(&url).await.expect("web db");
    sqlx::query("CREATE TABLE visits (id INTEGER PRIMARY KEY, ip TEXT, seen_at TEXT NOT NULL)")
        .execute(&web)
        .await
        .expect("table");
    for (id, ip, seen) in [
        (1, "203.0.113.7", "2025-12-01 10:00:00"),
        (2, "203.0.113.8", "2026-03-15T09:00:00Z"),
        (3, "203.0.113.9", "2026-01-20 00:00:00"),
    ] {
        sqlx::query("INSERT INTO visits VALUES (?, ?, ?)")
            .bind(id)
            .bind(ip)
            .bind(seen)
            .execute(&web)
            .await
            .expect("row");
    }
    let clock = fixed_clock();
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        dataset_connections: [("web".to_owned(), url.clone())].into(),
        ..Options::default()
    })
    .await;
    let admin = s.admin_key.clone();
    let (_, eng) = s.operator_with_key("Eve Engineer", "engineer").await;
    let (_, dpo) = s.operator_with_key("Dan DPO", "dpo").await;
    let r = s
        .call(
            Method::POST,
            "/v1/map:import",
            Some(&admin),
            Body::Raw("application/yaml", MAP.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    for (name, spec) in [
        (
            "customers",
            json!({"fields": [
                {"name": "email", "type": "email", "category": "user.contact.email", "sensitivity": "medium"},
                {"name": "name", "type": "text", "category": "user.name", "sensitivity": "medium"},
                {"name": "phone", "type": "phone", "category": "user.contact.phone_number", "sensitivity": "medium"}
            ]}),
        ),
        (
            "orders",
            json!({"fields": [
                {"name": "card", "type": "card_number", "category": "user.financial.credit_card", "sensitivity": "high", "required": true},
                {"name": "item", "type": "text", "category": "user.behavior.purchase_history", "sensitivity": "low"}
            ]}),
        ),
    ] {
        let r = call(
            &s,
            &eng,
            Method::PUT,
            &format!("/v1/collections/{name}"),
            Body::Json(spec),
        )
        .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    let r = s
        .call(
            Method::PUT,
            "/v1/purposes/newsletter",
            Some(&admin),
            Body::Json(json!({
                "names": {"en": "Newsletter"}, "legal_basis": "consent", "consent": "opt_in",
                "data_uses": ["marketing.communications.email"], "jurisdictions": ["EU"]
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");

    // Day 0: Alice (consents to the newsletter), Bob, and Carol with an order.
    record(
        &s,
        &eng,
        "customers",
        "cus_alice",
        json!({"email": "alice@example.com", "name": "Alice Archer", "phone": "+44 20 7946 0958"}),
    )
    .await;
    record(
        &s,
        &eng,
        "customers",
        "cus_bob",
        json!({"email": "bob@example.com", "name": "Bob Baker"}),
    )
    .await;
    record(
        &s,
        &eng,
        "customers",
        "cus_carol",
        json!({"email": "carol@example.com", "name": "Carol Cook"}),
    )
    .await;
    record(
        &s,
        &eng,
        "orders",
        "cus_carol",
        json!({"card": "4111 1111 1111 1111", "item": "Teapot"}),
    )
    .await;
    let consent = |state: &'static str| json!({"subject_id": "cus_alice", "source": "www.example.com", "choices": [{"purpose": "newsletter", "state": state}]});
    let r = s
        .call(
            Method::POST,
            "/v1/consent",
            Some(&eng),
            Body::Json(consent("given")),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");

    // Day 10: Alice withdraws; Bob closes his account; a lawyer asks to keep Bob's data and
    // the web logs (until day 50).
    clock.advance(SignedDuration::from_secs(10 * DAY));
    let r = s
        .call(
            Method::POST,
            "/v1/consent",
            Some(&eng),
            Body::Json(consent("withdrawn")),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let ended = (Timestamp::from_second(1_767_225_600 + 10 * DAY).expect("t")).to_string();
    let r = s
        .call(
            Method::PUT,
            "/v1/subjects/cus_bob/relationship",
            Some(&eng),
            Body::Json(json!({"ended_at": ended})),
        )
        .await;
    assert_eq!(r.status, 204, "{r:?}");
    let r = s
        .call(
            Method::POST,
            "/v1/retention/holds",
            Some(&dpo),
            Body::Json(json!({"subject_id": "cus_bob", "reason": "Matter 2026-014: Baker v Acme"})),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let bob_hold = r.json["id"].as_str().expect("id").to_owned();
    assert_eq!(r.json["active"], true);
    let until = (Timestamp::from_second(1_767_225_600 + 50 * DAY).expect("t")).to_string();
    let r = s
        .call(
            Method::POST,
            "/v1/retention/holds",
            Some(&dpo),
            Body::Json(json!({"dataset": "web", "reason": "Incident review", "expires_at": until})),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let web_hold = r.json["id"].as_str().expect("id").to_owned();

    // Day 20: nothing is due in the vault yet; the web logs are due but held.
    clock.advance(SignedDuration::from_secs(10 * DAY));
    let plan = s
        .call(Method::GET, "/v1/retention/plan", Some(&dpo), Body::None)
        .await;
    assert_eq!(plan.status, 200, "{plan:?}");
    assert_eq!(plan.json["vault"], json!([]));
    assert_eq!(plan.json["skipped"][0]["reason"], "held");
    assert_eq!(plan.json["skipped"][0]["held_by"], web_hold.as_str());
    // A preview of day 45 shows Alice's email going, for the consent rule.
    let at45 = (Timestamp::from_second(1_767_225_600 + 45 * DAY).expect("t")).to_string();
    let plan = s
        .call(
            Method::GET,
            &format!("/v1/retention/plan?at={at45}"),
            Some(&dpo),
            Body::None,
        )
        .await;
    assert_eq!(
        plan.json["vault"].as_array().map(Vec::len),
        Some(1),
        "{plan:?}"
    );
    assert_eq!(plan.json["vault"][0]["subject_id"], "cus_alice");
    assert_eq!(plan.json["vault"][0]["action"], "anonymize");
    assert_eq!(plan.json["vault"][0]["fields"], json!(["email"]));
    assert_eq!(
        plan.json["vault"][0]["rules"],
        json!(["marketing_contacts"])
    );
    assert_eq!(
        plan.json["vault"][0]["due_at"],
        (Timestamp::from_second(1_767_225_600 + 40 * DAY).expect("t")).to_string()
    );

    // The same preview from the command line.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_custodian"))
        .args(["retention", "plan", "--at", &at45, "--data-dir"])
        .arg(&s.data_dir)
        .env("CUSTODIAN_LOG", "warn")
        .output()
        .expect("custodian retention plan");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.contains("due     vault cus_alice: remove email from record customers/"),
        "{text}"
    );
    assert!(text.contains("(rules: marketing_contacts)"), "{text}");
    assert!(
        text.contains(&format!(
            "skipped dataset web.visits for rule visit_logs: kept by hold {web_hold}"
        )),
        "{text}"
    );
    assert!(
        text.contains("1 vault disposals due, 0 held; 0 tables due, 1 skipped"),
        "{text}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_custodian"))
        .args(["retention", "plan", "--at", "next week", "--data-dir"])
        .arg(&s.data_dir)
        .output()
        .expect("custodian retention plan");
    assert!(!out.status.success());

    // Day 45: Alice's email goes (30 days after withdrawal); the logs stay (held).
    clock.advance(SignedDuration::from_secs(25 * DAY));
    let r = run(&s, &dpo).await;
    assert_eq!(r["records_anonymized"], 1, "{r}");
    assert_eq!(r["tables"], json!([]), "the held dataset is not touched");
    assert_eq!(
        held(&s, "cus_alice").await,
        fields(&[("customers", &["name", "phone"])])
    );
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM visits")
        .fetch_one(&web)
        .await
        .expect("count")
        .get("n");
    assert_eq!(n, 3);

    // Day 100: Carol's order is 90 days old: deleted. The logs' hold lapsed on day 50: the
    // visits older than 30 days go, the newer one stays.
    clock.advance(SignedDuration::from_secs(55 * DAY));
    let r = run(&s, &dpo).await;
    assert_eq!(r["records_deleted"], 1, "{r}");
    assert_eq!(r["tables"][0]["table"], "visits");
    assert_eq!(r["tables"][0]["rows"], 2, "{r}");
    assert_eq!(r["tables"][0]["outcome"], "ok");
    assert_eq!(
        held(&s, "cus_carol").await,
        fields(&[("customers", &["email", "name"])])
    );
    let left: Vec<i64> = sqlx::query("SELECT id FROM visits ORDER BY id")
        .fetch_all(&web)
        .await
        .expect("rows")
        .iter()
        .map(|r| r.get("id"))
        .collect();
    assert_eq!(left, [2]);

    // Day 400: Bob's account closed over a year ago, but his hold keeps him; Alice's phone
    // has been idle six months since her record last changed (day 45): anonymized.
    clock.advance(SignedDuration::from_secs(300 * DAY));
    let plan = s
        .call(Method::GET, "/v1/retention/plan", Some(&dpo), Body::None)
        .await;
    let bob = plan.json["vault"]
        .as_array()
        .expect("vault")
        .iter()
        .find(|i| i["subject_id"] == "cus_bob")
        .cloned()
        .expect("bob planned");
    assert_eq!(
        (bob["action"].as_str(), bob["held_by"].as_str()),
        (Some("crypto_shred"), Some(bob_hold.as_str()))
    );
    let r = run(&s, &dpo).await;
    assert_eq!(
        (
            r["held"].as_u64(),
            r["shredded"].as_u64(),
            r["records_anonymized"].as_u64()
        ),
        (Some(1), Some(0), Some(1)),
        "{r}"
    );
    assert_eq!(
        held(&s, "cus_alice").await,
        fields(&[("customers", &["name"])])
    );
    assert_eq!(
        held(&s, "cus_bob").await,
        fields(&[("customers", &["email", "name"])])
    );

    // The hold is released: the next run crypto-shreds Bob.
    let r = s
        .call(
            Method::POST,
            &format!("/v1/retention/holds/{bob_hold}/release"),
            Some(&dpo),
            Body::None,
        )
        .await;
    assert_eq!(
        (r.status, r.json["active"].as_bool()),
        (200, Some(false)),
        "{r:?}"
    );
    s.call(
        Method::POST,
        &format!("/v1/retention/holds/{bob_hold}/release"),
        Some(&dpo),
        Body::None,
    )
    .await
    .assert_error(409, "hold_already_released");
    let r = run(&s, &dpo).await;
    assert_eq!(r["shredded"], 1, "{r}");
    assert!(s.store.subject_key("cus_bob").await.expect("key").is_none());
    assert!(held(&s, "cus_bob").await.is_empty());
    assert_eq!(s.store.erasure_ledger().await.expect("ledger").len(), 1);
    // Nothing more is due: a run changes nothing.
    let r = run(&s, &dpo).await;
    assert_eq!(
        (
            r["shredded"].as_u64(),
            r["records_deleted"].as_u64(),
            r["records_anonymized"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );

    // The proof: each disposal with its rule, holds placed and released; no values.
    let audit = s.audit_text().await;
    for needle in [
        "retention.anonymize",
        "rule:marketing_contacts",
        "rule:idle_phones",
        "retention.delete",
        "rule:orders_90_days",
        "retention.crypto_shred",
        "rule:closed_accounts",
        "dataset:web.visits",
        "rows:2",
        "retention.hold_placed",
        "retention.hold_released",
        "retention.relationship_ended",
    ] {
        assert!(
            audit.contains(needle),
            "{needle} missing from the audit log"
        );
    }
    for secret in [
        "alice@example.com",
        "Alice Archer",
        "Baker v Acme",
        "203.0.113",
        "Teapot",
        "Incident review",
    ] {
        assert!(!audit.contains(secret), "the audit log holds a value");
    }
    let metrics = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("custodian_retention_runs_total{outcome=\"ok\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("custodian_retention_disposed_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn bad_holds_and_relationship_changes_are_refused() {
    let s = TestServer::start().await;
    let (_, dpo) = s.operator_with_key("Dan DPO", "dpo").await;
    let (_, support) = s.operator_with_key("Sam Support", "support").await;
    for (body, field) in [
        (json!({"reason": "x"}), "subject_id"),
        (
            json!({"subject_id": "a", "dataset": "b", "reason": "x"}),
            "subject_id",
        ),
        (
            json!({"subject_id": "bad id!", "reason": "x"}),
            "subject_id",
        ),
        (json!({"dataset": "bad-name", "reason": "x"}), "dataset"),
        (json!({"subject_id": "cus_1", "reason": " "}), "reason"),
        (
            json!({"subject_id": "cus_1", "reason": "a\u{7}b"}),
            "reason",
        ),
        (
            json!({"subject_id": "cus_1", "reason": "x", "expires_at": "2000-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (
            json!({"subject_id": "cus_1", "reason": "x", "expires_at": "soon"}),
            "expires_at",
        ),
    ] {
        let r = s
            .call(
                Method::POST,
                "/v1/retention/holds",
                Some(&dpo),
                Body::Json(body),
            )
            .await;
        r.assert_error(422, "invalid_hold");
        assert_eq!(r.json["error"]["details"]["field"], field);
    }
    s.call(
        Method::POST,
        "/v1/retention/holds",
        Some(&dpo),
        Body::Json(json!({"dataset": "nope", "reason": "x"})),
    )
    .await
    .assert_error(404, "dataset_not_found");
    s.call(
        Method::POST,
        "/v1/retention/holds",
        Some(&dpo),
        Body::Json(json!({"subject_id": "cus_1", "reason": "x", "extra": 1})),
    )
    .await
    .assert_error(422, "invalid_body");
    s.call(
        Method::POST,
        "/v1/retention/holds/not-a-uuid/release",
        Some(&dpo),
        Body::None,
    )
    .await
    .assert_error(400, "invalid_path_parameter");
    s.call(
        Method::POST,
        "/v1/retention/holds/0192f0c1-7f3a-7c55-9d1e-3b6c2a9e4f10/release",
        Some(&dpo),
        Body::None,
    )
    .await
    .assert_error(404, "hold_not_found");
    s.call(
        Method::GET,
        "/v1/retention/plan?at=tomorrow",
        Some(&dpo),
        Body::None,
    )
    .await
    .assert_error(400, "invalid_query");
    for (m, path) in [
        (Method::GET, "/v1/retention/plan"),
        (Method::POST, "/v1/retention/runs"),
        (Method::GET, "/v1/retention/holds"),
    ] {
        s.call(m, path, Some(&support), Body::None)
            .await
            .assert_error(403, "access_denied");
    }
    s.call(
        Method::PUT,
        "/v1/subjects/cus_1/relationship",
        Some(&dpo),
        Body::Json(json!({"ended_at": "2999-01-01T00:00:00Z"})),
    )
    .await
    .assert_error(422, "invalid_value");
    s.call(
        Method::PUT,
        "/v1/subjects/bad%20id/relationship",
        Some(&dpo),
        Body::Json(json!({"ended_at": "2020-01-01T00:00:00Z"})),
    )
    .await
    .assert_error(422, "invalid_subject_id");
    s.call(
        Method::PUT,
        "/v1/subjects/cus_1/relationship",
        Some(&support),
        Body::Json(json!({"ended_at": "2020-01-01T00:00:00Z"})),
    )
    .await
    .assert_error(403, "access_denied");
    let r = s
        .call(
            Method::DELETE,
            "/v1/subjects/cus_1/relationship",
            Some(&dpo),
            Body::None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        s.call(Method::GET, "/v1/retention/holds", Some(&dpo), Body::None)
            .await
            .json["holds"],
        json!([])
    );
}

#[tokio::test]
async fn two_servers_over_postgres_never_dispose_of_the_same_thing_twice() {
    let Some((_db, a, b)) = TestServer::two_over_postgres().await else {
        return;
    };
    let admin = a.admin_key.clone();
    let (_, eng) = a.operator_with_key("Eve Engineer", "engineer").await;
    let (_, dpo) = a.operator_with_key("Dan DPO", "dpo").await;
    let rules = "retention_rule:\n  - {key: names, data_categories: [user.name], period: P1D, trigger: end_of_relationship, action: crypto_shred}\n";
    let r = a
        .call(
            Method::POST,
            "/v1/map:import",
            Some(&admin),
            Body::Raw("application/yaml", rules.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = call(
        &a,
        &eng,
        Method::PUT,
        "/v1/collections/people",
        Body::Json(json!({"fields": [
        {"name": "name", "type": "text", "category": "user.name", "sensitivity": "medium"}]})),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    for i in 0..20 {
        let subject = format!("p{i}");
        record(
            &a,
            &eng,
            "people",
            &subject,
            json!({"name": format!("Person {i}")}),
        )
        .await;
        let r = a
            .call(
                Method::PUT,
                &format!("/v1/subjects/{subject}/relationship"),
                Some(&eng),
                Body::Json(json!({"ended_at": "2020-01-01T00:00:00Z"})),
            )
            .await;
        assert_eq!(r.status, 204, "{r:?}");
    }
    let (ra, rb) = tokio::join!(run(&a, &dpo), run(&b, &dpo));
    let shredded = ra["shredded"].as_u64().unwrap_or(0) + rb["shredded"].as_u64().unwrap_or(0);
    assert_eq!(shredded, 20, "{ra} {rb}");
    // Whichever order the two runs took (one busy while the other held the lease, or one
    // after the other), nothing was disposed of twice: 20 shreds, 20 ledger entries, 20 events.
    assert_eq!(a.store.erasure_ledger().await.expect("ledger").len(), 20);
    let audit = a.audit_text().await;
    assert_eq!(audit.matches("retention.crypto_shred").count(), 20);
}

/// A members table in the connected database at `url`: rows older than a year are deleted,
/// names older than 30 days are masked (by primary key, as the field's erasure strategy says);
/// newer rows are untouched. The time column is a real date-time column of each database.
async fn dataset_retention_in(url: &str, time_type: &str) {
    use crate::datasets::{cells, rows};
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("connect");
    for sql in [
        format!(
            "CREATE TABLE members (id VARCHAR(10) PRIMARY KEY, email VARCHAR(200), name VARCHAR(200), joined {time_type} NOT NULL)"
        ),
        "INSERT INTO members VALUES ('1', 'old@example.com', 'Olga Old', '2024-06-01 00:00:00')"
            .into(),
        "INSERT INTO members VALUES ('2', 'mid@example.com', 'Max Mid', '2025-11-01 12:00:00')"
            .into(),
        "INSERT INTO members VALUES ('3', 'new@example.com', 'Nina New', '2025-12-20 08:00:00')"
            .into(),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect("seed");
    }
    pool.close().await;
    let s = TestServer::start_with(Options {
        fixed_clock: Some(fixed_clock()),
        dataset_connections: [("club".to_owned(), url.to_owned())].into(),
        ..Options::default()
    })
    .await;
    let admin = s.admin_key.clone();
    let (_, dpo) = s.operator_with_key("Dan DPO", "dpo").await;
    let map = "
retention_rule:
  - {key: a_names, data_categories: [user.name], period: P30D, trigger: record_creation, action: anonymize}
  - {key: b_members, data_categories: [user.contact.email], period: P1Y, trigger: record_creation, action: delete}
dataset:
  - fides_key: club
    collections:
      - name: members
        custodian: {retention: {created: joined}}
        fields:
          - {name: id, fides_meta: {primary_key: true}}
          - {name: email, data_categories: [user.contact.email]}
          - {name: name, data_categories: [user.name], custodian: {erasure: mask}}
          - {name: joined}
";
    let r = s
        .call(
            Method::POST,
            "/v1/map:import",
            Some(&admin),
            Body::Raw("application/yaml", map.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = run(&s, &dpo).await;
    let tables: Vec<(String, u64, String)> = r["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| {
            (
                t["rules"][0].as_str().unwrap_or("").to_owned(),
                t["rows"].as_u64().unwrap_or(9),
                t["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        tables,
        [
            ("a_names".to_owned(), 2, "ok".to_owned()),
            ("b_members".to_owned(), 1, "ok".to_owned())
        ],
        "{r}"
    );
    let left = rows(url, "SELECT id, email, name FROM members ORDER BY id").await;
    assert_eq!(
        cells(&left),
        [
            vec!["2", "mid@example.com", "*******"],
            vec!["3", "new@example.com", "Nina New"]
        ]
    );
    // A second run finds nothing more to do.
    let r = run(&s, &dpo).await;
    assert_eq!(r["tables"][0]["rows"], 0, "{r}");
    assert_eq!(r["tables"][1]["rows"], 0, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_in_a_connected_postgresql_database() {
    let Some(base) = crate::harness::pg_url() else {
        return;
    };
    let db = crate::harness::PgDb::create(&base).await;
    dataset_retention_in(&db.url, "TIMESTAMPTZ").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_in_a_connected_mariadb_database() {
    let Some(base) = crate::datasets::mysql_url() else {
        return;
    };
    let db = crate::datasets::MyDb::create(&base).await;
    dataset_retention_in(&db.url, "DATETIME").await;
}
