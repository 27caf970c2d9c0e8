//! Discovery in connected databases and the review loop, against real PostgreSQL, MariaDB
//! and SQLite: personal data planted under obscure column names is found from sampled
//! values, names give context to weak shapes, decoys are left alone, proposals wait for a
//! DPO, an acceptance writes the category into the dataset declaration, a rejection is
//! remembered, and no sampled value is ever answered or audited.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;

use crate::datasets::{MyDb, mysql_url};
use crate::harness::{Body, Options, PgDb, Resp, TestServer, pg_url};

/// A GB IBAN with correct check digits for the bank code and account number given.
fn gb_iban(bank: &str, account: u64) -> String {
    let bban = format!("{bank}{account:08}");
    let moved = format!("{bban}GB00");
    let mut rem: u64 = 0;
    for c in moved.chars() {
        let digits = if c.is_ascii_digit() {
            c.to_string()
        } else {
            (u64::from(c as u8 - b'A') + 10).to_string()
        };
        for d in digits.chars() {
            rem = (rem * 10 + u64::from(d.to_digit(10).unwrap())) % 97;
        }
    }
    format!("GB{:02}{bban}", 98 - rem)
}

/// The planted rows' values, to check none is ever answered or audited.
fn planted(i: u32) -> [String; 4] {
    [
        format!("member{i}@example.com"),
        format!("{:03}{:02}{:04}", 120 + i, 10 + i, 1000 + i),
        gb_iban("NWBK601613", 31_926_819 + u64::from(i)),
        format!("+44 20 7946 {:04}", 100 + i),
    ]
}

pub(crate) fn schema() -> Vec<String> {
    let mut sql = vec![
        "CREATE TABLE t_cust (id INTEGER PRIMARY KEY, c1 VARCHAR(200), ssn VARCHAR(20), \
         c2 VARCHAR(40), ref_code VARCHAR(60), notes VARCHAR(400), created DATE, \
         email_sent VARCHAR(5))"
            .to_owned(),
        "CREATE TABLE ledger (id INTEGER PRIMARY KEY, x9 VARCHAR(40), amount DECIMAL(10, 2))"
            .to_owned(),
    ];
    for i in 0..30u32 {
        let [email, ssn, iban, phone] = planted(i);
        let notes = if i == 7 {
            format!("wrote from {email} about a refund")
        } else {
            "called back".to_owned()
        };
        sql.push(format!(
            "INSERT INTO t_cust VALUES ({i}, '{email}', '{ssn}', '{phone}', \
             'ORD-2024-{i:06}', '{notes}', '2025-0{}-1{}', '{}')",
            1 + i % 9,
            i % 10,
            if i % 2 == 0 { "true" } else { "false" }
        ));
        sql.push(format!(
            "INSERT INTO ledger VALUES ({i}, '{iban}', {}.50)",
            10 + i
        ));
    }
    sql
}

/// The shop declares `t_cust.c2` as a phone number already.
pub(crate) const DECLARED: &str = r#"{"dataset": [{"fides_key": "shop", "collections": [
  {"name": "t_cust", "fields": [
    {"name": "id", "fides_meta": {"primary_key": true}},
    {"name": "c2", "data_categories": ["user.contact.phone_number"]}]}]}]}"#;

async fn post(s: &TestServer, key: &str, path: &str, body: Value) -> Resp {
    s.call(Method::POST, path, Some(key), Body::Json(body))
        .await
}

fn column<'a>(scan: &'a Value, table: &str, column: &str) -> &'a Value {
    scan["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == table)
        .and_then(|t| {
            t["columns"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == column)
        })
        .unwrap_or_else(|| panic!("{table}.{column} missing from {scan}"))
}

