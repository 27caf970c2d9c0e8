//! The training register gates access end to end, as the issue asks: under a fixed clock, a
//! DPO whose training is missing cannot reveal a special-category field; a completion lets
//! them; when it lapses they cannot; a renewal lets them again. Bad inputs each get their
//! code. Run on SQLite and on PostgreSQL.

use jiff::SignedDuration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Body, Options, PgDb, Resp, TestServer, fixed_clock, pg_url};

const DIAGNOSIS: &str = "Type 2 diabetes";

async fn read_as(s: &TestServer, key: &str, rec: &str) -> Resp {
    s.call_with(
        Method::GET,
        rec,
        Some(key),
        Body::None,
        &[("custodian-purpose", "dsr")],
    )
    .await
}

async fn admin(s: &TestServer, method: Method, path: &str, body: Value) -> Resp {
    s.call(method, path, Some(&s.admin_key), Body::Json(body))
        .await
}

fn revealed(r: &Resp) -> bool {
    assert_eq!(r.status, 200, "{r:?}");
    r.json["fields"]["email"] == "pat@example.com"
        && match r.json["fields"].get("diagnosis") {
            Some(v) => v == DIAGNOSIS,
            None => {
                assert_eq!(r.json["omitted"], json!(["diagnosis"]), "{r:?}");
                false
            }
        }
}

