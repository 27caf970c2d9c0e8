//! Every bad input gets a clear 4xx from the error table, and nothing is written.

use reqwest::Method;
use serde_json::json;

use crate::harness::{Body, TestServer};

/// One bad request: method, path, body, extra headers, expected status and error code.
type Case = (
    Method,
    &'static str,
    Body,
    &'static [(&'static str, &'static str)],
    u16,
    &'static str,
);

#[tokio::test]
async fn bad_inputs_answer_from_the_error_table_and_write_nothing() {
    let s = TestServer::start().await;
    let k = s.admin_key.clone();
    let ops_before = s.store.list_operators().await.expect("ops").len();
    let policy_before = s.store.policy_version().await.expect("version");
    let audit_before = s.audit_size().await;
    const PURPOSE: &[(&str, &str)] = &[("custodian-purpose", "audit")];

    // (method, path, body, extra headers, status, code)
    let cases: Vec<Case> = vec![
        (
            Method::POST,
            "/v1/operators",
            Body::Raw("application/json", b"{\"name\":".to_vec()),
            &[],
            400,
            "malformed_json",
        ),
        (
            Method::POST,
            "/v1/operators",
            Body::Json(json!({"name": "A", "role": "admin", "extra": 1})),
            &[],
            422,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/operators",
            Body::Json(json!({"name": "A", "role": "root"})),
            &[],
            422,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/operators",
            Body::Json(json!({"name": 5, "role": "admin"})),
            &[],
            422,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/operators",
            Body::Json(json!({"role": "admin"})),
            &[],
            422,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/operators",
            Body::Json(json!({"name": "  ", "role": "admin"})),
            &[],
            422,
            "invalid_value",
        ),
        (
            Method::POST,
            "/v1/operators",
            Body::Json(json!({"name": "a\u{7}b", "role": "admin"})),
            &[],
            422,
            "invalid_value",
        ),
        (
            Method::POST,
            "/v1/operators",
            Body::Raw("text/plain", b"{}".to_vec()),
            &[],
            415,
            "unsupported_media_type",
        ),
        (
            Method::POST,
            "/v1/operators",
            Body::Raw("application/json", vec![b' '; 2 * 1024 * 1024]),
            &[],
            413,
            "payload_too_large",
        ),
        (
            Method::GET,
            "/v1/operators/not-a-uuid",
            Body::None,
            &[],
            400,
            "invalid_path_parameter",
        ),
        (
            Method::GET,
            "/v1/audit/events/abc/proof",
            Body::None,
            &[],
            400,
            "invalid_path_parameter",
        ),
        (
            Method::GET,
            "/v1/audit/events/-1/proof",
            Body::None,
            &[],
            400,
            "invalid_path_parameter",
        ),
        (
            Method::GET,
            "/v1/audit/events?limit=abc",
            Body::None,
            PURPOSE,
            400,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/audit/events?limit=0",
            Body::None,
            PURPOSE,
            400,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/audit/events?limit=1001",
            Body::None,
            PURPOSE,
            400,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/audit/events?bogus=1",
            Body::None,
            PURPOSE,
            400,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/audit/events",
            Body::None,
            &[],
            400,
            "purpose_required",
        ),
        (
            Method::GET,
            "/v1/audit/events",
            Body::None,
            &[("custodian-purpose", "Not Valid")],
            400,
            "invalid_purpose",
        ),
        (
            Method::GET,
            "/v1/audit/consistency?from=0",
            Body::None,
            &[],
            400,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/audit/consistency",
            Body::None,
            &[],
            400,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/audit/consistency?from=5&to=999999",
            Body::None,
            &[],
            400,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/audit/events/999999/proof",
            Body::None,
            &[],
            404,
            "not_found",
        ),
        (
            Method::GET,
            "/v1/operators/01a20aff-3988-7225-9dcf-b31965aa3350",
            Body::None,
            &[],
            404,
            "not_found",
        ),
        (
            Method::GET,
            "/v1/nope",
            Body::None,
            &[],
            404,
            "route_not_found",
        ),
        (
            Method::DELETE,
            "/v1/me",
            Body::None,
            &[],
            405,
            "method_not_allowed",
        ),
        (
            Method::PUT,
            "/v1/policies",
            Body::Json(json!({"text": "permit(principal, action, resource"})),
            &[],
            422,
            "invalid_policies",
        ),
        (
            Method::PUT,
            "/v1/policies",
            Body::Json(json!({"text": 3})),
            &[],
            422,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/policies/explain",
            Body::Json(
                json!({"role": "admin", "action": "data.steal", "resource": {"kind": "policies"}}),
            ),
            &[],
            422,
            "invalid_value",
        ),
        (
            Method::POST,
            "/v1/policies/explain",
            Body::Json(json!({"action": "policy.read", "resource": {"kind": "policies"}})),
            &[],
            422,
            "invalid_value",
        ),
        (
            Method::POST,
            "/v1/policies/explain",
            Body::Json(
                json!({"role": "admin", "action": "policy.read", "resource": {"kind": "planet"}}),
            ),
            &[],
            422,
            "invalid_body",
        ),
        (
            Method::DELETE,
            "/v1/keys/zzz",
            Body::None,
            &[],
            400,
            "invalid_path_parameter",
        ),
        (
            Method::DELETE,
            "/v1/keys/01a20aff-3988-7225-9dcf-b31965aa3350",
            Body::None,
            &[],
            404,
            "not_found",
        ),
        (
            Method::POST,
            "/v1/policies/explain",
            Body::Json(
                json!({"role": "support", "action": "data.reveal", "resource": {"kind": "field", "collection": "customers", "field": "email", "category": "user.contact.email", "sensitivity": "extreme"}}),
            ),
            &[],
            422,
            "invalid_value",
        ),
        (
            Method::POST,
            "/v1/policies/explain",
            Body::Json(
                json!({"role": "support", "action": "data.reveal", "resource": {"kind": "field", "collection": "a.b", "field": "email", "category": "user.contact.email", "sensitivity": "low"}}),
            ),
            &[],
            422,
            "invalid_value",
        ),
        (
            Method::POST,
            "/v1/policies/explain",
            Body::Json(
                json!({"role": "support", "action": "data.reveal", "resource": {"kind": "field", "collection": "customers", "field": "email", "category": "user..email", "sensitivity": "low"}}),
            ),
            &[],
            422,
            "invalid_value",
        ),
        (
            Method::POST,
            "/v1/policies/explain",
            Body::Json(
                json!({"operator_id": "01a20aff-3988-7225-9dcf-b31965aa3350", "training_current": true, "action": "policy.read", "resource": {"kind": "policies"}}),
            ),
            &[],
            422,
            "invalid_value",
        ),
        (
            Method::PUT,
            "/v1/policies",
            Body::Json(
                json!({"text": "permit (principal in Custodian::Role::\"dpo\", action == Custodian::Action::\"policy.write\", resource);"}),
            ),
            &[],
            422,
            "invalid_policies",
        ),
    ];
    for (method, path, body, headers, status, code) in cases {
        let r = s
            .call_with(method.clone(), path, Some(&k), body, headers)
            .await;
        r.assert_error(status, code);
        assert!(
            !r.json.to_string().contains("root\""),
            "{method} {path} echoed a value: {r:?}"
        );
    }
    let me = s.get("/v1/me").await;
    let admin_id = me.json["operator"]["id"].as_str().expect("id").to_owned();
    let r = s
        .call(
            Method::POST,
            &format!("/v1/operators/{admin_id}/keys"),
            Some(&k),
            Body::Json(json!({"expires_in_days": 0})),
        )
        .await;
    r.assert_error(422, "invalid_value");
    let r = s
        .call(
            Method::PATCH,
            &format!("/v1/operators/{admin_id}"),
            Some(&k),
            Body::Json(json!({"disabled": true})),
        )
        .await;
    r.assert_error(409, "conflict");

    // The invalid policy set came back with Cedar's diagnostics.
    let r = s
        .call(Method::PUT, "/v1/policies", Some(&k), Body::Json(json!({"text": "permit(principal, action == Custodian::Action::\"nope\", resource);"})))
        .await;
    r.assert_error(422, "invalid_policies");
    assert!(
        r.json["error"]["details"]["diagnostics"]
            .as_array()
            .is_some_and(|d| !d.is_empty()),
        "{r:?}"
    );

    assert_eq!(
        s.store.list_operators().await.expect("ops").len(),
        ops_before
    );
    assert_eq!(
        s.store.policy_version().await.expect("version"),
        policy_before
    );
    // Malformed requests are refused before authorization and leave no event. Three of the
    // cases were well-formed, authorized reads of things that turned out not to exist (the
    // unknown operator, event 999999's proof, a consistency proof past the log's end): those
    // access attempts are audited, as every authorized read is. The unknown key's revocation
    // changed nothing, so its event was rolled back with it.
    assert_eq!(s.audit_size().await, audit_before + 3);
}

