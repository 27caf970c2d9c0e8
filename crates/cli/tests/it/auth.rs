//! API-key authentication: one answer for every failure, expiry, revocation, disabled
//! operators, and rate limiting of failures per client address.

use jiff::SignedDuration;
use reqwest::Method;
use serde_json::json;

use crate::harness::{Body, Options, TestServer, fixed_clock};

#[tokio::test]
async fn every_authentication_failure_looks_the_same() {
    let s = TestServer::start().await;
    let unknown = format!("cst_{}", "A".repeat(43));
    let mut bodies = Vec::new();
    for key in [
        None,
        Some("garbage"),
        Some(unknown.as_str()),
        Some("cst_short"),
    ] {
        let r = s.call(Method::GET, "/v1/me", key, Body::None).await;
        r.assert_error(401, "unauthenticated");
        bodies.push(r.json["error"]["message"].clone());
    }
    let r = s
        .call_with(
            Method::GET,
            "/v1/me",
            None,
            Body::None,
            &[("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l")],
        )
        .await;
    r.assert_error(401, "unauthenticated");
    bodies.dedup();
    assert_eq!(bodies.len(), 1, "messages differ: {bodies:?}");
}

#[tokio::test]
async fn revoked_keys_and_disabled_operators_stop_working() {
    let s = TestServer::start().await;
    let admin = s.admin_key.clone();
    let (op, key) = s.operator_with_key("Sam Support", "support").await;
    assert_eq!(
        s.call(Method::GET, "/v1/me", Some(&key), Body::None)
            .await
            .status,
        200
    );

    let r = s
        .call(
            Method::PATCH,
            &format!("/v1/operators/{op}"),
            Some(&admin),
            Body::Json(json!({"disabled": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    s.call(Method::GET, "/v1/me", Some(&key), Body::None)
        .await
        .assert_error(401, "unauthenticated");
    let r = s
        .call(
            Method::PATCH,
            &format!("/v1/operators/{op}"),
            Some(&admin),
            Body::Json(json!({"disabled": false})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        s.call(Method::GET, "/v1/me", Some(&key), Body::None)
            .await
            .status,
        200
    );

    let keys = s.get(&format!("/v1/operators/{op}/keys")).await;
    let key_id = keys.json[0]["id"].as_str().expect("key id").to_owned();
    assert!(
        keys.json
            .to_string()
            .find("cst_")
            .is_none_or(|_| !keys.json.to_string().contains(&key)),
        "secret listed"
    );
    let r = s
        .call(
            Method::DELETE,
            &format!("/v1/keys/{key_id}"),
            Some(&admin),
            Body::None,
        )
        .await;
    assert_eq!(r.status, 204, "{r:?}");
    s.call(Method::GET, "/v1/me", Some(&key), Body::None)
        .await
        .assert_error(401, "unauthenticated");
    s.call(
        Method::DELETE,
        &format!("/v1/keys/{key_id}"),
        Some(&admin),
        Body::None,
    )
    .await
    .assert_error(404, "not_found");
}

#[tokio::test]
async fn keys_expire_by_the_injected_clock() {
    let clock = fixed_clock();
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let admin = s.admin_key.clone();
    let me = s.get("/v1/me").await;
    let id = me.json["operator"]["id"].as_str().expect("id").to_owned();
    let r = s
        .call(
            Method::POST,
            &format!("/v1/operators/{id}/keys"),
            Some(&admin),
            Body::Json(json!({"expires_in_days": 1})),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json["expires_at"], "2026-01-02T00:00:00Z");
    let key = r.json["key"].as_str().expect("key").to_owned();
    assert_eq!(
        s.call(Method::GET, "/v1/me", Some(&key), Body::None)
            .await
            .status,
        200
    );
    clock.advance(SignedDuration::from_hours(24));
    s.call(Method::GET, "/v1/me", Some(&key), Body::None)
        .await
        .assert_error(401, "unauthenticated");
    assert_eq!(
        s.call(Method::GET, "/v1/me", Some(&admin), Body::None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn repeated_failures_are_rate_limited_per_address_ignoring_forwarded_for() {
    let s = TestServer::start_with(Options {
        auth_failures_per_minute: 5,
        ..Options::default()
    })
    .await;
    let admin = s.admin_key.clone();
    for i in 0..5 {
        let xff = format!("198.51.100.{i}");
        let r = s
            .call_with(
                Method::GET,
                "/v1/me",
                Some("nope"),
                Body::None,
                &[("x-forwarded-for", &xff)],
            )
            .await;
        r.assert_error(401, "unauthenticated");
    }
    let r = s
        .call_with(
            Method::GET,
            "/v1/me",
            Some("nope"),
            Body::None,
            &[("x-forwarded-for", "203.0.113.1")],
        )
        .await;
    r.assert_error(429, "too_many_requests");
    // Once blocked, even a good key waits: otherwise guessing could go on.
    s.call(Method::GET, "/v1/me", Some(&admin), Body::None)
        .await
        .assert_error(429, "too_many_requests");
    // Unauthenticated endpoints are not affected.
    assert_eq!(
        s.call(Method::GET, "/healthz", None, Body::None)
            .await
            .status,
        200
    );
}
