//! Access monitoring end to end, on a fixed clock: an operator reads many records at night, a
//! marketer is refused again and again; a run raises a bulk-read, an off-hours and a
//! denial-burst alert, posts them to a webhook and publishes them on NATS; a second run raises
//! nothing new; an alert is acknowledged and another becomes an incident in one step.

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Body, Options, Resp, TestServer, fixed_clock};
use crate::propagation::{nats_url, receiver};

async fn call(s: &TestServer, key: &str, m: Method, path: &str, body: Value) -> Resp {
    s.call(m, path, Some(key), Body::Json(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusual_access_raises_alerts_that_reach_webhooks_nats_and_incidents() {
    let Some(nats) = nats_url() else { return };
    let client = async_nats::connect(&nats).await.expect("NATS");
    let mut sub = client
        .subscribe("custodian.alerts")
        .await
        .expect("subscribe");
    let (hook, mut posts) = receiver().await;
    let clock = fixed_clock(); // Thursday 2026-01-01T00:00:00Z: 01:00 in Paris
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        nats_url: Some(nats.clone()),
        ..Options::default()
    })
    .await;
    let admin = s.admin_key.clone();
    let (_, eng) = s.operator_with_key("Eve Engineer", "engineer").await;
    let (support_id, support) = s.operator_with_key("Sam Support", "support").await;
    let (marketer_id, marketer) = s.operator_with_key("Mia Marketing", "marketing").await;
    let (_, dpo) = s.operator_with_key("Dana DPO", "dpo").await;

    let r = call(
        &s,
        &dpo,
        Method::PUT,
        "/v1/monitoring/rules",
        json!({
            "bulk_reads": {"max": 3, "window_minutes": 10},
            "off_hours": {"time_zone": "Europe/Paris", "start_hour": 8, "end_hour": 19},
            "denial_burst": {"max": 2, "window_minutes": 5},
            "webhook_url": hook
        }),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["version"], 1);
    assert_eq!(r.json["rules"]["baseline_spike"], Value::Null);
    let secret = custodian_crypto::webhook::decode_secret(
        r.json["webhook_secret"]
            .as_str()
            .expect("secret shown once"),
    )
    .expect("whsec");
    let shown = call(&s, &dpo, Method::GET, "/v1/monitoring/rules", json!(null)).await;
    assert!(shown.json.get("webhook_secret").is_none());
    assert!(
        shown.json["rules"]["webhook_url"]
            .as_str()
            .expect("url")
            .ends_with("/…"),
        "the path is not shown: {shown:?}"
    );

    let r = call(
        &s,
        &eng,
        Method::PUT,
        "/v1/collections/customers",
        json!({"fields": [
            {"name": "email", "type": "email", "category": "user.contact.email", "sensitivity": "medium"}
        ]}),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = s
            .call_with(
                Method::POST,
                "/v1/collections/customers/records",
                Some(&eng),
                Body::Json(json!({"subject_id": format!("cus_{i}"), "fields": {"email": format!("c{i}@example.com")}})),
                &[("custodian-purpose", "service_delivery")],
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        ids.push(r.json["id"].as_str().expect("id").to_owned());
    }
    // Support reads all five at one in the morning; marketing is refused three times.
    for id in &ids {
        let r = s
            .call_with(
                Method::GET,
                &format!("/v1/collections/customers/records/{id}"),
                Some(&support),
                Body::None,
                &[("custodian-purpose", "support")],
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    }
    for _ in 0..3 {
        let r = s
            .call(Method::GET, "/v1/operators", Some(&marketer), Body::None)
            .await;
        assert_eq!(r.status, 403, "{r:?}");
    }

    let r = call(&s, &dpo, Method::POST, "/v1/monitoring/run", json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let mut raised: Vec<(String, String)> = r.json["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().expect("rule").to_owned(),
                a["actor"].as_str().expect("actor").to_owned(),
            )
        })
        .collect();
    raised.sort();
    assert_eq!(
        raised,
        [
            ("bulk_reads".to_owned(), format!("operator:{support_id}")),
            ("denial_burst".to_owned(), format!("operator:{marketer_id}")),
            ("off_hours".to_owned(), format!("operator:{support_id}")),
        ],
        "{r:?}"
    );
    assert_eq!(r.json["failed_deliveries"], 0, "{r:?}");
    let bulk = r.json["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .find(|a| a["rule"] == "bulk_reads")
        .expect("bulk")
        .clone();
    assert_eq!(bulk["count"], 4);
    // Each alert reached the webhook and NATS.
    let mut hooked = Vec::new();
    for _ in 0..3 {
        let (headers, body) =
            tokio::time::timeout(std::time::Duration::from_secs(10), posts.recv())
                .await
                .expect("a webhook post")
                .expect("open");
        let v: Value = serde_json::from_slice(&body).expect("json");
        let h = |n: &str| headers[n].to_str().expect("header").to_owned();
        assert_eq!(h("webhook-id"), v["id"].as_str().expect("id"));
        assert!(
            custodian_crypto::webhook::verify(
                &secret,
                &h("webhook-id"),
                h("webhook-timestamp").parse().expect("ts"),
                &body,
                &h("webhook-signature"),
            ),
            "the alert is signed"
        );
        hooked.push(v["rule"].as_str().expect("rule").to_owned());
    }
    hooked.sort();
    assert_eq!(hooked, ["bulk_reads", "denial_burst", "off_hours"]);
    for _ in 0..3 {
        let m = tokio::time::timeout(std::time::Duration::from_secs(10), sub.next())
            .await
            .expect("a NATS message")
            .expect("open");
        let v: Value = serde_json::from_slice(&m.payload).expect("json");
        assert!(v["id"].is_string() && v["status"] == "open", "{v}");
    }

    let dash = s
        .call(
            Method::GET,
            "/v1/compliance/dashboard",
            Some(&dpo),
            Body::None,
        )
        .await;
    assert_eq!(dash.json["alerts_open"], 3, "{dash:?}");

    // A second run reads only what was appended since and raises nothing new.
    let r = call(&s, &dpo, Method::POST, "/v1/monitoring/run", json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["alerts"], json!([]), "{r:?}");
    assert!(r.json["events"].as_u64().expect("events") < 10, "{r:?}");

    // Acknowledge one; open an incident from another.
    let r = s
        .call(
            Method::GET,
            "/v1/alerts?status=open",
            Some(&dpo),
            Body::None,
        )
        .await;
    assert_eq!(r.json["alerts"].as_array().expect("list").len(), 3, "{r:?}");
    let id_of = |rule: &str| {
        r.json["alerts"]
            .as_array()
            .expect("list")
            .iter()
            .find(|a| a["rule"] == rule)
            .and_then(|a| a["id"].as_str())
            .expect("alert")
            .to_owned()
    };
    let (off, bulk_id) = (id_of("off_hours"), id_of("bulk_reads"));
    let r = call(
        &s,
        &dpo,
        Method::POST,
        &format!("/v1/alerts/{off}/acknowledge"),
        json!({"version": 1}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["status"], "acknowledged");
    call(
        &s,
        &dpo,
        Method::POST,
        &format!("/v1/alerts/{off}/acknowledge"),
        json!({"version": 2}),
    )
    .await
    .assert_error(409, "alert_handled");
    let r = call(
        &s,
        &dpo,
        Method::POST,
        &format!("/v1/alerts/{bulk_id}/incident"),
        json!({"version": 1, "categories": ["user.contact.email"], "jurisdictions": ["GDPR"], "collections": ["customers"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["status"], "incident");
    let incident = r.json["incident_id"].as_str().expect("incident").to_owned();
    let i = s
        .call(
            Method::GET,
            &format!("/v1/incidents/{incident}"),
            Some(&dpo),
            Body::None,
        )
        .await;
    assert_eq!(i.status, 200, "{i:?}");
    assert_eq!(i.json["discovered_at"], "2026-01-01T00:00:00Z");
    assert_eq!(i.json["estimated_subjects"], 4);
    assert!(
        i.json["title"]
            .as_str()
            .expect("title")
            .contains("bulk_reads")
    );

    // Bad inputs and roles.
    for (body, path) in [
        (
            json!({"bulk_reads": {"max": 0, "window_minutes": 5}}),
            "$.bulk_reads.max",
        ),
        (
            json!({"webhook_url": "http://example.com/x"}),
            "$.webhook_url",
        ),
        (
            json!({"off_hours": {"time_zone": "UTC", "start_hour": 20, "end_hour": 8}}),
            "$.off_hours.end_hour",
        ),
        (json!({"version": 1, "louder": true}), "$.louder"),
    ] {
        let r = call(&s, &dpo, Method::PUT, "/v1/monitoring/rules", body).await;
        r.assert_error(422, "invalid_monitoring");
        assert_eq!(r.json["error"]["details"]["path"], path, "{r:?}");
    }
    call(&s, &dpo, Method::PUT, "/v1/monitoring/rules", json!({}))
        .await
        .assert_error(409, "entry_exists");
    call(
        &s,
        &dpo,
        Method::POST,
        "/v1/alerts/01a20aff-3988-7225-9dcf-b31965aa3350/acknowledge",
        json!({"version": 1}),
    )
    .await
    .assert_error(404, "alert_not_found");
    s.call(
        Method::GET,
        "/v1/alerts?status=loud",
        Some(&dpo),
        Body::None,
    )
    .await
    .assert_error(400, "invalid_query");
    for (m, path) in [
        (Method::GET, "/v1/alerts"),
        (Method::POST, "/v1/monitoring/run"),
        (Method::GET, "/v1/monitoring/rules"),
    ] {
        s.call(m, path, Some(&support), Body::None)
            .await
            .assert_error(403, "access_denied");
    }
    let _ = admin;
}
