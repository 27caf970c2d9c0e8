//! Access monitoring over HTTP: the rules (`monitoring.read`, `monitoring.manage` on the
//! compliance register), a run on demand, and the alerts, each acknowledged or turned into an
//! incident in one step.

use axum::Extension;
use axum::extract::State;
use custodian_core::access::Action;
use custodian_core::register::RegisterKind;
use serde_json::{Value, json};

use crate::api::compliance::{
    AlertIncidentIn, AlertOut, AlertVersionIn, AlertsOut, AlertsQuery, IncidentIn,
    MonitoringRulesOut,
};
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, ErrorCode};
use crate::gate::{Permit, authorize_compliance as allow};
use crate::middleware::RequestId;
use crate::monitoring::{AlertRecord, RunOut};
use crate::routes::check_id;
use crate::routes::registers::{Write, put_entry, split_version};
use crate::state::AppState;

/// The monitoring rules in force (the defaults until some are saved); the webhook URL is
/// shown as its scheme and host only (its path is often a secret).
#[utoipa::path(get, path = "/v1/monitoring/rules", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = MonitoringRulesOut), (status = 403, body = ErrorBody)))]
pub async fn get_rules(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<MonitoringRulesOut>, ApiError> {
    allow(&state, &caller, &rid, Action::MonitoringRead)
        .await?
        .record(&state)
        .await?;
    let stored = crate::monitoring::rules(&state).await?;
    Ok(ApiJson(MonitoringRulesOut {
        rules: crate::monitoring::redacted(&stored.rules),
        version: stored.version,
        webhook_secret: None,
    }))
}

/// Sets the rules: `bulk_reads` and `denial_burst` (`max`, `window_minutes`), `off_hours`
/// (`time_zone`, `start_hour`, `end_hour`, `weekdays`), `baseline_spike` (`factor`,
/// `min_reads`), `webhook_url`; a rule left out is off. Send the `version` read to change
/// saved rules. With a webhook, the answer carries a new signing secret, once.
#[utoipa::path(put, path = "/v1/monitoring/rules", tag = "compliance", security(("bearer" = [])),
    request_body(content = Object, description = "The rules, with `version` once saved"),
    responses((status = 200, body = MonitoringRulesOut), (status = 403, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "entry_exists, entry_changed"),
    (status = 422, body = ErrorBody, description = "invalid_monitoring")))]
pub async fn put_rules(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiJson<MonitoringRulesOut>, ApiError> {
    let (version, doc) = split_version(body, ErrorCode::InvalidMonitoring)?;
    let rules = custodian_core::monitor::parse_rules(&doc).map_err(|e| {
        ApiError::new(ErrorCode::InvalidMonitoring)
            .details(json!({ "path": e.path, "rule": e.rule }))
    })?;
    let permit = allow(&state, &caller, &rid, Action::MonitoringManage).await?;
    let old = state
        .store
        .register_entry(RegisterKind::Monitor, "rules")
        .await?;
    let fields = custodian_core::monitor::RULES
        .iter()
        .filter(|r| !rules.to_json()[**r].is_null())
        .map(|r| format!("rule:{r}"))
        .collect();
    // A new signing secret with every webhook set: shown once, kept sealed.
    let secret = match &rules.webhook_url {
        None => None,
        Some(_) => {
            let secret = custodian_crypto::webhook::new_secret()
                .map_err(|_| ApiError::new(ErrorCode::Internal))?;
            let key = custodian_crypto::webhook::decode_secret(&secret)
                .ok_or_else(|| ApiError::new(ErrorCode::Internal))?;
            let sealed =
                crate::propagation::seal_secret(&state, crate::monitoring::SECRET_PLACE, &key)?;
            Some((secret, sealed))
        }
    };
    let e = put_entry(
        &state,
        Write {
            kind: RegisterKind::Monitor,
            key: "rules",
            body: crate::monitoring::stored_body(
                &rules,
                secret.as_ref().map(|(_, sealed)| sealed.as_slice()),
            ),
            version,
            old: old.as_ref(),
        },
        permit.draft,
        "monitoring.rules_set",
        fields,
    )
    .await?;
    Ok(ApiJson(MonitoringRulesOut {
        rules: crate::monitoring::redacted(&rules),
        version: Some(e.version),
        webhook_secret: secret.map(|(s, _)| s.to_string()),
    }))
}

/// Runs the monitor now over the events appended since its last run.
#[utoipa::path(post, path = "/v1/monitoring/run", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = RunOut), (status = 403, body = ErrorBody)))]
pub async fn run(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<RunOut>, ApiError> {
    let permit = allow(&state, &caller, &rid, Action::MonitoringManage).await?;
    let draft = permit.draft.clone();
    let out = crate::monitoring::run(&state, permit.draft).await?;
    if !out.saved {
        // Nothing was written with the run's own event: audit the request on its own.
        state.store.append_audit(draft).await?;
    }
    Ok(ApiJson(out))
}

fn alert_of(e: &custodian_core::register::RegisterEntry) -> Result<AlertRecord, ApiError> {
    serde_json::from_str(&e.body)
        .map_err(|_| crate::error::internal("a stored alert no longer reads"))
}

/// Lists the alerts, newest first (`status`: `open`, `acknowledged`, `incident`).
#[utoipa::path(get, path = "/v1/alerts", tag = "compliance", security(("bearer" = [])),
    params(AlertsQuery), responses((status = 200, body = AlertsOut), (status = 403, body = ErrorBody)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AlertsQuery>,
) -> Result<ApiJson<AlertsOut>, ApiError> {
    if q.status
        .as_deref()
        .is_some_and(|s| !["open", "acknowledged", "incident"].contains(&s))
    {
        return Err(ApiError::new(ErrorCode::InvalidQuery));
    }
    allow(&state, &caller, &rid, Action::MonitoringRead)
        .await?
        .record(&state)
        .await?;
    let mut alerts = Vec::new();
    for e in state.store.register_entries(RegisterKind::Alert).await? {
        let a = alert_of(&e)?;
        if q.status.as_deref().is_none_or(|s| s == a.status) {
            alerts.push(AlertOut {
                alert: a,
                version: e.version,
            });
        }
    }
    // Ids are UUID v7: newest last by key, so reversed.
    alerts.reverse();
    Ok(ApiJson(AlertsOut { alerts }))
}

async fn load(
    state: &AppState,
    id: &str,
    version: i64,
) -> Result<(custodian_core::register::RegisterEntry, AlertRecord), ApiError> {
    check_id(id)?;
    let e = state
        .store
        .register_entry(RegisterKind::Alert, id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::AlertNotFound))?;
    if e.version != version {
        return Err(ApiError::new(ErrorCode::EntryChanged));
    }
    let a = alert_of(&e)?;
    if a.status != "open" {
        return Err(ApiError::new(ErrorCode::AlertHandled));
    }
    Ok((e, a))
}

async fn save(
    state: &AppState,
    e: &custodian_core::register::RegisterEntry,
    a: &AlertRecord,
    permit: Permit,
) -> Result<AlertOut, ApiError> {
    let saved = put_entry(
        state,
        Write {
            kind: RegisterKind::Alert,
            key: &a.id,
            body: serde_json::to_string(a).unwrap_or_default(),
            version: Some(e.version),
            old: Some(e),
        },
        permit.draft,
        "monitoring.alert_handled",
        vec![format!("status:{}", a.status)],
    )
    .await?;
    Ok(AlertOut {
        alert: a.clone(),
        version: saved.version,
    })
}

/// Acknowledges an alert (looked at; nothing to do).
#[utoipa::path(post, path = "/v1/alerts/{id}/acknowledge", tag = "compliance", security(("bearer" = [])),
    params(("id" = String, Path, description = "Alert id")), request_body = AlertVersionIn,
    responses((status = 200, body = AlertOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "alert_not_found"),
    (status = 409, body = ErrorBody, description = "entry_changed, alert_handled")))]
