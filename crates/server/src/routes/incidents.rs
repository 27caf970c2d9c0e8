//! The incident register over HTTP (`incident.read`, `incident.manage` on the compliance
//! register): incidents with their notification clocks, computed from the rules table
//! (`core::incident`) at the time of each answer; the affected subjects counted from the
//! vault and the connected databases; what was done about each notification; letters.
//! Every change is audited with the incident's id and codes, never its free text.

use std::collections::{BTreeMap, BTreeSet};

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use custodian_core::Timestamp;
use custodian_core::access::Action;
use custodian_core::incident::letter::{self, DefaultLetter, LetterError, Variable, Vars};
use custodian_core::incident::record::{Affected, Incident, LiveNotification};
use custodian_core::incident::{NotificationState, Recipient, Risk, Status, rules};
use custodian_core::map::MapKind;
use custodian_core::ports::StoreError;
use custodian_core::rights::dataset::{Dialect, affected_count_sql, time_param};
use custodian_core::taxonomy::Kind;
use serde_json::json;
use sqlx::{AssertSqlSafe, Row};

use crate::api::compliance::{
    AffectedOut, AffectedSourceOut, IncidentIn, IncidentOut, IncidentPatch, IncidentsOut, LetterIn,
    LetterOut, NotificationIn, NotificationOut, RuleOut, RulesOut,
};
use crate::api::time;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody, ErrorCode};
use crate::gate::{Permit, authorize_compliance as allow};
use crate::middleware::RequestId;
use crate::routes::check_id;
use crate::state::AppState;

/// The most people an estimate may give.
const MAX_ESTIMATE: u64 = 10_000_000_000;
/// The longest description or rationale, in characters.
const MAX_TEXT: usize = 4_000;

fn invalid(field: &str, rule: impl Into<String>) -> ApiError {
    let rule = rule.into();
    ApiError::with_message(ErrorCode::InvalidIncident, format!("{field}: {rule}"))
        .details(json!({ "field": field, "rule": rule }))
}

fn transition(e: &custodian_core::incident::IncidentError) -> ApiError {
    ApiError::with_message(ErrorCode::IncidentTransition, e.to_string())
}

fn instant(field: &str, s: &str, now: Timestamp) -> Result<Timestamp, ApiError> {
    s.parse::<Timestamp>()
        .ok()
        .filter(|t| *t <= now)
        .ok_or_else(|| invalid(field, "an RFC 3339 time, not in the future"))
}

fn text(field: &str, s: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t)
            if t.chars().count() > max
                || t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') =>
        {
            Err(invalid(
                field,
                format!("at most {max} characters, no control characters"),
            ))
        }
        Some(t) => Ok(Some(t.to_owned())),
    }
}

fn risk(s: Option<&str>) -> Result<Option<Risk>, ApiError> {
    s.map(|r| Risk::parse(r).ok_or_else(|| invalid("risk", "unlikely, risk or high_risk")))
        .transpose()
}

fn estimate(n: Option<u64>) -> Result<Option<u64>, ApiError> {
    match n {
        Some(n) if n > MAX_ESTIMATE => Err(invalid(
            "estimated_subjects",
            format!("at most {MAX_ESTIMATE}"),
        )),
        n => Ok(n),
    }
}

/// A list of keys: each known (`known`), none twice.
fn keys(field: &str, list: &[String], known: &BTreeSet<String>) -> Result<Vec<String>, ApiError> {
    let mut seen = BTreeSet::new();
    for (i, k) in list.iter().enumerate() {
        // The position, never the value: a key sent by mistake may be anything.
        if !known.contains(k) {
            return Err(invalid(field, format!("item {i} is not known")));
        }
        if !seen.insert(k.clone()) {
            return Err(invalid(field, "no key twice"));
        }
    }
    Ok(list.to_vec())
}

