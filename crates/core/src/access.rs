//! Authorization requests, the policy-engine port, and the [`Authorized`] capability.
//!
//! Architecture invariant: code that reveals personal data or changes configuration takes an
//! [`Authorized`], which only [`authorize`] can make, and only when the policy engine allows.

use std::fmt;

use jiff::Timestamp;

use crate::operator::Role;

/// What a caller wants to do. The name is the Cedar action id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// List or read operators and their keys.
    OperatorRead,
    /// Create, disable operators; issue and revoke keys.
    OperatorWrite,
    /// Read the policy set.
    PolicyRead,
    /// Replace the policy set.
    PolicyWrite,
    /// Ask the engine to explain a decision.
    PolicyExplain,
    /// Read the audit log, its checkpoints and proofs.
    AuditRead,
    /// Read personal data in plaintext.
    DataReveal,
    /// Read personal data masked.
    DataMask,
    /// Create or change personal data.
    DataWrite,
    /// Erase personal data.
    DataDelete,
    /// Read collection schemas.
    SchemaRead,
    /// Declare or change collection schemas.
    SchemaWrite,
    /// Record or lift a subject's restriction of processing or objection.
    SubjectLimit,
    /// Define purposes and publish notices.
    ConsentConfigure,
    /// Read subjects' consent records and receipts.
    ConsentRead,
    /// Record consents, refusals and withdrawals (also imports).
    ConsentRecord,
    /// Ask whether a subject's data may be used for a purpose.
    ConsentCheck,
    /// List and read data-subject rights requests and their SLA figures.
    RightsRead,
    /// File rights requests and take their workflow steps (verify, assign, extend, complete,
    /// reject).
    RightsManage,
    /// Approve a rights request (the DPO's approval; two people for an erasure).
    RightsApprove,
    /// Open the requester's identity (name, email) of a rights request.
    RightsIdentity,
    /// Read the data map and the records of processing.
    MapRead,
    /// Change the data map (systems, taxonomy additions, retention rules).
    MapWrite,
    /// Place and lift legal holds, preview and run disposal.
    RetentionManage,
    /// Find and redact personal data in text sent to the API.
    ScanRun,
    /// Scan a connected database (sampled values, never returned) and propose categories
    /// for its columns.
    ScanDatabase,
    /// Accept or reject proposals to the data map (accepting writes the category into the
    /// dataset's declaration).
    ScanReview,
    /// Open the items a redaction encrypted (`<EMAIL:enc:…>`).
    ScanDecrypt,
    /// Read the training register: courses, completions, who is current.
    TrainingRead,
    /// Create and change courses and the roles that must take them.
    TrainingManage,
    /// Record that an operator completed a course.
    TrainingRecord,
    /// Read the incident register, its clocks, affected subjects and letters.
    IncidentRead,
    /// Record incidents, assess them, and record their notifications.
    IncidentManage,
    /// Read the compliance dashboard's figures.
    ComplianceRead,
    /// Export an evidence bundle (it is recorded, so the next proves consistency from it).
    EvidenceExport,
    /// Read the vendor register.
    VendorRead,
    /// Add, change and review vendors.
    VendorManage,
    /// Read the DPIAs and which processing needs one.
    DpiaRead,
    /// Write and submit DPIAs.
    DpiaWrite,
    /// Sign DPIAs off (approve or reject).
    DpiaApprove,
    /// Read the access monitor's rules and alerts.
    MonitoringRead,
    /// Set the access monitor's rules, run it, and handle its alerts.
    MonitoringManage,
}

