//! The incident register as a DPO meets it, on a fixed clock: an incident touching a vault
//! collection and a connected database; the affected subjects counted in both; each
//! notification clock (GDPR, LGPD, California) with known due times; risk assessed,
//! notifications recorded (one late), closing refused until every one is settled; letters;
//! bad inputs; no free text in the audit log.

use jiff::SignedDuration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Body, Options, Resp, TestServer, fixed_clock};

const MAP: &str = "
organization:
  - fides_key: acme
    name: Acme Shop Ltd
    controller: {email: privacy@acme.example}
    data_protection_officer: {name: Dana Officer, email: dpo@acme.example}
system:
  - fides_key: webshop
    name: Web shop
    system_type: Service
    privacy_declarations:
      - data_use: essential.service
        data_categories: [user.contact.email]
        data_subjects: [customer]
dataset:
  - fides_key: shop
    collections:
      - name: accounts
        custodian:
          retention: {created: created_at}
        fields:
          - {name: id, fides_meta: {primary_key: true}}
          - {name: email, data_categories: [user.contact.email], fides_meta: {identity: email}}
          - {name: created_at}
      - name: stock
        fields:
          - {name: sku}
";

fn notification<'a>(i: &'a Value, rule: &str) -> &'a Value {
    i["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .find(|n| n["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} in {i}"))
}

async fn call(s: &TestServer, key: &str, m: Method, path: &str, body: Value) -> Resp {
    s.call(m, path, Some(key), Body::Json(body)).await
}