fn notification_out(n: &LiveNotification, now: Timestamp) -> NotificationOut {
    let (sent_at, reference, reason) = match n.notification.state() {
        NotificationState::Sent { at, reference } => {
            (Some(time(*at)), Some(reference.clone()), None)
        }
        NotificationState::NotRequired { reason } => (None, None, Some(reason.clone())),
        NotificationState::Pending => (None, None, None),
    };
    NotificationOut {
        rule: n.clock.rule.clone(),
        jurisdiction: n.clock.jurisdiction.clone(),
        recipient: n.clock.recipient.as_str(),
        required: n.clock.required.as_str(),
        period: n.clock.period.to_string(),
        started_at: time(n.clock.started_at),
        due: n.clock.due.map(time),
        provisional: n.clock.provisional,
        state: n.notification.state().as_str(),
        overdue: n.notification.is_overdue(now)
            && n.clock.required != custodian_core::incident::Requirement::NotRequired,
        sent_at,
        sent_late: n.notification.sent_late(),
        reference,
        reason,
        source: n.clock.source.clone(),
    }
}

pub(crate) fn incident_out(i: &Incident, now: Timestamp) -> Result<IncidentOut, ApiError> {
    let live = i.notifications().map_err(|e| {
        tracing::error!(error = %e, "an incident's clocks cannot be computed");
        crate::error::internal("an incident's clocks cannot be computed")
    })?;
    let next_due = live
        .iter()
        .filter(|n| !n.notification.is_settled())
        .filter(|n| n.clock.required != custodian_core::incident::Requirement::NotRequired)
        .filter_map(|n| n.clock.due)
        .min();
    Ok(IncidentOut {
        id: i.id.clone(),
        title: i.title.clone(),
        description: i.description.clone(),
        status: i.status.as_str(),
        discovered_at: time(i.discovered_at),
        aware_at: time(i.aware_at),
        occurred_from: i.occurred_from.map(time),
        occurred_until: i.occurred_until.map(time),
        systems: i.systems.clone(),
        datasets: i.datasets.clone(),
        collections: i.collections.clone(),
        categories: i.categories.clone(),
        estimated_subjects: i.estimated_subjects,
        affected: i.affected.as_ref().map(|a| AffectedOut {
            computed_at: time(a.computed_at),
            subjects: a.subjects,
            sources: a
                .sources
                .iter()
                .map(|(source, records, people)| AffectedSourceOut {
                    source: source.clone(),
                    records: *records,
                    people: *people,
                })
                .collect(),
        }),
        jurisdictions: i.jurisdictions.clone(),
        time_zone: i.time_zone.clone(),
        risk: i.risk.map(Risk::as_str),
        risk_rationale: i.risk_rationale.clone(),
        notifications: live.iter().map(|n| notification_out(n, now)).collect(),
        next_due: next_due.map(time),
        version: i.version,
        created_at: time(i.created_at),
        updated_at: time(i.updated_at),
        created_by: i.created_by.clone(),
    })
}

async fn load(state: &AppState, id: &str) -> Result<Incident, ApiError> {
    check_id(id)?;
    state
        .store
        .incident(id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::IncidentNotFound))
}

/// Stores a change over the version read and answers with the incident.
async fn save(
    state: &AppState,
    mut next: Incident,
    read_version: i64,
    permit: Permit,
    action: &str,
    fields: Vec<String>,
) -> Result<ApiJson<IncidentOut>, ApiError> {
    let now = state.clock.now();
    next.version = read_version + 1;
    next.updated_at = now;
    let mut draft = permit.draft;
    draft.action = action.into();
    draft.resource = format!("incident:{}", next.id);
    draft.fields = fields;
    match state
        .store
        .put_incident(&next, Some(read_version), draft)
        .await
    {
        Ok(_) => Ok(ApiJson(incident_out(&next, now)?)),
        Err(StoreError::Conflict("version")) => Err(ApiError::new(ErrorCode::IncidentChanged)),
        Err(StoreError::NotFound) => Err(ApiError::new(ErrorCode::IncidentNotFound)),
        Err(e) => Err(e.into()),
    }
}

