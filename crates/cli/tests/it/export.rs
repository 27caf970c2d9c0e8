//! Export packages of access and portability requests, end to end: a verified request is
//! completed, the requester is emailed a single-use link (through a real SMTP server), the
//! ZIP is downloaded and opened (by the `zip` crate and by Python's `zipfile`), and the link
//! then answers 410, as does one that has expired.

use std::io::Read as _;

use jiff::SignedDuration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Body, Options, Resp, TestServer, fixed_clock};
use crate::rights::customer;
use crate::smtp::{SmtpServer, code_in};

async fn call(s: &TestServer, method: Method, path: &str, key: &str, body: Value) -> Resp {
    s.call(method, path, Some(key), Body::Json(body)).await
}

async fn step(s: &TestServer, key: &str, id: &str, body: Value) -> Resp {
    call(
        s,
        Method::POST,
        &format!("/v1/rights/requests/{id}/steps"),
        key,
        body,
    )
    .await
}

/// A second collection (with a value that is both a CSV formula and HTML), a purpose
/// covering contact data and the subject's consent to it.
async fn more_data(s: &TestServer, subject: &str) {
    let admin = s.admin_key.clone();
    let r = call(
        s,
        Method::PUT,
        "/v1/collections/profiles",
        &admin,
        json!({"fields": [
            {"name": "nickname", "type": "text", "category": "user.name", "sensitivity": "low"},
            {"name": "bio", "type": "text", "category": "user.content", "sensitivity": "low"},
        ]}),
    )
    .await;
    assert!(r.status == 201 || r.status == 200, "{r:?}");
    let (_, eng) = s.operator_with_key("Engineer 2", "engineer").await;
    let r = s
        .call_with(
            Method::POST,
            "/v1/collections/profiles/records",
            Some(&eng),
            Body::Json(json!({"subject_id": subject, "fields": {
                "nickname": "Amazing Grace", "bio": "=SUM(1,2) <script>x</script>"}})),
            &[("custodian-purpose", "service_delivery")],
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = call(
        s,
        Method::PUT,
        "/v1/purposes/newsletter",
        &admin,
        json!({
            "names": {"en": "Newsletter"}, "descriptions": {"en": "News about our products"},
            "legal_basis": "consent", "consent": "opt_in", "data_categories": ["user.contact"],
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = call(
        s,
        Method::POST,
        "/v1/consent",
        &eng,
        json!({
            "subject_id": subject, "source": "www.example.com",
            "choices": [{"purpose": "newsletter", "state": "given"}],
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
}

fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).expect("entry");
            let mut text = String::new();
            f.read_to_string(&mut text).expect("utf-8");
            (f.name().to_owned(), text)
        })
        .collect()
}

async fn download(s: &TestServer, url: &str) -> reqwest::Response {
    s.http
        .get(format!("{}{url}", s.base))
        .send()
        .await
        .expect("download")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_request_yields_a_zip_downloadable_once_through_the_emailed_link() {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let clock = fixed_clock();
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        smtp: Some(smtp.config()),
        ..Options::default()
    })
    .await;
    customer(&s, "cus_9", "grace@example.com").await;
    more_data(&s, "cus_9").await;
    let (_, support) = s.operator_with_key("Support", "support").await;
    let (_, dpo) = s.operator_with_key("DPO", "dpo").await;
    // The records of processing say who receives contact details and how long they stay.
    let map = "system:\n  - fides_key: mailer\n    custodian:\n      processors: [Mailer Inc]\n      transfers: [{destination: US, mechanism: sccs}]\n    privacy_declarations:\n      - {data_use: marketing.communications.email, data_categories: [user.contact]}\nretention_rule:\n  - {key: contacts, data_categories: [user.contact], period: P2Y, trigger: last_activity, action: crypto_shred}\n";
    let r = s
        .call(
            Method::POST,
            "/v1/map:import",
            Some(&s.admin_key.clone()),
            Body::Raw("application/yaml", map.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");

    let r = s
        .call(
            Method::POST,
            "/v1/privacy-center/requests",
            None,
            Body::Json(
                json!({"type": "access", "jurisdiction": "GDPR", "email": "grace@example.com"}),
            ),
        )
        .await;
    assert_eq!(r.status, 202, "{r:?}");
    let id = r.json["id"].as_str().expect("id").to_owned();
    let code = code_in(&smtp.wait_for(1).await[0]);
    let r = s
        .call(
            Method::POST,
            &format!("/v1/privacy-center/requests/{id}/verify"),
            None,
            Body::Json(json!({"code": code})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        step(&s, &support, &id, json!({"step": "submit_for_approval"}))
            .await
            .status,
        200
    );
    assert_eq!(
        step(&s, &dpo, &id, json!({"step": "approve"})).await.status,
        200
    );
    let r = step(&s, &dpo, &id, json!({"step": "complete"})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let url = r.json["export"]["url"].as_str().expect("a link").to_owned();
    assert!(url.starts_with("/v1/privacy-center/exports/"), "{url}");
    assert_eq!(r.json["export"]["records"], 2);
    assert_eq!(r.json["export"]["expires_at"], "2026-01-08T00:00:00Z");
    let mail = smtp.wait_for(2).await;
    assert!(
        mail[1].contains(&url),
        "the completion notice carries the link: {}",
        mail[1]
    );

    let resp = download(&s, &url).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/zip");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .contains(&format!("personal-data-{id}.zip"))
    );
    let bytes = resp.bytes().await.expect("body").to_vec();

    // An independent reader agrees the archive is sound.
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("export.zip");
    std::fs::write(&path, &bytes).expect("write");
    let py = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(' '.join(sorted(z.namelist())))")
        .arg(&path)
        .output()
        .expect("python3");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&py.stdout).trim(),
        "README.txt by_category.csv csv/customers.csv csv/profiles.csv data.json summary.html"
    );

    let files = unzip(&bytes);
    let get = |n: &str| {
        files
            .iter()
            .find(|(name, _)| name == n)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| panic!("no {n}"))
    };
    let data: Value = serde_json::from_str(&get("data.json")).expect("json");
    assert_eq!(data["format"], "custodian-export/1");
    assert_eq!(data["request"]["id"], id.as_str());
    let values: Vec<&Value> = data["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .flat_map(|s| s["records"].as_array().expect("records"))
        .flat_map(|r| r["fields"].as_object().expect("fields").values())
        .collect();
    assert!(
        values
            .iter()
            .any(|f| f["value"] == "grace@example.com" && f["category"] == "user.contact.email")
    );
    assert!(
        values
            .iter()
            .any(|f| f["value"] == "Amazing Grace" && f["category"] == "user.name")
    );
    assert_eq!(data["consent"][0]["purpose"], "newsletter");
    assert_eq!(data["consent"][0]["state"], "given");
    let by_cat = get("by_category.csv");
    assert!(by_cat.contains(",email,grace@example.com\r\n"), "{by_cat}");
    let profiles = get("csv/profiles.csv");
    assert!(
        profiles.contains("\"'=SUM(1,2) <script>x</script>\""),
        "{profiles}"
    );
    let summary = get("summary.html");
    assert!(summary.contains("Newsletter") && summary.contains("News about our products"));
    assert!(summary.contains("<td>consent</td>"), "{summary}");
    assert!(summary.contains("<code>user.contact.email</code>"));
    assert!(
        summary.contains("<td><code>user.contact.email</code></td><td>Mailer Inc (processor)</td><td>US (sccs)</td><td>P2Y after last activity, then crypto-shred (rule contacts)</td>"),
        "{summary}"
    );
    assert!(
        !summary.contains("<script>"),
        "nothing held is rendered as HTML"
    );

    // The link works once.
    let again = download(&s, &url).await;
    assert_eq!(again.status(), 410);
    let body: Value = again.json().await.expect("json");
    assert_eq!(body["error"]["code"], "export_gone");
    let made_up = format!("/v1/privacy-center/exports/{}", "A".repeat(43));
    let r = s.call(Method::GET, &made_up, None, Body::None).await;
    r.assert_error(404, "export_not_found");
    let r = s
        .call(
            Method::GET,
            "/v1/privacy-center/exports/short",
            None,
            Body::None,
        )
        .await;
    r.assert_error(404, "export_not_found");

    // Both the making and the download are audited, without the data.
    let text = s.audit_text().await;
    assert!(text.contains("rights.export_created") && text.contains("rights.export_downloaded"));
    assert!(!text.contains("grace@example.com") && !text.contains("Amazing Grace"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portability_link_expires_after_seven_days_and_categories_come_without_values() {
    let clock = fixed_clock();
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    customer(&s, "cus_3", "ada@example.com").await;
    let (_, support) = s.operator_with_key("Support", "support").await;
    let (_, dpo) = s.operator_with_key("DPO", "dpo").await;
    let complete = |ty: &'static str| {
        let (s, support, dpo) = (&s, support.clone(), dpo.clone());
        async move {
            let r = call(s, Method::POST, "/v1/rights/requests", &support, json!({
                "type": ty, "jurisdiction": if ty == "access_categories" { "CCPA" } else { "GDPR" },
                "subject_id": "cus_3", "requester": {"email": "ada@example.com"},
            }))
            .await;
            assert_eq!(r.status, 201, "{r:?}");
            let id = r.json["id"].as_str().expect("id").to_owned();
            for (key, body) in [
                (&support, json!({"step": "verify_manually"})),
                (&support, json!({"step": "submit_for_approval"})),
                (&dpo, json!({"step": "approve"})),
            ] {
                let r = step(s, key, &id, body).await;
                assert_eq!(r.status, 200, "{r:?}");
            }
            let r = step(s, &dpo, &id, json!({"step": "complete"})).await;
            assert_eq!(r.status, 200, "{r:?}");
            assert_eq!(
                r.json["notice_sent"], false,
                "no mail relay: an operator passes the link on"
            );
            r.json["export"]["url"].as_str().expect("link").to_owned()
        }
    };
    let categories = complete("access_categories").await;
    let bytes = download(&s, &categories).await.bytes().await.expect("zip");
    let files = unzip(&bytes);
    assert!(
        files.iter().all(|(n, _)| !n.starts_with("csv/")),
        "{files:?}"
    );
    assert!(
        files.iter().all(|(_, t)| !t.contains("ada@example.com")),
        "no values"
    );
    assert!(files.iter().any(|(_, t)| t.contains("user.contact.email")));

    let url = complete("portability").await;
    clock.advance(SignedDuration::from_hours(7 * 24));
    let r = download(&s, &url).await;
    assert_eq!(r.status(), 410, "expired");

    // The privacy team makes a new link; the old one stays dead.
    let list = s
        .call(
            Method::GET,
            "/v1/rights/requests?type=portability",
            Some(&dpo),
            Body::None,
        )
        .await;
    let id = list.json["requests"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = step(&s, &dpo, &id, json!({"step": "reissue_export"})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let fresh = r.json["export"]["url"].as_str().expect("link").to_owned();
    assert_ne!(fresh, url);
    assert_eq!(download(&s, &fresh).await.status(), 200);
    assert_eq!(download(&s, &url).await.status(), 404, "replaced");
    let got = s
        .call(
            Method::GET,
            &format!("/v1/rights/requests/{id}"),
            Some(&dpo),
            Body::None,
        )
        .await;
    let actions = got.json["history"].to_string();
    assert!(actions.contains("rights.export_reissued"), "{actions}");
    // Only completed requests of those types have a package.
    let r = call(
        &s,
        Method::POST,
        "/v1/rights/requests",
        &support,
        json!({
            "type": "access", "jurisdiction": "GDPR", "subject_id": "cus_3",
        }),
    )
    .await;
    let open_id = r.json["id"].as_str().expect("id").to_owned();
    step(&s, &dpo, &open_id, json!({"step": "reissue_export"}))
        .await
        .assert_error(409, "invalid_transition");
}