pub async fn acknowledge(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<AlertVersionIn>,
) -> Result<ApiJson<AlertOut>, ApiError> {
    let permit = allow(&state, &caller, &rid, Action::MonitoringManage).await?;
    let (e, mut a) = load(&state, &id, body.version).await?;
    a.status = "acknowledged".into();
    a.handled_by = Some(permit.draft.actor.clone());
    Ok(ApiJson(save(&state, &e, &a, permit).await?))
}

/// Opens an incident from an alert in one step: discovered when the alert's event happened,
/// described by the rule and the actor; the body gives what the register needs besides
/// (`categories`, `jurisdictions`, and optionally `title`, `systems`, `datasets`,
/// `collections`). The incident has the alert's id, so repeating the step never opens a
/// second one; the alert then points at it.
#[utoipa::path(post, path = "/v1/alerts/{id}/incident", tag = "compliance", security(("bearer" = [])),
    params(("id" = String, Path, description = "Alert id")), request_body = AlertIncidentIn,
    responses((status = 200, body = AlertOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "alert_not_found"),
    (status = 409, body = ErrorBody, description = "entry_changed, alert_handled"),
    (status = 422, body = ErrorBody, description = "invalid_incident")))]
pub async fn open_incident(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<AlertIncidentIn>,
) -> Result<ApiJson<AlertOut>, ApiError> {
    let permit = allow(&state, &caller, &rid, Action::MonitoringManage).await?;
    let (e, mut a) = load(&state, &id, body.version).await?;
    let input = IncidentIn {
        title: body
            .title
            .clone()
            .unwrap_or_else(|| format!("Access monitoring: {} by {}", a.rule, a.actor)),
        description: Some(format!(
            "Raised by the access monitoring rule {} for {}: {} events, audit event {}.",
            a.rule, a.actor, a.count, a.seq
        )),
        discovered_at: a.at.clone(),
        aware_at: None,
        occurred_from: None,
        occurred_until: Some(a.at.clone()),
        systems: body.systems.clone(),
        datasets: body.datasets.clone(),
        collections: body.collections.clone(),
        categories: body.categories.clone(),
        estimated_subjects: Some(u64::from(a.count)),
        jurisdictions: body.jurisdictions.clone(),
        time_zone: None,
        risk: None,
        risk_rationale: None,
    };
    // The incident takes the alert's id, so a retry (or a second click) finds it instead of
    // opening another: the alert is then marked as it would have been.
    match crate::routes::incidents::create_with_id(&state, &rid, &caller, input, &a.id).await {
        Ok(_) => {}
        Err(e) if e.code() == ErrorCode::Conflict => {}
        Err(e) => return Err(e),
    }
    a.status = "incident".into();
    a.incident_id = Some(a.id.clone());
    a.handled_by = Some(permit.draft.actor.clone());
    Ok(ApiJson(save(&state, &e, &a, permit).await?))
}