#[tokio::test]
async fn an_incident_over_two_datasets_counts_its_subjects_and_runs_its_clocks() {
    let tmp = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}?mode=rwc", tmp.path().join("shop.db").display());
    let shop = sqlx::SqlitePool::connect(&url).await.expect("shop db");
    sqlx::query(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT, created_at TEXT NOT NULL)",
    )
    .execute(&shop)
    .await
    .expect("table");
    sqlx::query("CREATE TABLE stock (sku TEXT)")
        .execute(&shop)
        .await
        .expect("table");
    for (id, email, at) in [
        (1, "ann@example.com", "2025-12-30 10:00:00"),
        (2, "ann@example.com", "2025-12-31 10:00:00"),
        (3, "ben@example.com", "2026-01-01 09:00:00"),
        (4, "cat@example.com", "2026-01-01 15:00:00"),
    ] {
        sqlx::query("INSERT INTO accounts VALUES (?, ?, ?)")
            .bind(id)
            .bind(email)
            .bind(at)
            .execute(&shop)
            .await
            .expect("row");
    }
    let clock = fixed_clock(); // 2026-01-01T00:00:00Z
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        dataset_connections: [("shop".to_owned(), url.clone())].into(),
        ..Options::default()
    })
    .await;
    let admin = s.admin_key.clone();
    let (_, eng) = s.operator_with_key("Eve Engineer", "engineer").await;
    let (_, dpo) = s.operator_with_key("Dana Officer", "dpo").await;
    let (_, support) = s.operator_with_key("Sam Support", "support").await;
    let r = s
        .call(
            Method::POST,
            "/v1/map:import",
            Some(&admin),
            Body::Raw("application/yaml", MAP.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = call(
        &s,
        &eng,
        Method::PUT,
        "/v1/collections/customers",
        json!({"fields": [
            {"name": "email", "type": "email", "category": "user.contact.email", "sensitivity": "medium"},
            {"name": "plan", "type": "text", "category": "user.account", "sensitivity": "low"}
        ]}),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let record = |subject: &'static str, fields: Value| {
        let s = &s;
        let eng = eng.clone();
        async move {
            let r = s
                .call_with(
                    Method::POST,
                    "/v1/collections/customers/records",
                    Some(&eng),
                    Body::Json(json!({"subject_id": subject, "fields": fields})),
                    &[("custodian-purpose", "service_delivery")],
                )
                .await;
            assert_eq!(r.status, 201, "{r:?}");
        }
    };
    // Before the window ends: two subjects with an email, one with only a plan.
    record("cus_1", json!({"email": "one@example.com"})).await;
    record("cus_2", json!({"email": "two@example.com", "plan": "gold"})).await;
    record("cus_3", json!({"plan": "basic"})).await;
    clock.advance(SignedDuration::from_hours(16));
    // After it: not counted.
    record("cus_4", json!({"email": "four@example.com"})).await;
    clock.advance(SignedDuration::from_hours(8)); // 2026-01-02T00:00:00Z

    let r = call(
        &s,
        &dpo,
        Method::POST,
        "/v1/incidents",
        json!({
            "title": "Exposed customer export",
            "description": "A storage bucket with an export was public.",
            "discovered_at": "2026-01-01T18:00:00Z",
            "aware_at": "2026-01-01T20:00:00Z",
            "occurred_until": "2026-01-01T12:00:00Z",
            "systems": ["webshop"],
            "datasets": ["shop"],
            "collections": ["customers"],
            "categories": ["user.contact"],
            "estimated_subjects": 10,
            "jurisdictions": ["GDPR", "LGPD", "US_CA"]
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.json["id"].as_str().expect("id").to_owned();
    let i = &r.json;
    assert_eq!(i["status"], "open");
    assert_eq!(i["time_zone"], "UTC");
    let gdpr = notification(i, "GDPR.authority");
    assert_eq!(
        gdpr["due"], "2026-01-04T20:00:00Z",
        "72 hours after awareness"
    );
    assert_eq!(gdpr["required"], "risk_not_assessed");
    assert_eq!(gdpr["state"], "pending");
    assert_eq!(notification(i, "GDPR.individuals")["due"], Value::Null);
    // Three Brazilian business days after Thursday 1 January (a holiday itself): Friday 2,
    // Monday 5, Tuesday 6.
    assert_eq!(
        notification(i, "LGPD.authority")["due"],
        "2026-01-06T20:00:00Z"
    );
    let ca = notification(i, "US_CA.individuals");
    assert_eq!(ca["due"], "2026-01-31T18:00:00Z", "30 days from discovery");
    assert_eq!(ca["required"], "required");
    let ag = notification(i, "US_CA.attorney_general");
    assert_eq!(ag["required"], "not_required", "10 people, not over 500");
    assert_eq!(ag["state"], "not_required");
    assert_eq!(ag["provisional"], true);
    assert_eq!(i["next_due"], "2026-01-04T20:00:00Z");

    // The affected subjects: two vault subjects (cus_3 holds no contact data, cus_4 came
    // later), and in the shop database three accounts of two people (cat's came later).
    let r = call(
        &s,
        &dpo,
        Method::POST,
        &format!("/v1/incidents/{id}/affected"),
        json!({"version": 1}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["version"], 2);
    assert_eq!(r.json["affected"]["subjects"], 4);
    assert_eq!(
        r.json["affected"]["sources"],
        json!([
            {"source": "vault:customers", "records": 2, "people": 2},
            {"source": "dataset:shop.accounts", "records": 3, "people": 2}
        ])
    );

    // High risk: the people must be told too.
    let r = call(
        &s,
        &dpo,
        Method::PATCH,
        &format!("/v1/incidents/{id}"),
        json!({"version": 2, "risk": "high_risk", "risk_rationale": "Emails with order history", "status": "contained"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["status"], "contained");
    assert_eq!(
        notification(&r.json, "GDPR.individuals")["required"],
        "required"
    );
    assert_eq!(
        notification(&r.json, "GDPR.authority")["required"],
        "required"
    );

    // Three days later the authority's clock has run out.
    clock.advance(SignedDuration::from_hours(72)); // 2026-01-05T00:00:00Z
    let r = s
        .call(
            Method::GET,
            &format!("/v1/incidents/{id}"),
            Some(&dpo),
            Body::None,
        )
        .await;
    assert_eq!(notification(&r.json, "GDPR.authority")["overdue"], true);
    assert_eq!(notification(&r.json, "LGPD.authority")["overdue"], false);

    let notify = |version: i64, rule: &str, body: Value| {
        let mut body = body;
        body["version"] = json!(version);
        let path = format!("/v1/incidents/{id}/notifications/{rule}");
        let (s, dpo) = (&s, dpo.clone());
        async move { call(s, &dpo, Method::POST, &path, body).await }
    };
    let r = notify(
        3,
        "GDPR.authority",
        json!({"state": "sent", "at": "2026-01-04T21:00:00Z", "reference": "CNIL-2026-0042"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let n = notification(&r.json, "GDPR.authority");
    assert_eq!(n["state"], "sent");
    assert_eq!(n["sent_late"], true, "an hour after the 72 hours");
    assert_eq!(n["overdue"], false);

    // Closing while notifications are pending is refused, naming them.
    let r = call(
        &s,
        &dpo,
        Method::PATCH,
        &format!("/v1/incidents/{id}"),
        json!({"version": 4, "status": "closed"}),
    )
    .await;
    r.assert_error(409, "incident_transition");
    assert!(
        r.json["error"]["message"]
            .as_str()
            .expect("message")
            .contains("GDPR.individuals"),
        "{r:?}"
    );

    // The letter to the people, from the shipped template.
    let letter = |body: Value| {
        let path = format!("/v1/incidents/{id}/letters");
        let (s, dpo) = (&s, dpo.clone());
        async move { call(s, &dpo, Method::POST, &path, body).await }
    };
    let r = letter(json!({"recipient": "individuals"})).await;
    r.assert_error(422, "invalid_letter");
    assert!(r.json["error"]["details"]["variable"].is_string(), "{r:?}");
    let values = json!({
        "recipient_name": "Customer",
        "breach_nature": "An export of customer emails was readable by anyone with its link.",
        "data_subject_categories": "Customers",
        "likely_consequences": "Unwanted email and phishing attempts.",
        "measures_taken": "The bucket was made private and the link revoked.",
        "measures_proposed": "Access reviews of every bucket each month.",
        "delay_reasons": "None.",
        "recommended_actions": "Be wary of emails asking for your password."
    });
    let r = letter(json!({"recipient": "individuals", "values": values})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let text = r.json["text"].as_str().expect("text");
    assert!(text.contains("Acme Shop Ltd"), "{text}");
    assert!(text.contains("dpo@acme.example"), "{text}");
    assert!(text.contains("Be wary of emails"), "{text}");
    let r = letter(json!({"recipient": "authority", "values": values})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.json["text"].as_str().expect("text").contains(&id));
    assert!(
        r.json["filled"]
            .as_array()
            .expect("filled")
            .contains(&json!("approximate_data_subjects"))
    );
    letter(json!({"recipient": "media"}))
        .await
        .assert_error(422, "invalid_letter");
    letter(json!({"recipient": "authority", "template": "Dear {{nobody}}"}))
        .await
        .assert_error(422, "invalid_letter");
    letter(json!({"recipient": "authority", "template": "Dear {{recipient_name"}))
        .await
        .assert_error(422, "invalid_letter");

    // Settle the rest; then it closes.
    let mut v = 4;
    for (rule, body) in [
        (
            "GDPR.individuals",
            json!({"state": "sent", "reference": "email-campaign-17"}),
        ),
        (
            "LGPD.authority",
            json!({"state": "not_required", "reason": "No Brazilian residents among those affected."}),
        ),
        (
            "LGPD.individuals",
            json!({"state": "not_required", "reason": "No Brazilian residents among those affected."}),
        ),
        (
            "US_CA.individuals",
            json!({"state": "sent", "reference": "email-campaign-17"}),
        ),
    ] {
        let r = notify(v, rule, body).await;
        assert_eq!(r.status, 200, "{rule}: {r:?}");
        v += 1;
    }
    let r = call(
        &s,
        &dpo,
        Method::PATCH,
        &format!("/v1/incidents/{id}"),
        json!({"version": v, "status": "closed"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["status"], "closed");
    assert_eq!(r.json["next_due"], Value::Null);
    // The Attorney General's clock now counts from the notice to the residents.
    let ag = notification(&r.json, "US_CA.attorney_general");
    assert_eq!(ag["provisional"], false);
    assert_eq!(ag["due"], "2026-01-20T00:00:00Z");
    // Closed is final.
    call(
        &s,
        &dpo,
        Method::PATCH,
        &format!("/v1/incidents/{id}"),
        json!({"version": v + 1, "status": "open"}),
    )
    .await
    .assert_error(409, "incident_transition");

    // Listing, the rules table, and roles.
    let r = s
        .call(Method::GET, "/v1/incidents", Some(&admin), Body::None)
        .await;
    assert_eq!(r.json["incidents"].as_array().expect("list").len(), 1);
    let r = s
        .call(Method::GET, "/v1/incidents/rules", Some(&dpo), Body::None)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.json["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .any(|x| x["id"] == "HIPAA.individuals")
    );
    for (m, path) in [
        (Method::GET, "/v1/incidents".to_owned()),
        (Method::GET, format!("/v1/incidents/{id}")),
    ] {
        s.call(m, &path, Some(&support), Body::None)
            .await
            .assert_error(403, "access_denied");
    }

    // Bad inputs.
    let base = json!({
        "title": "T", "discovered_at": "2026-01-04T00:00:00Z", "categories": ["user.contact"],
        "jurisdictions": ["GDPR"]
    });
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("title", json!(" ")), "title"),
        (
            with("discovered_at", json!("2027-01-01T00:00:00Z")),
            "discovered_at",
        ),
        (with("discovered_at", json!("soon")), "discovered_at"),
        (with("aware_at", json!("2026-01-03T00:00:00Z")), "aware_at"),
        (with("jurisdictions", json!(["MARS"])), "jurisdictions"),
        (with("jurisdictions", json!([])), "jurisdictions"),
        (
            with("jurisdictions", json!(["GDPR", "GDPR"])),
            "jurisdictions",
        ),
        (with("categories", json!(["user.nonsense"])), "categories"),
        (with("categories", json!([])), "categories"),
        (with("datasets", json!(["nope"])), "datasets"),
        (with("collections", json!(["nope"])), "collections"),
        (with("systems", json!(["nope"])), "systems"),
        (with("time_zone", json!("Mars/Olympus")), "time_zone"),
        (with("risk", json!("catastrophic")), "risk"),
        (
            with("estimated_subjects", json!(10_000_000_001u64)),
            "estimated_subjects",
        ),
        (
            with("occurred_from", json!("2026-01-03T00:00:00Z"))
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.insert("occurred_until".into(), json!("2026-01-02T00:00:00Z"));
                    Value::Object(o)
                })
                .expect("object"),
            "occurred_until",
        ),
    ] {
        let r = call(&s, &dpo, Method::POST, "/v1/incidents", body).await;
        r.assert_error(422, "invalid_incident");
        assert_eq!(r.json["error"]["details"]["field"], field, "{r:?}");
    }
    call(
        &s,
        &dpo,
        Method::POST,
        "/v1/incidents",
        with("extra", json!(1)),
    )
    .await
    .assert_error(422, "invalid_body");
    call(&s, &support, Method::POST, "/v1/incidents", base.clone())
        .await
        .assert_error(403, "access_denied");
    let r = call(&s, &dpo, Method::POST, "/v1/incidents", base.clone()).await;
    assert_eq!(r.status, 201, "{r:?}");
    let other = r.json["id"].as_str().expect("id").to_owned();
    call(
        &s,
        &dpo,
        Method::PATCH,
        &format!("/v1/incidents/{other}"),
        json!({"version": 7, "risk": "risk"}),
    )
    .await
    .assert_error(409, "incident_changed");
    call(
        &s,
        &dpo,
        Method::POST,
        &format!("/v1/incidents/{other}/notifications/HIPAA.individuals"),
        json!({"version": 1, "state": "sent", "reference": "x"}),
    )
    .await
    .assert_error(404, "notification_not_found");
    for (body, field) in [
        (
            json!({"version": 1, "state": "sent", "reference": ""}),
            "reference",
        ),
        (json!({"version": 1, "state": "not_required"}), "reason"),
        (json!({"version": 1, "state": "done"}), "state"),
        (
            json!({"version": 1, "state": "sent", "reference": "x", "at": "2026-01-03T00:00:00Z"}),
            "at",
        ),
    ] {
        let r = call(
            &s,
            &dpo,
            Method::POST,
            &format!("/v1/incidents/{other}/notifications/GDPR.authority"),
            body,
        )
        .await;
        r.assert_error(422, "invalid_incident");
        assert_eq!(r.json["error"]["details"]["field"], field, "{r:?}");
    }
    call(
        &s,
        &dpo,
        Method::POST,
        &format!("/v1/incidents/{other}/notifications/GDPR.authority"),
        json!({"version": 1, "state": "pending"}),
    )
    .await
    .assert_error(409, "incident_transition");
    s.call(
        Method::GET,
        "/v1/incidents/01a20aff-3988-7225-9dcf-b31965aa3350",
        Some(&dpo),
        Body::None,
    )
    .await
    .assert_error(404, "incident_not_found");

    // The audit log has the codes, never the free text.
    let audit = s.audit_text().await;
    assert!(audit.contains("incident.recorded"));
    assert!(audit.contains("incident.notification"));
    assert!(audit.contains("incident.affected_computed"));
    for secret in [
        "Exposed customer export",
        "CNIL-2026-0042",
        "storage bucket",
        "ann@example.com",
    ] {
        assert!(!audit.contains(secret), "{secret} in the audit log");
    }
}
