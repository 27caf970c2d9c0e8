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

use crate::harness::{Body, Options, TestServer};

fn nats_url() -> Option<String> {
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

/// A webhook receiver on 127.0.0.1 that passes each request's headers and body on.
async fn receiver() -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((headers, body));
                axum::http::StatusCode::NO_CONTENT
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
    let r = s
        .call(
            Method::PUT,
            "/v1/purposes/newsletter",
            Some(&admin),
            Body::Json(json!({
                "names": {"en": "Newsletter"}, "legal_basis": "consent", "consent": "opt_in"
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
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
        let r = s
            .call(Method::POST, "/v1/consent", Some(&admin), Body::Json(json!({
                "subject_id": "cust-42", "source": "app", "choices": [{"purpose": "newsletter", "state": state}]
            })))
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        events.push(
            r.json["recorded"][0]["event_id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
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