impl Action {
    /// Every action, in a stable order.
    pub const ALL: [Action; 42] = [
        Action::OperatorRead,
        Action::OperatorWrite,
        Action::PolicyRead,
        Action::PolicyWrite,
        Action::PolicyExplain,
        Action::AuditRead,
        Action::DataReveal,
        Action::DataMask,
        Action::DataWrite,
        Action::DataDelete,
        Action::SchemaRead,
        Action::SchemaWrite,
        Action::SubjectLimit,
        Action::ConsentConfigure,
        Action::ConsentRead,
        Action::ConsentRecord,
        Action::ConsentCheck,
        Action::RightsRead,
        Action::RightsManage,
        Action::RightsApprove,
        Action::RightsIdentity,
        Action::MapRead,
        Action::MapWrite,
        Action::RetentionManage,
        Action::ScanRun,
        Action::ScanDatabase,
        Action::ScanReview,
        Action::ScanDecrypt,
        Action::TrainingRead,
        Action::TrainingManage,
        Action::TrainingRecord,
        Action::IncidentRead,
        Action::IncidentManage,
        Action::ComplianceRead,
        Action::EvidenceExport,
        Action::VendorRead,
        Action::VendorManage,
        Action::DpiaRead,
        Action::DpiaWrite,
        Action::DpiaApprove,
        Action::MonitoringRead,
        Action::MonitoringManage,
    ];

    /// The Cedar action id and audit action name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::OperatorRead => "operator.read",
            Action::OperatorWrite => "operator.write",
            Action::PolicyRead => "policy.read",
            Action::PolicyWrite => "policy.write",
            Action::PolicyExplain => "policy.explain",
            Action::AuditRead => "audit.read",
            Action::DataReveal => "data.reveal",
            Action::DataMask => "data.mask",
            Action::DataWrite => "data.write",
            Action::DataDelete => "data.delete",
            Action::SchemaRead => "schema.read",
            Action::SchemaWrite => "schema.write",
            Action::SubjectLimit => "subject.limit",
            Action::ConsentConfigure => "consent.configure",
            Action::ConsentRead => "consent.read",
            Action::ConsentRecord => "consent.record",
            Action::ConsentCheck => "consent.check",
            Action::RightsRead => "rights.read",
            Action::RightsManage => "rights.manage",
            Action::RightsApprove => "rights.approve",
            Action::RightsIdentity => "rights.identity",
            Action::MapRead => "map.read",
            Action::MapWrite => "map.write",
            Action::RetentionManage => "retention.manage",
            Action::ScanRun => "scan.run",
            Action::ScanDatabase => "scan.database",
            Action::ScanReview => "scan.review",
            Action::ScanDecrypt => "scan.decrypt",
            Action::TrainingRead => "training.read",
            Action::TrainingManage => "training.manage",
            Action::TrainingRecord => "training.record",
            Action::IncidentRead => "incident.read",
            Action::IncidentManage => "incident.manage",
            Action::ComplianceRead => "compliance.read",
            Action::EvidenceExport => "evidence.export",
            Action::VendorRead => "vendor.read",
            Action::VendorManage => "vendor.manage",
            Action::DpiaRead => "dpia.read",
            Action::DpiaWrite => "dpia.write",
            Action::DpiaApprove => "dpia.approve",
            Action::MonitoringRead => "monitoring.read",
            Action::MonitoringManage => "monitoring.manage",
        }
    }

    /// Parses [`Action::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the action is done to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// The audit log.
    AuditLog,
    /// The policy set.
    PolicySet,
    /// The operator directory (operators and their keys).
    Operators,
    /// A vault collection (its schema).
    Collection {
        /// The collection's name.
        name: String,
    },
    /// The register of data subjects' restrictions and objections.
    Subjects,
    /// The consent ledger, purposes and notices.
    Consent,
    /// The register of data-subject rights requests.
    Rights,
    /// The data map, its retention rules and legal holds.
    DataMap,
    /// The compliance registers (training, incidents, vendors, DPIAs), the dashboard and
    /// evidence bundles.
    Compliance,
    /// A field of a vault collection.
    Field {
        /// The collection's name.
        collection: String,
        /// The field's name.
        field: String,
        /// The field's data category, a taxonomy key such as `user.contact.email`.
        category: String,
        /// The field's sensitivity (`low`, `medium`, `high`, `special`).
        sensitivity: String,
    },
}

impl Resource {
    /// A short, data-free description for audit events and explanations.
    pub fn describe(&self) -> String {
        match self {
            Resource::AuditLog => "audit_log".into(),
            Resource::PolicySet => "policies".into(),
            Resource::Operators => "operators".into(),
            Resource::Collection { name } => format!("collection:{name}"),
            Resource::Subjects => "subjects".into(),
            Resource::Consent => "consent".into(),
            Resource::Rights => "rights".into(),
            Resource::DataMap => "map".into(),
            Resource::Compliance => "compliance".into(),
            Resource::Field {
                collection, field, ..
            } => format!("field:{collection}.{field}"),
        }
    }
}

