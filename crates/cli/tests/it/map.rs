//! The data map as a new user meets it: the example Fides YAML imported over HTTP and through
//! the binary, exported and compared with the input, the records of processing compared with
//! the map, a policy run over a map with planted violations, and every bad input refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Body, Resp, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_custodian");

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/map")
        .join(name)
}

fn yaml_file(name: &str) -> Value {
    yaml_serde::from_str(&std::fs::read_to_string(example(name)).expect("read")).expect("yaml")
}

/// A document's lists keyed by each entry's key, so order does not matter.
fn by_key(doc: &Value) -> BTreeMap<String, BTreeMap<String, Value>> {
    doc.as_object()
        .expect("object")
        .iter()
        .map(|(k, list)| {
            let entries = list
                .as_array()
                .expect("list")
                .iter()
                .map(|e| {
                    let key = e.get("fides_key").or_else(|| e.get("key")).expect("key");
                    (key.as_str().expect("str").to_owned(), e.clone())
                })
                .collect();
            (k.clone(), entries)
        })
        .collect()
}

async fn post_yaml(s: &TestServer, path: &str, key: &str, yaml: &str) -> Resp {
    s.call(
        Method::POST,
        path,
        Some(key),
        Body::Raw("application/yaml", yaml.as_bytes().to_vec()),
    )
    .await
}

const PLANTED: &str = "
system:
  - fides_key: ads
    name: Ad platform
    responsibility: [Controller]
    custodian:
      transfers:
        - {destination: IN, recipient: Offshore analytics}
        - {destination: BR, mechanism: adequacy}
    privacy_declarations:
      - name: Target by health
        data_use: marketing.advertising
        data_categories: [user.health_and_medical]
        data_subjects: [customer]
dataset:
  - fides_key: ads_db
    collections:
      - name: events
        fields:
          - {name: id, fides_meta: {primary_key: true}}
          - {name: payload}
";