/// The breach notification rules table: every jurisdiction's periods and sources.
#[utoipa::path(get, path = "/v1/incidents/rules", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = RulesOut), (status = 403, body = ErrorBody)))]
pub async fn list_rules(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<RulesOut>, ApiError> {
    allow(&state, &caller, &rid, Action::IncidentRead)
        .await?
        .record(&state)
        .await?;
    let table =
        rules().map_err(|_| crate::error::internal("the notification rules do not read"))?;
    Ok(ApiJson(RulesOut {
        version: table.version().to_owned(),
        rules: table
            .rules()
            .iter()
            .map(|r| RuleOut {
                id: r.id.clone(),
                jurisdiction: r.jurisdiction.clone(),
                recipient: r.recipient.as_str(),
                period: r.period.to_string(),
                condition: r.condition.to_string(),
                source: r.source.clone(),
                notes: r.notes.clone(),
            })
            .collect(),
    }))
}

/// Records an incident. Its notification clocks start from the awareness (or discovery,
/// where the law says so) and are computed from the rules of each jurisdiction named.
#[utoipa::path(post, path = "/v1/incidents", tag = "compliance", security(("bearer" = [])),
    request_body = IncidentIn, responses((status = 201, body = IncidentOut), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "invalid_incident")))]
pub async fn create(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(body): ApiJson<IncidentIn>,
) -> Result<(StatusCode, ApiJson<IncidentOut>), ApiError> {
    let id = uuid::Uuid::now_v7().to_string();
    let out = create_with_id(&state, &rid, &caller, body, &id).await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}

/// Records an incident under `id` (validated and authorized as [`create`] does);
/// `Conflict("incident")` from the store when one exists under that id already.
pub(crate) async fn create_with_id(
    state: &AppState,
    rid: &RequestId,
    caller: &Caller,
    body: IncidentIn,
    id: &str,
) -> Result<IncidentOut, ApiError> {
    let now = state.clock.now();
    let title = body.title.trim();
    if title.is_empty() || title.chars().count() > 200 || title.chars().any(char::is_control) {
        return Err(invalid(
            "title",
            "1 to 200 characters, no control characters",
        ));
    }
    let description = text("description", body.description.as_deref(), MAX_TEXT)?;
    let risk_rationale = text("risk_rationale", body.risk_rationale.as_deref(), MAX_TEXT)?;
    let discovered_at = instant("discovered_at", &body.discovered_at, now)?;
    let aware_at = match &body.aware_at {
        None => discovered_at,
        Some(s) => instant("aware_at", s, now)?,
    };
    if aware_at < discovered_at {
        return Err(invalid("aware_at", "not before discovered_at"));
    }
    let occurred_from = body
        .occurred_from
        .as_deref()
        .map(|s| instant("occurred_from", s, now))
        .transpose()?;
    let occurred_until = body
        .occurred_until
        .as_deref()
        .map(|s| instant("occurred_until", s, now))
        .transpose()?;
    if let (Some(f), Some(u)) = (occurred_from, occurred_until)
        && f > u
    {
        return Err(invalid("occurred_until", "not before occurred_from"));
    }
    let time_zone = body.time_zone.clone().unwrap_or_else(|| "UTC".to_owned());
    if jiff::tz::TimeZone::get(&time_zone).is_err() {
        return Err(invalid("time_zone", "an IANA time zone name"));
    }
    let risk = risk(body.risk.as_deref())?;
    let estimated_subjects = estimate(body.estimated_subjects)?;
    let table =
        rules().map_err(|_| crate::error::internal("the notification rules do not read"))?;
    let known_j: BTreeSet<String> = table
        .jurisdictions()
        .into_iter()
        .map(str::to_owned)
        .collect();
    if body.jurisdictions.is_empty() {
        return Err(invalid("jurisdictions", "at least one"));
    }
    let jurisdictions = keys("jurisdictions", &body.jurisdictions, &known_j)?;
    if body.categories.is_empty() {
        return Err(invalid("categories", "at least one"));
    }
    let permit = allow(state, caller, rid, Action::IncidentManage).await?;
    let entries = state.store.map_entries().await?;
    let tax = crate::datasets::taxonomy(state).await?;
    let cats: BTreeSet<String> = body
        .categories
        .iter()
        .filter(|c| tax.contains(Kind::DataCategory, c))
        .cloned()
        .collect();
    let categories = keys("categories", &body.categories, &cats)?;
    let systems: BTreeSet<String> = entries
        .iter()
        .filter(|e| e.kind == MapKind::System)
        .map(|e| e.key.clone())
        .collect();
    let systems = keys("systems", &body.systems, &systems)?;
    let datasets: BTreeSet<String> = state
        .store
        .datasets()
        .await?
        .into_iter()
        .map(|d| d.key)
        .collect();
    let datasets = keys("datasets", &body.datasets, &datasets)?;
    let collections: BTreeSet<String> = state
        .store
        .list_collections()
        .await?
        .into_iter()
        .map(|c| c.schema.name)
        .collect();
    let collections = keys("collections", &body.collections, &collections)?;
    let mut draft = permit.draft;
    let incident = Incident {
        id: id.to_owned(),
        title: title.to_owned(),
        description,
        status: Status::Open,
        discovered_at,
        aware_at,
        occurred_from,
        occurred_until,
        systems,
        datasets,
        collections,
        categories,
        estimated_subjects,
        jurisdictions,
        time_zone,
        risk,
        risk_rationale,
        decisions: BTreeMap::new(),
        affected: None,
        version: 1,
        created_at: now,
        updated_at: now,
        created_by: draft.actor.clone(),
    };
    let out = incident_out(&incident, now)?;
    draft.action = "incident.recorded".into();
    draft.resource = format!("incident:{}", incident.id);
    draft.fields = incident
        .categories
        .iter()
        .map(|c| format!("category:{c}"))
        .collect();
    state.store.put_incident(&incident, None, draft).await?;
    Ok(out)
}

