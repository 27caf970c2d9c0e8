//! Authorization and auditing of every request that needs them.
//!
//! [`authorize`] asks the policy engine. An allow yields a [`Permit`]: the core's
//! [`Authorized`] capability plus the audit draft of the request, which the handler either
//! passes to the store with its change (one transaction) or [`Permit::record`]s before it
//! answers a read. A deny is audited too and answered 403. If the audit event cannot be
//! written, the request fails with 503 and nothing is returned or changed.

use custodian_core::access::{
    AccessRequest, Action, Authorized, Principal, Resource, authorize as decide_core,
};
use custodian_core::audit::{AuditDraft, AuditEvent, Decision};
use custodian_core::vault::schema::{CollectionSchema, FieldSpec};
use custodian_core::vault::service::{Grants, WriteGrant};
use serde_json::json;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::middleware::RequestId;
use crate::state::AppState;

/// An allowed request and the audit event it owes.
#[must_use = "an allowed request owes its audit event: pass the draft to the store or record() it"]
pub struct Permit {
    /// The capability.
    pub authorized: Authorized,
    /// The audit event of this request (decision: allow).
    pub draft: AuditDraft,
}

impl Permit {
    /// Appends the audit event on its own (for reads); fails closed.
    pub async fn record(self, state: &AppState) -> Result<AuditEvent, ApiError> {
        Ok(state.store.append_audit(self.draft).await?)
    }
}

/// The audit draft of something done without an operator's key (`actor`: `system`,
/// `requester`, `public`), allowed by the route itself.
pub fn actor_draft(
    state: &AppState,
    rid: &RequestId,
    actor: &str,
    action: &str,
    resource: &str,
) -> AuditDraft {
    AuditDraft::new(
        state.clock.now(),
        &rid.0,
        actor,
        action,
        resource,
        Decision::Allow,
    )
}

/// The request as the policy engine sees it.
fn request(
    state: &AppState,
    caller: &Caller,
    action: Action,
    resource: Resource,
    purpose: Option<&str>,
) -> AccessRequest {
    let now = state.clock.now();
    AccessRequest {
        principal: Principal {
            operator_id: caller.operator.id.clone(),
            role: caller.operator.role,
            training_current: caller.operator.training_current(now),
        },
        action,
        resource,
        purpose: purpose.map(str::to_owned),
        time: now,
    }
}

/// Asks the engine without auditing: for requests made of many decisions (one per field),
/// which the caller audits as one event.
pub fn decide(
    state: &AppState,
    caller: &Caller,
    action: Action,
    resource: Resource,
    purpose: Option<&str>,
) -> Option<Authorized> {
    let ok = decide_core(
        state.engine.as_ref(),
        request(state, caller, action, resource, purpose),
    )
    .ok();
    metrics::counter!("custodian_authz_decisions_total", "action" => action.as_str(), "decision" => if ok.is_some() { "allow" } else { "deny" })
        .increment(1);
    ok
}

/// The resource a vault field is, for the policy engine.
pub fn field_resource(collection: &str, f: &FieldSpec) -> Resource {
    Resource::Field {
        collection: collection.to_owned(),
        field: f.name.clone(),
        category: f.category.clone(),
        sensitivity: f.sensitivity.as_str().to_owned(),
    }
}

/// Adds to `grants` what the caller may read of `schema`'s fields under `purpose`: each
/// field in plaintext if `data.reveal` is allowed, else masked if `data.mask` is.
pub fn read_grants(
    state: &AppState,
    caller: &Caller,
    schema: &CollectionSchema,
    purpose: &str,
    grants: &mut Grants,
) {
    for f in &schema.fields {
        for action in [Action::DataReveal, Action::DataMask] {
            if let Some(a) = decide(
                state,
                caller,
                action,
                field_resource(&schema.name, f),
                Some(purpose),
            ) {
                grants.add(&a);
                break;
            }
        }
    }
}

/// The grant to `action` (`data.write` or `data.delete`) on each named field of `schema`;
/// the first field refused is the error.
pub fn field_grant<'f>(
    state: &AppState,
    caller: &Caller,
    schema: &CollectionSchema,
    fields: impl IntoIterator<Item = &'f str>,
    action: Action,
    purpose: Option<&str>,
    grant: &mut WriteGrant,
) -> Result<(), String> {
    for name in fields {
        // Unknown fields are the vault's to refuse (422), not the policy's.
        let Some(f) = schema.field(name) else {
            continue;
        };
        match decide(
            state,
            caller,
            action,
            field_resource(&schema.name, f),
            purpose,
        ) {
            Some(a) => {
                grant.add(&a);
            }
            None => return Err(name.to_owned()),
        }
    }
    Ok(())
}

/// The audit draft of this request.
pub fn draft(
    state: &AppState,
    caller: &Caller,
    request_id: &RequestId,
    action: &str,
    resource: impl Into<String>,
    decision: Decision,
    purpose: Option<&str>,
) -> AuditDraft {
    AuditDraft::new(
        state.clock.now(),
        &request_id.0,
        caller.actor(),
        action,
        resource,
        decision,
    )
    .with_purpose(purpose)
}

/// Audits a refusal and returns the error to answer with (or 503 if the audit failed).
pub async fn refuse(state: &AppState, draft: AuditDraft, error: ApiError) -> ApiError {
    match state.store.append_audit(draft).await {
        Ok(_) => error,
        Err(e) => e.into(),
    }
}

/// Decides `action` on `resource` for `caller`, auditing a refusal.
pub async fn authorize(
    state: &AppState,
    caller: &Caller,
    request_id: &RequestId,
    action: Action,
    resource: Resource,
    purpose: Option<String>,
) -> Result<Permit, ApiError> {
    let audit_resource = resource.describe();
    let request = request(state, caller, action, resource, purpose.as_deref());
    let now = request.time;
    let draft = |decision| {
        AuditDraft::new(
            now,
            &request_id.0,
            caller.actor(),
            action.as_str(),
            &audit_resource,
            decision,
        )
        .with_purpose(purpose.as_deref())
    };
    match decide_core(state.engine.as_ref(), request) {
        Ok(authorized) => {
            metrics::counter!("custodian_authz_decisions_total", "action" => action.as_str(), "decision" => "allow")
                .increment(1);
            Ok(Permit {
                authorized,
                draft: draft(Decision::Allow),
            })
        }
        Err(denied) => {
            metrics::counter!("custodian_authz_decisions_total", "action" => action.as_str(), "decision" => "deny")
                .increment(1);
            if !denied.decision.errors.is_empty() {
                tracing::warn!(errors = ?denied.decision.errors, "policy evaluation errors (treated as deny)");
            }
            state.store.append_audit(draft(Decision::Deny)).await?;
            Err(ApiError::new(ErrorCode::AccessDenied).details(json!({
                "action": action.as_str(),
                "determining_policies": denied.decision.policies,
            })))
        }
    }
}

/// [`authorize`] on the compliance register (training, incidents, vendors, DPIAs,
/// monitoring, the dashboard and evidence), with no purpose.
pub async fn authorize_compliance(
    state: &AppState,
    caller: &Caller,
    rid: &RequestId,
    action: custodian_core::access::Action,
) -> Result<Permit, ApiError> {
    authorize(
        state,
        caller,
        rid,
        action,
        custodian_core::access::Resource::Compliance,
        None,
    )
    .await
}
