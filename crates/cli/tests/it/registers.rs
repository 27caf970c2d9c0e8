//! The vendor register and the DPIAs as a DPO meets them, on a fixed clock: which processing
//! needs a DPIA, one drafted by an engineer and signed off by the DPO (never by its author),
//! the requirement then covered; a processor with its agreement, reviews falling due, the
//! public sub-processor list; bad inputs, versions and roles.

use jiff::SignedDuration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Body, Options, Resp, TestServer, fixed_clock};

const MAP: &str = "
system:
  - fides_key: app
    name: Health app
    privacy_declarations:
      - data_use: essential.service
        data_categories: [user.health_and_medical]
        data_subjects: [patient]
  - fides_key: crm
    name: CRM
    privacy_declarations:
      - data_use: marketing.advertising
        data_categories: [user.contact.email]
        data_subjects: [customer]
      - data_use: essential.service
        data_categories: [user.contact.email]
        data_subjects: [customer]
";

async fn call(s: &TestServer, key: &str, m: Method, path: &str, body: Value) -> Resp {
    s.call(m, path, Some(key), Body::Json(body)).await
}

async fn get(s: &TestServer, key: &str, path: &str) -> Resp {
    s.call(Method::GET, path, Some(key), Body::None).await
}

#[tokio::test]
async fn dpias_cover_what_the_rules_require_and_vendors_fall_due_for_review() {
    let clock = fixed_clock(); // 2026-01-01T00:00:00Z
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let admin = s.admin_key.clone();
    let (_, eng) = s.operator_with_key("Eve Engineer", "engineer").await;
    let (_, dpo) = s.operator_with_key("Dana DPO", "dpo").await;
    let (_, dpo2) = s.operator_with_key("Dov DPO", "dpo").await;
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

    // Two processing activities need a DPIA: health data, and advertising.
    let r = get(&s, &dpo, "/v1/dpias/required").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["missing"], 2, "{r:?}");
    let rules: Vec<&str> = r.json["required"]
        .as_array()
        .expect("list")
        .iter()
        .map(|x| x["rule"].as_str().expect("rule"))
        .collect();
    assert!(rules.contains(&"dpia-special-categories"), "{rules:?}");
    assert!(
        rules.contains(&"dpia-profiling-and-advertising"),
        "{rules:?}"
    );

    // The engineer drafts one; the DPO signs it off.
    let health = json!({
        "title": "Health app symptoms",
        "processing": [{"system": "app", "data_use": "essential.service"}],
        "description": "Symptoms are recorded to suggest care.",
        "necessity": "There is no less intrusive way to give this advice.",
        "risks": [{"description": "Disclosure of health data", "likelihood": "medium",
                   "severity": "high", "measures": "Per-subject encryption", "residual": "low"}],
        "review_by": "2027-01-01T00:00:00Z"
    });
    let r = call(&s, &eng, Method::PUT, "/v1/dpias/health", health.clone()).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json["status"], "draft");
    let step = |key: &'static str, who: String, version: i64, step: &'static str| {
        let s = &s;
        async move {
            call(
                s,
                &who,
                Method::POST,
                &format!("/v1/dpias/{key}/steps"),
                json!({"version": version, "step": step, "opinion": "Proceed with the measures."}),
            )
            .await
        }
    };
    let r = step("health", eng.clone(), 1, "submit").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["status"], "in_review");
    step("health", eng.clone(), 2, "approve")
        .await
        .assert_error(403, "access_denied");
    let r = step("health", dpo.clone(), 2, "approve").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["status"], "approved");
    assert_eq!(
        r.json["document"]["dpo_opinion"],
        "Proceed with the measures."
    );
    let r = get(&s, &dpo, "/v1/dpias/required").await;
    assert_eq!(r.json["missing"], 1, "{r:?}");
    let app = r.json["required"]
        .as_array()
        .expect("list")
        .iter()
        .find(|x| x["system"] == "app")
        .expect("app")
        .clone();
    assert_eq!(app["covered_by"], json!(["health"]));

    // The DPO writes the other one and may not sign it off; another DPO does.
    let ads = json!({
        "title": "CRM advertising",
        "processing": [{"system": "crm", "data_use": "marketing.advertising"}],
        "description": "Emails are matched to advertising audiences.",
        "necessity": "Consent-based; audiences are hashed.",
        "risks": [{"description": "Profiling without awareness", "likelihood": "high",
                   "severity": "medium", "residual": "high"}]
    });
    let r = call(&s, &dpo, Method::PUT, "/v1/dpias/ads", ads.clone()).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json["consultation_required"], true, "residual high risk");
    assert_eq!(step("ads", dpo.clone(), 1, "submit").await.status, 200);
    step("ads", dpo.clone(), 2, "approve")
        .await
        .assert_error(409, "dpia_transition");
    let r = step("ads", dpo2.clone(), 2, "approve").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(get(&s, &dpo, "/v1/dpias/required").await.json["missing"], 0);

    // Approved is not edited; reopened, it no longer covers, and edits go over the version.
    let mut edit = ads.clone();
    edit["version"] = json!(3);
    call(&s, &dpo, Method::PUT, "/v1/dpias/ads", edit.clone())
        .await
        .assert_error(409, "dpia_transition");
    let r = step("ads", dpo.clone(), 3, "reopen").await;
    assert_eq!(r.json["status"], "draft", "{r:?}");
    assert_eq!(get(&s, &dpo, "/v1/dpias/required").await.json["missing"], 1);
    call(&s, &dpo, Method::PUT, "/v1/dpias/ads", edit.clone())
        .await
        .assert_error(409, "entry_changed");
    edit["version"] = json!(4);
    let r = call(&s, &dpo, Method::PUT, "/v1/dpias/ads", edit).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["version"], 5);

    // Bad DPIAs.
    for (body, path) in [
        (json!({"title": "T", "processing": []}), "$.processing"),
        (
            json!({"title": "T", "processing": [{"system": "web", "data_use": "essential.service"}]}),
            "$.processing[0]",
        ),
        (
            json!({"title": "T", "processing": [{"system": "app", "data_use": "essential.service"}], "risks": [{"description": "x", "likelihood": "huge", "severity": "low", "residual": "low"}]}),
            "$.risks[0].likelihood",
        ),
        (json!({"title": "T", "status": "approved"}), "$.status"),
        (json!({"title": "T", "version": "one"}), "$.version"),
    ] {
        let r = call(&s, &eng, Method::PUT, "/v1/dpias/new-one", body).await;
        r.assert_error(422, "invalid_dpia");
        assert_eq!(r.json["error"]["details"]["path"], path, "{r:?}");
    }
    call(&s, &eng, Method::PUT, "/v1/dpias/health", health)
        .await
        .assert_error(409, "entry_exists");
    step("health", eng.clone(), 4, "dance")
        .await
        .assert_error(422, "invalid_dpia");
    get(&s, &dpo, "/v1/dpias/nope")
        .await
        .assert_error(404, "dpia_not_found");
    let r = call(
        &s,
        &eng,
        Method::PUT,
        "/v1/dpias/draft-only",
        json!({"title": "T", "processing": [{"system": "app", "data_use": "essential.service"}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    step("draft-only", eng.clone(), 1, "submit")
        .await
        .assert_error(409, "dpia_transition");

    // A processor: high risk, so reviewed every six months; no agreement yet.
    let mailer = json!({
        "name": "Mailer Inc.", "services": "Transactional email", "country": "US",
        "systems": ["crm"], "data_categories": ["user.contact.email"],
        "transfer_mechanism": "sccs", "risk": "high", "public": true,
        "sub_processors": [{"name": "Cloud Co", "country": "IE", "services": "Hosting"}]
    });
    let r = call(&s, &dpo, Method::PUT, "/v1/vendors/mailer", mailer.clone()).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json["findings"], json!(["dpa_missing"]));
    assert_eq!(r.json["next_review_due"], "2026-07-01T00:00:00Z");
    let mut signed = mailer.clone();
    signed["dpa"] = json!({"signed_at": "2025-12-01T00:00:00Z", "reference": "C-2025-17"});
    signed["version"] = json!(1);
    let r = call(&s, &dpo, Method::PUT, "/v1/vendors/mailer", signed).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["findings"], json!([]));
    let r = call(
        &s,
        &dpo,
        Method::PUT,
        "/v1/vendors/internal-bi",
        json!({"name": "BI tool", "risk": "low", "role": "controller"}),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");

    // Reviewed after two months: due six months after that.
    clock.advance(SignedDuration::from_hours(24 * 59)); // 2026-03-01
    let r = call(
        &s,
        &dpo,
        Method::POST,
        "/v1/vendors/mailer/reviews",
        json!({"version": 2, "outcome": "approved_with_conditions", "notes": "Annual pen test report requested."}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["next_review_due"], "2026-09-01T00:00:00Z");
    assert_eq!(
        get(&s, &dpo, "/v1/vendors?review_due_within_days=30")
            .await
            .json["vendors"],
        json!([])
    );
    clock.advance(SignedDuration::from_hours(24 * 200)); // 2026-09-17
    let r = get(&s, &dpo, "/v1/vendors?review_due_within_days=0").await;
    assert_eq!(r.status, 200, "{r:?}");
    let due = r.json["vendors"].as_array().expect("list");
    assert_eq!(due.len(), 1, "{r:?}");
    assert_eq!(due[0]["key"], "mailer");
    assert_eq!(due[0]["findings"], json!(["review_overdue"]));
    let dash = get(&s, &dpo, "/v1/compliance/dashboard").await;
    assert_eq!(dash.json["vendors"]["active"], 2, "{dash:?}");
    assert_eq!(dash.json["vendors"]["reviews_due_30_days"], 1);

    // The public list: no key; only vendors marked public.
    let r = s.get("/v1/privacy-center/subprocessors").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.json["sub_processors"],
        json!([{
            "name": "Mailer Inc.", "services": "Transactional email", "country": "US",
            "role": "processor", "data_categories": ["Email Address"],
            "transfer_mechanism": "sccs", "sub_processors": ["Cloud Co"]
        }])
    );

    // Bad vendors, versions and roles.
    for (body, path) in [
        (
            json!({"name": "A", "risk": "low", "systems": ["erp"]}),
            "$.systems[0]",
        ),
        (
            json!({"name": "A", "risk": "low", "data_categories": ["user.nope"]}),
            "$.data_categories[0]",
        ),
        (json!({"name": "A", "risk": "extreme"}), "$.risk"),
        (json!({"risk": "low"}), "$.name"),
        (
            json!({"name": "A", "risk": "low", "dpa": {"signed_at": "yesterday"}}),
            "$.dpa.signed_at",
        ),
    ] {
        let r = call(&s, &dpo, Method::PUT, "/v1/vendors/acme", body).await;
        r.assert_error(422, "invalid_vendor");
        assert_eq!(r.json["error"]["details"]["path"], path, "{r:?}");
    }
    call(&s, &dpo, Method::PUT, "/v1/vendors/mailer", mailer.clone())
        .await
        .assert_error(409, "entry_exists");
    call(
        &s,
        &dpo,
        Method::POST,
        "/v1/vendors/mailer/reviews",
        json!({"version": 2, "outcome": "approved"}),
    )
    .await
    .assert_error(409, "entry_changed");
    call(
        &s,
        &dpo,
        Method::POST,
        "/v1/vendors/mailer/reviews",
        json!({"version": 3, "outcome": "fine"}),
    )
    .await
    .assert_error(422, "invalid_vendor");
    call(
        &s,
        &dpo,
        Method::POST,
        "/v1/vendors/nope/reviews",
        json!({"version": 1, "outcome": "approved"}),
    )
    .await
    .assert_error(404, "vendor_not_found");
    get(&s, &dpo, "/v1/vendors?review_due_within_days=99999")
        .await
        .assert_error(400, "invalid_query");
    for path in ["/v1/vendors", "/v1/dpias", "/v1/dpias/required"] {
        get(&s, &support, path)
            .await
            .assert_error(403, "access_denied");
    }
    call(
        &s,
        &eng,
        Method::PUT,
        "/v1/vendors/x",
        json!({"name": "X", "risk": "low"}),
    )
    .await
    .assert_error(403, "access_denied");
    let audit = s.audit_text().await;
    assert!(audit.contains("vendor.reviewed") && audit.contains("dpia.step"));
    assert!(
        !audit.contains("Annual pen test"),
        "notes stay out of the audit log"
    );
}