/// Lists the incidents, newest first, each with its clocks now.
#[utoipa::path(get, path = "/v1/incidents", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = IncidentsOut), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<IncidentsOut>, ApiError> {
    allow(&state, &caller, &rid, Action::IncidentRead)
        .await?
        .record(&state)
        .await?;
    let now = state.clock.now();
    let incidents = state
        .store
        .incidents()
        .await?
        .iter()
        .map(|i| incident_out(i, now))
        .collect::<Result<_, _>>()?;
    Ok(ApiJson(IncidentsOut { incidents }))
}

/// One incident with its clocks now.
#[utoipa::path(get, path = "/v1/incidents/{id}", tag = "compliance", security(("bearer" = [])),
    params(("id" = String, Path, description = "Incident id")),
    responses((status = 200, body = IncidentOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "incident_not_found")))]
pub async fn get(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<IncidentOut>, ApiError> {
    check_id(&id)?;
    let mut permit = allow(&state, &caller, &rid, Action::IncidentRead).await?;
    permit.draft.resource = format!("incident:{id}");
    permit.record(&state).await?;
    let i = load(&state, &id).await?;
    Ok(ApiJson(incident_out(&i, state.clock.now())?))
}

/// Changes an incident over the version read: its status (closing needs every owed
/// notification sent or decided unnecessary), risk, estimate or description.
#[utoipa::path(patch, path = "/v1/incidents/{id}", tag = "compliance", security(("bearer" = [])),
    params(("id" = String, Path, description = "Incident id")), request_body = IncidentPatch,
    responses((status = 200, body = IncidentOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "incident_not_found"),
    (status = 409, body = ErrorBody, description = "incident_changed, incident_transition"),
    (status = 422, body = ErrorBody, description = "invalid_incident")))]
