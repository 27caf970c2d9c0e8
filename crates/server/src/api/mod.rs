//! Wire types: what the HTTP API reads and writes, converted by hand from domain types.

use custodian_core::Timestamp;
use custodian_core::audit::AuditEvent;
use custodian_core::operator::{ApiKey, Operator};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// RFC 3339 text of a timestamp.
pub fn time(t: Timestamp) -> String {
    t.to_string()
}

/// A role name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    /// Runs the installation.
    Admin,
    /// Data protection officer.
    Dpo,
    /// Customer support.
    Support,
    /// Marketing.
    Marketing,
    /// Engineers and their services.
    Engineer,
    /// Auditor.
    Auditor,
}

impl From<RoleName> for custodian_core::operator::Role {
    fn from(r: RoleName) -> Self {
        use custodian_core::operator::Role;
        match r {
            RoleName::Admin => Role::Admin,
            RoleName::Dpo => Role::Dpo,
            RoleName::Support => Role::Support,
            RoleName::Marketing => Role::Marketing,
            RoleName::Engineer => Role::Engineer,
            RoleName::Auditor => Role::Auditor,
        }
    }
}

/// An operator.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorOut {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role.
    #[schema(example = "dpo")]
    pub role: String,
    /// Until when training counts as current (RFC 3339): the earliest expiry of the latest
    /// completions of the courses the role requires; absent when one was never completed or
    /// the role requires none. In the past: the training has lapsed.
    pub training_valid_until: Option<String>,
    /// Whether the operator is disabled.
    pub disabled: bool,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

impl From<&Operator> for OperatorOut {
    fn from(o: &Operator) -> Self {
        Self {
            id: o.id.clone(),
            name: o.name.clone(),
            role: o.role.as_str().to_owned(),
            training_valid_until: o.training_valid_until.map(time),
            disabled: o.disabled,
            created_at: time(o.created_at),
        }
    }
}

/// A new operator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOperatorIn {
    /// Display name (1 to 200 characters).
    pub name: String,
    /// Role.
    pub role: RoleName,
}

/// A change to an operator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchOperatorIn {
    /// Disable (true) or re-enable (false).
    pub disabled: bool,
}

/// An API key as listed (the secret is never shown again).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOut {
    /// Id.
    pub id: String,
    /// The operator it authenticates.
    pub operator_id: String,
    /// The first characters of the key.
    pub prefix: String,
    /// Creation time.
    pub created_at: String,
    /// Expiry time, if any.
    pub expires_at: Option<String>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<String>,
}

impl From<&ApiKey> for KeyOut {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id.clone(),
            operator_id: k.operator_id.clone(),
            prefix: k.prefix.clone(),
            created_at: time(k.created_at),
            expires_at: k.expires_at.map(time),
            revoked_at: k.revoked_at.map(time),
        }
    }
}

/// A request for a new key.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyIn {
    /// Days until the key expires (1 to 3650); none: it never expires.
    pub expires_in_days: Option<u32>,
}

/// A new key: the secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewKeyOut {
    /// The key itself; store it now, it cannot be shown again.
    pub key: String,
    /// The stored key's description.
    #[serde(flatten)]
    pub info: KeyOut,
}

/// An invitation to enrol in the console: the link works once, until it expires.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationOut {
    /// The enrolment page's path (`/console/enroll/<token>`); hand it to the operator over a
    /// channel you trust.
    pub path: String,
    /// The whole link, when the server knows its public address.
    pub url: Option<String>,
    /// When it stops working.
    pub expires_at: String,
}

/// The caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    /// The operator.
    pub operator: OperatorOut,
    /// The id of the key used.
    pub key_id: String,
}

/// The policy set.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicySetOut {
    /// Version, from 1.
    pub version: i64,
    /// Cedar policy text.
    pub text: String,
    /// When it was saved.
    pub updated_at: String,
    /// Who saved it.
    pub updated_by: String,
    /// The Cedar schema the policies are validated against.
    pub schema: String,
}

/// A new policy set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutPoliciesIn {
    /// Cedar policy text.
    pub text: String,
}

