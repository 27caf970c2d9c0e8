//! The Data Rights Protocol 1.0 end to end, with the test playing two authorized agents:
//! each signs its messages (Ed25519, libsodium combined mode, base64) with its own key,
//! pairs for a bearer token, files exercise requests, reads their status, revokes them and
//! receives status callbacks on a real HTTP receiver. Every check of §3.07 is tried
//! against a real server: bad signatures, another agent's key or token, the wrong business,
//! expired messages and ones issued in the future.

use std::sync::Arc;

use custodian_crypto::drp::AgentSigner;
use custodian_server::drp::DrpConfig;
use jiff::{SignedDuration, Timestamp};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Body, Options, Resp, TestServer, fixed_clock};
use crate::propagation::receiver;
use crate::rights::customer;
use crate::smtp::{SmtpServer, code_in};

const BUSINESS: &str = "shop-example";

struct Agent {
    id: &'static str,
    signer: AgentSigner,
    token: String,
}

impl Agent {
    fn new(id: &'static str, seed: u8) -> Self {
        Self {
            id,
            signer: AgentSigner::from_seed(&[seed; 32]).expect("seed"),
            token: String::new(),
        }
    }

    /// The envelope claims, valid for ten minutes from `now`, plus `extra`.
    fn message(&self, now: Timestamp, extra: Value) -> Value {
        let mut m = json!({
            "agent-id": self.id, "business-id": BUSINESS,
            "issued-at": now.to_string(),
            "expires-at": (now + SignedDuration::from_mins(10)).to_string(),
            "drp.version": "1.0",
        });
        for (k, v) in extra.as_object().expect("object") {
            m[k] = v.clone();
        }
        m
    }

    fn sign(&self, m: &Value) -> Vec<u8> {
        self.signer.sign(m.to_string().as_bytes()).into_bytes()
    }
}

fn config(agents: &[&Agent]) -> Arc<DrpConfig> {
    let list: Vec<Value> = agents
        .iter()
        .map(|a| {
            json!({"id": a.id, "name": format!("{} Inc.", a.id),
                   "verify_key": a.signer.verify_key_base64(),
                   "web_url": "https://agent.example"})
        })
        .collect();
    let text = json!({"business_id": BUSINESS, "agents": list,
                      "verification_url": "https://privacy.shop.example/verify"})
    .to_string();
    Arc::new(DrpConfig::from_json(&text).expect("settings"))
}

async fn send(
    s: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> Resp {
    let b = match body {
        Some(bytes) => Body::Raw("text/plain", bytes),
        None => Body::None,
    };
    s.call(method, path, token, b).await
}

async fn pair(s: &TestServer, a: &mut Agent, now: Timestamp) {
    let r = send(
        s,
        Method::POST,
        &format!("/v1/agent/{}", a.id),
        None,
        Some(a.sign(&a.message(now, json!({})))),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["agent-id"], a.id);
    a.token = r.json["token"].as_str().expect("token").to_owned();
    assert!(a.token.len() >= 40);
}

async fn exercise(s: &TestServer, a: &Agent, m: &Value) -> Resp {
    send(
        s,
        Method::POST,
        "/v1/data-rights-request",
        Some(&a.token),
        Some(a.sign(m)),
    )
    .await
}

fn assert_drp_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.json["code"], status.to_string(), "{r:?}");
    assert_eq!(r.json["error"], code, "{r:?}");
    assert!(r.json["fatal"].is_boolean(), "{r:?}");
    assert!(r.json["message"].as_str().is_some_and(|m| !m.is_empty()));
}

