//! Manual tasks of rights requests: the systems Custodian cannot reach, carried out by a
//! person who records what was done (`core::rights::task`).

use axum::Extension;
use axum::extract::State;
use custodian_core::access::{Action, Resource};
use custodian_core::rights::task::valid_evidence;

use crate::api::rights::{TaskOut, TaskStepIn, TasksOut, task_out};
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody, ErrorCode};
use crate::gate::authorize;
use crate::middleware::RequestId;
use crate::rights::invalid;
use crate::routes::rights::load;
use crate::state::AppState;

/// A request's manual tasks.
#[utoipa::path(get, path = "/v1/rights/requests/{id}/tasks", tag = "rights", security(("bearer" = [])),
    params(("id" = String, Path, description = "Request id")), responses(
    (status = 200, body = TasksOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
pub async fn list(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<TasksOut>, ApiError> {
    authorize(
        &state,
        &caller,
        &rid,
        Action::RightsRead,
        Resource::Rights,
        None,
    )
    .await?
    .record(&state)
    .await?;
    let r = load(&state, &id).await?;
    let tasks = state.store.rights_tasks(&r.id).await?;
    Ok(ApiJson(TasksOut {
        tasks: tasks.iter().map(task_out).collect(),
    }))
}

/// Assigns a manual task (`assign`, with `operator`) or closes it with evidence of what was
/// done (`complete`, with `evidence`; the evidence is kept with the task, not in the audit
/// log). Completing the request is refused while one of its tasks is open.
#[utoipa::path(post, path = "/v1/rights/requests/{id}/tasks/{task_id}", tag = "rights", security(("bearer" = [])),
    params(("id" = String, Path, description = "Request id"), ("task_id" = String, Path, description = "Task id")),
    request_body = TaskStepIn, responses(
    (status = 200, body = TaskOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "invalid_transition, concurrent_change"),
    (status = 422, body = ErrorBody),
))]
pub async fn step(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath((id, task_id)): ApiPath<(String, String)>,
    ApiJson(input): ApiJson<TaskStepIn>,
) -> Result<ApiJson<TaskOut>, ApiError> {
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::RightsManage,
        Resource::Rights,
        None,
    )
    .await?;
    let r = load(&state, &id).await?;
    let task = state
        .store
        .rights_tasks(&r.id)
        .await?
        .into_iter()
        .find(|t| t.id == task_id)
        .ok_or_else(|| ApiError::new(ErrorCode::TaskNotFound))?;
    if input.expected_version.is_some_and(|v| v != task.version) {
        return Err(ApiError::with_message(
            ErrorCode::ConcurrentChange,
            "the task changed since it was read",
        ));
    }
    if r.progress.state.is_final() || !task.is_open() {
        return Err(ApiError::with_message(
            ErrorCode::InvalidTransition,
            "the task is done, or its request is closed",
        ));
    }
    let mut next = task.clone();
    next.version = task.version + 1;
    let mut draft = permit.draft;
    match input.step.as_str() {
        "assign" => {
            let operator = input
                .operator
                .ok_or_else(|| invalid("operator", "required"))?;
            if state.store.get_operator(&operator).await?.is_none() {
                return Err(invalid("operator", "existing_operator"));
            }
            next.assignee = Some(operator);
            draft.action = "rights.task_assigned".into();
        }
        "complete" => {
            let evidence = input
                .evidence
                .filter(|e| valid_evidence(e))
                .ok_or_else(|| invalid("evidence", "1_to_2000_characters"))?;
            next.evidence = Some(evidence);
            next.done_by = Some(caller.operator.id.clone());
            next.done_at = Some(state.clock.now());
            draft.action = "rights.task_completed".into();
        }
        _ => return Err(invalid("step", "assign_or_complete")),
    }
    draft.resource = format!("rights_task:{}", task.id);
    draft.subject = r.subject_id.as_deref().map(|s| state.vault().pseudonym(s));
    match state
        .store
        .update_rights_task(&next, task.version, draft)
        .await
    {
        Ok(_) => Ok(ApiJson(task_out(&next))),
        Err(custodian_core::ports::StoreError::Conflict(_)) => Err(ApiError::with_message(
            ErrorCode::ConcurrentChange,
            "the task changed meanwhile; read it again",
        )),
        Err(custodian_core::ports::StoreError::NotFound) => {
            Err(ApiError::new(ErrorCode::TaskNotFound))
        }
        Err(e) => Err(e.into()),
    }
}
