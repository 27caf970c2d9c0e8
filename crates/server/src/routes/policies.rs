//! The Cedar policy set: read, replace (validated), explain.

use axum::Extension;
use axum::extract::State;
use custodian_core::access::{AccessRequest, Action, PolicyEngine, Principal, Resource};
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
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::PolicyRead,
        Resource::PolicySet,
        None,
    )
    .await?;
    permit.record(&state).await?;
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
    let candidate = custodian_policy::CedarEngine::new(&input.text, 0).map_err(|e| match e {
        custodian_policy::EngineInitError::Policies(p) => ApiError::new(ErrorCode::InvalidPolicies)
            .details(json!({ "diagnostics": p.diagnostics })),
        custodian_policy::EngineInitError::Schema(_) => ApiError::new(ErrorCode::Internal),
    })?;
    // A set under which the caller could no longer save policies would lock everyone out
    // but a database administrator: refuse it.
    if !candidate
        .decide(&permit.authorized.request().clone())
        .allowed
    {
        return Err(ApiError::new(ErrorCode::InvalidPolicies).details(json!({ "diagnostics": [
            "this policy set would deny you policy.write, so nobody could repair it through the API; keep a policy that permits it"
        ]})));
    }
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

/// The sensitivities a field can have.
pub const SENSITIVITIES: [&str; 4] = ["low", "medium", "high", "special"];

fn identifier(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(x) if x.is_ascii_lowercase())
        && s.len() <= 64
        && c.all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == '_')
}

/// Checks the parts of a field resource: identifiers, a dotted category key, a known sensitivity.
pub fn validate_field_resource(
    collection: &str,
    field: &str,
    category: &str,
    sensitivity: &str,
) -> Result<(), ApiError> {
    let bad = |m: &str| {
        Err(ApiError::with_message(
            ErrorCode::InvalidValue,
            m.to_owned(),
        ))
    };
    if !identifier(collection) {
        return bad(
            "resource.collection: lower-case letters, digits and _ (at most 64), starting with a letter",
        );
    }
    if !identifier(field) {
        return bad(
            "resource.field: lower-case letters, digits and _ (at most 64), starting with a letter",
        );
    }
    if !custodian_core::taxonomy::contains(custodian_core::taxonomy::Kind::DataCategory, category) {
        return bad(
            "resource.category: not a data category of the taxonomy (e.g. user.contact.email)",
        );
    }
    if !SENSITIVITIES.contains(&sensitivity) {
        return bad("resource.sensitivity: one of low, medium, high, special");
    }
    Ok(())
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
        } => {
            validate_field_resource(&collection, &field, &category, &sensitivity)?;
            Resource::Field {
                collection,
                field,
                category,
                sensitivity,
            }
        }
    };
    match (&input.operator_id, &input.role, input.training_current) {
        (Some(id), None, None) => {
            check_id(id).map_err(|_| {
                ApiError::with_message(ErrorCode::InvalidValue, "operator_id: not an id")
            })?;
        }
        (None, Some(_), _) => {}
        (Some(_), None, Some(_)) => {
            return Err(ApiError::with_message(
                ErrorCode::InvalidValue,
                "training_current goes with role; a named operator's training is looked up",
            ));
        }
        _ => {
            return Err(ApiError::with_message(
                ErrorCode::InvalidValue,
                "give exactly one of operator_id and role",
            ));
        }
    }
    let mut permit = authorize(
        &state,
        &caller,
        &rid,
        Action::PolicyExplain,
        Resource::PolicySet,
        None,
    )
    .await?;
    if let Some(id) = &input.operator_id {
        permit.draft.resource = format!("policies:explain:operator:{id}");
    }
    // The explanation may concern another operator: the event comes before any lookup.
    permit.record(&state).await?;
    let now = state.clock.now();
    let principal = match (input.operator_id, input.role) {
        (Some(id), _) => {
            let op = state
                .store
                .get_operator(&id)
                .await?
                .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
            Principal {
                operator_id: op.id.clone(),
                role: op.role,
                training_current: op.training_current(now),
            }
        }
        (None, Some(role)) => Principal {
            operator_id: "hypothetical".into(),
            role: Role::from(role),
            training_current: input.training_current.unwrap_or(false),
        },
        (None, None) => return Err(ApiError::new(ErrorCode::Internal)),
    };
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
