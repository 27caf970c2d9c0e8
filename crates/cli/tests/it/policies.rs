//! Cedar authorization over HTTP: deny by default, validated saves, explanations, and a
//! saved policy set reaching another server process.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::harness::{Body, TestServer};

#[tokio::test]
async fn roles_are_enforced_and_refusals_audited() {
    let s = TestServer::start().await;
    let (support_id, support) = s.operator_with_key("Sam Support", "support").await;
    let (_, auditor) = s.operator_with_key("Ada Auditor", "auditor").await;
    let (_, engineer) = s.operator_with_key("Eve Engineer", "engineer").await;

    let before = s.audit_size().await;
    let r = s
        .call(Method::GET, "/v1/policies", Some(&support), Body::None)
        .await;
    r.assert_error(403, "access_denied");
    assert_eq!(r.json["error"]["details"]["action"], "policy.read");
    s.call(
        Method::POST,
        "/v1/operators",
        Some(&engineer),
        Body::Json(json!({"name": "X", "role": "admin"})),
    )
    .await
    .assert_error(403, "access_denied");
    s.call(
        Method::GET,
        "/v1/audit/checkpoint",
        Some(&engineer),
        Body::None,
    )
    .await
    .assert_error(403, "access_denied");
    assert_eq!(
        s.call(
            Method::GET,
            "/v1/audit/checkpoint",
            Some(&auditor),
            Body::None
        )
        .await
        .status,
        200
    );
    s.call(
        Method::PUT,
        "/v1/policies",
        Some(&auditor),
        Body::Json(json!({"text": ""})),
    )
    .await
    .assert_error(403, "access_denied");

    let events = s.store.audit_events(before, 100).await.expect("events");
    let denied: Vec<_> = events
        .iter()
        .filter(|e| e.draft.decision.as_str() == "deny")
        .collect();
    assert_eq!(denied.len(), 4, "{events:?}");
    assert_eq!(denied[0].draft.actor, format!("operator:{support_id}"));
    assert_eq!(denied[0].draft.action, "policy.read");
}

#[tokio::test]
async fn a_saved_policy_set_takes_effect_and_versions_increase() {
    let s = TestServer::start().await;
    let admin = s.admin_key.clone();
    let (_, support) = s.operator_with_key("Sam Support", "support").await;
    let before = s.audit_size().await;
    let current = s.get("/v1/policies").await;
    assert_eq!(current.json["version"], 1);
    let read = s.store.audit_events(before, 10).await.expect("events");
    assert_eq!(read.len(), 1, "reading the policies is audited");
    assert_eq!(read[0].draft.action, "policy.read");
    assert!(
        current.json["schema"]
            .as_str()
            .is_some_and(|t| t.contains("namespace Custodian"))
    );
    let text = format!(
        "{}\n@id(\"support-reads-policies\")\npermit (principal in Custodian::Role::\"support\", action == Custodian::Action::\"policy.read\", resource);\n",
        current.json["text"].as_str().expect("text")
    );
    let r = s
        .call(
            Method::PUT,
            "/v1/policies",
            Some(&admin),
            Body::Json(json!({"text": text})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["version"], 2);
    assert_eq!(
        s.call(Method::GET, "/v1/policies", Some(&support), Body::None)
            .await
            .status,
        200
    );
    let last = s.store.audit_events(0, 1000).await.expect("events");
    assert!(
        last.iter()
            .any(|e| e.draft.action == "policy.write" && e.draft.decision.as_str() == "allow")
    );
}

#[tokio::test]
async fn explain_names_the_deciding_policies() {
    let s = TestServer::start().await;
    let admin = s.admin_key.clone();
    let field = json!({"kind": "field", "collection": "customers", "field": "diagnosis",
                       "category": "user.health_and_medical", "sensitivity": "special"});
    let r = s
        .call(
            Method::POST,
            "/v1/policies/explain",
            Some(&admin),
            Body::Json(json!({
            "role": "marketing", "training_current": true, "action": "data.reveal",
            "resource": field, "purpose": "marketing"})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["decision"], "deny");
    assert_eq!(
        r.json["determining_policies"],
        json!(["no-special-categories-for-marketing"])
    );

    let (support_id, _) = s.operator_with_key("Sam Support", "support").await;
    let r = s
        .call(
            Method::POST,
            "/v1/policies/explain",
            Some(&admin),
            Body::Json(json!({
            "operator_id": support_id, "action": "data.reveal",
            "resource": {"kind": "field", "collection": "customers", "field": "email",
                         "category": "user.contact.email", "sensitivity": "medium"},
            "purpose": "support"})),
        )
        .await;
    assert_eq!(r.json["decision"], "allow", "{r:?}");
    assert_eq!(
        r.json["determining_policies"],
        json!(["support-reveals-contact-details"])
    );
    let r = s
        .call(
            Method::POST,
            "/v1/policies/explain",
            Some(&admin),
            Body::Json(json!({
            "role": "support", "action": "audit.read", "resource": {"kind": "audit_log"}})),
        )
        .await;
    assert_eq!(r.json["decision"], "deny");
    assert_eq!(
        r.json["determining_policies"],
        json!([]),
        "a default deny has no determining policy"
    );
}

#[tokio::test]
async fn a_policy_saved_on_one_server_is_enforced_by_another() {
    let Some((_db, a, b)) = TestServer::two_over_postgres().await else {
        return;
    };
    let admin = a.admin_key.clone();
    let (_, support) = a.operator_with_key("Sam Support", "support").await;
    b.call(Method::GET, "/v1/policies", Some(&support), Body::None)
        .await
        .assert_error(403, "access_denied");
    let r = a
        .call(Method::PUT, "/v1/policies", Some(&admin), Body::Json(json!({"text":
            "permit (principal in Custodian::Role::\"support\", action == Custodian::Action::\"policy.read\", resource);\npermit (principal in Custodian::Role::\"admin\", action == Custodian::Action::\"policy.write\", resource);"})))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let mut ok = false;
    for _ in 0..40 {
        if b.call(Method::GET, "/v1/policies", Some(&support), Body::None)
            .await
            .status
            == 200
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ok,
        "server B never loaded the policy set saved through server A"
    );
}
