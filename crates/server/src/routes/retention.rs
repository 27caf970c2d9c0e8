//! Retention over HTTP: the plan (what is due now, or at a later instant, and what a legal
//! hold keeps back), runs on demand, legal holds, and the end of a subject's relationship.
//! `retention.manage` on the `DataMap`; the end of a relationship is `subject.limit` (the
//! services that record restrictions record it too).

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use custodian_core::Timestamp;
use custodian_core::access::{Action, Resource};
use custodian_core::ports::{StoreError, StoredHold};
use custodian_core::retention::{Hold, HoldScope, Item, Skipped, TableDisposal};
use custodian_core::rights::dataset::valid_identifier;
use custodian_core::vault::service::valid_subject_id;
use serde_json::json;

use crate::api::map::{
    HoldIn, HoldOut, HoldsOut, PlanOut, PlanQuery, RelationshipIn, RunOut, TableOut, TableSkipOut,
    VaultItemOut,
};
use crate::api::time;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, ErrorCode};
use crate::gate::authorize;
use crate::middleware::RequestId;
use crate::retention;
use crate::state::AppState;

fn invalid(field: &str, rule: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidHold).details(json!({ "field": field, "rule": rule }))
}

/// `retention.manage` on the data map.
async fn manage(
    state: &AppState,
    caller: &Caller,
    rid: &RequestId,
) -> Result<crate::gate::Permit, ApiError> {
    authorize(
        state,
        caller,
        rid,
        Action::RetentionManage,
        Resource::DataMap,
        None,
    )
    .await
}

fn table_out(t: &TableDisposal, rows: Option<u64>, outcome: Option<String>) -> TableOut {
    TableOut {
        dataset: t.dataset.clone(),
        table: t.table.clone(),
        action: if t.delete_rows { "delete" } else { "anonymize" },
        rules: t.rules.clone(),
        time_column: t.time_column.clone(),
        cutoff: time(t.cutoff),
        columns: t.columns.clone(),
        rows,
        outcome,
    }
}

fn item_out(due: &custodian_core::retention::Due, held_by: Option<String>) -> VaultItemOut {
    let (action, record, fields) = match &due.item {
        Item::ShredSubject => ("crypto_shred", None, Vec::new()),
        Item::DeleteRecord { collection, record } => {
            ("delete", Some(format!("{collection}/{record}")), Vec::new())
        }
        Item::DropFields {
            collection,
            record,
            fields,
        } => (
            "anonymize",
            Some(format!("{collection}/{record}")),
            fields.clone(),
        ),
    };
    VaultItemOut {
        subject_id: due.subject_id.clone(),
        action,
        record,
        fields,
        rules: due.rules.clone(),
        due_at: time(due.due_at),
        held_by,
    }
}

/// What retention would dispose of now, or at `?at=` (a preview): vault records and
/// subjects with the rules that call for them, the legal holds keeping some back, and the
/// dataset tables with their cutoff. Reads no values.
#[utoipa::path(get, path = "/v1/retention/plan", tag = "map", security(("bearer" = [])),
    params(PlanQuery), responses((status = 200, body = PlanOut), (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody)))]
pub async fn get_plan(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PlanQuery>,
) -> Result<ApiJson<PlanOut>, ApiError> {
    let at = match q.at {
        None => state.clock.now(),
        Some(s) => s
            .parse::<Timestamp>()
            .map_err(|_| ApiError::new(ErrorCode::InvalidQuery))?,
    };
    manage(&state, &caller, &rid).await?.record(&state).await?;
    let p = retention::plan(&state, at).await?;
    Ok(ApiJson(PlanOut {
        at: time(at),
        vault: p
            .vault
            .due
            .iter()
            .map(|d| item_out(d, None))
            .chain(
                p.vault
                    .held
                    .iter()
                    .map(|h| item_out(&h.due, Some(h.hold_id.clone()))),
            )
            .collect(),
        datasets: p
            .datasets
            .disposals
            .iter()
            .map(|t| table_out(t, None, None))
            .collect(),
        skipped: p
            .datasets
            .skipped
            .iter()
            .map(|s| {
                let (reason, held_by) = match &s.why {
                    Skipped::NoTimeColumn => ("no_time_column", None),
                    Skipped::ConsentTriggerNotApplicable => {
                        ("consent_trigger_not_applicable", None)
                    }
                    Skipped::Held { hold_id } => ("held", Some(hold_id.clone())),
                };
                TableSkipOut {
                    dataset: s.dataset.clone(),
                    table: s.table.clone(),
                    rule: s.rule.clone(),
                    reason,
                    held_by,
                }
            })
            .collect(),
    }))
}