pub async fn patch(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<IncidentPatch>,
) -> Result<ApiJson<IncidentOut>, ApiError> {
    check_id(&id)?;
    let status = body
        .status
        .as_deref()
        .map(|s| Status::parse(s).ok_or_else(|| invalid("status", "open, contained or closed")))
        .transpose()?;
    let new_risk = risk(body.risk.as_deref())?;
    let rationale = text("risk_rationale", body.risk_rationale.as_deref(), MAX_TEXT)?;
    let description = text("description", body.description.as_deref(), MAX_TEXT)?;
    let estimated = estimate(body.estimated_subjects)?;
    let permit = allow(&state, &caller, &rid, Action::IncidentManage).await?;
    let old = load(&state, &id).await?;
    if old.version != body.version {
        return Err(ApiError::new(ErrorCode::IncidentChanged));
    }
    if old.status == Status::Closed {
        return Err(transition(&custodian_core::incident::IncidentError::Closed));
    }
    let mut next = old.clone();
    let mut fields = Vec::new();
    if let Some(r) = new_risk {
        next.risk = Some(r);
        fields.push(format!("risk:{}", r.as_str()));
    }
    if rationale.is_some() {
        next.risk_rationale = rationale;
    }
    if description.is_some() {
        next.description = description;
    }
    if let Some(n) = estimated {
        next.estimated_subjects = Some(n);
        fields.push("estimated_subjects".into());
    }
    if let Some(s) = status {
        let live: Vec<_> = next
            .notifications()
            .map_err(|e| transition(&e))?
            .into_iter()
            .map(|n| n.notification)
            .collect();
        next.status = old
            .status
            .transition(s, &live)
            .map_err(|e| transition(&e))?;
        fields.push(format!("status:{}", s.as_str()));
    }
    save(
        &state,
        next,
        old.version,
        permit,
        "incident.changed",
        fields,
    )
    .await
}

/// Records what was done about one notification: sent (when, under which reference), not
/// required (why: GDPR Art. 33(5) asks for the reasoning), or pending again.
#[utoipa::path(post, path = "/v1/incidents/{id}/notifications/{rule}", tag = "compliance", security(("bearer" = [])),
    params(("id" = String, Path, description = "Incident id"), ("rule" = String, Path, description = "Rule id, e.g. GDPR.authority")),
    request_body = NotificationIn, responses((status = 200, body = IncidentOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "incident_not_found, notification_not_found"),
    (status = 409, body = ErrorBody, description = "incident_changed, incident_transition"),
    (status = 422, body = ErrorBody, description = "invalid_incident")))]
pub async fn notify(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath((id, rule)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<NotificationIn>,
) -> Result<ApiJson<IncidentOut>, ApiError> {
    check_id(&id)?;
    let now = state.clock.now();
    let at = body
        .at
        .as_deref()
        .map(|s| instant("at", s, now))
        .transpose()?
        .unwrap_or(now);
    let permit = allow(&state, &caller, &rid, Action::IncidentManage).await?;
    let old = load(&state, &id).await?;
    if old.version != body.version {
        return Err(ApiError::new(ErrorCode::IncidentChanged));
    }
    if old.status == Status::Closed {
        return Err(transition(&custodian_core::incident::IncidentError::Closed));
    }
    let live = old.notifications().map_err(|e| transition(&e))?;
    let current = live
        .iter()
        .find(|n| n.clock.rule == rule)
        .ok_or_else(|| ApiError::new(ErrorCode::NotificationNotFound))?;
    let changed = match body.state.as_str() {
        "sent" => {
            if at < old.discovered_at {
                return Err(invalid("at", "not before the discovery"));
            }
            current
                .notification
                .mark_sent(at, body.reference.as_deref().unwrap_or(""))
        }
        "not_required" => current
            .notification
            .mark_not_required(body.reason.as_deref().unwrap_or("")),
        "pending" => current.notification.reopen(),
        _ => return Err(invalid("state", "sent, not_required or pending")),
    }
    .map_err(|e| match e {
        custodian_core::incident::IncidentError::InvalidReference { problem } => {
            invalid("reference", problem)
        }
        custodian_core::incident::IncidentError::InvalidReason { problem } => {
            invalid("reason", problem)
        }
        other => transition(&other),
    })?;
    let mut next = old.clone();
    next.decisions.insert(rule.clone(), changed.state().clone());
    save(
        &state,
        next,
        old.version,
        permit,
        "incident.notification",
        vec![format!("rule:{rule}"), format!("state:{}", body.state)],
    )
    .await
}

/// Counts the affected subjects: in each vault collection named, the subjects with a record
/// created by the end of the window that holds a field of the breached categories; in each
/// dataset named, per table holding such a column, the rows created by then (when the table
/// declares its creation time) and the distinct identities among them. The figure replaces
/// the estimate in the clocks.
#[utoipa::path(post, path = "/v1/incidents/{id}/affected", tag = "compliance", security(("bearer" = [])),
    params(("id" = String, Path, description = "Incident id")), request_body = crate::api::compliance::AffectedIn,
    responses((status = 200, body = IncidentOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "incident_not_found"),
    (status = 409, body = ErrorBody, description = "incident_changed, dataset_not_connected"),
    (status = 502, body = ErrorBody, description = "database_unreachable, dataset_failed")))]
