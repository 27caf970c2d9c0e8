//! The Cedar policy set: read, replace (validated), explain.

use axum::Extension;
use axum::extract::State;
use custodian_core::access::{AccessRequest, Action, Principal, Resource};
use custodian_core::operator::Role;
use serde_json::json;

use super::check_id;
use crate::api::{ExplainIn, ExplainOut, ExplainResource, PolicySetOut, PutPoliciesIn, time};
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ErrorBody, ErrorCode};
use crate::gate::authorize;
use crate::middleware::RequestId;
use crate::state::AppState;

/// The current policy set and the schema it is validated against.
#[utoipa::path(get, path = "/v1/policies", tag = "policies", security(("bearer" = [])), responses(
    (status = 200, body = PolicySetOut), (status = 403, body = ErrorBody),
))]
pub async fn get(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<PolicySetOut>, ApiError> {
    authorize(
        &state,
        &caller,
        &rid,
        Action::PolicyRead,
        Resource::PolicySet,
        None,
    )
    .await?;
    let rec = state
        .store
        .policy_set()
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    Ok(ApiJson(PolicySetOut {
        version: rec.version,
        text: rec.text,
        updated_at: time(rec.updated_at),
        updated_by: rec.updated_by,
        schema: custodian_policy::SCHEMA.to_owned(),
    }))
}

/// Replaces the policy set. It is validated against the schema first; an invalid set is
/// refused with Cedar's diagnostics and the current set stays.
#[utoipa::path(put, path = "/v1/policies", tag = "policies", security(("bearer" = [])),
    request_body = PutPoliciesIn, responses(
    (status = 200, body = PolicySetOut), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "invalid_policies, with details.diagnostics"),
    (status = 503, body = ErrorBody, description = "audit_unavailable: nothing was changed"),
))]
pub async fn put(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(input): ApiJson<PutPoliciesIn>,
) -> Result<ApiJson<PolicySetOut>, ApiError> {
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::PolicyWrite,
        Resource::PolicySet,
        None,
    )
    .await?;
    state.engine.compile(&input.text).map_err(|e| {
        ApiError::new(ErrorCode::InvalidPolicies).details(json!({ "diagnostics": e.diagnostics }))
    })?;
    let rec = state
        .store
        .put_policy_set(&input.text, state.clock.now(), permit.draft)
        .await?;
    // The text validated a moment ago against the same schema, so this cannot fail.
    state.engine.replace(&rec.text, rec.version).map_err(|e| {
        tracing::error!(diagnostics = ?e.diagnostics, "a validated policy set failed to load");
        ApiError::new(ErrorCode::Internal)
    })?;
    Ok(ApiJson(PolicySetOut {
        version: rec.version,
        text: rec.text,
        updated_at: time(rec.updated_at),
        updated_by: rec.updated_by,
        schema: custodian_policy::SCHEMA.to_owned(),
    }))
}

/// Explains what the current policies decide for a request, and which policies decide it.
#[utoipa::path(post, path = "/v1/policies/explain", tag = "policies", security(("bearer" = [])),
    request_body = ExplainIn, responses(
    (status = 200, body = ExplainOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
pub async fn explain(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(input): ApiJson<ExplainIn>,
) -> Result<ApiJson<ExplainOut>, ApiError> {
    let action = Action::parse(&input.action)
        .ok_or_else(|| ApiError::with_message(ErrorCode::InvalidValue, "action: unknown action"))?;
    if let Some(p) = &input.purpose
        && !custodian_core::access::valid_purpose(p)
    {
        return Err(ApiError::with_message(
            ErrorCode::InvalidValue,
            "purpose: not a valid purpose name",
        ));
    }
    let resource = match input.resource {
        ExplainResource::AuditLog => Resource::AuditLog,
        ExplainResource::Policies => Resource::PolicySet,
        ExplainResource::Operators => Resource::Operators,
        ExplainResource::Field {
            collection,
            field,
            category,
            sensitivity,
        } => Resource::Field {
            collection,
            field,
            category,
            sensitivity,
        },
    };
    let mut permit = authorize(
        &state,
        &caller,
        &rid,
        Action::PolicyExplain,
        Resource::PolicySet,
        None,
    )
    .await?;
    let now = state.clock.now();
    let principal = match (input.operator_id, input.role) {
        (Some(id), None) => {
            check_id(&id).map_err(|_| {
                ApiError::with_message(ErrorCode::InvalidValue, "operator_id: not an id")
            })?;
            let op = state
                .store
                .get_operator(&id)
                .await?
                .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
            permit.draft.resource = format!("policies:explain:operator:{id}");
            Principal {
                operator_id: op.id.clone(),
                role: op.role,
                training_current: op.training_current(now),
            }
        }
        (None, Some(role)) => Principal {
            operator_id: "hypothetical".into(),
            role: Role::from(role),
            training_current: input.training_current,
        },
        _ => {
            return Err(ApiError::with_message(
                ErrorCode::InvalidValue,
                "give exactly one of operator_id and role",
            ));
        }
    };
    permit.record(&state).await?;
    let d = state.engine.explain(&AccessRequest {
        principal,
        action,
        resource,
        purpose: input.purpose,
        time: now,
    });
    Ok(ApiJson(ExplainOut {
        decision: if d.allowed { "allow" } else { "deny" },
        determining_policies: d.policies,
        errors: d.errors,
        policy_version: state.engine.version(),
    }))
}
