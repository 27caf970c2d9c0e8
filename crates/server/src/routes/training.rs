//! The training register over HTTP: courses and the roles that must take them
//! (`training.manage`), completions (`training.record`), and who is current
//! (`training.read`), all on the compliance register. An operator's training is derived from
//! the register when the operator is read (`GovernanceStore`), so a completion counts from
//! the next request; the key cache is cleared so this server sees it at once.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use custodian_core::Timestamp;
use custodian_core::access::Action;
use custodian_core::operator::Role;
use custodian_core::ports::StoreError;
use custodian_core::training::{Completion, Course, CourseInput, Standing, TrainingError};
use serde_json::json;

use crate::api::compliance::{
    CompletionIn, CompletionOut, CompletionsOut, CompletionsQuery, CourseIn, CourseOut, CoursesOut,
    OperatorTrainingOut, StandingOut, TrainingStatusOut,
};
use crate::api::time;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, ErrorCode};
use crate::gate::authorize_compliance as allow;
use crate::middleware::RequestId;
use crate::routes::check_id;
use crate::state::AppState;

fn invalid(e: &TrainingError) -> ApiError {
    let field = match e {
        TrainingError::Key => "key",
        TrainingError::Title => "title",
        TrainingError::Text(f) => f,
        TrainingError::Validity => "validity_days",
        TrainingError::DuplicateRole => "required_for",
        TrainingError::CompletedInFuture | TrainingError::AlreadyExpired => "completed_at",
    };
    ApiError::with_message(ErrorCode::InvalidTraining, e.to_string())
        .details(json!({ "field": field, "rule": e.to_string() }))
}

pub(crate) fn course_out(c: Course) -> CourseOut {
    CourseOut {
        key: c.key,
        title: c.title,
        description: c.description,
        validity_days: c.validity_days,
        required_for: c
            .required_for
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect(),
        version: c.version,
        created_at: time(c.created_at),
        updated_at: time(c.updated_at),
    }
}

fn completion_out(c: Completion) -> CompletionOut {
    CompletionOut {
        id: c.id,
        operator_id: c.operator_id,
        course: c.course,
        completed_at: time(c.completed_at),
        expires_at: time(c.expires_at),
        reference: c.reference,
        recorded_by: c.recorded_by,
        recorded_at: time(c.recorded_at),
        revoked_at: c.revoked_at.map(time),
        revoked_by: c.revoked_by,
    }
}

/// Lists the courses.
#[utoipa::path(get, path = "/v1/training/courses", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = CoursesOut), (status = 403, body = ErrorBody)))]
pub async fn list_courses(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<CoursesOut>, ApiError> {
    allow(&state, &caller, &rid, Action::TrainingRead)
        .await?
        .record(&state)
        .await?;
    let courses = state.store.courses().await?;
    Ok(ApiJson(CoursesOut {
        courses: courses.into_iter().map(course_out).collect(),
    }))
}

/// Creates a course (no `version`) or changes it (the `version` read). Changing the roles
/// that must take it changes who is current from the next request; completions keep the
/// expiry they were recorded with.
#[utoipa::path(put, path = "/v1/training/courses/{key}", tag = "compliance", security(("bearer" = [])),
    params(("key" = String, Path, description = "Course key")), request_body = CourseIn,
    responses((status = 201, body = CourseOut, description = "created"), (status = 200, body = CourseOut, description = "changed"),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "course_not_found"),
    (status = 409, body = ErrorBody, description = "course_exists, course_changed"),
    (status = 422, body = ErrorBody, description = "invalid_training")))]