pub async fn compute_affected(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<crate::api::compliance::AffectedIn>,
) -> Result<ApiJson<IncidentOut>, ApiError> {
    check_id(&id)?;
    let permit = allow(&state, &caller, &rid, Action::IncidentManage).await?;
    let old = load(&state, &id).await?;
    if old.version != body.version {
        return Err(ApiError::new(ErrorCode::IncidentChanged));
    }
    if old.status == Status::Closed {
        return Err(transition(&custodian_core::incident::IncidentError::Closed));
    }
    let (vault_people, mut sources) = vault_sources(&state, &old).await?;
    let databases = dataset_sources(&state, &old).await?;
    let subjects = vault_people + databases.iter().map(|(_, _, p)| p).sum::<u64>();
    sources.extend(databases);
    let mut next = old.clone();
    next.affected = Some(Affected {
        computed_at: state.clock.now(),
        subjects,
        sources,
    });
    save(
        &state,
        next,
        old.version,
        permit,
        "incident.affected_computed",
        Vec::new(),
    )
    .await
}

/// The distinct vault subjects affected across the incident's collections, and per
/// collection its records and distinct subjects.
async fn vault_sources(
    state: &AppState,
    i: &Incident,
) -> Result<(u64, Vec<(String, u64, u64)>), ApiError> {
    if i.collections.is_empty() {
        return Ok((0, Vec::new()));
    }
    // The breached fields of each collection named.
    let mut fields: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in state.store.list_collections().await? {
        if !i.collections.contains(&c.schema.name) {
            continue;
        }
        let hit: BTreeSet<String> = c
            .schema
            .fields
            .iter()
            .filter(|f| i.touches_category(&f.category))
            .map(|f| f.name.clone())
            .collect();
        fields.insert(c.schema.name, hit);
    }
    let end = i.window_end();
    let mut counts: BTreeMap<String, (u64, BTreeSet<String>)> = i
        .collections
        .iter()
        .map(|c| (c.clone(), (0, BTreeSet::new())))
        .collect();
    let mut after: Option<String> = None;
    loop {
        let keys = state.store.subject_keys(after.as_deref(), 500).await?;
        let Some(last) = keys.last() else { break };
        after = Some(last.subject_id.clone());
        for k in keys {
            for r in state.store.subject_records(&k.subject_id).await? {
                let Some(hit) = fields.get(&r.collection) else {
                    continue;
                };
                if r.created_at > end || !r.cells.iter().any(|c| hit.contains(&c.field)) {
                    continue;
                }
                if let Some((n, people)) = counts.get_mut(&r.collection) {
                    *n += 1;
                    people.insert(k.subject_id.clone());
                }
            }
        }
    }
    let everyone: BTreeSet<&String> = counts.values().flat_map(|(_, p)| p.iter()).collect();
    Ok((
        everyone.len() as u64,
        counts
            .iter()
            .map(|(c, (n, people))| (format!("vault:{c}"), *n, people.len() as u64))
            .collect(),
    ))
}

