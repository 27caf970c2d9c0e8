//! Rights requests fulfilled in connected databases, end to end, against a real PostgreSQL,
//! a real MariaDB and an SQLite file, each holding a customers → orders → addresses schema: the dataset is
//! declared as Fides YAML, an access request's package holds the subject's rows, an erasure
//! applies each field's strategy (null, mask, keyed hash, rewrite, row deletion) and the
//! databases are inspected afterwards; systems without a connection, or that do not answer,
//! become manual tasks closed with evidence.

use std::io::Read as _;
use std::sync::atomic::{AtomicU32, Ordering};

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Row};

use crate::harness::{Body, Options, PgDb, Resp, TestServer, pg_url};
use crate::rights::customer;

/// The MariaDB URL for tests: `None` (skip) when unset outside CI; a failure under CI.
pub(crate) fn mysql_url() -> Option<String> {
    match std::env::var("CUSTODIAN_TEST_MYSQL_URL") {
        Ok(u) => Some(u),
        Err(_) if std::env::var("CI").is_ok() => {
            panic!("CUSTODIAN_TEST_MYSQL_URL must be set under CI")
        }
        Err(_) => {
            eprintln!("skipped: CUSTODIAN_TEST_MYSQL_URL is not set");
            None
        }
    }
}

/// A MariaDB database made for one test and dropped after it.
pub(crate) struct MyDb {
    admin_url: String,
    name: String,
    pub(crate) url: String,
}

impl MyDb {
    pub(crate) async fn create(base: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "custodian_it_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let pool = sqlx::MySqlPool::connect(base)
            .await
            .expect("connect to MariaDB");
        sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
            .execute(&pool)
            .await
            .expect("drop");
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .expect("create database");
        pool.close().await;
        let (prefix, _) = base.rsplit_once('/').expect("URL has a path");
        Self {
            admin_url: base.to_owned(),
            url: format!("{prefix}/{name}"),
            name,
        }
    }
}

impl Drop for MyDb {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(pool) = sqlx::MySqlPool::connect(&url).await {
                    let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                        .execute(&pool)
                        .await;
                }
            });
        })
        .join();
    }
}

/// The shop's schema and rows: Grace (customer 1, two orders, three addresses, her email in
/// mixed case) and Alan (customer 2, one order, one address), who must stay untouched.
const SCHEMA: &[&str] = &[
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(200), name VARCHAR(100), \
     phone VARCHAR(40), created_at DATE NOT NULL)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers (id), \
     total DECIMAL(10, 2) NOT NULL, gift_message VARCHAR(200))",
    "CREATE TABLE addresses (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders (id), \
     street VARCHAR(200), city VARCHAR(100), postal_code VARCHAR(20))",
    "INSERT INTO customers VALUES (1, 'Grace.Hopper@Example.com', 'Grace Hopper', '+14155550100', '2025-03-01'), \
     (2, 'alan@example.com', 'Alan Turing', '+441234567890', '2025-04-01')",
    "INSERT INTO orders VALUES (10, 1, 120.50, 'Happy birthday, Grace'), (11, 1, 9.99, NULL), \
     (12, 2, 30.00, 'For Alan')",
    "INSERT INTO addresses VALUES (100, 10, '1 Navy Way', 'Arlington', '22201'), \
     (101, 11, '1 Navy Way', 'Arlington', '22201'), (102, 11, '2 Yale Ave', 'New Haven', '06511'), \
     (103, 12, '3 Bletchley Rd', 'Milton Keynes', 'MK3 6EB')",
];

fn declaration(key: &str) -> String {
    format!(
        "# The shop's database, in the Fides dataset shape.
dataset:
  - fides_key: {key}
    name: Web shop
    collections:
      - name: customers
        fields:
          - name: id
            fides_meta: {{primary_key: true, identity: customer_id}}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {{identity: email}}
          - name: name
            data_categories: [user.name]
            custodian: {{erasure: mask}}
          - name: phone
            data_categories: [user.contact.phone_number]
            custodian: {{erasure: hash}}
          - name: created_at
      - name: orders
        fields:
          - name: id
            fides_meta: {{primary_key: true}}
          - name: customer_id
            fides_meta:
              references:
                - {{dataset: {key}, field: customers.id, direction: from}}
          - name: total
          - name: gift_message
            data_categories: [user.content.private]
            custodian: {{erasure: string_rewrite, value: '[erased]'}}
      - name: addresses
        custodian: {{erasure: delete_row}}
        fields:
          - name: id
            fides_meta: {{primary_key: true}}
          - name: order_id
            fides_meta:
              references:
                - {{dataset: {key}, field: orders.id, direction: from}}
          - name: street
            data_categories: [user.contact.address.street]
          - name: city
            data_categories: [user.contact.address.city]
          - name: postal_code
            data_categories: [user.contact.address.postal_code]
"
    )
}