async fn scenario(opts: Options) {
    let clock = fixed_clock();
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        ..opts
    })
    .await;
    let (dpo_id, dpo) = s.operator_with_key("Dana DPO", "dpo").await;
    let (_, support) = s.operator_with_key("Sam Support", "support").await;
    let r = admin(
        &s,
        Method::PUT,
        "/v1/collections/patients",
        json!({"fields": [
            {"name": "email", "type": "email", "category": "user.contact.email", "sensitivity": "medium"},
            {"name": "diagnosis", "type": "text", "category": "user.health_and_medical", "sensitivity": "special"}
        ]}),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let (engineer_id, engineer) = s.operator_with_key("Eve Engineer", "engineer").await;
    let r = s
        .call_with(
            Method::POST,
            "/v1/collections/patients/records",
            Some(&engineer),
            Body::Json(json!({"subject_id": "pat_1", "fields": {"email": "pat@example.com", "diagnosis": DIAGNOSIS}})),
            &[("custodian-purpose", "service_delivery")],
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let rec = format!(
        "/v1/collections/patients/records/{}",
        r.json["id"].as_str().expect("id")
    );

    // No course yet: nobody's training is current, so the special field stays out.
    assert!(!revealed(&read_as(&s, &dpo, &rec).await));

    let r = admin(
        &s,
        Method::PUT,
        "/v1/training/courses/health-data",
        json!({"title": "Handling health data", "validity_days": 365, "required_for": ["dpo", "support"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json["version"], 1);
    assert_eq!(r.json["required_for"], json!(["dpo", "support"]));
    assert!(
        !revealed(&read_as(&s, &dpo, &rec).await),
        "not completed yet"
    );

    // The DPO completes it: revealed at once (the key cache was cleared).
    let r = admin(
        &s,
        Method::POST,
        "/v1/training/completions",
        json!({"operator_id": dpo_id, "course": "health-data", "reference": "LMS-4411"}),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json["expires_at"], "2027-01-01T00:00:00Z");
    assert!(revealed(&read_as(&s, &dpo, &rec).await));
    let me = s.call(Method::GET, "/v1/me", Some(&dpo), Body::None).await;
    assert_eq!(
        me.json["operator"]["training_valid_until"], "2027-01-01T00:00:00Z",
        "{me:?}"
    );

    // A year later the completion lapses: the field is withheld again.
    clock.advance(SignedDuration::from_hours(365 * 24));
    assert!(!revealed(&read_as(&s, &dpo, &rec).await), "lapsed");
    let status = s
        .call(
            Method::GET,
            "/v1/training/status",
            Some(&s.admin_key),
            Body::None,
        )
        .await;
    assert_eq!(status.status, 200, "{status:?}");
    assert_eq!(status.json["operators"], 2, "the DPO and support");
    assert_eq!(status.json["current"], 0);
    assert_eq!(status.json["lapsed"], 1);
    assert_eq!(status.json["missing"], 1);
    let dpo_row = status.json["by_operator"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|o| o["operator_id"] == dpo_id.as_str())
        .expect("dpo")
        .clone();
    assert_eq!(dpo_row["courses"][0]["standing"], "lapsed");
    assert_eq!(dpo_row["current"], false);

    // Renewed (completed yesterday): revealed again.
    let r = admin(
        &s,
        Method::POST,
        "/v1/training/completions",
        json!({"operator_id": dpo_id, "course": "health-data", "completed_at": "2026-12-31T09:00:00Z"}),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert!(revealed(&read_as(&s, &dpo, &rec).await), "renewed");
    // A completion recorded in error is revoked: it stops counting at once; then recorded
    // again.
    let wrong = r.json["id"].as_str().expect("id").to_owned();
    let revoke = |id: String| {
        let s = &s;
        async move {
            s.call(
                Method::POST,
                &format!("/v1/training/completions/{id}/revoke"),
                Some(&s.admin_key),
                Body::None,
            )
            .await
        }
    };
    assert_eq!(revoke(wrong.clone()).await.status, 204);
    assert!(!revealed(&read_as(&s, &dpo, &rec).await), "revoked");
    revoke(wrong.clone())
        .await
        .assert_error(409, "completion_revoked");
    revoke("01a20aff-3988-7225-9dcf-b31965aa3350".into())
        .await
        .assert_error(404, "completion_not_found");
    let r = admin(
        &s,
        Method::POST,
        "/v1/training/completions",
        json!({"operator_id": dpo_id, "course": "health-data", "completed_at": "2026-12-31T09:00:00Z"}),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert!(revealed(&read_as(&s, &dpo, &rec).await), "recorded again");
    let status = s
        .call(
            Method::GET,
            "/v1/training/status",
            Some(&s.admin_key),
            Body::None,
        )
        .await;
    assert_eq!(status.json["current"], 1);
    assert_eq!(status.json["compliance"], 0.5);

    // A second required course makes the DPO's training incomplete again.
    let r = admin(
        &s,
        Method::PUT,
        "/v1/training/courses/security",
        json!({"title": "Security basics", "validity_days": 30, "required_for": ["dpo"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert!(!revealed(&read_as(&s, &dpo, &rec).await), "second course");
    // Taking the DPO off it (a change over the version read) restores access.
    let r = admin(
        &s,
        Method::PUT,
        "/v1/training/courses/security",
        json!({"title": "Security basics", "validity_days": 30, "required_for": ["engineer"], "version": 1}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["version"], 2);
    assert!(revealed(&read_as(&s, &dpo, &rec).await));

    // Listing and history.
    let r = s
        .call(
            Method::GET,
            &format!("/v1/training/completions?operator_id={dpo_id}"),
            Some(&s.admin_key),
            Body::None,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["completions"].as_array().expect("list").len(), 3);
    assert_eq!(
        r.json["completions"][1]["revoked_at"],
        "2027-01-01T00:00:00Z"
    );
    assert_eq!(r.json["completions"][2]["reference"], "LMS-4411");
    let r = s
        .call(
            Method::GET,
            "/v1/training/courses",
            Some(&s.admin_key),
            Body::None,
        )
        .await;
    assert_eq!(r.json["courses"].as_array().expect("list").len(), 2);

    // Bad inputs.
    let course = |body: Value| admin(&s, Method::PUT, "/v1/training/courses/c1", body);
    let ok = json!({"title": "T", "validity_days": 10});
    for (body, field) in [
        (json!({"title": " ", "validity_days": 10}), "title"),
        (json!({"title": "T", "validity_days": 0}), "validity_days"),
        (
            json!({"title": "T", "validity_days": 3651}),
            "validity_days",
        ),
        (
            json!({"title": "T", "validity_days": 1, "required_for": ["dpo", "dpo"]}),
            "required_for",
        ),
    ] {
        let r = course(body).await;
        r.assert_error(422, "invalid_training");
        assert_eq!(r.json["error"]["details"]["field"], field, "{r:?}");
    }
    course(json!({"title": "T", "validity_days": 1, "required_for": ["root"]}))
        .await
        .assert_error(422, "invalid_body");
    let r = admin(
        &s,
        Method::PUT,
        "/v1/training/courses/Bad%20Key",
        ok.clone(),
    )
    .await;
    r.assert_error(422, "invalid_training");
    course(json!({"title": "T", "validity_days": 10, "version": 1}))
        .await
        .assert_error(404, "course_not_found");
    admin(
        &s,
        Method::PUT,
        "/v1/training/courses/security",
        json!({"title": "T", "validity_days": 10}),
    )
    .await
    .assert_error(409, "course_exists");
    admin(
        &s,
        Method::PUT,
        "/v1/training/courses/security",
        json!({"title": "T", "validity_days": 10, "version": 1}),
    )
    .await
    .assert_error(409, "course_changed");
    let done = |body: Value| admin(&s, Method::POST, "/v1/training/completions", body);
    done(json!({"operator_id": dpo_id, "course": "nope"}))
        .await
        .assert_error(404, "course_not_found");
    done(json!({"operator_id": "01a20aff-3988-7225-9dcf-b31965aa3350", "course": "security"}))
        .await
        .assert_error(404, "operator_not_found");
    let r = done(json!({"operator_id": engineer_id, "course": "security", "completed_at": "2030-01-01T00:00:00Z"})).await;
    r.assert_error(422, "invalid_training");
    assert_eq!(r.json["error"]["details"]["field"], "completed_at");
    done(json!({"operator_id": engineer_id, "course": "security", "completed_at": "2020-01-01T00:00:00Z"}))
        .await
        .assert_error(422, "invalid_training");
    done(json!({"operator_id": engineer_id, "course": "security", "completed_at": "yesterday"}))
        .await
        .assert_error(422, "invalid_training");
    done(json!({"operator_id": engineer_id, "course": "security", "extra": 1}))
        .await
        .assert_error(422, "invalid_body");

    // Roles: support may neither record nor read the register.
    for (method, path, body) in [
        (Method::GET, "/v1/training/status", Body::None),
        (Method::GET, "/v1/training/courses", Body::None),
        (
            Method::POST,
            "/v1/training/completions",
            Body::Json(json!({"operator_id": dpo_id, "course": "health-data"})),
        ),
    ] {
        s.call(method, path, Some(&support), body)
            .await
            .assert_error(403, "access_denied");
    }
    let audit = s.audit_text().await;
    assert!(audit.contains("training.completion_recorded"));
    assert!(audit.contains("training.course_changed"));
    assert!(
        !audit.contains("LMS-4411"),
        "references stay out of the audit log"
    );
}

#[tokio::test]
async fn lapsed_training_withholds_special_categories_on_sqlite() {
    scenario(Options::default()).await;
}

#[tokio::test]
async fn lapsed_training_withholds_special_categories_on_postgres() {
    let Some(base) = pg_url() else { return };
    let db = PgDb::create(&base).await;
    scenario(Options {
        database_url: Some(db.url.clone()),
        ..Options::default()
    })
    .await;
}