/// Per table of the incident's datasets holding a breached column: rows and distinct
/// identities, counted in the connected database.
async fn dataset_sources(
    state: &AppState,
    i: &Incident,
) -> Result<Vec<(String, u64, u64)>, ApiError> {
    let mut out = Vec::new();
    if i.datasets.is_empty() {
        return Ok(out);
    }
    let declared = crate::datasets::all(state).await?;
    for key in &i.datasets {
        let Some(ds) = declared.iter().find(|d| &d.key == key) else {
            return Err(
                ApiError::new(ErrorCode::DatasetNotFound).details(json!({ "dataset": key }))
            );
        };
        let Some(url) = state.config.dataset_connections.get(key) else {
            return Err(
                ApiError::new(ErrorCode::DatasetNotConnected).details(json!({ "dataset": key }))
            );
        };
        let Some(d) = Dialect::of_url(url) else {
            return Err(
                ApiError::new(ErrorCode::DatasetNotConnected).details(json!({ "dataset": key }))
            );
        };
        let pool = crate::datasets::connect(url)
            .await
            .ok_or_else(|| ApiError::new(ErrorCode::DatabaseUnreachable))?;
        let end = time_param(d, i.window_end());
        for c in &ds.collections {
            if !c
                .fields
                .iter()
                .any(|f| f.categories.iter().any(|k| i.touches_category(k)))
            {
                continue;
            }
            let identity = c
                .fields
                .iter()
                .find(|f| f.identity.is_some())
                .or_else(|| c.primary_key())
                .map(|f| f.name.as_str());
            let created = c.times.created.as_deref();
            let sql = affected_count_sql(d, &c.name, identity, created);
            let mut q = sqlx::query(AssertSqlSafe(sql));
            if created.is_some() {
                q = q.bind(end.clone());
            }
            let row = tokio::time::timeout(std::time::Duration::from_secs(30), q.fetch_one(&pool))
                .await
                .map_err(|_| ApiError::new(ErrorCode::DatabaseUnreachable))?
                .map_err(|e| {
                    let code = e
                        .as_database_error()
                        .and_then(|x| x.code().map(|c| c.into_owned()));
                    ApiError::new(ErrorCode::DatasetFailed)
                        .details(json!({ "dataset": key, "collection": c.name, "code": code }))
                })?;
            let n: i64 = row.try_get("n").unwrap_or(0);
            let people: i64 = row.try_get("people").unwrap_or(0);
            out.push((
                format!("dataset:{key}.{}", c.name),
                u64::try_from(n).unwrap_or(0),
                u64::try_from(people).unwrap_or(0),
            ));
        }
        pool.close().await;
    }
    Ok(out)
}

/// Renders a notification letter for the authority or the people affected, from the
/// shipped template or one's own: the register fills what it knows (reference, dates,
/// categories, numbers, the controller and DPO from the data map's organization), the
/// request gives the rest. The letter is returned, not sent or stored.
#[utoipa::path(post, path = "/v1/incidents/{id}/letters", tag = "compliance", security(("bearer" = [])),
    params(("id" = String, Path, description = "Incident id")), request_body = LetterIn,
    responses((status = 200, body = LetterOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "incident_not_found"),
    (status = 422, body = ErrorBody, description = "invalid_letter")))]