async fn put_yaml(s: &TestServer, key: &str, yaml: String) -> Resp {
    s.call(
        Method::PUT,
        &format!("/v1/datasets/{key}"),
        Some(&s.admin_key),
        Body::Raw("application/yaml", yaml.into_bytes()),
    )
    .await
}

async fn step(s: &TestServer, key: &str, id: &str, body: Value) -> Resp {
    s.call(
        Method::POST,
        &format!("/v1/rights/requests/{id}/steps"),
        Some(key),
        Body::Json(body),
    )
    .await
}

/// Files a request for Grace as `requester` gives her, verified in person, approved by
/// `approvers` (two for an erasure), ready to complete.
async fn ready(
    s: &TestServer,
    kind: &str,
    requester: Value,
    support: &str,
    approvers: &[&str],
) -> String {
    let r = s
        .call(
            Method::POST,
            "/v1/rights/requests",
            Some(support),
            Body::Json(json!({
                "type": kind, "jurisdiction": "GDPR", "subject_id": "cus_1",
                "requester": requester,
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.json["id"].as_str().expect("id").to_owned();
    for st in ["verify_manually", "submit_for_approval"] {
        let r = step(s, support, &id, json!({"step": st})).await;
        assert_eq!(r.status, 200, "{st}: {r:?}");
    }
    for a in approvers {
        let r = step(s, a, &id, json!({"step": "approve"})).await;
        assert_eq!(r.status, 200, "{r:?}");
    }
    id
}

async fn history_detail(s: &TestServer, key: &str, id: &str, action: &str) -> String {
    let r = s
        .call(
            Method::GET,
            &format!("/v1/rights/requests/{id}"),
            Some(key),
            Body::None,
        )
        .await;
    r.json["history"]
        .as_array()
        .expect("history")
        .iter()
        .rev()
        .find(|e| e["action"] == action)
        .and_then(|e| e["detail"].as_str())
        .unwrap_or_else(|| panic!("no {action}: {r:?}"))
        .to_owned()
}

fn data_json(zip_bytes: &[u8]) -> Value {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).expect("a zip");
    let mut f = z.by_name("data.json").expect("data.json");
    let mut text = String::new();
    f.read_to_string(&mut text).expect("utf-8");
    serde_json::from_str(&text).expect("json")
}

/// The rows a query gives, as text (`CONCAT(x, '')` reads a number as text in both databases).
pub(crate) async fn rows(url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("connect");
    let got = sqlx::query(AssertSqlSafe(sql.to_owned()))
        .fetch_all(&pool)
        .await
        .expect("select");
    pool.close().await;
    got.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.try_get::<Option<String>, _>(i).expect("text"))
                .collect()
        })
        .collect()
}

pub(crate) fn cells(v: &[Vec<Option<String>>]) -> Vec<Vec<&str>> {
    v.iter()
        .map(|r| r.iter().map(|c| c.as_deref().unwrap_or("NULL")).collect())
        .collect()
}

