//! Propagation of consent changes to a real HTTP receiver (Standard Webhooks signatures
//! verified) and a real NATS server (JetStream, `Nats-Msg-Id`), with delivery states per
//! change and the receiver's acknowledgement.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::harness::{Body, Options, TestServer, fixed_clock};

pub fn nats_url() -> Option<String> {
    match std::env::var("CUSTODIAN_TEST_NATS_URL") {
        Ok(u) => Some(u),
        Err(_) if std::env::var("CI").is_ok() => {
            panic!("CUSTODIAN_TEST_NATS_URL must be set under CI")
        }
        Err(_) => {
            eprintln!("skipped: CUSTODIAN_TEST_NATS_URL is not set");
            None
        }
    }
}

/// A webhook receiver on 127.0.0.1 that passes each request's headers and body on and
/// accepts them all.
pub async fn receiver() -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    programmable_receiver(std::sync::Arc::new(std::sync::atomic::AtomicU16::new(204))).await
}

/// Declares the opt-in `newsletter` purpose.
async fn newsletter(s: &TestServer) {
    let r = s
        .call(
            Method::PUT,
            "/v1/purposes/newsletter",
            Some(&s.admin_key),
            Body::Json(json!({
                "names": {"en": "Newsletter"}, "legal_basis": "consent", "consent": "opt_in"
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_reaches_a_signed_webhook_and_nats_with_delivery_states() {
    let Some(nats) = nats_url() else { return };
    let client = async_nats::connect(&nats).await.expect("NATS");
    let mut sub = client
        .subscribe("custodian.consent.>")
        .await
        .expect("subscribe");
    let s = TestServer::start_with(Options {
        nats_url: Some(nats.clone()),
        ..Options::default()
    })
    .await;
    let admin = s.admin_key.clone();
    newsletter(&s).await;
    let (url, mut hooks) = receiver().await;
    let w = s
        .call(
            Method::POST,
            "/v1/consent/webhooks",
            Some(&admin),
            Body::Json(json!({ "url": url })),
        )
        .await;
    assert_eq!(w.status, 201, "{w:?}");
    let (wh, secret) = (
        w.json["id"].as_str().expect("id").to_owned(),
        w.json["secret"].as_str().expect("secret").to_owned(),
    );
    let key = custodian_crypto::webhook::decode_secret(&secret).expect("whsec");
    // The secret is shown once.
    let l = s.get("/v1/consent/webhooks").await;
    assert!(!l.json.to_string().contains(&secret));

    let mut events = Vec::new();
    for state in ["given", "withdrawn"] {
        events.push(record(&s, "cust-42", state).await);
    }
    for (i, id) in events.iter().enumerate() {
        let (headers, body) = tokio::time::timeout(Duration::from_secs(10), hooks.recv())
            .await
            .expect("webhook in time")
            .expect("webhook");
        let h = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(&h("webhook-id"), id, "in order for one subject");
        let ts: i64 = h("webhook-timestamp").parse().expect("timestamp");
        assert!(custodian_crypto::webhook::verify(
            &key,
            id,
            ts,
            &body,
            &h("webhook-signature")
        ));
        let v: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["type"], "consent.changed");
        assert_eq!(v["data"]["subject_id"], "cust-42");
        assert_eq!(
            v["data"]["state"],
            if i == 0 { "given" } else { "withdrawn" }
        );
        assert!(
            v["data"]["receipt"]
                .as_str()
                .is_some_and(|r| r.split('.').count() == 3)
        );

        let msg = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("NATS in time")
            .expect("message");
        assert_eq!(msg.subject.as_str(), "custodian.consent.newsletter");
        let msg_id = msg
            .headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
            .map(|v| v.as_str().to_owned());
        assert_eq!(msg_id.as_deref(), Some(id.as_str()));
    }
    // Delivery states per change: delivered to both targets, then acknowledged by the receiver.
    let id = &events[0];
    let mut states = Value::Null;
    for _ in 0..100 {
        let d = s.get(&format!("/v1/consent/events/{id}/deliveries")).await;
        assert_eq!(d.status, 200, "{d:?}");
        states = d.json["deliveries"].clone();
        if states
            .as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|x| x["state"] == "delivered"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let arr = states.as_array().expect("deliveries");
    assert_eq!(arr.len(), 2, "{states}");
    assert!(arr.iter().all(|x| x["state"] == "delivered"), "{states}");
    let a = s
        .call(
            Method::POST,
            &format!("/v1/consent/webhooks/{wh}/acks"),
            Some(&admin),
            Body::Json(json!({ "event_ids": [id] })),
        )
        .await;
    assert_eq!(
        (a.status, a.json["acknowledged"].as_u64()),
        (200, Some(1)),
        "{a:?}"
    );
    let d = s.get(&format!("/v1/consent/events/{id}/deliveries")).await;
    let mine = d.json["deliveries"]
        .as_array()
        .expect("list")
        .iter()
        .find(|x| x["target_id"] == wh.as_str())
        .cloned()
        .expect("wh");
    assert_eq!(mine["state"], "acknowledged");

    // Bad input.
    for (body, rule) in [
        (
            json!({ "url": "http://hooks.example.com/x" }),
            "https_required",
        ),
        (
            json!({ "url": "https://x.example/h", "secret": "whsec_c2hvcnQ=" }),
            "whsec_base64_24_to_64_bytes",
        ),
        (
            json!({ "url": "https://x.example/h", "purposes": ["Bad Key"] }),
            "purpose_keys",
        ),
    ] {
        let r = s
            .call(
                Method::POST,
                "/v1/consent/webhooks",
                Some(&admin),
                Body::Json(body),
            )
            .await;
        r.assert_error(422, "invalid_webhook");
        assert_eq!(r.json["error"]["details"]["rule"], rule);
    }
    let r = s
        .call(
            Method::POST,
            "/v1/consent/webhooks",
            Some(&admin),
            Body::Json(
                json!({ "url": "https://x.example/h", "purposes": ["newsletter", "newsletter"] }),
            ),
        )
        .await;
    assert_eq!(
        (r.status, &r.json["purposes"]),
        (201, &json!(["newsletter"])),
        "{r:?}"
    );
    s.call(
        Method::DELETE,
        "/v1/consent/webhooks/wh_nope",
        Some(&admin),
        Body::None,
    )
    .await
    .assert_error(400, "invalid_path_parameter");
    let r = s
        .call(
            Method::DELETE,
            &format!("/v1/consent/webhooks/{wh}"),
            Some(&admin),
            Body::None,
        )
        .await;
    assert_eq!(r.status, 204);
    s.call(
        Method::DELETE,
        &format!("/v1/consent/webhooks/{wh}"),
        Some(&admin),
        Body::None,
    )
    .await
    .assert_error(404, "webhook_not_found");
}

/// A receiver that answers with whatever status `status` holds (so a test can make it fail
/// and recover), passing each request on.
async fn programmable_receiver(
    status: std::sync::Arc<std::sync::atomic::AtomicU16>,
) -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (tx, status) = (tx.clone(), status.clone());
            async move {
                let _ = tx.send((headers, body));
                axum::http::StatusCode::from_u16(status.load(std::sync::atomic::Ordering::SeqCst))
                    .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), rx)
}

/// Polls one change's delivery to `target` until `done` holds (the dispatcher runs every
/// second of real time).
async fn delivery_until(
    s: &TestServer,
    event: &str,
    target: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        let d = s
            .get(&format!("/v1/consent/events/{event}/deliveries"))
            .await;
        assert_eq!(d.status, 200, "{d:?}");
        if let Some(x) = d.json["deliveries"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["target_id"] == target))
        {
            last = x.clone();
            if done(x) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the delivery never got there: {last}");
}

async fn record(s: &TestServer, subject: &str, state: &str) -> String {
    let r = s
        .call(Method::POST, "/v1/consent", Some(&s.admin_key), Body::Json(json!({
            "subject_id": subject, "source": "app", "choices": [{"purpose": "newsletter", "state": state}]
        })))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    r.json["recorded"][0]["event_id"]
        .as_str()
        .expect("id")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_receivers_are_retried_secrets_rotate_and_erasure_stops_delivery() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU16, Ordering};
    let clock = fixed_clock();
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let admin = s.admin_key.clone();
    newsletter(&s).await;
    let status = Arc::new(AtomicU16::new(503));
    let (url, mut hooks) = programmable_receiver(status.clone()).await;
    let w = s
        .call(
            Method::POST,
            "/v1/consent/webhooks",
            Some(&admin),
            Body::Json(json!({ "url": url })),
        )
        .await;
    assert_eq!(w.status, 201, "{w:?}");
    let wh = w.json["id"].as_str().expect("id").to_owned();
    let old_key =
        custodian_crypto::webhook::decode_secret(w.json["secret"].as_str().expect("secret"))
            .expect("whsec");

    // The receiver is down: the change stays pending, retried 5 s later (on the server's clock).
    let first = record(&s, "cust-1", "given").await;
    let d = delivery_until(&s, &first, &wh, |x| x["attempts"] == 1).await;
    assert_eq!(
        (&d["state"], &d["last_status"], &d["last_error"]),
        (&json!("pending"), &json!(503), &json!("status")),
        "{d}"
    );
    let due = d["next_attempt_at"].as_str().expect("next attempt");
    let due: jiff::Timestamp = due.parse().expect("time");
    assert_eq!(
        due.duration_since(custodian_core::clock::Clock::now(clock.as_ref()))
            .as_secs(),
        5
    );
    let _ = hooks.recv().await.expect("first attempt");
    // Not due yet: nothing is sent while the clock stands still.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(hooks.try_recv().is_err(), "retried before its time");

    // The secret is rotated; for the grace period each delivery is signed with both.
    let r = s
        .call(
            Method::PATCH,
            &format!("/v1/consent/webhooks/{wh}"),
            Some(&admin),
            Body::Json(json!({ "rotate_secret": true, "previous_secret_hours": 24 })),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let new_key =
        custodian_crypto::webhook::decode_secret(r.json["secret"].as_str().expect("new secret"))
            .expect("whsec");
    assert!(r.json["previous_secret_until"].is_string(), "{r:?}");
    let l = s.get("/v1/consent/webhooks").await;
    assert!(l.json["targets"][0].get("secret").is_none(), "{l:?}");

    status.store(204, Ordering::SeqCst);
    clock.advance(jiff::SignedDuration::from_secs(6));
    let (headers, body) = tokio::time::timeout(Duration::from_secs(10), hooks.recv())
        .await
        .expect("retry in time")
        .expect("retry");
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let ts: i64 = h("webhook-timestamp").parse().expect("timestamp");
    let sig = h("webhook-signature");
    assert_eq!(sig.split(' ').count(), 2, "{sig}");
    for key in [&old_key, &new_key] {
        assert!(custodian_crypto::webhook::verify(
            key, &first, ts, &body, &sig
        ));
    }
    let d = delivery_until(&s, &first, &wh, |x| x["state"] == "delivered").await;
    assert_eq!(
        (&d["attempts"], &d["last_status"]),
        (&json!(2), &json!(204))
    );

    // After the grace period, only the new secret signs.
    clock.advance(jiff::SignedDuration::from_hours(25));
    let second = record(&s, "cust-1", "withdrawn").await;
    let (headers, body) = tokio::time::timeout(Duration::from_secs(10), hooks.recv())
        .await
        .expect("in time")
        .expect("delivery");
    let sig = headers["webhook-signature"]
        .to_str()
        .expect("sig")
        .to_owned();
    let ts: i64 = headers["webhook-timestamp"]
        .to_str()
        .expect("ts")
        .parse()
        .expect("ts");
    assert!(custodian_crypto::webhook::verify(
        &new_key, &second, ts, &body, &sig
    ));
    assert!(!custodian_crypto::webhook::verify(
        &old_key, &second, ts, &body, &sig
    ));

    // A permanent refusal (410) fails at once, without retries.
    status.store(410, Ordering::SeqCst);
    let third = record(&s, "cust-2", "given").await;
    let d = delivery_until(&s, &third, &wh, |x| x["state"] != "pending").await;
    assert_eq!(
        (&d["state"], &d["attempts"], &d["last_status"]),
        (&json!("failed"), &json!(1), &json!(410)),
        "{d}"
    );

    // Paused: new changes get no delivery to it.
    let r = s
        .call(
            Method::PATCH,
            &format!("/v1/consent/webhooks/{wh}"),
            Some(&admin),
            Body::Json(json!({ "enabled": false, "description": "paused for maintenance" })),
        )
        .await;
    assert_eq!(
        (r.status, &r.json["enabled"], r.json.get("secret")),
        (200, &json!(false), None),
        "{r:?}"
    );
    let fourth = record(&s, "cust-2", "withdrawn").await;
    let d = s
        .get(&format!("/v1/consent/events/{fourth}/deliveries"))
        .await;
    assert_eq!(d.json["deliveries"], json!([]), "{d:?}");

    // Erasure: a change still waiting for a receiver that is down is never sent, and the
    // outbox keeps no copy naming the subject.
    let r = s
        .call(
            Method::PATCH,
            &format!("/v1/consent/webhooks/{wh}"),
            Some(&admin),
            Body::Json(json!({ "enabled": true })),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    status.store(503, Ordering::SeqCst);
    let engineer = s.operator_with_key("Eve", "engineer").await.1;
    let dpo = s.operator_with_key("Dan", "dpo").await.1;
    let r = s
        .call(
            Method::PUT,
            "/v1/collections/customers",
            Some(&engineer),
            Body::Json(json!({"fields": [
                {"name": "email", "type": "email", "category": "user.contact.email", "sensitivity": "medium"}
            ]})),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = s
        .call_with(
            Method::POST,
            "/v1/collections/customers/records",
            Some(&engineer),
            Body::Json(json!({"subject_id": "cust-9", "fields": {"email": "nine@example.com"}})),
            &[("custodian-purpose", "service_delivery")],
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let fifth = record(&s, "cust-9", "given").await;
    delivery_until(&s, &fifth, &wh, |x| x["attempts"] == 1).await;
    while hooks.try_recv().is_ok() {}
    let r = s
        .call_with(
            Method::DELETE,
            "/v1/subjects/cust-9",
            Some(&dpo),
            Body::None,
            &[("custodian-purpose", "dsr")],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let pseudonym = r.json["pseudonym"].as_str().expect("pseudonym").to_owned();
    let raw = custodian_store_sqlite::SqliteStore::open(&s.data_dir)
        .await
        .expect("second handle");
    let count = |subject: String| {
        let pool = raw.raw_pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM consent_outbox WHERE subject = ?")
                .bind(subject)
                .fetch_one(&pool)
                .await
                .expect("count")
        }
    };
    assert_eq!(
        count(pseudonym).await,
        0,
        "no sealed message names the erased subject"
    );
    let d = delivery_until(&s, &fifth, &wh, |x| x["state"] != "pending").await;
    assert_eq!(
        (&d["state"], &d["last_error"]),
        (&json!("failed"), &json!("subject_erased")),
        "{d}"
    );
    status.store(204, Ordering::SeqCst);
    clock.advance(jiff::SignedDuration::from_hours(1));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        hooks.try_recv().is_err(),
        "nothing is sent about an erased subject"
    );

    // Bad changes.
    for (body, code, status) in [
        (
            json!({ "previous_secret_hours": 1 }),
            "invalid_webhook",
            422,
        ),
        (
            json!({ "rotate_secret": true, "previous_secret_hours": 169 }),
            "invalid_webhook",
            422,
        ),
        (
            json!({ "url": "http://hooks.example.com/x" }),
            "invalid_webhook",
            422,
        ),
        (
            json!({ "rotate_secret": true, "secret": "whsec_c2hvcnQ=" }),
            "invalid_webhook",
            422,
        ),
        (json!({ "colour": "red" }), "invalid_body", 422),
    ] {
        s.call(
            Method::PATCH,
            &format!("/v1/consent/webhooks/{wh}"),
            Some(&admin),
            Body::Json(body),
        )
        .await
        .assert_error(status, code);
    }
    s.call(
        Method::PATCH,
        "/v1/consent/webhooks/wh_0190b5a2-6c1e-7000-8000-000000000000",
        Some(&admin),
        Body::Json(json!({ "enabled": false })),
    )
    .await
    .assert_error(404, "webhook_not_found");
    let engineer_patch = s
        .call(
            Method::PATCH,
            &format!("/v1/consent/webhooks/{wh}"),
            Some(&engineer),
            Body::Json(json!({ "enabled": false })),
        )
        .await;
    engineer_patch.assert_error(403, "access_denied");
}