#[tokio::test]
async fn a_fides_map_is_imported_exported_turned_into_records_and_checked() {
    let s = TestServer::start().await;
    let admin = s.admin_key.clone();
    let input = std::fs::read_to_string(example("acme.yml")).expect("read");

    let r = post_yaml(&s, "/v1/map:import", &admin, &input).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["added"].as_array().map(Vec::len), Some(7), "{r:?}");
    assert!(r.json["added"].to_string().contains("dataset:shop_db"));
    // Importing the same file again changes nothing and writes nothing.
    let size = s.audit_size().await;
    let r = post_yaml(&s, "/v1/map:import", &admin, &input).await;
    assert_eq!(
        (
            r.json["unchanged"].as_u64(),
            r.json["added"].as_array().map(Vec::len)
        ),
        (Some(7), Some(0))
    );
    assert_eq!(s.audit_size().await, size + 1, "one event, naming no entry");

    // The export is the input, entry for entry (YAML and JSON).
    let r = s
        .call(Method::GET, "/v1/map?format=yaml", Some(&admin), Body::None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/yaml");
    let r = s.get("/v1/map").await;
    assert_eq!(by_key(&r.json), by_key(&yaml_file("acme.yml")));

    // The records of processing say what the map says.
    let r = s.get("/v1/ropa").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.json["controller"],
        "Acme Retail Ltd, 1 Harbour Road, Dublin 2, Ireland, privacy@acme.example"
    );
    assert_eq!(r.json["dpo"], "Office of the DPO, dpo@acme.example");
    let acts = r.json["activities"].as_array().expect("activities");
    assert_eq!(
        acts.len(),
        2,
        "the processor-only mailer has no controller record"
    );
    let fulfil = &acts[0];
    assert_eq!(fulfil["name"], "Fulfil orders");
    assert_eq!(fulfil["purpose"], "essential.service");
    assert_eq!(fulfil["legal_basis"], "Contract");
    assert_eq!(fulfil["data_subjects"], json!(["customer"]));
    assert_eq!(
        fulfil["data_categories"],
        json!(["user.contact.email", "user.contact.address", "user.name"])
    );
    assert_eq!(fulfil["recipients"], json!(["Parcel Co (processor)"]));
    assert_eq!(
        fulfil["retention"][2],
        "user.name: P2Y after last activity, then crypto-shred (rule customer_accounts)"
    );
    assert_eq!(fulfil["owner"], "E-commerce platform team");
    assert_eq!(
        acts[1]["retention"][1],
        "user.contact.loyalty_card: P6M after consent withdrawal, then anonymize (rule marketing_contacts)"
    );
    let proc_ = &r.json["processor_activities"][0];
    assert_eq!(proc_["processor"], "Mailer Inc");
    assert_eq!(proc_["controllers"], json!(["Acme Retail Ltd"]));
    assert_eq!(proc_["transfers"], json!(["US to Mailer Inc (sccs)"]));
    let csv = s
        .http
        .get(format!("{}/v1/ropa?format=csv", s.base))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.expect("text");
    assert_eq!(csv.lines().count(), 4, "{csv}");
    let html = s
        .http
        .get(format!("{}/v1/ropa?format=html", s.base))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("html")
        .text()
        .await
        .expect("text");
    assert!(
        html.contains("<td>Mailer Inc</td>") && html.contains("<li>user.contact.loyalty_card</li>"),
        "{html}"
    );

    // The policy: only the consent rule fails until a purpose with a published notice covers
    // the newsletters.
    let policy = std::fs::read_to_string(example("policy.yml")).expect("policy");
    let r = post_yaml(&s, "/v1/map/check", &admin, &policy).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["passed"], false);
    assert_eq!(
        r.json["violations"],
        json!([{"rule": "consent-uses-have-a-published-notice", "severity": "error",
            "entry": "system:webshop", "path": "privacy_declarations[1]",
            "detail": "no consent purpose covers marketing.communications.email"}])
    );
    let r = s
        .call(Method::PUT, "/v1/purposes/newsletter", Some(&admin), Body::Json(json!({
            "names": {"en": "Newsletter"}, "legal_basis": "consent", "consent": "opt_in",
            "data_uses": ["marketing.communications"], "jurisdictions": ["EU"], "notice": "privacy"
        })))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = post_yaml(&s, "/v1/map/check", &admin, &policy).await;
    assert_eq!(
        r.json["violations"][0]["detail"],
        "no published notice for purpose newsletter"
    );
    let r = s
        .call(
            Method::POST,
            "/v1/notices/privacy/versions",
            Some(&admin),
            Body::Json(json!({
                "texts": {"en": {"title": "Privacy", "body": "We e-mail offers if you agree."}}
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = post_yaml(&s, "/v1/map/check", &admin, &policy).await;
    assert_eq!(
        r.json,
        json!({"passed": true, "violations": [], "skipped": []})
    );

    // Planted violations are each found where they are.
    let r = post_yaml(&s, "/v1/map:import", &admin, PLANTED).await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = post_yaml(&s, "/v1/map/check", &admin, &policy).await;
    let found: Vec<String> = r.json["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| format!("{} {} {}", v["rule"], v["entry"], v["path"]).replace('"', ""))
        .collect();
    assert_eq!(
        found,
        [
            "no-special-categories-for-marketing system:ads privacy_declarations[0]",
            "transfers-have-a-mechanism system:ads custodian.transfers[0]",
            "transfers-have-a-mechanism system:ads custodian.transfers[1]",
            "every-field-has-a-category dataset:ads_db events.payload",
            "every-category-has-retention system:ads privacy_declarations[0]",
            "every-declaration-has-a-legal-basis system:ads privacy_declarations[0]",
            "special-categories-have-a-condition system:ads privacy_declarations[0]",
        ]
    );

    // The taxonomy in force shows Custodian's descriptions and the organization's addition.
    let r = s.get("/v1/taxonomy").await;
    let cats = r.json["data_categories"].as_array().expect("categories");
    let email = cats
        .iter()
        .find(|c| c["key"] == "user.contact.email")
        .expect("email");
    assert!(email["description"].as_str().is_some_and(|d| d.len() > 10));
    let added = cats.iter().find(|c| c["added"] == true).expect("added");
    assert_eq!(added["key"], "user.contact.loyalty_card");

    // Entries: read one, refuse removing one in use, remove one that is not.
    let r = s.get("/v1/map/system/mailer").await;
    assert_eq!(
        (r.json["kind"].as_str(), r.json["version"].as_i64()),
        (Some("system"), Some(1))
    );
    let r = s
        .call(
            Method::DELETE,
            "/v1/map/data_category/user.contact.loyalty_card",
            Some(&admin),
            Body::None,
        )
        .await;
    r.assert_error(409, "map_entry_in_use");
    let r = s
        .call(
            Method::DELETE,
            "/v1/map/system/ads",
            Some(&admin),
            Body::None,
        )
        .await;
    assert_eq!(r.status, 204, "{r:?}");
    s.get("/v1/map/system/ads")
        .await
        .assert_error(404, "map_entry_not_found");
    let audit = s.audit_text().await;
    assert!(
        audit.contains("map.imported")
            && audit.contains("system:ads")
            && audit.contains("map.deleted")
    );
    assert!(
        !audit.contains("Harbour Road") && !audit.contains("dpo@acme"),
        "no map text in the audit log"
    );
}

#[tokio::test]
async fn bad_map_documents_and_policies_are_refused_and_nothing_is_written() {
    let s = TestServer::start().await;
    let admin = s.admin_key.clone();
    let cases: [(&str, &str, &str); 6] = [
        ("system: [", "$", "yaml"),
        ("- a\n- b", "$", "must be an object"),
        ("systems: []", "$.systems", "unknown key"),
        (
            "system:\n  - fides_key: a\n    privacy_declarations:\n      - {data_use: marketing, data_categories: [user.nope]}",
            "system[0].privacy_declarations[0].data_categories[0]",
            "taxonomy_key",
        ),
        // A valid system before an invalid one: neither is stored.
        (
            "system:\n  - {fides_key: ok}\n  - {fides_key: 'bad key'}",
            "system[1].fides_key",
            "key",
        ),
        (
            "retention_rule:\n  - {key: r, data_categories: [user], period: P0D, trigger: record_creation, action: delete}",
            "retention_rule[0].period",
            "",
        ),
    ];
    for (yaml, path, rule) in cases {
        let r = post_yaml(&s, "/v1/map:import", &admin, yaml).await;
        r.assert_error(422, "invalid_map");
        assert_eq!(r.json["error"]["details"]["path"], path, "{yaml}");
        if !rule.is_empty() {
            assert_eq!(r.json["error"]["details"]["rule"], rule, "{yaml}");
        }
    }
    assert_eq!(s.get("/v1/map").await.json, json!({}));
    let r = s
        .call(
            Method::POST,
            "/v1/map:import",
            Some(&admin),
            Body::Raw("text/plain", b"system: []".to_vec()),
        )
        .await;
    r.assert_error(415, "unsupported_media_type");
    for (policy, path) in [
        ("rules: []", "$.rules"),
        ("rules:\n  - {id: a, check: vibes}", "$.rules[0].check"),
        (
            "rules:\n  - {id: a, check: forbid, data_uses: [nope]}",
            "$.rules[0].data_uses[0]",
        ),
    ] {
        let r = post_yaml(&s, "/v1/map/check", &admin, policy).await;
        r.assert_error(422, "invalid_map_policy");
        assert_eq!(r.json["error"]["details"]["path"], path);
    }
    s.get("/v1/map/vendor/x")
        .await
        .assert_error(400, "invalid_path_parameter");
    s.get("/v1/map/system/a%20b")
        .await
        .assert_error(400, "invalid_path_parameter");
    s.get("/v1/map/system/none")
        .await
        .assert_error(404, "map_entry_not_found");
    s.get("/v1/ropa?format=pdf")
        .await
        .assert_error(400, "invalid_query");
    // Roles: support may not read or change the map; an auditor reads but does not write.
    let (_, support) = s.operator_with_key("Sam Support", "support").await;
    post_yaml(&s, "/v1/map:import", &support, "system: []")
        .await
        .assert_error(403, "access_denied");
    s.call(Method::GET, "/v1/ropa", Some(&support), Body::None)
        .await
        .assert_error(403, "access_denied");
    // Retention rules decide what is destroyed: an engineer may keep systems but not import
    // them; a dataset in a document needs schema.write on it (the DPO lacks it).
    let (_, engineer) = s.operator_with_key("Eve Engineer", "engineer").await;
    let (_, dpo) = s.operator_with_key("Dan DPO", "dpo").await;
    assert_eq!(
        post_yaml(
            &s,
            "/v1/map:import",
            &engineer,
            "system:\n  - {fides_key: crm}"
        )
        .await
        .status,
        200
    );
    post_yaml(&s, "/v1/map:import", &engineer,
        "retention_rule:\n  - {key: all, data_categories: [user], period: P1D, trigger: record_creation, action: crypto_shred}")
        .await
        .assert_error(403, "access_denied");
    post_yaml(
        &s,
        "/v1/map:import",
        &dpo,
        "dataset:\n  - fides_key: d\n    collections:\n      - {name: t, fields: [{name: f}]}",
    )
    .await
    .assert_error(403, "access_denied");
    let r = post_yaml(&s, "/v1/map:import", &dpo,
        "retention_rule:\n  - {key: r, data_categories: [user.name], period: P1Y, trigger: record_creation, action: delete}").await;
    assert_eq!(r.status, 200, "{r:?}");
    s.call(
        Method::DELETE,
        "/v1/map/retention_rule/r",
        Some(&engineer),
        Body::None,
    )
    .await
    .assert_error(403, "access_denied");
    let (_, auditor) = s.operator_with_key("Ann Auditor", "auditor").await;
    assert_eq!(
        s.call(Method::GET, "/v1/ropa", Some(&auditor), Body::None)
            .await
            .status,
        200
    );
    post_yaml(&s, "/v1/map:import", &auditor, "system: []")
        .await
        .assert_error(403, "access_denied");
}

fn custodian(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("CUSTODIAN_LOG", "warn")
        .output()
        .expect("run custodian")
}

#[test]
fn the_binary_imports_exports_and_checks_a_map() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("data");
    let out = custodian(&dir, &["init"]);
    assert!(out.status.success(), "{out:?}");
    let acme = example("acme.yml");
    let policy = example("policy.yml");
    let out = custodian(&dir, &["map", "import", acme.to_str().expect("path")]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("imported: 7 added, 0 replaced, 0 unchanged")
    );
    let exported = tmp.path().join("export.yml");
    let out = custodian(
        &dir,
        &["map", "export", "--out", exported.to_str().expect("path")],
    );
    assert!(out.status.success(), "{out:?}");
    let back: Value =
        yaml_serde::from_str(&std::fs::read_to_string(&exported).expect("read")).expect("yaml");
    assert_eq!(by_key(&back), by_key(&yaml_file("acme.yml")));
    // The exported file imports into a fresh installation unchanged.
    let dir2 = tmp.path().join("data2");
    assert!(custodian(&dir2, &["init"]).status.success());
    let out = custodian(&dir2, &["map", "import", exported.to_str().expect("path")]);
    assert!(out.status.success(), "{out:?}");

    // The stored map: the consent rule fails (no purposes in this installation).
    let out = custodian(
        &dir,
        &["map", "check", "--policy", policy.to_str().expect("path")],
    );
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("error: system:webshop privacy_declarations[1]: no consent purpose covers marketing.communications.email [consent-uses-have-a-published-notice]"), "{text}");
    // Files alone, as a customer's CI runs it: the consent rule is skipped; a clean map passes.
    let out = custodian(
        &dir,
        &[
            "map",
            "check",
            "--policy",
            policy.to_str().expect("path"),
            acme.to_str().expect("path"),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("skipped: consent-uses-have-a-published-notice")
    );
    let planted = tmp.path().join("planted.yml");
    std::fs::write(&planted, PLANTED).expect("write");
    let out = custodian(
        &dir,
        &[
            "map",
            "check",
            "--format",
            "json",
            "--policy",
            policy.to_str().expect("path"),
            acme.to_str().expect("path"),
            planted.to_str().expect("path"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["violations"].as_array().map(Vec::len), Some(7));
    // A broken file is an error naming the file and line, nothing imported.
    let broken = tmp.path().join("broken.yml");
    std::fs::write(&broken, "system:\n  - fides_key: [\n").expect("write");
    let out = custodian(&dir, &["map", "import", broken.to_str().expect("path")]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("broken.yml: not valid YAML (line"),
        "{out:?}"
    );
    let out = custodian(&dir, &["map", "ropa", "--format", "csv"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);
}