pub async fn render_letter(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<LetterIn>,
) -> Result<ApiJson<LetterOut>, ApiError> {
    check_id(&id)?;
    let bad = |rule: String, variable: Option<&str>| {
        ApiError::with_message(ErrorCode::InvalidLetter, rule.clone())
            .details(json!({ "rule": rule, "variable": variable }))
    };
    let recipient = Recipient::parse(&body.recipient)
        .and_then(DefaultLetter::for_recipient)
        .ok_or_else(|| bad("recipient is authority or individuals".into(), None))?;
    let template = body.template.as_deref().unwrap_or(recipient.template());
    letter::validate(template).map_err(|e| letter_error(&e, &bad))?;
    let mut permit = allow(&state, &caller, &rid, Action::IncidentRead).await?;
    permit.draft.resource = format!("incident:{id}");
    permit.draft.action = "incident.letter_rendered".into();
    permit.record(&state).await?;
    let i = load(&state, &id).await?;
    let map = custodian_core::map::load(
        &state.store.map_entries().await?,
        &state.store.datasets().await?,
    )
    .map_err(|_| crate::error::internal("the stored data map no longer reads"))?;
    let mut vars = Vars::new();
    let mut filled = Vec::new();
    let mut fill = |v: Variable, value: Option<String>| {
        if let Some(value) = value {
            vars.set(v, value);
            filled.push(v.as_str().to_owned());
        }
    };
    fill(Variable::IncidentReference, Some(i.id.clone()));
    fill(
        Variable::LetterDate,
        Some(state.clock.now().strftime("%Y-%m-%d").to_string()),
    );
    fill(Variable::AwareAt, Some(i.aware_at.to_string()));
    fill(
        Variable::BreachPeriod,
        match (i.occurred_from, i.occurred_until) {
            (Some(f), Some(u)) => Some(format!("from {f} to {u}")),
            (Some(f), None) => Some(format!("from {f}")),
            (None, Some(u)) => Some(format!("until {u}")),
            (None, None) => None,
        },
    );
    fill(
        Variable::PersonalDataCategories,
        Some(
            i.categories
                .iter()
                .map(|c| {
                    map.taxonomy
                        .name(Kind::DataCategory, c)
                        .unwrap_or_else(|| c.clone())
                })
                .collect::<Vec<_>>()
                .join(", "),
        ),
    );
    fill(
        Variable::ApproximateDataSubjects,
        i.affected_count().map(|n| n.to_string()),
    );
    fill(
        Variable::ApproximateRecords,
        i.affected
            .as_ref()
            .map(|a| a.sources.iter().map(|(_, r, _)| r).sum::<u64>().to_string()),
    );
    if let Some(org) = map.organizations.first() {
        let contact = |c: &custodian_core::map::Contact| {
            [&c.address, &c.email, &c.phone]
                .into_iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        };
        fill(Variable::ControllerName, org.name.clone());
        fill(
            Variable::ControllerContact,
            org.controller
                .as_ref()
                .map(contact)
                .filter(|s| !s.is_empty()),
        );
        fill(
            Variable::DpoName,
            org.dpo.as_ref().and_then(|d| d.name.clone()),
        );
        fill(
            Variable::DpoContact,
            org.dpo.as_ref().map(contact).filter(|s| !s.is_empty()),
        );
    }
    for (name, value) in &body.values {
        let v = Variable::parse(name)
            .ok_or_else(|| bad("unknown template variable".to_owned(), None))?;
        if value.chars().count() > MAX_TEXT {
            return Err(bad(format!("at most {MAX_TEXT} characters"), Some(name)));
        }
        vars.set(v, value.clone());
    }
    let text = letter::render(template, &vars).map_err(|e| letter_error(&e, &bad))?;
    Ok(ApiJson(LetterOut { text, filled }))
}

fn letter_error(e: &LetterError, bad: &dyn Fn(String, Option<&str>) -> ApiError) -> ApiError {
    match e {
        LetterError::UnknownVariable { name } => bad(e.to_string(), Some(name.as_str())),
        LetterError::MissingValue { name } => bad(e.to_string(), Some(name)),
        other => bad(other.to_string(), None),
    }
}