#[tokio::test]
async fn health_endpoints_and_docs_need_no_key() {
    let s = TestServer::start().await;
    for (path, status) in [
        ("/healthz", 200),
        ("/readyz", 200),
        ("/metrics", 200),
        ("/v1/openapi.json", 200),
    ] {
        let r = s.call(Method::GET, path, None, Body::None).await;
        assert_eq!(r.status, status, "{path}: {r:?}");
    }
    let docs = s
        .http
        .get(format!("{}/docs/", s.base))
        .send()
        .await
        .expect("docs");
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text().await.expect("html").contains("swagger"),
        "vendored Swagger UI is served"
    );
    let odd = reqwest::Method::from_bytes(b"JANEDOE").expect("method");
    s.call(odd, "/v1/me", None, Body::None)
        .await
        .assert_error(405, "method_not_allowed");
    let spec = s
        .call(Method::GET, "/v1/openapi.json", None, Body::None)
        .await;
    assert_eq!(spec.json["openapi"], "3.1.0");
    // Metrics carry route templates, never raw paths with ids.
    s.get("/v1/operators/01a20aff-3988-7225-9dcf-b31965aa3350")
        .await;
    let metrics = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .expect("m")
        .text()
        .await
        .expect("t");
    assert!(
        metrics.contains("route=\"/v1/operators/{id}\""),
        "{metrics}"
    );
    assert!(
        !metrics.contains("01a20aff-3988"),
        "ids leak into metric labels"
    );
    assert!(
        !metrics.contains("JANEDOE"),
        "clients must not mint metric labels"
    );
    assert!(metrics.contains("method=\"other\""), "{metrics}");
}

#[tokio::test]
async fn request_ids_are_echoed_only_when_well_formed() {
    let s = TestServer::start().await;
    let r = s
        .call_with(
            Method::GET,
            "/healthz",
            None,
            Body::None,
            &[("x-request-id", "trace-123.abc")],
        )
        .await;
    assert_eq!(r.request_id, "trace-123.abc");
    let r = s
        .call_with(
            Method::GET,
            "/healthz",
            None,
            Body::None,
            &[("x-request-id", "jane@example.com")],
        )
        .await;
    assert_ne!(r.request_id, "jane@example.com");
    assert!(uuid::Uuid::parse_str(&r.request_id).is_ok());
}
