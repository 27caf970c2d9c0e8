//! Access monitoring over the audit log (`core::monitor`): a run reads the events appended
//! since the last one, raises alerts, stores them with the monitor's new state in one
//! transaction (over the state's version, so two servers never both raise the same alert),
//! then posts each alert to the webhook the rules name and publishes it on NATS
//! (`custodian.alerts`) when a NATS server is configured. The server runs it every
//! `monitor_every`; `POST /v1/monitoring/run` runs it at once.

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

/// The rules in force: stored, else the defaults.
pub async fn rules(state: &AppState) -> Result<(Rules, Option<i64>), ApiError> {
    match state
        .store
        .register_entry(RegisterKind::Monitor, "rules")
        .await?
    {
        None => Ok((default_rules(), None)),
        Some(e) => {
            let v: serde_json::Value = serde_json::from_str(&e.body)
                .map_err(|_| internal("the stored monitoring rules are not JSON"))?;
            let r = custodian_core::monitor::parse_rules(&v)
                .map_err(|_| internal("the stored monitoring rules no longer read"))?;
            Ok((r, Some(e.version)))
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
}

/// Runs the monitor once, as `actor`.
pub async fn run(state: &AppState, draft: AuditDraft) -> Result<RunOut, ApiError> {
    let (rules, _) = rules(state).await?;
    let stored = state
        .store
        .register_entry(RegisterKind::Monitor, "state")
        .await?;
    let mut st = match &stored {
        None => State::default(),
        Some(e) => State::from_json(&e.body)
            .ok_or_else(|| internal("the monitor's stored state no longer reads"))?,
    };
    let head = state.store.audit_head().await?.size;
    let stop = head.min(st.next_seq.saturating_add(MAX_EVENTS_PER_RUN));
    let mut alerts = Vec::new();
    let mut read = 0u64;
    while st.next_seq < stop {
        let limit = u32::try_from((stop - st.next_seq).min(1_000)).unwrap_or(1_000);
        let events = state.store.audit_events(st.next_seq, limit).await?;
        if events.is_empty() {
            break;
        }
        read += events.len() as u64;
        alerts.extend(st.process(&rules, &events));
    }
    let mut out = RunOut {
        events: read,
        next_seq: st.next_seq,
        ..RunOut::default()
    };
    if read == 0 {
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
    out.failed_deliveries = deliver(state, &rules, &records).await;
    for r in &records {
        metrics::counter!("custodian_monitor_alerts_total", "rule" => r.rule.clone()).increment(1);
    }
    out.alerts = records;
    Ok(out)
}

/// Posts each alert to the webhook and publishes it on NATS; returns how many failed.
async fn deliver(state: &AppState, rules: &Rules, alerts: &[AlertRecord]) -> u32 {
    if alerts.is_empty() {
        return 0;
    }
    let mut failed = 0;
    if let Some(url) = &rules.webhook_url {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build();
        for a in alerts {
            let ok = match &http {
                Ok(c) => c
                    .post(url)
                    .json(a)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success()),
                Err(_) => false,
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
        let mut tick = tokio::time::interval(state.config.monitor_every);
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