pub async fn put_course(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<CourseIn>,
) -> Result<(StatusCode, ApiJson<CourseOut>), ApiError> {
    let now = state.clock.now();
    let roles: Vec<Role> = body.required_for.iter().map(|r| Role::from(*r)).collect();
    let input = CourseInput {
        key: &key,
        title: &body.title,
        description: body.description.as_deref(),
        validity_days: body.validity_days,
        required_for: &roles,
    };
    // Validate before authorizing a write, with placeholder times; the stored times are
    // set below.
    input.validate(1, now, now).map_err(|e| invalid(&e))?;
    let permit = allow(&state, &caller, &rid, Action::TrainingManage).await?;
    let (version, created_at) = match body.version {
        None => (1, now),
        Some(v) => {
            let old = state
                .store
                .courses()
                .await?
                .into_iter()
                .find(|c| c.key == key)
                .ok_or_else(|| ApiError::new(ErrorCode::CourseNotFound))?;
            if old.version != v {
                return Err(ApiError::new(ErrorCode::CourseChanged));
            }
            (v + 1, old.created_at)
        }
    };
    let course = input
        .validate(version, created_at, now)
        .map_err(|e| invalid(&e))?;
    let mut draft = permit.draft;
    draft.action = if body.version.is_none() {
        "training.course_created"
    } else {
        "training.course_changed"
    }
    .into();
    draft.resource = format!("course:{key}");
    draft.fields = course
        .required_for
        .iter()
        .map(|r| format!("role:{r}"))
        .collect();
    match state.store.put_course(&course, body.version, draft).await {
        Ok(_) => {}
        Err(StoreError::Conflict("course")) => return Err(ApiError::new(ErrorCode::CourseExists)),
        Err(StoreError::Conflict("version")) => {
            return Err(ApiError::new(ErrorCode::CourseChanged));
        }
        Err(StoreError::NotFound) => return Err(ApiError::new(ErrorCode::CourseNotFound)),
        Err(e) => return Err(e.into()),
    }
    state.keys.clear();
    let status = if body.version.is_none() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ApiJson(course_out(course))))
}

/// Records that an operator completed a course; it counts until the completion time plus
/// the course's validity.
#[utoipa::path(post, path = "/v1/training/completions", tag = "compliance", security(("bearer" = [])),
    request_body = CompletionIn, responses((status = 201, body = CompletionOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "course_not_found, operator_not_found"),
    (status = 422, body = ErrorBody, description = "invalid_training")))]
pub async fn record_completion(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(body): ApiJson<CompletionIn>,
) -> Result<(StatusCode, ApiJson<CompletionOut>), ApiError> {
    let now = state.clock.now();
    check_id(&body.operator_id)?;
    custodian_core::training::validate_key(&body.course).map_err(|e| invalid(&e))?;
    let completed_at = match &body.completed_at {
        None => now,
        Some(s) => s.parse::<Timestamp>().map_err(|_| {
            ApiError::new(ErrorCode::InvalidTraining)
                .details(json!({ "field": "completed_at", "rule": "an RFC 3339 time" }))
        })?,
    };
    let permit = allow(&state, &caller, &rid, Action::TrainingRecord).await?;
    let course = state
        .store
        .courses()
        .await?
        .into_iter()
        .find(|c| c.key == body.course)
        .ok_or_else(|| ApiError::new(ErrorCode::CourseNotFound))?;
    if state.store.get_operator(&body.operator_id).await?.is_none() {
        return Err(ApiError::new(ErrorCode::OperatorNotFound));
    }
    let mut draft = permit.draft;
    let completion = course
        .completion(
            uuid::Uuid::now_v7().to_string(),
            &body.operator_id,
            completed_at,
            body.reference.as_deref(),
            &draft.actor,
            now,
        )
        .map_err(|e| invalid(&e))?;
    draft.action = "training.completion_recorded".into();
    draft.resource = format!("operator:{}", body.operator_id);
    draft.fields = vec![format!("course:{}", course.key)];
    state.store.record_completion(&completion, draft).await?;
    state.keys.clear();
    Ok((StatusCode::CREATED, ApiJson(completion_out(completion))))
}

/// Revokes a completion (recorded in error, or its certificate withdrawn): it stops counting
/// from the next request; the record stays.
#[utoipa::path(post, path = "/v1/training/completions/{id}/revoke", tag = "compliance", security(("bearer" = [])),
    params(("id" = String, Path, description = "Completion id")),
    responses((status = 204, description = "revoked"), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "completion_not_found"),
    (status = 409, body = ErrorBody, description = "completion_revoked")))]