fn assert_iso(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    assert!(s.parse::<Timestamp>().is_ok(), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drp_is_off_until_configured() {
    let s = TestServer::start().await;
    let r = send(
        &s,
        Method::POST,
        "/v1/agent/AGENT_A",
        None,
        Some(b"x".to_vec()),
    )
    .await;
    assert_drp_error(&r, 404, "drp_disabled");
    let r = send(
        &s,
        Method::GET,
        "/v1/data-rights-request/00000000-0000-8000-8000-000000000000",
        Some("t"),
        None,
    )
    .await;
    assert_drp_error(&r, 404, "drp_disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_pair_only_with_messages_that_verify() {
    let clock = fixed_clock();
    let mut a = Agent::new("AGENT_A", 1);
    let b = Agent::new("AGENT_B", 2);
    let s = server(&clock, &[&a, &b], None).await;
    let now = clock_now(&clock);
    let audit_before = s.audit_size().await;
    let bare_403 = |r: &Resp| {
        assert_eq!(r.status, 403, "{r:?}");
        assert_eq!(r.json, Value::Null, "no body: {r:?}");
    };
    let post_pair = |path: &'static str, body: Vec<u8>| {
        let s = &s;
        async move { send(s, Method::POST, path, None, Some(body)).await }
    };
    // Unknown agent; another agent's key; the URL's agent differs from the body's; the
    // wrong business; expired; issued in the future; a window over 15 minutes; not base64;
    // an old protocol version.
    bare_403(
        &post_pair(
            "/v1/agent/AGENT_Z",
            a.sign(&a.message(now, json!({"agent-id": "AGENT_Z"}))),
        )
        .await,
    );
    bare_403(&post_pair("/v1/agent/AGENT_A", b.sign(&a.message(now, json!({})))).await);
    bare_403(&post_pair("/v1/agent/AGENT_B", a.sign(&a.message(now, json!({})))).await);
    bare_403(
        &post_pair(
            "/v1/agent/AGENT_A",
            a.sign(&a.message(now, json!({"business-id": "other"}))),
        )
        .await,
    );
    bare_403(
        &post_pair(
            "/v1/agent/AGENT_A",
            a.sign(&a.message(now - SignedDuration::from_mins(11), json!({}))),
        )
        .await,
    );
    bare_403(
        &post_pair(
            "/v1/agent/AGENT_A",
            a.sign(&a.message(now + SignedDuration::from_mins(5), json!({}))),
        )
        .await,
    );
    bare_403(
        &post_pair(
            "/v1/agent/AGENT_A",
            a.sign(&a.message(
                now,
                json!({"expires-at": (now + SignedDuration::from_hours(2)).to_string()}),
            )),
        )
        .await,
    );
    bare_403(&post_pair("/v1/agent/AGENT_A", b"not base64 at all!".to_vec()).await);
    bare_403(
        &post_pair(
            "/v1/agent/AGENT_A",
            a.sign(&a.message(now, json!({"drp.version": "0.5"}))),
        )
        .await,
    );
    assert_eq!(s.audit_size().await, audit_before, "nothing recorded");

    pair(&s, &mut a, now).await;
    let first = a.token.clone();
    let r = send(&s, Method::GET, "/v1/agent/AGENT_A", Some(&a.token), None).await;
    assert_eq!((r.status, r.json.clone()), (200, json!({})));
    let r = send(&s, Method::GET, "/v1/agent/AGENT_B", Some(&a.token), None).await;
    assert_drp_error(&r, 403, "drp_forbidden");
    let r = send(&s, Method::GET, "/v1/agent/AGENT_A", Some("made-up"), None).await;
    assert_drp_error(&r, 403, "drp_forbidden");
    let r = send(&s, Method::GET, "/v1/agent/AGENT_A", None, None).await;
    assert_drp_error(&r, 403, "drp_forbidden");

    // Pairing again replaces the token.
    pair(&s, &mut a, now).await;
    assert_ne!(first, a.token);
    let r = send(&s, Method::GET, "/v1/agent/AGENT_A", Some(&first), None).await;
    assert_drp_error(&r, 403, "drp_forbidden");
    let r = send(&s, Method::GET, "/v1/agent/AGENT_A", Some(&a.token), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        s.audit_size().await,
        audit_before + 2,
        "each pairing is audited"
    );
}

async fn server(
    clock: &Arc<custodian_core::clock::FixedClock>,
    agents: &[&Agent],
    smtp: Option<custodian_server::mail::SmtpConfig>,
) -> TestServer {
    TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        smtp,
        drp: Some(config(agents)),
        ..Options::default()
    })
    .await
}