/// What an explanation is about.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum ExplainResource {
    /// The audit log.
    AuditLog,
    /// The policy set.
    Policies,
    /// The operator directory.
    Operators,
    /// A field of a collection.
    Field {
        /// Collection name.
        collection: String,
        /// Field name.
        field: String,
        /// Data category (taxonomy key).
        category: String,
        /// Sensitivity: low, medium, high or special.
        sensitivity: String,
    },
}

/// A question for the policy engine.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainIn {
    /// An existing operator to ask about; or give `role` instead.
    pub operator_id: Option<String>,
    /// A role to ask about (when no operator is named).
    pub role: Option<RoleName>,
    /// Whether the hypothetical operator's training is current (only with `role`; default false).
    pub training_current: Option<bool>,
    /// The action, e.g. `data.reveal`.
    pub action: String,
    /// The resource.
    pub resource: ExplainResource,
    /// The purpose, e.g. `support`.
    pub purpose: Option<String>,
}

/// The engine's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainOut {
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// The `@id` of each policy that determined the decision; empty on a default deny.
    pub determining_policies: Vec<String>,
    /// Evaluation errors (a policy that errors is skipped).
    pub errors: Vec<String>,
    /// The version of the policy set that answered.
    pub policy_version: i64,
}

/// A signed checkpoint of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointOut {
    /// The log's origin (and key name).
    pub origin: String,
    /// The number of events.
    pub size: u64,
    /// The RFC 9162 root hash, hex.
    pub root: String,
    /// The C2SP signed note (checkpoint body, blank line, Ed25519 signature line).
    pub checkpoint: String,
    /// The verifier key that checks the signature.
    pub verifier_key: String,
}

/// An audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// Position in the log (leaf index).
    pub seq: u64,
    /// When (RFC 3339, millisecond precision).
    pub time: String,
    /// The request id.
    pub request_id: String,
    /// Who acted.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// To what.
    pub resource: String,
    /// Pseudonymous subject id.
    pub subject: Option<String>,
    /// Field names touched.
    pub fields: Vec<String>,
    /// The purpose named.
    pub purpose: Option<String>,
    /// `allow` or `deny`.
    pub decision: String,
    /// RFC 9162 leaf hash, hex.
    pub leaf_hash: String,
    /// Hash-chain value after this event, hex.
    pub chain_hash: String,
}

impl From<&AuditEvent> for EventOut {
    fn from(e: &AuditEvent) -> Self {
        Self {
            seq: e.seq,
            time: time(e.draft.time),
            request_id: e.draft.request_id.clone(),
            actor: e.draft.actor.clone(),
            action: e.draft.action.clone(),
            resource: e.draft.resource.clone(),
            subject: e.draft.subject.clone(),
            fields: e.draft.fields.clone(),
            purpose: e.draft.purpose.clone(),
            decision: e.draft.decision.as_str().to_owned(),
            leaf_hash: hex::encode(e.leaf_hash),
            chain_hash: hex::encode(e.chain_hash),
        }
    }
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsPage {
    /// The events, in order.
    pub events: Vec<EventOut>,
    /// The `from` of the next page, if there may be more.
    pub next: Option<u64>,
}

/// An RFC 9162 inclusion proof.
#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionOut {
    /// Leaf index.
    pub seq: u64,
    /// Tree size the proof is for.
    pub tree_size: u64,
    /// The leaf hash, hex.
    pub leaf_hash: String,
    /// Audit path, leaf to root, hex.
    pub proof: Vec<String>,
    /// Root hash at `tree_size`, hex.
    pub root: String,
}

/// An RFC 9162 consistency proof.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyOut {
    /// The older tree size.
    pub from: u64,
    /// The newer tree size.
    pub to: u64,
    /// Root at `from`, hex.
    pub from_root: String,
    /// Root at `to`, hex.
    pub to_root: String,
    /// The proof, hex.
    pub proof: Vec<String>,
}

/// Health.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    /// `ok` or `ready`.
    pub status: &'static str,
}
pub mod compliance;
pub mod consent;
pub mod map;
pub mod rights;
pub mod vault;