/// Runs retention now: every job not being run by another server (`busy`) is run, whether
/// or not it is due. Each disposal is audited (`retention.crypto_shred`, `retention.delete`,
/// `retention.anonymize`) with the rules that called for it.
#[utoipa::path(post, path = "/v1/retention/runs", tag = "map", security(("bearer" = [])),
    responses((status = 200, body = RunOut), (status = 403, body = ErrorBody)))]
pub async fn post_run(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<RunOut>, ApiError> {
    let permit = manage(&state, &caller, &rid).await?;
    let actor = permit.draft.actor.clone();
    let mut draft = permit.draft;
    draft.action = "retention.run".into();
    state.store.append_audit(draft).await?;
    let r = retention::run(&state, &rid.0, &actor, true).await?;
    let v = r.vault.unwrap_or_default();
    Ok(ApiJson(RunOut {
        at: r.at.map(time).unwrap_or_default(),
        claimed: r.claimed,
        busy: r.busy,
        shredded: v.shredded,
        records_deleted: v.records_deleted,
        records_anonymized: v.records_anonymized,
        skipped: v.skipped,
        held: r.held,
        tables: r
            .tables
            .iter()
            .map(|t| table_out(&t.disposal, Some(t.rows), Some(t.outcome.clone())))
            .collect(),
    }))
}

fn hold_out(h: StoredHold, now: Timestamp) -> HoldOut {
    let (subject_id, dataset) = match &h.hold.scope {
        HoldScope::Subject(s) => (Some(s.clone()), None),
        HoldScope::Dataset(d) => (None, Some(d.clone())),
    };
    HoldOut {
        active: h.hold.active(now),
        id: h.hold.id,
        subject_id,
        dataset,
        reason: h.hold.reason,
        created_at: time(h.hold.created_at),
        created_by: h.created_by,
        expires_at: h.hold.expires_at.map(time),
        released_at: h.hold.released_at.map(time),
        released_by: h.released_by,
    }
}

/// Places a legal hold on a vault subject or a dataset: while it is active, retention
/// disposes of nothing in its scope (the plan shows what it keeps back).
#[utoipa::path(post, path = "/v1/retention/holds", tag = "map", security(("bearer" = [])),
    request_body = HoldIn, responses((status = 201, body = HoldOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "dataset_not_found"),
    (status = 422, body = ErrorBody, description = "invalid_hold")))]
pub async fn place_hold(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(body): ApiJson<HoldIn>,
) -> Result<(StatusCode, ApiJson<HoldOut>), ApiError> {
    let now = state.clock.now();
    let scope = match (&body.subject_id, &body.dataset) {
        (Some(s), None) if valid_subject_id(s) => HoldScope::Subject(s.clone()),
        (Some(_), None) => return Err(invalid("subject_id", "subject_id")),
        (None, Some(d)) if valid_identifier(d) => HoldScope::Dataset(d.clone()),
        (None, Some(_)) => return Err(invalid("dataset", "identifier")),
        _ => {
            return Err(invalid(
                "subject_id",
                "exactly one of subject_id and dataset",
            ));
        }
    };
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err(invalid("reason", "1 to 500 printable characters"));
    }
    let expires_at = match &body.expires_at {
        None => None,
        Some(s) => Some(
            s.parse::<Timestamp>()
                .ok()
                .filter(|t| *t > now)
                .ok_or_else(|| invalid("expires_at", "an RFC 3339 time in the future"))?,
        ),
    };
    let permit = manage(&state, &caller, &rid).await?;
    if let HoldScope::Dataset(d) = &scope
        && !state.store.datasets().await?.iter().any(|x| &x.key == d)
    {
        return Err(ApiError::new(ErrorCode::DatasetNotFound));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let mut draft = permit.draft;
    draft.action = "retention.hold_placed".into();
    draft.resource = format!("hold:{id}");
    let created_by = draft.actor.clone();
    if let HoldScope::Subject(s) = &scope {
        draft = draft.with_subject(Some(state.vault_crypto.pseudonym(s)));
    } else if let HoldScope::Dataset(d) = &scope {
        draft.fields = vec![format!("dataset:{d}")];
    }
    let hold = StoredHold {
        hold: Hold {
            id,
            scope,
            reason: reason.to_owned(),
            created_at: now,
            expires_at,
            released_at: None,
        },
        created_by,
        released_by: None,
    };
    state.store.put_hold(&hold, draft).await?;
    Ok((StatusCode::CREATED, ApiJson(hold_out(hold, now))))
}