/// The next status the agent's callback receiver got.
async fn next_callback(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(axum::http::HeaderMap, axum::body::Bytes)>,
) -> Value {
    let (_, body) = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("a callback")
        .expect("open");
    serde_json::from_slice(&body).expect("json")
}

fn clock_now(clock: &custodian_core::clock::FixedClock) -> Timestamp {
    use custodian_core::clock::Clock;
    clock.now()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exercise_requests_are_verified_followed_revoked_and_reported_to_the_agent() {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let clock = fixed_clock();
    let mut a = Agent::new("AGENT_A", 1);
    let mut b = Agent::new("AGENT_B", 2);
    let s = server(&clock, &[&a, &b], Some(smtp.config())).await;
    customer(&s, "cus_7", "grace@example.com").await;
    let (callback, mut pushed) = receiver().await;
    let now = clock_now(&clock);
    pair(&s, &mut a, now).await;
    pair(&s, &mut b, now).await;

    // A deletion: the requester gets a code by email; the agent sees need_user_verification.
    let deletion = a.message(
        now,
        json!({
            "exercise": "deletion", "regime": "ccpa", "agent-request-id": "del-1",
            "relationships": ["customer"], "status_callback": callback,
            "name": "Grace Hopper", "email": "grace@example.com", "email_verified": true,
            "address": {"street_address": "1 Main St", "locality": "Sacramento", "region": "CA"},
        }),
    );
    let r = exercise(&s, &a, &deletion).await;
    assert_eq!(r.status, 200, "{r:?}");
    let st = r.json.clone();
    let drp_id = st["request_id"].as_str().expect("id").to_owned();
    assert!(uuid::Uuid::parse_str(&drp_id).is_ok(), "{drp_id}");
    assert_eq!(st["status"], "in_progress");
    assert_eq!(st["reason"], "need_user_verification");
    assert_eq!(st["agent_request_id"], "del-1");
    assert_eq!(
        st["user_verification_url"],
        format!("https://privacy.shop.example/verify/{drp_id}")
    );
    assert_iso(&st["received_at"]);
    assert_iso(&st["expires_at"]);
    // CCPA: 45 days from receipt (2026-01-01), to the end of 2026-02-15 in UTC.
    assert_eq!(st["expected_by"], "2026-02-16T00:00:00Z", "{st}");
    let code = code_in(&smtp.wait_for(1).await[0]);

    // The same signed message again answers the same request, filing nothing new.
    let again = exercise(&s, &a, &deletion).await;
    assert_eq!(again.json["request_id"], drp_id.as_str(), "{again:?}");
    // Another agent may neither replay it nor read it.
    let r = send(
        &s,
        Method::POST,
        "/v1/data-rights-request",
        Some(&b.token),
        Some(a.sign(&deletion)),
    )
    .await;
    assert_drp_error(&r, 403, "drp_forbidden");
    let r = send(
        &s,
        Method::GET,
        &format!("/v1/data-rights-request/{drp_id}"),
        Some(&b.token),
        None,
    )
    .await;
    assert_drp_error(&r, 403, "drp_forbidden");
    let (_, dpo) = s.operator_with_key("DPO", "dpo").await;
    let listed = s
        .call(Method::GET, "/v1/rights/requests", Some(&dpo), Body::None)
        .await;
    assert_eq!(
        listed.json["requests"].as_array().map(Vec::len),
        Some(1),
        "{listed:?}"
    );
    let listed_one = &listed.json["requests"][0];
    assert_eq!(listed_one["type"], "erasure");
    assert_eq!(listed_one["jurisdiction"], "CCPA");
    assert_eq!(listed_one["channel"], "drp");
    assert_eq!(listed_one["drp"]["agent_id"], "AGENT_A");
    assert_eq!(listed_one["drp"]["request_id"], drp_id.as_str());

    // The user enters the code on the verification page, which calls the privacy center
    // with the DRP request id; the agent hears the request is in progress.
    let r = s
        .call(
            Method::POST,
            &format!("/v1/privacy-center/requests/{drp_id}/verify"),
            None,
            Body::Json(json!({"code": code})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let cb = next_callback(&mut pushed).await;
    assert_eq!(cb["request_id"], drp_id.as_str());
    assert_eq!(cb["status"], "in_progress");
    assert!(cb.get("reason").is_none(), "{cb}");
    assert_iso(&cb["expected_by"]);
    let r = send(
        &s,
        Method::GET,
        &format!("/v1/data-rights-request/{drp_id}"),
        Some(&a.token),
        None,
    )
    .await;
    assert_eq!(r.json["status"], "in_progress", "{r:?}");

    // An opt-out of sale needs no verification: in progress at once, no code sent.
    let opt_out = a.message(
        now,
        json!({"exercise": "sale:opt-out", "regime": "ccpa",
        "email": "grace@example.com", "status_callback": callback}),
    );
    let r = exercise(&s, &a, &opt_out).await;
    assert_eq!(r.json["status"], "in_progress", "{r:?}");
    assert!(r.json.get("reason").is_none());
    let opt_out_id = r.json["request_id"].as_str().expect("id").to_owned();
    assert_eq!(smtp.messages().len(), 1, "no code for an opt-out");

    // Revoking it: a signed reason; revoked is final, and revoking again says so again.
    let revoke = a.sign(&json!({"reason": "changed my mind"}));
    let r = send(
        &s,
        Method::DELETE,
        &format!("/v1/data-rights-request/{opt_out_id}"),
        Some(&a.token),
        Some(revoke.clone()),
    )
    .await;
    assert_eq!(r.json["status"], "revoked", "{r:?}");
    assert_iso(&r.json["expires_at"]);
    let r = send(
        &s,
        Method::DELETE,
        &format!("/v1/data-rights-request/{opt_out_id}"),
        Some(&a.token),
        Some(revoke),
    )
    .await;
    assert_eq!(r.json["status"], "revoked", "{r:?}");
    let cb = next_callback(&mut pushed).await;
    assert_eq!(
        (cb["request_id"].as_str(), cb["status"].as_str()),
        (Some(opt_out_id.as_str()), Some("revoked"))
    );
    // A revoke signed with another key, or by another agent, is refused.
    let r = send(
        &s,
        Method::DELETE,
        &format!("/v1/data-rights-request/{drp_id}"),
        Some(&a.token),
        Some(b.sign(&json!({"reason": "x"}))),
    )
    .await;
    assert_drp_error(&r, 403, "drp_forbidden");
    let r = send(
        &s,
        Method::DELETE,
        &format!("/v1/data-rights-request/{drp_id}"),
        Some(&b.token),
        Some(b.sign(&json!({"reason": "x"}))),
    )
    .await;
    assert_drp_error(&r, 403, "drp_forbidden");

    // An access request (sent to the deprecated trailing-slash path), refused by the
    // privacy team: the agent sees denied with the protocol's reason; a closed request
    // cannot be revoked.
    let access = a.message(
        now,
        json!({"exercise": "access", "regime": "ccpa",
        "email": "nobody@example.com", "status_callback": callback}),
    );
    let r = send(
        &s,
        Method::POST,
        "/v1/data-rights-request/",
        Some(&a.token),
        Some(a.sign(&access)),
    )
    .await;
    assert_eq!(r.json["status"], "in_progress", "{r:?}");
    let access_id = r.json["request_id"].as_str().expect("id").to_owned();
    let rr_id = format!("rr_{}", access_id.replace('-', ""));
    let r = s
        .call(
            Method::POST,
            &format!("/v1/rights/requests/{rr_id}/steps"),
            Some(&dpo),
            Body::Json(json!({"step": "reject", "reason": "no_data_held"})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let cb = next_callback(&mut pushed).await;
    assert_eq!(
        (cb["status"].as_str(), cb["reason"].as_str()),
        (Some("denied"), Some("no_match")),
        "{cb}"
    );
    assert!(cb["processing_details"].is_string());
    let r = send(
        &s,
        Method::DELETE,
        &format!("/v1/data-rights-request/{access_id}"),
        Some(&a.token),
        Some(a.sign(&json!({"reason": "x"}))),
    )
    .await;
    assert_drp_error(&r, 409, "drp_request_closed");

    // The audit log names the agent and never the requester.
    let text = s.audit_text().await.to_lowercase();
    assert!(text.contains("drp:agent_a"), "{text}");
    assert!(!text.contains("grace") && !text.contains("hopper") && !text.contains("sacramento"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_exercise_requests_are_refused_and_file_nothing() {
    let clock = fixed_clock();
    let mut a = Agent::new("AGENT_A", 1);
    let b = Agent::new("AGENT_B", 2);
    let s = server(&clock, &[&a, &b], None).await;
    let now = clock_now(&clock);
    pair(&s, &mut a, now).await;
    let ok = json!({"exercise": "sale:opt-out", "regime": "ccpa", "email": "p@example.com"});
    let with = |extra: Value| {
        let mut m = a.message(now, ok.clone());
        for (k, v) in extra.as_object().expect("object") {
            m[k] = v.clone();
        }
        m
    };
    let forbidden: Vec<(&str, Vec<u8>)> = vec![
        ("signed by another agent's key", b.sign(&with(json!({})))),
        (
            "names another agent",
            a.sign(&with(json!({"agent-id": "AGENT_B"}))),
        ),
        (
            "wrong business",
            a.sign(&with(json!({"business-id": "someone-else"}))),
        ),
        (
            "expired",
            a.sign(&a.message(now - SignedDuration::from_mins(20), ok.clone())),
        ),
        (
            "issued in the future",
            a.sign(&a.message(now + SignedDuration::from_mins(5), ok.clone())),
        ),
        ("not base64", b"{\"exercise\": \"access\"}".to_vec()),
        ("too short", b"AAAA".to_vec()),
    ];
    for (why, body) in forbidden {
        let r = send(
            &s,
            Method::POST,
            "/v1/data-rights-request",
            Some(&a.token),
            Some(body),
        )
        .await;
        assert_eq!(r.status, 403, "{why}: {r:?}");
        assert_drp_error(&r, 403, "drp_forbidden");
    }
    let invalid = [
        (
            json!({"exercise": "sale:opt-sideways"}),
            "drp_invalid_request",
        ),
        (
            json!({"exercise": "sale:opt-in"}),
            "drp_exercise_unsupported",
        ),
        (json!({"regime": "gdpr"}), "drp_invalid_request"),
        (json!({"drp.version": "0.4"}), "drp_invalid_request"),
        (
            json!({"exercise": "deletion", "email": null}),
            "drp_invalid_request",
        ),
        (
            json!({"status_callback": "ftp://agent.example/cb"}),
            "drp_invalid_request",
        ),
        (
            json!({"status_callback": "http://agent.example/cb"}),
            "drp_invalid_request",
        ),
    ];
    for (extra, code) in invalid {
        let r = exercise(&s, &a, &with(extra.clone())).await;
        assert_drp_error(&r, 400, code);
    }
    let r = exercise(&s, &a, &with(json!({"email": "not an email"}))).await;
    assert_eq!(r.status, 422, "{r:?}");
    assert!(
        !r.json.to_string().contains("not an email"),
        "the value is not echoed"
    );
    let r = send(
        &s,
        Method::POST,
        "/v1/data-rights-request",
        None,
        Some(a.sign(&with(json!({})))),
    )
    .await;
    assert_drp_error(&r, 403, "drp_forbidden");
    let r = send(
        &s,
        Method::GET,
        "/v1/data-rights-request/not-a-uuid",
        Some(&a.token),
        None,
    )
    .await;
    assert_drp_error(&r, 400, "invalid_path_parameter");
    let r = send(
        &s,
        Method::GET,
        "/v1/data-rights-request/00000000-0000-8000-8000-000000000000",
        Some(&a.token),
        None,
    )
    .await;
    assert_drp_error(&r, 404, "rights_request_not_found");
    let (_, dpo) = s.operator_with_key("DPO", "dpo").await;
    let listed = s
        .call(Method::GET, "/v1/rights/requests", Some(&dpo), Body::None)
        .await;
    assert_eq!(
        listed.json["requests"],
        json!([]),
        "nothing was filed: {listed:?}"
    );
}