/// The caller, as the policy engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The operator's id.
    pub operator_id: String,
    /// The operator's role.
    pub role: Role,
    /// Whether the operator's privacy training is current.
    pub training_current: bool,
}

/// One question for the policy engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// Who asks.
    pub principal: Principal,
    /// What they want to do.
    pub action: Action,
    /// To what.
    pub resource: Resource,
    /// The purpose named in `Custodian-Purpose`, if any.
    pub purpose: Option<String>,
    /// When (hour of day and weekday are derived from it in UTC).
    pub time: Timestamp,
}

/// The engine's answer, with what it was based on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDecision {
    /// Whether the request is allowed.
    pub allowed: bool,
    /// Ids of the policies that determined the decision (none: nothing permitted it).
    pub policies: Vec<String>,
    /// Evaluation errors; a policy that errors is skipped, which can only deny.
    pub errors: Vec<String>,
}

/// The port the Cedar adapter implements.
pub trait PolicyEngine: Send + Sync {
    /// Decides one request. Never fails: anything that goes wrong is a deny with errors.
    fn decide(&self, request: &AccessRequest) -> PolicyDecision;
}

/// Proof that a request was allowed; only [`authorize`] makes one.
#[derive(Debug, Clone)]
pub struct Authorized {
    request: AccessRequest,
    policies: Vec<String>,
}

impl Authorized {
    /// The request that was allowed.
    pub fn request(&self) -> &AccessRequest {
        &self.request
    }

    /// The policies that allowed it.
    pub fn policies(&self) -> &[String] {
        &self.policies
    }
}

/// A refused request, with the engine's reasons.
#[derive(Debug, Clone)]
pub struct Denied {
    /// The request that was refused.
    pub request: AccessRequest,
    /// The engine's decision (forbidding policies, errors).
    pub decision: PolicyDecision,
}

/// Asks the engine and, if it allows, returns the capability.
pub fn authorize(
    engine: &dyn PolicyEngine,
    request: AccessRequest,
) -> Result<Authorized, Box<Denied>> {
    let decision = engine.decide(&request);
    if decision.allowed {
        Ok(Authorized {
            request,
            policies: decision.policies,
        })
    } else {
        Err(Box::new(Denied { request, decision }))
    }
}

/// The longest purpose name accepted.
pub const MAX_PURPOSE: usize = 64;

/// Checks a purpose name: 1 to 64 characters of `a-z`, `0-9`, `_`, `-`, `.`, starting with a letter.
pub fn valid_purpose(p: &str) -> bool {
    let mut chars = p.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && p.len() <= MAX_PURPOSE
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct AllowAdmins;
    impl PolicyEngine for AllowAdmins {
        fn decide(&self, r: &AccessRequest) -> PolicyDecision {
            PolicyDecision {
                allowed: r.principal.role == Role::Admin,
                policies: vec!["p0".into()],
                errors: vec![],
            }
        }
    }

    fn req(role: Role) -> AccessRequest {
        AccessRequest {
            principal: Principal {
                operator_id: "o".into(),
                role,
                training_current: true,
            },
            action: Action::PolicyRead,
            resource: Resource::PolicySet,
            purpose: None,
            time: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn authorize_gives_the_capability_only_on_allow() {
        assert!(authorize(&AllowAdmins, req(Role::Admin)).is_ok());
        let denied = authorize(&AllowAdmins, req(Role::Support));
        assert!(denied.is_err());
    }

    #[test]
    fn actions_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("data.steal"), None);
    }

    #[test]
    fn purposes_are_validated() {
        for ok in ["support", "fraud_prevention", "billing.v2", "a"] {
            assert!(valid_purpose(ok), "{ok}");
        }
        for bad in ["", "Support", "1abc", "a b", "x\u{0}", &"a".repeat(65)] {
            assert!(!valid_purpose(bad), "{bad}");
        }
    }
}