/// Access then erasure in the shop database at `url`, with `extra` declared as a second
/// system that needs a person (`reason`).
async fn access_then_erasure(url: &str, extra_url: Option<&str>, reason: &str) {
    let mut connections = std::collections::BTreeMap::new();
    connections.insert("shop".to_owned(), url.to_owned());
    if let Some(u) = extra_url {
        connections.insert("legacy".to_owned(), u.to_owned());
    }
    let s = TestServer::start_with(Options {
        dataset_connections: connections,
        ..Options::default()
    })
    .await;
    for sql in SCHEMA {
        let pool = {
            sqlx::any::install_default_drivers();
            sqlx::AnyPool::connect(url).await.expect("connect")
        };
        sqlx::query(AssertSqlSafe(sql.to_string()))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        pool.close().await;
    }
    let r = put_yaml(&s, "shop", declaration("shop")).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json["connection"], "configured");
    assert_eq!(r.json["unreachable_collections"], json!([]));
    let fields = &r.json["collections"][0]["fields"];
    assert_eq!(fields[1]["erasure"], "null_rewrite", "{r:?}");
    assert_eq!(fields[2]["erasure"], "mask");
    assert_eq!(fields[0]["erasure"], "keep", "keys stay");
    let r = s
        .call(
            Method::POST,
            "/v1/datasets/shop/probe",
            Some(&s.admin_key),
            Body::None,
        )
        .await;
    assert_eq!(r.json["reachable"], true, "{r:?}");
    assert!(
        r.json["collections"]
            .as_array()
            .expect("tables")
            .iter()
            .all(|t| t["ok"] == true),
        "{r:?}"
    );
    // A second system Custodian cannot use.
    let r = put_yaml(
        &s,
        "legacy",
        "dataset:\n  - fides_key: legacy\n    collections:\n      - name: members\n        fields:\n          - name: mail\n            data_categories: [user.contact.email]\n            fides_meta: {identity: email}\n".to_owned(),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let expected_connection = if extra_url.is_some() {
        "configured"
    } else {
        "not_configured"
    };
    assert_eq!(r.json["connection"], expected_connection);

    customer(&s, "cus_1", "grace.hopper@example.com").await;
    let (_, support) = s.operator_with_key("Support", "support").await;
    let (_, dpo1) = s.operator_with_key("DPO one", "dpo").await;
    let (_, dpo2) = s.operator_with_key("DPO two", "dpo").await;

    // Access: the system that needs a person stops completion, unchanged, with a task.
    let by_email = json!({"email": "grace.hopper@example.com"});
    let id = ready(&s, "access", by_email, &support, &[&dpo1]).await;
    // Support staff may not reveal the shop's data for `dsr`: refused, audited, nothing made.
    let r = step(&s, &support, &id, json!({"step": "complete"})).await;
    r.assert_error(403, "access_denied");
    assert_eq!(r.json["error"]["details"]["action"], "data.reveal");
    assert!(
        r.json["error"]["details"]["field"]
            .as_str()
            .is_some_and(|f| f.starts_with("dataset:")),
        "{r:?}"
    );
    let r = step(&s, &dpo1, &id, json!({"step": "complete"})).await;
    r.assert_error(409, "manual_tasks_open");
    assert_eq!(r.json["error"]["details"]["systems"], json!(["legacy"]));
    let r = step(&s, &dpo1, &id, json!({"step": "complete"})).await;
    r.assert_error(409, "manual_tasks_open");
    let tasks = s
        .call(
            Method::GET,
            &format!("/v1/rights/requests/{id}/tasks"),
            Some(&support),
            Body::None,
        )
        .await;
    assert_eq!(tasks.status, 200, "{tasks:?}");
    let task = tasks.json["tasks"][0].clone();
    assert_eq!(task["system"], "legacy");
    assert_eq!(task["reason"], reason);
    assert_eq!(task["status"], "open");
    assert!(
        task["due_at"].is_string(),
        "due when the request is: {task}"
    );
    let task_path = format!(
        "/v1/rights/requests/{id}/tasks/{}",
        task["id"].as_str().expect("id")
    );
    let post = |body: Value| {
        let (s, path, key) = (&s, task_path.clone(), support.clone());
        async move {
            s.call(Method::POST, &path, Some(&key), Body::Json(body))
                .await
        }
    };
    post(json!({"step": "complete"}))
        .await
        .assert_error(422, "invalid_rights_request");
    post(json!({"step": "complete", "evidence": "  "}))
        .await
        .assert_error(422, "invalid_rights_request");
    post(json!({"step": "assign", "operator": "op_nobody"}))
        .await
        .assert_error(422, "invalid_rights_request");
    post(json!({"step": "shrug"}))
        .await
        .assert_error(422, "invalid_rights_request");
    post(json!({"step": "complete", "evidence": "x", "expected_version": 7}))
        .await
        .assert_error(409, "concurrent_change");
    let r = post(json!({"step": "complete", "evidence": "Exported from the legacy CRM by hand, ticket QX-LEGACY"})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["status"], "done");
    assert_eq!(r.json["version"], 2);
    post(json!({"step": "complete", "evidence": "again"}))
        .await
        .assert_error(409, "invalid_transition");
    s.call(
        Method::POST,
        &format!("/v1/rights/requests/{id}/tasks/task_000000000000000000000000"),
        Some(&support),
        Body::Json(json!({"step": "complete", "evidence": "x"})),
    )
    .await
    .assert_error(404, "task_not_found");

    let r = step(&s, &dpo1, &id, json!({"step": "complete"})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["state"], "completed");
    assert_eq!(
        r.json["export"]["records"], 7,
        "1 vault record, Grace's customer row, 2 orders, 3 addresses"
    );
    assert_eq!(
        history_detail(&s, &dpo1, &id, "rights.completed").await,
        "export_created:7;datasets:1,rows_read:6"
    );
    let url_path = r.json["export"]["url"].as_str().expect("url").to_owned();
    let zip = s
        .http
        .get(format!("{}{url_path}", s.base))
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("body");
    let data = data_json(&zip);
    let shop: Vec<&Value> = data["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .filter(|src| src["source"] == "dataset:shop")
        .flat_map(|src| src["records"].as_array().expect("records"))
        .collect();
    assert_eq!(shop.len(), 6, "{data}");
    let text = serde_json::to_string(&shop).expect("json");
    for held in [
        "Grace Hopper",
        "Happy birthday, Grace",
        "New Haven",
        "22201",
        "+14155550100",
    ] {
        assert!(text.contains(held), "{held} in {text}");
    }
    for not_hers in ["Alan", "Milton Keynes", "For Alan"] {
        assert!(!text.contains(not_hers), "{not_hers} is not Grace's");
    }
    // Reading changed nothing.
    assert_eq!(
        rows(url, "SELECT CONCAT(COUNT(*), '') FROM addresses").await[0][0].as_deref(),
        Some("4")
    );

    // The task was for that request only; an erasure needs the person again, then runs.
    // This requester gives only her customer number, which finds her row by its key.
    let r = s
        .call(
            Method::POST,
            "/v1/rights/requests",
            Some(&support),
            Body::Json(json!({"type": "erasure", "jurisdiction": "GDPR",
                "requester": {"customer_id": " "}})),
        )
        .await;
    r.assert_error(422, "invalid_rights_request");
    let by_number = json!({"customer_id": "1"});
    let id = ready(&s, "erasure", by_number, &support, &[&dpo1, &dpo2]).await;
    step(&s, &dpo2, &id, json!({"step": "complete"}))
        .await
        .assert_error(409, "manual_tasks_open");
    let tasks = s
        .call(
            Method::GET,
            &format!("/v1/rights/requests/{id}/tasks"),
            Some(&support),
            Body::None,
        )
        .await;
    let task_id = tasks.json["tasks"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = s
        .call(
            Method::POST,
            &format!("/v1/rights/requests/{id}/tasks/{task_id}"),
            Some(&support),
            Body::Json(json!({"step": "complete", "evidence": "Deleted in the legacy CRM"})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = step(&s, &dpo2, &id, json!({"step": "complete"})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["state"], "completed");
    assert_eq!(
        history_detail(&s, &dpo2, &id, "rights.completed").await,
        "vault_records_erased:1;datasets:1,rows_updated:3,rows_deleted:3"
    );

    // The databases afterwards.
    let customers = rows(
        url,
        "SELECT CONCAT(id, ''), email, name, phone FROM customers ORDER BY id",
    )
    .await;
    let c = cells(&customers);
    assert_eq!(c[0][..3], ["1", "NULL", "************"], "{c:?}");
    assert_eq!(c[0][3].len(), 32, "a keyed hash, hex: {c:?}");
    assert!(c[0][3].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        c[1],
        ["2", "alan@example.com", "Alan Turing", "+441234567890"]
    );
    let orders = rows(
        url,
        "SELECT CONCAT(id, ''), gift_message FROM orders ORDER BY id",
    )
    .await;
    assert_eq!(
        cells(&orders),
        [
            vec!["10", "[erased]"],
            vec!["11", "[erased]"],
            vec!["12", "For Alan"]
        ],
        "orders are kept (accounts), their messages rewritten"
    );
    let addresses = rows(url, "SELECT CONCAT(id, '') FROM addresses ORDER BY id").await;
    assert_eq!(
        cells(&addresses),
        [vec!["103"]],
        "only Alan's address is left"
    );

    // Every use of the database is audited, without values.
    let audit = s.audit_text().await;
    assert!(audit.contains("rights.dataset_read") && audit.contains("rights.dataset_erased"));
    assert!(audit.contains("rights.tasks_created") && audit.contains("rights.task_completed"));
    // (Hex ids and hashes could hold any digits by chance: only words are looked for.)
    for secret in [
        "Grace",
        "grace.hopper",
        "Navy Way",
        "legacy CRM",
        "QX-LEGACY",
    ] {
        assert!(!audit.contains(secret), "{secret} reached the audit log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_access_and_erasure_with_a_system_that_has_no_connection() {
    let Some(base) = pg_url() else { return };
    let db = PgDb::create(&base).await;
    access_then_erasure(&db.url, None, "not_configured").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_access_and_erasure_with_a_system_that_does_not_answer() {
    let Some(base) = mysql_url() else { return };
    let db = MyDb::create(&base).await;
    // Nothing listens on port 9: the legacy system is unreachable.
    access_then_erasure(
        &db.url,
        Some("postgres://nobody@127.0.0.1:9/legacy"),
        "unreachable",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_access_and_erasure() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("shop.db").display());
    access_then_erasure(&url, None, "not_configured").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_declarations_are_refused_with_the_place_and_rule() {
    let s = TestServer::start().await;
    let admin = s.admin_key.clone();
    let put = |ct: &'static str, body: &str| {
        let (s, admin, body) = (&s, admin.clone(), body.to_owned());
        async move {
            s.call(
                Method::PUT,
                "/v1/datasets/shop",
                Some(&admin),
                Body::Raw(ct, body.into_bytes()),
            )
            .await
        }
    };
    put("text/plain", "dataset: []")
        .await
        .assert_error(415, "unsupported_media_type");
    let r = put("application/yaml", "dataset: [ {fides_key: shop").await;
    r.assert_error(422, "invalid_dataset");
    assert_eq!(r.json["error"]["details"]["rule"], "yaml");
    let r = put("application/json", "{\"dataset\": ").await;
    assert_eq!(r.json["error"]["details"]["rule"], "json", "{r:?}");
    let r = put(
        "application/yaml",
        "dataset:\n  - fides_key: other\n    collections: []\n",
    )
    .await;
    r.assert_error(422, "invalid_dataset");
    assert_eq!(r.json["error"]["details"]["path"], "dataset[0].fides_key");
    assert_eq!(r.json["error"]["details"]["rule"], "matches_path_key");
    let r = put(
        "application/yaml",
        "dataset:\n  - fides_key: shop\n    collections:\n      - name: t\n        fields:\n          - name: x\n            data_categories: [user.shoe_size]\n",
    )
    .await;
    assert_eq!(
        r.json["error"]["details"]["path"],
        "dataset[0].collections[0].fields[0].data_categories[0]",
        "{r:?}"
    );
    assert_eq!(r.json["error"]["details"]["rule"], "taxonomy_key");
    let r = put(
        "application/yaml",
        "dataset:\n  - fides_key: shop\n    collections:\n      - name: \"t; DROP TABLE t\"\n        fields: [{name: x}]\n",
    )
    .await;
    assert_eq!(r.json["error"]["details"]["rule"], "identifier", "{r:?}");
    // A dataset alone (without the `dataset:` list) is taken too, as JSON.
    let r = put(
        "application/json",
        "{\"fides_key\": \"shop\", \"collections\": [{\"name\": \"t\", \"fields\": [{\"name\": \"x\"}]}]}",
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json["connection"], "not_configured");
    assert_eq!(r.json["unreachable_collections"], json!(["t"]));
    let r = put(
        "application/json",
        "{\"fides_key\": \"shop\", \"collections\": [{\"name\": \"t\", \"fields\": [{\"name\": \"y\"}]}]}",
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["version"], 2);
    let r = s
        .call(Method::GET, "/v1/datasets", Some(&admin), Body::None)
        .await;
    assert_eq!(
        r.json["datasets"][0]["collections"][0]["fields"][0]["name"],
        "y"
    );
    let r = s
        .call(
            Method::POST,
            "/v1/datasets/shop/probe",
            Some(&admin),
            Body::None,
        )
        .await;
    assert_eq!(r.json["connection"], "not_configured", "{r:?}");
    assert_eq!(r.json["reachable"], false);
    s.call(Method::GET, "/v1/datasets/a-b", Some(&admin), Body::None)
        .await
        .assert_error(400, "invalid_path_parameter");
    s.call(Method::GET, "/v1/datasets/nope", Some(&admin), Body::None)
        .await
        .assert_error(404, "dataset_not_found");
    let r = s
        .call(
            Method::DELETE,
            "/v1/datasets/shop",
            Some(&admin),
            Body::None,
        )
        .await;
    assert_eq!(r.status, 204, "{r:?}");
    s.call(
        Method::DELETE,
        "/v1/datasets/shop",
        Some(&admin),
        Body::None,
    )
    .await
    .assert_error(404, "dataset_not_found");
    // Support staff work requests; they do not declare databases.
    let (_, support) = s.operator_with_key("Support", "support").await;
    s.call(
        Method::PUT,
        "/v1/datasets/shop",
        Some(&support),
        Body::Raw("application/json", b"{}".to_vec()),
    )
    .await
    .assert_error(403, "access_denied");
}
