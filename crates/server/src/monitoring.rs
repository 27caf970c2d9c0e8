//! Access monitoring over the audit log (`core::monitor`): a run reads the events appended
//! since the last one, raises alerts, stores them with the monitor's new state in one
//! transaction (over the state's version, so two servers never both raise the same alert),
//! then posts each alert to the webhook the rules name and publishes it on NATS
//! (`custodian.alerts`) when a NATS server is configured. The server runs it every
//! `monitor_every` (the first time one period after it starts; the first run ever reads the
//! last hour of the log, not all of it); `POST /v1/monitoring/run` runs it at once.

use std::time::Duration;

use custodian_core::audit::AuditDraft;
use custodian_core::monitor::{Rules, State, default_rules};
use custodian_core::ports::StoreError;
use custodian_core::register::{RegisterEntry, RegisterKind};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, internal};
use crate::state::AppState;

/// The most events one run reads.
pub const MAX_EVENTS_PER_RUN: u64 = 50_000;
/// The NATS subject alerts are published on.
pub const NATS_SUBJECT: &str = "custodian.alerts";

/// An alert as stored and delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertRecord {
    /// Its id.
    pub id: String,
    /// `bulk_reads`, `off_hours`, `baseline_spike` or `denial_burst`.
    pub rule: String,
    /// Who (an audit actor string).
    pub actor: String,
    /// When the event that raised it happened (RFC 3339).
    pub at: String,
    /// How many events it counts.
    pub count: u32,
    /// The audit sequence number of the event that raised it.
    pub seq: u64,
    /// `open`, `acknowledged` or `incident`.
    pub status: String,
    /// The incident opened from it.
    pub incident_id: Option<String>,
    /// Who handled it (an audit actor string).
    pub handled_by: Option<String>,
}

/// The id the alert webhook's signing secret is sealed under.
pub const SECRET_PLACE: &str = "monitoring-webhook";

/// The rules in force, as stored.
pub struct Stored {
    /// The rules (the defaults until some are saved).
    pub rules: Rules,
    /// Their version once saved.
    pub version: Option<i64>,
    /// The webhook's signing secret, sealed under the system key.
    pub secret_sealed: Option<Vec<u8>>,
}

/// The stored form of the rules and the sealed webhook secret.
pub fn stored_body(rules: &Rules, secret_sealed: Option<&[u8]>) -> String {
    use base64::Engine;
    serde_json::json!({
        "rules": rules.to_json(),
        "secret_sealed": secret_sealed.map(|s| base64::engine::general_purpose::STANDARD.encode(s)),
    })
    .to_string()
}

/// The rules in force: stored, else the defaults.
pub async fn rules(state: &AppState) -> Result<Stored, ApiError> {
    use base64::Engine;
    match state
        .store
        .register_entry(RegisterKind::Monitor, "rules")
        .await?
    {
        None => Ok(Stored {
            rules: default_rules(),
            version: None,
            secret_sealed: None,
        }),
        Some(e) => {
            let bad = || internal("the stored monitoring rules no longer read");
            let v: serde_json::Value = serde_json::from_str(&e.body).map_err(|_| bad())?;
            let rules = custodian_core::monitor::parse_rules(&v["rules"]).map_err(|_| bad())?;
            let secret_sealed = match v["secret_sealed"].as_str() {
                None => None,
                Some(b) => Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .map_err(|_| bad())?,
                ),
            };
            Ok(Stored {
                rules,
                version: Some(e.version),
                secret_sealed,
            })
        }
    }
}

/// What a run did.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct RunOut {
    /// Events read.
    pub events: u64,
    /// The next sequence number to read.
    pub next_seq: u64,
    /// Alerts raised.
    pub alerts: Vec<AlertRecord>,
    /// Deliveries that failed (`webhook`, `nats`), one per alert and channel.
    pub failed_deliveries: u32,
    /// Whether the run stored anything (with its audit event): not when it read only the
    /// monitor's own events, or another server got there first.
    pub saved: bool,
}

/// The rules as shown: the webhook URL cut to its scheme and host (its path or query often
/// carries a secret token).
pub fn redacted(rules: &Rules) -> serde_json::Value {
    let mut v = rules.to_json();
    if let Some(u) = &rules.webhook_url {
        let cut = u
            .split_once("://")
            .map(|(scheme, rest)| {
                let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
                format!("{scheme}://{host}/…")
            })
            .unwrap_or_default();
        v["webhook_url"] = serde_json::Value::String(cut);
    }
    v
}

