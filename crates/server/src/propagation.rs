//! Propagation of consent changes: each ledger record gets an outbox message (sealed: it
//! names the subject) and a pending delivery per target in its transaction
//! ([`outbox_messages`]); the dispatcher ([`spawn_dispatcher`]) claims due deliveries, sends
//! them, and records the outcome, retrying with backoff.
//!
//! Webhooks are signed per Standard Webhooks (`webhook-id` = the record id,
//! `webhook-timestamp`, `webhook-signature: v1,<HMAC-SHA-256>`); a 2xx answer is
//! `delivered`, and the receiver may confirm it applied the change with
//! `POST /v1/consent/webhooks/{id}/acks` (`acknowledged`). NATS JetStream gets each change on
//! `custodian.consent.<purpose>` with `Nats-Msg-Id` = the record id, so a retried publish is
//! not stored twice; the publish acknowledgement is `delivered`.

use std::sync::Arc;
use std::time::Duration;

use custodian_core::audit::{AuditDraft, Decision};
use custodian_core::consent::ledger::ConsentEvent;
use custodian_core::consent::outbox::{
    Delivery, DeliveryState, DueDelivery, NATS_TARGET, OutboxMessage, Target, TargetKind,
    after_failure, permanent_status,
};
use custodian_core::vault::record::CellPlace;
use custodian_core::vault::service::CryptoFailure;
use futures::StreamExt;
use serde_json::json;

use crate::state::AppState;

/// The system-key label of outbox messages and webhook secrets.
pub const SYSTEM_KEY: &str = "consent-propagation";
/// The JetStream stream that holds consent changes.
pub const NATS_STREAM: &str = "CUSTODIAN_CONSENT";
/// How long a claimed delivery is kept from other dispatchers.
const LEASE: Duration = Duration::from_secs(60);
/// Targets served at once (each target's deliveries go one after another).
const IN_FLIGHT: usize = 16;
/// A webhook's answer must come within this.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

fn place<'a>(record: &'a str, field: &'a str) -> CellPlace<'a> {
    CellPlace {
        collection: "consent_outbox",
        record,
        field,
        key_version: 1,
    }
}

/// Seals a webhook secret for storage (bound to the target id).
pub fn seal_secret(
    state: &AppState,
    target_id: &str,
    secret: &[u8],
) -> Result<Vec<u8>, CryptoFailure> {
    state
        .vault_crypto
        .system_key(SYSTEM_KEY)?
        .seal(&place(target_id, "secret"), secret)
}

pub(crate) fn open_secret(
    state: &AppState,
    target_id: &str,
    sealed: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoFailure> {
    state
        .vault_crypto
        .system_key(SYSTEM_KEY)?
        .open(&place(target_id, "secret"), sealed)
}

/// The `webhook-signature` header of one delivery: a `v1` signature with the current secret
/// and, while a rotation's grace period lasts, a second one with the previous secret.
fn signature(
    state: &AppState,
    t: &Target,
    event_id: &str,
    ts: i64,
    body: &[u8],
) -> Result<String, CryptoFailure> {
    let current = t
        .secret_sealed
        .as_deref()
        .ok_or(CryptoFailure("the webhook has no secret"))?;
    let mut header =
        custodian_crypto::webhook::sign(&open_secret(state, &t.id, current)?, event_id, ts, body);
    if let Some((previous, until)) = &t.previous_secret
        && *until > state.clock.now()
    {
        let old = open_secret(state, &t.id, previous)?;
        header.push(' ');
        header.push_str(&custodian_crypto::webhook::sign(&old, event_id, ts, body));
    }
    Ok(header)
}

/// A new record with what its outbox message names: the subject's id and the receipt.
pub struct Outgoing<'a> {
    /// The record.
    pub event: &'a ConsentEvent,
    /// The subject's id (the ledger holds only its pseudonym).
    pub subject_id: &'a str,
    /// The signed receipt.
    pub receipt: &'a str,
}