pub async fn revoke_completion(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    check_id(&id)?;
    let mut draft = allow(&state, &caller, &rid, Action::TrainingRecord)
        .await?
        .draft;
    draft.action = "training.completion_revoked".into();
    draft.resource = format!("completion:{id}");
    let by = draft.actor.clone();
    match state
        .store
        .revoke_completion(&id, state.clock.now(), &by, draft)
        .await
    {
        Ok(_) => {}
        Err(StoreError::NotFound) => return Err(ApiError::new(ErrorCode::CompletionNotFound)),
        Err(StoreError::Conflict("revoked")) => {
            return Err(ApiError::new(ErrorCode::CompletionRevoked));
        }
        Err(e) => return Err(e.into()),
    }
    state.keys.clear();
    Ok(StatusCode::NO_CONTENT)
}

/// Lists completions, newest first (one operator's, with `operator_id`).
#[utoipa::path(get, path = "/v1/training/completions", tag = "compliance", security(("bearer" = [])),
    params(CompletionsQuery), responses((status = 200, body = CompletionsOut), (status = 403, body = ErrorBody)))]
pub async fn list_completions(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CompletionsQuery>,
) -> Result<ApiJson<CompletionsOut>, ApiError> {
    if let Some(id) = &q.operator_id {
        check_id(id)?;
    }
    allow(&state, &caller, &rid, Action::TrainingRead)
        .await?
        .record(&state)
        .await?;
    let all = state.store.completions(q.operator_id.as_deref()).await?;
    Ok(ApiJson(CompletionsOut {
        completions: all.into_iter().map(completion_out).collect(),
    }))
}

/// Who is current: every enabled operator, each course their role requires, and the
/// figures a compliance dashboard shows.
#[utoipa::path(get, path = "/v1/training/status", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = TrainingStatusOut), (status = 403, body = ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<TrainingStatusOut>, ApiError> {
    allow(&state, &caller, &rid, Action::TrainingRead)
        .await?
        .record(&state)
        .await?;
    let now = state.clock.now();
    Ok(ApiJson(training_status(&state, now).await?))
}

/// The training figures at `now` (also part of the compliance dashboard).
pub async fn training_status(
    state: &AppState,
    now: Timestamp,
) -> Result<TrainingStatusOut, ApiError> {
    let ops = state.store.list_operators().await?;
    let rows = state.store.training_rows(None).await?;
    let mut by_operator = Vec::new();
    let (mut counted, mut current, mut lapsed, mut missing) = (0, 0, 0, 0);
    let mut ops: Vec<_> = ops.into_iter().filter(|o| !o.disabled).collect();
    ops.sort_by(|a, b| a.id.cmp(&b.id));
    for op in ops {
        let courses: Vec<StandingOut> = rows
            .iter()
            .filter(|r| r.operator_id == op.id)
            .map(|r| {
                let standing = Standing::at(r.latest_expiry, now);
                StandingOut {
                    course: r.course.clone(),
                    standing: standing.as_str(),
                    expires_at: r.latest_expiry.map(time),
                }
            })
            .collect();
        let is_current = op.training_current(now);
        if !courses.is_empty() {
            counted += 1;
            if is_current {
                current += 1;
            } else if courses.iter().any(|c| c.standing == "missing") {
                missing += 1;
            } else {
                lapsed += 1;
            }
        }
        by_operator.push(OperatorTrainingOut {
            operator_id: op.id.clone(),
            role: op.role.as_str().to_owned(),
            disabled: op.disabled,
            current: is_current,
            valid_until: op.training_valid_until.map(time),
            courses,
        });
    }
    Ok(TrainingStatusOut {
        at: time(now),
        operators: counted,
        current,
        compliance: if counted == 0 {
            1.0
        } else {
            current as f64 / counted as f64
        },
        lapsed,
        missing,
        by_operator,
    })
}