/// Runs the monitor once, as `actor`.
pub async fn run(state: &AppState, draft: AuditDraft) -> Result<RunOut, ApiError> {
    let Stored {
        rules,
        secret_sealed,
        ..
    } = rules(state).await?;
    let stored = state
        .store
        .register_entry(RegisterKind::Monitor, "state")
        .await?;
    let head = state.store.audit_head().await?.size;
    let mut st = match &stored {
        // The first run reads the last hour only: the history before monitoring began is
        // not replayed as a flood of stale alerts.
        None => State::starting_at(
            first_since(
                state,
                head,
                state
                    .clock
                    .now()
                    .checked_sub(jiff::SignedDuration::from_hours(1))
                    .unwrap_or_else(|_| state.clock.now()),
            )
            .await?,
        ),
        Some(e) => State::from_json(&e.body)
            .ok_or_else(|| internal("the monitor's stored state no longer reads"))?,
    };
    let stop = head.min(st.next_seq.saturating_add(MAX_EVENTS_PER_RUN));
    let mut alerts = Vec::new();
    let (mut read, mut others) = (0u64, 0u64);
    while st.next_seq < stop {
        let limit = u32::try_from((stop - st.next_seq).min(1_000)).unwrap_or(1_000);
        let events = state.store.audit_events(st.next_seq, limit).await?;
        if events.is_empty() {
            break;
        }
        read += events.len() as u64;
        others += events
            .iter()
            .filter(|e| e.draft.action != "monitoring.run")
            .count() as u64;
        alerts.extend(st.process(&rules, &events));
    }
    let mut out = RunOut {
        events: read,
        next_seq: st.next_seq,
        ..RunOut::default()
    };
    // Only the monitor's own events since the last run (an idle installation): nothing is
    // written, so an idle log stays idle. The first run stores where it starts.
    if stored.is_some() && others == 0 && alerts.is_empty() {
        return Ok(out);
    }
    let now = state.clock.now();
    let records: Vec<AlertRecord> = alerts
        .iter()
        .map(|a| AlertRecord {
            id: uuid::Uuid::now_v7().to_string(),
            rule: a.rule.to_owned(),
            actor: a.actor.clone(),
            at: a.at.to_string(),
            count: a.count,
            seq: a.seq,
            status: "open".into(),
            incident_id: None,
            handled_by: None,
        })
        .collect();
    let mut entries: Vec<(RegisterEntry, Option<i64>)> = records
        .iter()
        .map(|r| {
            (
                RegisterEntry {
                    kind: RegisterKind::Alert,
                    key: r.id.clone(),
                    body: serde_json::to_string(r).unwrap_or_default(),
                    version: 1,
                    created_at: now,
                    updated_at: now,
                },
                None,
            )
        })
        .collect();
    entries.push((
        RegisterEntry {
            kind: RegisterKind::Monitor,
            key: "state".into(),
            body: st.to_json(),
            version: stored.as_ref().map_or(1, |e| e.version + 1),
            created_at: stored.as_ref().map_or(now, |e| e.created_at),
            updated_at: now,
        },
        stored.as_ref().map(|e| e.version),
    ));
    let mut draft = draft;
    draft.action = "monitoring.run".into();
    draft.resource = "monitoring".into();
    draft.fields = std::iter::once(format!("events:{read}"))
        .chain(records.iter().map(|r| format!("alert:{}:{}", r.rule, r.id)))
        .collect();
    match state.store.put_register_entries(&entries, draft).await {
        Ok(_) => {}
        // Another server ran the monitor over the same events first: its alerts stand.
        Err(StoreError::Conflict("version" | "exists")) => return Ok(RunOut::default()),
        Err(e) => return Err(e.into()),
    }
    out.saved = true;
    out.failed_deliveries = deliver(state, &rules, secret_sealed.as_deref(), &records).await;
    for r in &records {
        metrics::counter!("custodian_monitor_alerts_total", "rule" => r.rule.clone()).increment(1);
    }
    out.alerts = records;
    Ok(out)
}

/// The first event at or after `since`, by binary search over the sequence numbers (event
/// times grow with them, give or take concurrent requests): `head` when there is none.
async fn first_since(
    state: &AppState,
    head: u64,
    since: custodian_core::Timestamp,
) -> Result<u64, ApiError> {
    let (mut lo, mut hi) = (0u64, head);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match state.store.audit_events(mid, 1).await?.first() {
            Some(e) if e.draft.time < since => lo = mid + 1,
            _ => hi = mid,
        }
    }
    Ok(lo)
}

/// Posts each alert to the webhook, signed as Standard Webhooks (`webhook-id` is the
/// alert's id, `webhook-signature` an HMAC-SHA-256 under the secret shown when the rules were
/// saved), and publishes it on NATS; returns how many deliveries failed.
async fn deliver(
    state: &AppState,
    rules: &Rules,
    secret_sealed: Option<&[u8]>,
    alerts: &[AlertRecord],
) -> u32 {
    if alerts.is_empty() {
        return 0;
    }
    let mut failed = 0;
    if let Some(url) = &rules.webhook_url {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build();
        let key = secret_sealed
            .and_then(|s| crate::propagation::open_secret(state, SECRET_PLACE, s).ok());
        for a in alerts {
            let body = serde_json::to_vec(a).unwrap_or_default();
            let ts = state.clock.now().as_second();
            let ok = match (&http, &key) {
                (Ok(c), Some(key)) => c
                    .post(url)
                    .header("content-type", "application/json")
                    .header("webhook-id", a.id.as_str())
                    .header("webhook-timestamp", ts.to_string())
                    .header(
                        "webhook-signature",
                        custodian_crypto::webhook::sign(key, &a.id, ts, &body),
                    )
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success()),
                _ => false,
            };
            if !ok {
                failed += 1;
                tracing::warn!(alert = %a.id, "the alert webhook did not take an alert");
            }
        }
    }
    if let Some(nats) = &state.config.nats_url {
        match async_nats::connect(nats.as_str()).await {
            Ok(client) => {
                for a in alerts {
                    let body = serde_json::to_vec(a).unwrap_or_default();
                    if client.publish(NATS_SUBJECT, body.into()).await.is_err() {
                        failed += 1;
                    }
                }
                if client.flush().await.is_err() {
                    failed += 1;
                }
            }
            Err(_) => {
                failed += u32::try_from(alerts.len()).unwrap_or(u32::MAX);
                tracing::warn!("NATS did not answer; alerts were not published");
            }
        }
    }
    failed
}

/// Runs the monitor every `monitor_every`.
pub fn spawn(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        // The first run one period after the start, not at once.
        let every = state.config.monitor_every;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tick.tick().await;
            let draft = AuditDraft::new(
                state.clock.now(),
                "monitor",
                "system:monitor",
                "monitoring.run",
                "monitoring",
                custodian_core::audit::Decision::Allow,
            );
            if let Err(e) = run(&state, draft).await {
                tracing::warn!(error = ?e, "the access monitor failed; retrying later");
            }
        }
    })
}
