//! Authorization and auditing of every request that needs them.
//!
//! [`authorize`] asks the policy engine. An allow yields a [`Permit`]: the core's
//! [`Authorized`] capability plus the audit draft of the request, which the handler either
//! passes to the store with its change (one transaction) or [`Permit::record`]s before it
//! answers a read. A deny is audited too and answered 403. If the audit event cannot be
//! written, the request fails with 503 and nothing is returned or changed.

use custodian_core::access::{
    AccessRequest, Action, Authorized, Principal, Resource, authorize as decide,
};
use custodian_core::audit::{AuditDraft, AuditEvent, Decision};
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

/// Decides `action` on `resource` for `caller`, auditing a refusal.
pub async fn authorize(
    state: &AppState,
    caller: &Caller,
    request_id: &RequestId,
    action: Action,
    resource: Resource,
    purpose: Option<String>,
) -> Result<Permit, ApiError> {
    let now = state.clock.now();
    let audit_resource = resource.describe();
    let request = AccessRequest {
        principal: Principal {
            operator_id: caller.operator.id.clone(),
            role: caller.operator.role,
            training_current: caller.operator.training_current(now),
        },
        action,
        resource,
        purpose: purpose.clone(),
        time: now,
    };
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
    match decide(state.engine.as_ref(), request) {
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