/// Every legal hold, active or not.
#[utoipa::path(get, path = "/v1/retention/holds", tag = "map", security(("bearer" = [])),
    responses((status = 200, body = HoldsOut), (status = 403, body = ErrorBody)))]
pub async fn list_holds(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<HoldsOut>, ApiError> {
    manage(&state, &caller, &rid).await?.record(&state).await?;
    let now = state.clock.now();
    Ok(ApiJson(HoldsOut {
        holds: state
            .store
            .holds()
            .await?
            .into_iter()
            .map(|h| hold_out(h, now))
            .collect(),
    }))
}

/// Releases a legal hold: what it kept back is disposed of by the next run.
#[utoipa::path(post, path = "/v1/retention/holds/{id}/release", tag = "map", security(("bearer" = [])),
    params(("id" = String, Path, description = "The hold's id")),
    responses((status = 200, body = HoldOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "hold_already_released")))]
pub async fn release_hold(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<HoldOut>, ApiError> {
    super::check_id(&id)?;
    let permit = manage(&state, &caller, &rid).await?;
    let now = state.clock.now();
    let mut draft = permit.draft;
    draft.action = "retention.hold_released".into();
    draft.resource = format!("hold:{id}");
    let by = draft.actor.clone();
    state
        .store
        .release_hold(&id, now, &by, draft)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::new(ErrorCode::HoldNotFound),
            StoreError::Conflict("released") => ApiError::new(ErrorCode::HoldReleased),
            other => other.into(),
        })?;
    let hold = state
        .store
        .holds()
        .await?
        .into_iter()
        .find(|h| h.hold.id == id)
        .ok_or_else(|| ApiError::new(ErrorCode::HoldNotFound))?;
    Ok(ApiJson(hold_out(hold, now)))
}

/// Records when a subject's relationship ended (the `end_of_relationship` trigger); a
/// later call moves it.
#[utoipa::path(put, path = "/v1/subjects/{id}/relationship", tag = "map", security(("bearer" = [])),
    params(("id" = String, Path, description = "The vault subject")), request_body = RelationshipIn,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "invalid_value")))]
pub async fn end_relationship(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(subject): ApiPath<String>,
    ApiJson(body): ApiJson<RelationshipIn>,
) -> Result<StatusCode, ApiError> {
    relationship(&state, &caller, &rid, &subject, Some(&body.ended_at)).await
}

/// Clears the end of a subject's relationship (the relationship resumed).
#[utoipa::path(delete, path = "/v1/subjects/{id}/relationship", tag = "map", security(("bearer" = [])),
    params(("id" = String, Path, description = "The vault subject")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn resume_relationship(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(subject): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    relationship(&state, &caller, &rid, &subject, None).await
}

async fn relationship(
    state: &AppState,
    caller: &Caller,
    rid: &RequestId,
    subject: &str,
    ended_at: Option<&str>,
) -> Result<StatusCode, ApiError> {
    if !valid_subject_id(subject) {
        return Err(ApiError::new(ErrorCode::InvalidSubjectId));
    }
    let now = state.clock.now();
    let ended = match ended_at {
        None => None,
        Some(s) => Some(
            s.parse::<Timestamp>()
                .ok()
                .filter(|t| *t <= now)
                .ok_or_else(|| {
                    ApiError::new(ErrorCode::InvalidValue).details(
                        json!({"field": "ended_at", "rule": "an RFC 3339 time, not in the future"}),
                    )
                })?,
        ),
    };
    let permit = authorize(
        state,
        caller,
        rid,
        Action::SubjectLimit,
        Resource::Subjects,
        None,
    )
    .await?;
    let mut draft = permit
        .draft
        .with_subject(Some(state.vault_crypto.pseudonym(subject)));
    draft.action = if ended.is_some() {
        "retention.relationship_ended"
    } else {
        "retention.relationship_resumed"
    }
    .into();
    draft.resource = "subject".into();
    state
        .store
        .set_relationship_end(subject, ended, draft)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