async fn review_loop(url: &str) {
    let mut connections = std::collections::BTreeMap::new();
    connections.insert("shop".to_owned(), url.to_owned());
    connections.insert(
        "legacy".to_owned(),
        "postgres://nobody@127.0.0.1:9/legacy".to_owned(),
    );
    let s = TestServer::start_with(Options {
        dataset_connections: connections,
        ..Options::default()
    })
    .await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("connect");
    for sql in schema() {
        sqlx::query(AssertSqlSafe(sql.clone()))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    pool.close().await;
    let r = s
        .call(
            Method::PUT,
            "/v1/datasets/shop",
            Some(&s.admin_key.clone()),
            Body::Raw("application/json", DECLARED.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let (_, engineer) = s.operator_with_key("Eve Engineer", "engineer").await;
    let (_, dpo) = s.operator_with_key("Dora DPO", "dpo").await;
    let (_, support) = s.operator_with_key("Sam Support", "support").await;

    // Support staff may not scan databases.
    let r = post(&s, &support, "/v1/datasets/shop/scan", json!({})).await;
    r.assert_error(403, "access_denied");

    let r = post(
        &s,
        &engineer,
        "/v1/datasets/shop/scan",
        json!({ "sample_rows": 50 }),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let scan = r.json.clone();
    let text = scan.to_string();
    for i in 0..30 {
        for v in planted(i) {
            assert!(!text.contains(&v), "a sampled value was answered");
        }
    }
    let c1 = column(&scan, "t_cust", "c1");
    assert_eq!(
        c1["classification"]["category"], "user.contact.email",
        "{c1}"
    );
    assert_eq!(c1["classification"]["kind"], "email");
    assert_eq!(
        (
            c1["classification"]["sampled"].as_u64(),
            c1["classification"]["matched"].as_u64()
        ),
        (Some(30), Some(30))
    );
    assert!(c1["proposal"].is_string());
    let ssn = column(&scan, "t_cust", "ssn");
    assert_eq!(
        ssn["classification"]["kind"], "us_ssn",
        "the name gives undashed SSNs context: {ssn}"
    );
    assert_eq!(ssn["classification"]["hint"], "ssn");
    let x9 = column(&scan, "ledger", "x9");
    assert_eq!(
        x9["classification"]["category"], "user.financial.bank_account",
        "{x9}"
    );
    let notes = column(&scan, "t_cust", "notes");
    assert_eq!(notes["classification"]["embedded"], true, "{notes}");
    assert!(notes["proposal"].is_string());
    let c2 = column(&scan, "t_cust", "c2");
    assert_eq!(
        (c2["skipped"].as_str(), c2["proposal"].is_null()),
        (Some("declared"), true),
        "{c2}"
    );
    assert_eq!(c2["declared"], json!(["user.contact.phone_number"]));
    for decoy in ["ref_code", "amount", "id"] {
        let c = column(
            &scan,
            if decoy == "amount" {
                "ledger"
            } else {
                "t_cust"
            },
            decoy,
        );
        assert!(c["proposal"].is_null(), "{decoy}: {c}");
    }
    let created = column(&scan, "t_cust", "created");
    assert!(
        created["proposal"].is_null(),
        "a date column alone is not a birth date: {created}"
    );
    let flag = column(&scan, "t_cust", "email_sent");
    assert!(flag["proposal"].is_null(), "{flag}");
    assert_eq!(scan["proposals"], 4, "{scan}");
    assert_eq!(column(&scan, "ledger", "x9")["declared"], json!([]));

    // The DPO reviews: the list, then decisions. Engineers propose, they do not decide.
    let r = s
        .call(
            Method::GET,
            "/v1/scan/proposals?dataset=shop&status=pending",
            Some(&dpo),
            Body::None,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let pending = r.json["proposals"].as_array().unwrap().clone();
    assert_eq!(pending.len(), 4);
    let id_of = |table: &str, column: &str| -> String {
        pending
            .iter()
            .find(|p| p["table"] == table && p["column"] == column)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (c1_id, x9_id, notes_id, ssn_id) = (
        id_of("t_cust", "c1"),
        id_of("ledger", "x9"),
        id_of("t_cust", "notes"),
        id_of("t_cust", "ssn"),
    );
    assert!(
        pending
            .iter()
            .all(|p| p["created_by"].as_str().unwrap().starts_with("operator:"))
    );
    let r = post(
        &s,
        &engineer,
        &format!("/v1/scan/proposals/{c1_id}/accept"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 403, "{r:?}");

    let r = s
        .call(
            Method::POST,
            &format!("/v1/scan/proposals/{c1_id}/accept"),
            Some(&dpo),
            Body::None,
        )
        .await;
    assert_eq!(
        (r.status, r.json["status"].as_str()),
        (200, Some("accepted")),
        "{r:?}"
    );
    let r = post(
        &s,
        &dpo,
        &format!("/v1/scan/proposals/{x9_id}/accept"),
        json!({ "category": "user.financial" }),
    )
    .await;
    assert_eq!(
        (r.status, r.json["category"].as_str()),
        (200, Some("user.financial")),
        "{r:?}"
    );
    let r = post(
        &s,
        &dpo,
        &format!("/v1/scan/proposals/{notes_id}/reject"),
        json!({}),
    )
    .await;
    assert_eq!(
        (r.status, r.json["status"].as_str()),
        (200, Some("rejected")),
        "{r:?}"
    );

    // The declaration now holds what was accepted, and kept what was declared.
    let r = s.get("/v1/datasets/shop").await;
    assert_eq!(r.status, 200, "{r:?}");
    let fields = |table: &str| -> Vec<(String, Value)> {
        r.json["collections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == table)
            .unwrap()["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["name"].as_str().unwrap().to_owned(),
                    f["data_categories"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        fields("t_cust"),
        [
            ("id".to_owned(), json!([])),
            ("c2".to_owned(), json!(["user.contact.phone_number"])),
            ("c1".to_owned(), json!(["user.contact.email"])),
        ]
    );
    assert_eq!(
        fields("ledger"),
        [("x9".to_owned(), json!(["user.financial"]))]
    );

    // Decisions are taken once; bad input is refused.
    let r = post(
        &s,
        &dpo,
        &format!("/v1/scan/proposals/{c1_id}/reject"),
        json!({}),
    )
    .await;
    r.assert_error(409, "proposal_already_decided");
    let r = post(
        &s,
        &dpo,
        "/v1/scan/proposals/0191d7a4-0000-7000-8000-000000000000/accept",
        json!({}),
    )
    .await;
    r.assert_error(404, "proposal_not_found");
    let r = post(&s, &dpo, "/v1/scan/proposals/nope/accept", json!({})).await;
    assert_eq!(r.status, 400, "{r:?}");
    let r = post(
        &s,
        &dpo,
        &format!("/v1/scan/proposals/{ssn_id}/accept"),
        json!({ "category": "user.nope" }),
    )
    .await;
    assert_eq!(
        (r.status, r.json["error"]["details"]["field"].as_str()),
        (422, Some("category")),
        "{r:?}"
    );
    let r = post(
        &s,
        &dpo,
        &format!("/v1/scan/proposals/{ssn_id}/accept"),
        json!({ "colour": 1 }),
    )
    .await;
    r.assert_error(422, "invalid_body");
    let r = s
        .call(
            Method::POST,
            &format!("/v1/scan/proposals/{ssn_id}/accept"),
            Some(&dpo),
            Body::Raw("application/json", b"{".to_vec()),
        )
        .await;
    r.assert_error(400, "malformed_json");
    let r = s
        .call(
            Method::GET,
            "/v1/scan/proposals?status=maybe",
            Some(&dpo),
            Body::None,
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");

    // A second scan: what was accepted is declared, what was rejected stays rejected, the
    // SSN is proposed again (its earlier pending proposal replaced).
    let r = post(&s, &engineer, "/v1/datasets/shop/scan", json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(column(&r.json, "t_cust", "c1")["skipped"], "declared");
    assert_eq!(column(&r.json, "ledger", "x9")["skipped"], "declared");
    assert_eq!(column(&r.json, "t_cust", "notes")["skipped"], "rejected");
    assert_eq!(r.json["proposals"], 1);
    let r = s
        .call(
            Method::GET,
            "/v1/scan/proposals?dataset=shop",
            Some(&dpo),
            Body::None,
        )
        .await;
    let all = r.json["proposals"].as_array().unwrap();
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(all.iter().filter(|p| p["status"] == "pending").count(), 1);
    assert!(!all.iter().any(|p| p["id"] == ssn_id.as_str()), "replaced");

    // Bad scans.
    let r = post(
        &s,
        &engineer,
        "/v1/datasets/shop/scan",
        json!({ "sample_rows": 0 }),
    )
    .await;
    assert_eq!(
        (r.status, r.json["error"]["details"]["field"].as_str()),
        (422, Some("sample_rows"))
    );
    let r = post(
        &s,
        &engineer,
        "/v1/datasets/shop/scan",
        json!({ "min_confidence": 2 }),
    )
    .await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = post(&s, &engineer, "/v1/datasets/nowhere/scan", json!({})).await;
    r.assert_error(409, "dataset_not_connected");
    let r = post(&s, &engineer, "/v1/datasets/legacy/scan", json!({})).await;
    r.assert_error(502, "database_unreachable");
    let r = post(&s, &engineer, "/v1/datasets/bad-key!/scan", json!({})).await;
    assert_eq!(r.status, 400, "{r:?}");

    // The audit trail has each step, and none of the values.
    let audit = s.audit_text().await;
    for action in [
        "scan.database",
        "scan.proposal_accepted",
        "scan.proposal_rejected",
    ] {
        assert!(audit.contains(action), "{action} missing");
    }
    assert!(audit.contains("t_cust.c1:user.contact.email"));
    for i in 0..30 {
        for v in planted(i) {
            assert!(!audit.contains(&v), "a sampled value reached the audit log");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_columns_are_classified_and_reviewed() {
    let Some(base) = pg_url() else { return };
    let db = PgDb::create(&base).await;
    review_loop(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_columns_are_classified_and_reviewed() {
    let Some(base) = mysql_url() else { return };
    let db = MyDb::create(&base).await;
    review_loop(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_columns_are_classified_and_reviewed() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("shop.db").display());
    review_loop(&url).await;
}

/// `custodian scan --database URL` through the real binary: the same classifier, a report of
/// the columns holding personal data, `--fail-on` for CI, bad arguments refused, and neither
/// a value nor the URL printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_classifies_a_database_without_printing_values() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("shop.db").display());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.expect("connect");
    for sql in schema() {
        sqlx::query(AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect("schema");
    }
    pool.close().await;
    let custodian = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_custodian"))
            .args(args)
            .output()
            .expect("run custodian")
    };
    let out = custodian(&["scan", "--database", &url, "--format", "json"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(doc["tables"], 2);
    let found: Vec<(String, String)> = doc["personal_data"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| {
            (
                format!(
                    "{}.{}",
                    c["table"].as_str().unwrap(),
                    c["column"].as_str().unwrap()
                ),
                c["category"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for want in [
        ("t_cust.c1", "user.contact.email"),
        (
            "t_cust.ssn",
            "user.government_id.national_identification_number",
        ),
        ("t_cust.c2", "user.contact.phone_number"),
        ("ledger.x9", "user.financial.bank_account"),
    ] {
        assert!(
            found.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{want:?} missing from {found:?}"
        );
    }
    assert!(
        !found
            .iter()
            .any(|(c, _)| c == "t_cust.ref_code" || c == "t_cust.created")
    );
    for i in 0..30 {
        for v in planted(i) {
            assert!(!stdout.contains(&v), "a sampled value was printed");
        }
    }
    assert!(
        !stdout.contains(dir.path().to_str().unwrap()),
        "the URL was printed"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_custodian"))
        .args(["scan", "--database", "env:SHOP_DB"])
        .env("SHOP_DB", &url)
        .output()
        .expect("run custodian");
    assert!(out.status.success(), "{out:?}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("t_cust.c1") && table.contains("2 tables, 11 columns"),
        "{table}"
    );

    let out = custodian(&["scan", "--database", &url, "--fail-on", "iban,us_ssn"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("personal data found: iban, us_ssn"));
    for bad in [
        vec!["scan", "--database", "ftp://example.com/db"],
        vec!["scan", "--database", &url, "--sample-rows", "0"],
        vec!["scan", "--database", &url, "--min-confidence", "2"],
        vec!["scan", "--database", &url, "some/path"],
        vec!["scan", "--database", "postgres://nobody@127.0.0.1:9/none"],
        vec!["scan", "--database", "env:CUSTODIAN_TEST_NO_SUCH_VARIABLE"],
    ] {
        let out = custodian(&bad);
        assert!(!out.status.success(), "{bad:?} should fail");
    }
}