/// The outbox messages of new records: the Standard Webhooks payload
/// (`{"type", "timestamp", "data"}`), sealed under the system key and bound to the record.
pub fn outbox_messages(
    state: &AppState,
    records: &[Outgoing<'_>],
) -> Result<Vec<OutboxMessage>, CryptoFailure> {
    let key = state.vault_crypto.system_key(SYSTEM_KEY)?;
    records
        .iter()
        .map(|o| {
            let e = o.event;
            let body = json!({
                "type": "consent.changed",
                "timestamp": e.recorded_at.to_string(),
                "data": {
                    "event_id": e.id,
                    "subject_id": o.subject_id,
                    "purpose": e.purpose,
                    "state": e.state.as_str(),
                    "method": e.method.as_str(),
                    "at": e.at.to_string(),
                    "expires_at": e.expires_at.map(|t| t.to_string()),
                    "notice": e.notice.as_ref().map(|n| json!({"key": n.key, "version": n.version, "hash": n.hash})),
                    "jurisdiction": e.jurisdiction,
                    "source": e.source,
                    "receipt": o.receipt,
                }
            });
            Ok(OutboxMessage {
                event_id: e.id.clone(),
                purpose: e.purpose.clone(),
                subject: e.subject.clone(),
                sealed: key.seal(&place(&e.id, "payload"), body.to_string().as_bytes())?,
            })
        })
        .collect()
}

/// Registers the NATS target (every purpose) when NATS is configured, so records get NATS
/// deliveries from now on.
async fn ensure_nats_target(state: &AppState) -> Result<(), custodian_core::ports::StoreError> {
    if state.config.nats_url.is_none() {
        return Ok(());
    }
    if let Some(t) = state.store.get_target(NATS_TARGET).await?
        && t.enabled
    {
        return Ok(());
    }
    let now = state.clock.now();
    let audit = AuditDraft::new(
        now,
        "startup",
        "system",
        "consent.configure",
        format!("consent_target:{NATS_TARGET}"),
        Decision::Allow,
    );
    state
        .store
        .put_target(
            &Target {
                id: NATS_TARGET.into(),
                kind: TargetKind::Nats,
                url: None,
                purposes: Vec::new(),
                enabled: true,
                description: Some("NATS JetStream (server configuration)".into()),
                secret_sealed: None,
                previous_secret: None,
                created_at: now,
            },
            audit,
        )
        .await?;
    Ok(())
}

/// What sends deliveries: an HTTP client, and a JetStream context when NATS is configured.
struct Senders {
    http: reqwest::Client,
    jetstream: Option<async_nats::jetstream::Context>,
}

async fn connect_nats(url: &str) -> Option<async_nats::jetstream::Context> {
    let client = match async_nats::connect(url).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot connect to NATS; consent changes wait in the outbox");
            return None;
        }
    };
    let js = async_nats::jetstream::new(client);
    let config = async_nats::jetstream::stream::Config {
        name: NATS_STREAM.into(),
        subjects: vec!["custodian.consent.>".into()],
        duplicate_window: Duration::from_secs(3600),
        ..Default::default()
    };
    if let Err(e) = js.get_or_create_stream(config).await {
        tracing::error!(error = %e, "cannot create the JetStream stream; consent changes wait in the outbox");
        return None;
    }
    Some(js)
}

/// Runs the dispatcher until aborted: every second, or at once when this process records a
/// change, it claims due deliveries and sends them.
pub fn spawn_dispatcher(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let http = match reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Custodian-Webhooks/1")
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the webhook client");
                return;
            }
        };
        let mut senders = Senders {
            http,
            jetstream: None,
        };
        if let Err(e) = ensure_nats_target(&state).await {
            tracing::error!(error = %e, "cannot register the NATS target");
        }
        loop {
            if senders.jetstream.is_none()
                && let Some(url) = &state.config.nats_url
            {
                senders.jetstream = connect_nats(url).await;
            }
            match dispatch_once(&state, &senders).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "consent dispatch failed"),
            }
            let _ =
                tokio::time::timeout(Duration::from_secs(1), state.outbox_wake.notified()).await;
        }
    })
}

/// Claims and sends one batch; returns how many were claimed.
async fn dispatch_once(
    state: &AppState,
    senders: &Senders,
) -> Result<usize, custodian_core::ports::StoreError> {
    let now = state.clock.now();
    let lease = now
        .checked_add(jiff::SignedDuration::try_from(LEASE).unwrap_or_default())
        .unwrap_or(now);
    let due = state
        .store
        .claim_deliveries(now, lease, senders.jetstream.is_some(), 64)
        .await?;
    let n = due.len();
    if n == 0 {
        return Ok(0);
    }
    let targets: Arc<Vec<Target>> = Arc::new(state.store.list_targets().await?);
    // Each target gets its changes one after another, in the order they were claimed;
    // targets are served side by side.
    let mut queues: Vec<Vec<DueDelivery>> = Vec::new();
    for d in due {
        match queues
            .iter_mut()
            .find(|q| q[0].delivery.target_id == d.delivery.target_id)
        {
            Some(q) => q.push(d),
            None => queues.push(vec![d]),
        }
    }
    let finished: Vec<Result<(), custodian_core::ports::StoreError>> =
        futures::stream::iter(queues)
            .map(|queue| {
                let targets = targets.clone();
                async move { serve_queue(state, senders, &targets, queue).await }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
    for f in finished {
        f?;
    }
    Ok(n)
}

/// Sends one target's claimed changes in order, recording each outcome as soon as it is
/// known. When one must be retried, the ones after it are not sent now: they go back to wait
/// behind it, so a receiver that is down costs one attempt per batch, not one per change, and
/// a retried change is not overtaken by the next. A queue that has run for half the lease
/// hands its remaining changes back too, so no lease runs out while this process holds it.
async fn serve_queue(
    state: &AppState,
    senders: &Senders,
    targets: &[Target],
    queue: Vec<DueDelivery>,
) -> Result<(), custodian_core::ports::StoreError> {
    let started = std::time::Instant::now();
    let mut wait_until: Option<custodian_core::Timestamp> = None;
    for d in queue {
        if wait_until.is_none() && started.elapsed() > LEASE / 2 {
            wait_until = Some(state.clock.now());
        }
        if let Some(until) = wait_until {
            let mut back = d.delivery;
            back.next_attempt_at = Some(until);
            state.store.finish_delivery(&back).await?;
            continue;
        }
        let done = attempt(state, senders, targets, d).await;
        metrics::counter!("custodian_consent_deliveries_total", "state" => done.state.as_str())
            .increment(1);
        state.store.finish_delivery(&done).await?;
        if done.state == DeliveryState::Pending {
            wait_until = Some(done.next_attempt_at.unwrap_or(done.updated_at));
        }
    }
    Ok(())
}

enum Outcome {
    Delivered(Option<u16>),
    Retry(Option<u16>, &'static str),
    Permanent(Option<u16>, &'static str),
}

async fn attempt(
    state: &AppState,
    senders: &Senders,
    targets: &[Target],
    due: DueDelivery,
) -> Delivery {
    let DueDelivery {
        mut delivery,
        purpose,
        sealed,
    } = due;
    let outcome = match state
        .vault_crypto
        .system_key(SYSTEM_KEY)
        .and_then(|k| k.open(&place(&delivery.event_id, "payload"), &sealed))
    {
        Err(_) => Outcome::Permanent(None, "sealed"),
        Ok(body) => match targets.iter().find(|t| t.id == delivery.target_id) {
            None => Outcome::Permanent(None, "target_removed"),
            Some(t) if t.kind == TargetKind::Nats => {
                publish(senders, &purpose, &delivery.event_id, &body).await
            }
            Some(t) => post(state, senders, t, &delivery.event_id, &body).await,
        },
    };
    let now = state.clock.now();
    delivery.attempts += 1;
    delivery.updated_at = now;
    match outcome {
        Outcome::Delivered(status) => {
            delivery.state = DeliveryState::Delivered;
            delivery.next_attempt_at = None;
            delivery.last_status = status;
            delivery.last_error = None;
        }
        Outcome::Retry(status, error) | Outcome::Permanent(status, error) => {
            let permanent = matches!(outcome, Outcome::Permanent(..));
            let (s, next) = after_failure(&delivery, permanent, now);
            delivery.state = s;
            delivery.next_attempt_at = next;
            delivery.last_status = status;
            delivery.last_error = Some(error.into());
        }
    }
    delivery
}

async fn publish(senders: &Senders, purpose: &str, event_id: &str, body: &[u8]) -> Outcome {
    let Some(js) = &senders.jetstream else {
        return Outcome::Retry(None, "nats");
    };
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, event_id);
    let subject = format!("custodian.consent.{purpose}");
    match js
        .publish_with_headers(subject, headers, body.to_vec().into())
        .await
    {
        Ok(ack) => match ack.await {
            Ok(_) => Outcome::Delivered(None),
            Err(_) => Outcome::Retry(None, "nats"),
        },
        Err(_) => Outcome::Retry(None, "nats"),
    }
}

async fn post(
    state: &AppState,
    senders: &Senders,
    t: &Target,
    event_id: &str,
    body: &[u8],
) -> Outcome {
    let ts = state.clock.now().as_second();
    let (Some(url), Ok(signature)) = (&t.url, signature(state, t, event_id, ts, body)) else {
        return Outcome::Permanent(None, "target_invalid");
    };
    let sent = senders
        .http
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", event_id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature)
        .body(body.to_vec())
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => Outcome::Delivered(Some(r.status().as_u16())),
        Ok(r) => {
            let s = r.status().as_u16();
            if permanent_status(s) {
                Outcome::Permanent(Some(s), "status")
            } else {
                Outcome::Retry(Some(s), "status")
            }
        }
        Err(e) if e.is_timeout() => Outcome::Retry(None, "timeout"),
        Err(e) if e.is_connect() => Outcome::Retry(None, "connect"),
        Err(_) => Outcome::Retry(None, "transport"),
    }
}
