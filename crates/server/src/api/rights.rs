//! Wire types of data-subject rights requests: the operator API and the privacy center's
//! requester API.

use custodian_core::rights::Due;
use custodian_core::rights::request::{
    DeadlineView, RIGHT_TO_COMPLAIN, RightsEvent, RightsRequest, SlaFigures, rejection_notice,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::time;

/// The requester's identity as given.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequesterIn {
    /// Email address; the verification code is sent there.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Phone number (normalised to E.164).
    pub phone: Option<String>,
    /// Their customer number in your own systems (1 to 200 printable characters): finds
    /// their rows in connected databases whose field declares `identity: customer_id`.
    pub customer_id: Option<String>,
}

/// An authorized agent acting for the requester.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentIn {
    /// The agent's name or business name.
    pub name: String,
    /// The agent's email.
    pub email: Option<String>,
}

/// `POST /v1/rights/requests`: a request filed by an operator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RightsRequestIn {
    /// `access`, `portability`, `rectification`, `erasure`, `restriction`, `objection`,
    /// `opt_out_sale`, `opt_out_sharing`, `opt_out_targeted_advertising`, `limit_sensitive`,
    /// `access_categories`.
    #[schema(example = "access")]
    #[serde(rename = "type")]
    pub request_type: String,
    /// Jurisdiction key: `GDPR`, `UK_GDPR`, `CCPA`, `US_VA`, ... (see `GET /v1/rights/rules`).
    #[schema(example = "GDPR")]
    pub jurisdiction: String,
    /// IANA time zone the law's days are counted in; default: the server's setting.
    #[schema(example = "Europe/Paris")]
    pub time_zone: Option<String>,
    /// The vault subject the request concerns, if known.
    pub subject_id: Option<String>,
    /// When it was received (RFC 3339; default now); not in the future, at most a year ago.
    pub received_at: Option<String>,
    /// Who asks.
    #[serde(default)]
    pub requester: RequesterIn,
    /// An authorized agent, if one files for the requester.
    pub agent: Option<AgentIn>,
}

/// `POST /v1/privacy-center/requests`: a request filed by the requester.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicRequestIn {
    /// The request type (as in `RightsRequestIn`).
    #[schema(example = "access")]
    #[serde(rename = "type")]
    pub request_type: String,
    /// Jurisdiction key.
    #[schema(example = "CCPA")]
    pub jurisdiction: String,
    /// The requester's email: the code goes there, and the vault records with this email are
    /// the data the request concerns.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// An authorized agent filing for the requester (the code still goes to the requester).
    pub agent: Option<AgentIn>,
}

/// `POST /v1/privacy-center/requests/{id}/verify`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeIn {
    /// The six-digit code from the email.
    #[schema(example = "042917")]
    pub code: String,
}

/// `POST /v1/rights/requests/{id}/steps`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepIn {
    /// `send_code`, `verify_manually`, `start`, `assign`, `link_subject`,
    /// `submit_for_approval`, `approve`, `complete`, `reject`, `withdraw`, `extend`.
    #[schema(example = "approve")]
    pub step: String,
    /// For `assign`: the operator id.
    pub operator: Option<String>,
    /// For `reject`: `identity_not_verified`, `manifestly_unfounded`, `legal_exemption`,
    /// `no_data_held`, `duplicate`. For `extend`: `complexity`, `number_of_requests`,
    /// `reasonably_necessary`.
    pub reason: Option<String>,
    /// For `link_subject`: the vault subject id.
    pub subject_id: Option<String>,
    /// For `complete` on an objection: the purpose objected to (e.g. `marketing`).
    pub purpose: Option<String>,
    /// The version read; the step is refused (409) if the request changed since.
    pub expected_version: Option<i64>,
}

/// A deadline: its last day and the instant it ends.
#[derive(Debug, Serialize, ToSchema)]
pub struct DueOut {
    /// Last day (inclusive), in the law's time zone.
    #[schema(example = "2026-03-02")]
    pub date: String,
    /// The instant that day ends (RFC 3339).
    pub end: String,
}

fn due(d: &Due) -> DueOut {
    DueOut {
        date: d.date.to_string(),
        end: time(d.end),
    }
}

/// A request's deadlines.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlinesOut {
    /// Acknowledge receipt by (where the law requires it).
    pub acknowledge_by: Option<DueOut>,
    /// The original response deadline.
    pub respond_by: DueOut,
    /// The deadline once extended (where the law allows).
    pub extended_respond_by: Option<DueOut>,
    /// Notify an extension by.
    pub extension_notice_by: Option<DueOut>,
    /// The deadline in force.
    pub due: DueOut,
    /// Whole days the clock was stopped for identity verification.
    pub paused_days: i64,
    /// The legal source of the rule.
    pub source: String,
}

/// Converts stored deadlines.
pub fn deadlines(d: &DeadlineView) -> DeadlinesOut {
    DeadlinesOut {
        acknowledge_by: d.acknowledge_by.as_ref().map(due),
        respond_by: due(&d.respond_by),
        extended_respond_by: d.extended_respond_by.as_ref().map(due),
        extension_notice_by: d.extension_notice_by.as_ref().map(due),
        due: due(&d.due),
        paused_days: d.paused_days,
        source: d.source.clone(),
    }
}

/// One history entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct RightsEventOut {
    /// Position in the history.
    pub seq: i64,
    /// When (RFC 3339).
    pub at: String,
    /// `operator:<id>`, `requester` or `system`.
    pub actor: String,
    /// The step, e.g. `rights.approved`.
    pub action: String,
    /// The state after it.
    pub state: &'static str,
    /// A code qualifying it (a reason, an assignee, `notice_sent`).
    pub detail: Option<String>,
}

impl From<RightsEvent> for RightsEventOut {
    fn from(e: RightsEvent) -> Self {
        Self {
            seq: e.seq,
            at: time(e.at),
            actor: e.actor,
            action: e.action,
            state: e.state.as_str(),
            detail: e.detail,
        }
    }
}

/// A rights request, as operators see it (the requester's identity is read separately).
#[derive(Debug, Serialize, ToSchema)]
pub struct RightsRequestOut {
    /// `rr_…`.
    pub id: String,
    /// The request type.
    #[serde(rename = "type")]
    pub request_type: &'static str,
    /// Jurisdiction key.
    pub jurisdiction: String,
    /// The time zone its days are counted in.
    pub time_zone: String,
    /// Version of the deadline rules used.
    pub rules_version: String,
    /// `operator`, `privacy_center` or `drp`.
    pub channel: &'static str,
    /// The vault subject it concerns, once known.
    pub subject_id: Option<String>,
    /// `received`, `verifying`, `in_progress`, `awaiting_approval`, `completed`, `rejected`,
    /// `withdrawn`.
    pub state: &'static str,
    /// Who handles it.
    pub assignee: Option<String>,
    /// Who submitted it for approval.
    pub submitted_by: Option<String>,
    /// Who approved it.
    pub approvals: Vec<String>,
    /// Approvals still needed before it can complete.
    pub approvals_missing: usize,
    /// When it was received.
    pub received_at: String,
    /// When identity verification started and ended.
    pub verification_started_at: Option<String>,
    /// When the requester was verified.
    pub verified_at: Option<String>,
    /// When the deadline was extended, and why.
    pub extended_at: Option<String>,
    /// Why it was extended.
    pub extension_reason: Option<&'static str>,
    /// Why it was rejected.
    pub rejection: Option<&'static str>,
    /// The deadlines (none while the clock waits for verification to start).
    pub deadlines: Option<DeadlinesOut>,
    /// Whether the deadline in force has passed.
    pub overdue: bool,
    /// When it closed.
    pub closed_at: Option<String>,
    /// When its record will be deleted (24 months after closing).
    pub retain_until: Option<String>,
    /// Changes with every step; send it back as `expected_version`.
    pub version: i64,
    /// The authorized agent that filed it over the Data Rights Protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drp: Option<DrpLinkOut>,
    /// Its history, oldest first (on single reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<RightsEventOut>>,
    /// The export package a completion made (steps only): its single-use link, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportOut>,
    /// Whether the notice this step owed the requester was emailed (steps only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice_sent: Option<bool>,
}

/// A download link of an export package.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportOut {
    /// The URL (it works once).
    pub url: String,
    /// It works until.
    pub expires_at: String,
    /// Records in the package.
    pub records: usize,
}

/// What a request filed over DRP keeps of its agent.
#[derive(Debug, Serialize, ToSchema)]
pub struct DrpLinkOut {
    /// The agent's directory id.
    pub agent_id: String,
    /// The agent's own id for the request.
    pub agent_request_id: Option<String>,
    /// The right as the agent named it (`deletion`, `sale:opt-out`…).
    pub exercise: &'static str,
    /// `ccpa`, or none for a voluntary request.
    pub regime: Option<String>,
    /// The request id the agent knows it by (a UUID).
    pub request_id: String,
}

/// Converts a request.
pub fn request_out(r: &RightsRequest, now: custodian_core::Timestamp) -> RightsRequestOut {
    let p = &r.progress;
    RightsRequestOut {
        id: r.id.clone(),
        request_type: p.request_type.as_str(),
        jurisdiction: r.jurisdiction.clone(),
        time_zone: r.time_zone.clone(),
        rules_version: r.rules_version.clone(),
        channel: r.channel.as_str(),
        subject_id: r.subject_id.clone(),
        state: p.state.as_str(),
        assignee: p.assignee.clone(),
        submitted_by: p.submitted_by.clone(),
        approvals: p.approvals.clone(),
        approvals_missing: if p.state.is_final() {
            0
        } else {
            p.approvals_missing()
        },
        received_at: time(r.received_at),
        verification_started_at: p.verification.0.map(time),
        verified_at: p.verification.1.map(time),
        extended_at: p.extended_at.map(time),
        extension_reason: r.extension_reason.map(|x| x.as_str()),
        rejection: p.rejection.map(|x| x.as_str()),
        deadlines: r.deadlines.as_ref().map(deadlines),
        overdue: r.is_overdue_at(now),
        closed_at: r.closed_at.map(time),
        retain_until: r.retain_until.map(time),
        version: r.version,
        drp: r.drp.as_ref().map(|l| DrpLinkOut {
            agent_id: l.agent_id.clone(),
            agent_request_id: l.agent_request_id.clone(),
            exercise: l.exercise.as_str(),
            regime: l.regime.clone(),
            request_id: custodian_core::rights::drp::drp_request_id(&r.id),
        }),
        history: None,
        export: None,
        notice_sent: None,
    }
}

/// A page of requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct RightsRequestPage {
    /// The requests, oldest first.
    pub requests: Vec<RightsRequestOut>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<String>,
}

/// Query of `GET /v1/rights/requests`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RightsListQuery {
    /// Only in this state.
    pub state: Option<String>,
    /// Only of this type.
    #[serde(rename = "type")]
    pub request_type: Option<String>,
    /// Only under this jurisdiction.
    pub jurisdiction: Option<String>,
    /// Only open ones.
    pub open: Option<bool>,
    /// Only open ones past their deadline.
    pub overdue: Option<bool>,
    /// Only open ones due within this many days (1 to 366).
    pub due_within_days: Option<u32>,
    /// Only those assigned to this operator.
    pub assignee: Option<String>,
    /// Only those about this vault subject.
    pub subject_id: Option<String>,
    /// Only those whose requester has this email.
    pub email: Option<String>,
    /// Ids after this one.
    pub after: Option<String>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<u32>,
}

/// The requester's identity (`GET /v1/rights/requests/{id}/requester`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RequesterOut {
    /// Email.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Phone (E.164).
    pub phone: Option<String>,
    /// Agent.
    pub agent: Option<AgentIn>,
    /// Customer number.
    pub customer_id: Option<String>,
}

/// SLA figures for a group of requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaOut {
    /// Open requests.
    pub open: u64,
    /// Open requests due within the next 7 days.
    pub due_within_7_days: u64,
    /// Open requests past their deadline.
    pub overdue: u64,
    /// Closed requests.
    pub closed: u64,
    /// Closed requests that closed after their deadline.
    pub closed_late: u64,
    /// Median hours from receipt to close.
    pub median_hours_to_close: Option<f64>,
}

impl From<&SlaFigures> for SlaOut {
    fn from(f: &SlaFigures) -> Self {
        Self {
            open: f.open,
            due_within_7_days: f.due_within_7_days,
            overdue: f.overdue,
            closed: f.closed,
            closed_late: f.closed_late,
            median_hours_to_close: f.median_hours_to_close,
        }
    }
}

/// One group of SLA figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaGroupOut {
    /// Request type.
    #[serde(rename = "type")]
    pub request_type: &'static str,
    /// Jurisdiction.
    pub jurisdiction: String,
    /// Figures.
    #[serde(flatten)]
    pub figures: SlaOut,
}

/// `GET /v1/rights/sla`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaReport {
    /// When the figures were computed.
    pub at: String,
    /// Requests received since (RFC 3339).
    pub since: String,
    /// Over all requests.
    pub total: SlaOut,
    /// By type and jurisdiction.
    pub by_type_and_jurisdiction: Vec<SlaGroupOut>,
}

/// Query of `GET /v1/rights/sla`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SlaQuery {
    /// Only requests received since (RFC 3339); default: 365 days ago.
    pub since: Option<String>,
}

/// One rule of the deadline table.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleOut {
    /// Jurisdiction key.
    pub jurisdiction: String,
    /// Request types it covers.
    pub request_types: Vec<&'static str>,
    /// When the clock starts: `receipt` or `verification`.
    pub clock_start: &'static str,
    /// The legal source.
    pub source: String,
    /// Explanations.
    pub notes: Option<String>,
}

/// `GET /v1/rights/rules`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RulesOut {
    /// Version of the table.
    pub version: String,
    /// Its rules.
    pub rules: Vec<RuleOut>,
}

/// A request as its requester sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicRequestOut {
    /// The request id: keep it to follow the request.
    pub id: String,
    /// The request type.
    #[serde(rename = "type")]
    pub request_type: &'static str,
    /// Jurisdiction key.
    pub jurisdiction: String,
    /// Where it stands.
    pub state: &'static str,
    /// `email_code` while a code is awaited, else `none`.
    pub verification: &'static str,
    /// When it was received.
    pub received_at: String,
    /// The last day of the response deadline in force.
    pub due_date: Option<String>,
    /// Whether the deadline was extended.
    pub extended: bool,
    /// Why it was refused, as a code, with the notice and the right to complain.
    pub rejection: Option<&'static str>,
    /// The refusal explained.
    pub rejection_notice: Option<String>,
}

/// Converts a request for its requester.
pub fn public_out(r: &RightsRequest) -> PublicRequestOut {
    let p = &r.progress;
    PublicRequestOut {
        id: r.id.clone(),
        request_type: p.request_type.as_str(),
        jurisdiction: r.jurisdiction.clone(),
        state: p.state.as_str(),
        verification: if r.challenge.is_some()
            && p.state == custodian_core::rights::workflow::State::Verifying
        {
            "email_code"
        } else {
            "none"
        },
        received_at: time(r.received_at),
        due_date: r.deadlines.as_ref().map(|d| d.due.date.to_string()),
        extended: p.extended_at.is_some(),
        rejection: p.rejection.map(|x| x.as_str()),
        rejection_notice: p
            .rejection
            .map(|x| format!("{} {RIGHT_TO_COMPLAIN}", rejection_notice(x))),
    }
}

/// One field of a declared table.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetFieldOut {
    /// The column.
    pub name: String,
    /// Its data categories.
    pub data_categories: Vec<String>,
    /// The identity it holds (`email`, `phone_number`…).
    pub identity: Option<String>,
    /// Whether it is the primary key.
    pub primary_key: bool,
    /// The fields it references (`table.column`).
    pub references: Vec<String>,
    /// What erasure does to it: keep, null_rewrite, mask, hash, string_rewrite.
    pub erasure: &'static str,
}

/// One declared table.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetCollectionOut {
    /// The table.
    pub name: String,
    /// Whether erasure deletes its rows.
    pub delete_rows: bool,
    /// Its fields.
    pub fields: Vec<DatasetFieldOut>,
}

/// A declared dataset.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetOut {
    /// The dataset's key (`fides_key`).
    pub key: String,
    /// 1, then one more per change.
    pub version: i64,
    /// `configured` when the server has a connection URL for it, else `not_configured`
    /// (requests then get a manual task for it).
    pub connection: &'static str,
    /// Tables no identity (email, phone_number) reaches: rights requests cannot find their
    /// rows.
    pub unreachable_collections: Vec<String>,
    /// Its tables.
    pub collections: Vec<DatasetCollectionOut>,
    /// Declared.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

/// The declared datasets.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetsOut {
    /// By key.
    pub datasets: Vec<DatasetOut>,
}

/// A table's check.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeTableOut {
    /// The table.
    pub name: String,
    /// Whether it and every declared column exist.
    pub ok: bool,
    /// The database's error code when not.
    pub code: Option<String>,
}

/// Whether a dataset's database answers and holds what is declared.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetProbeOut {
    /// `configured` or `not_configured`.
    pub connection: &'static str,
    /// Whether the database answered.
    pub reachable: bool,
    /// Each table (none when unreachable).
    pub collections: Vec<ProbeTableOut>,
}

/// A manual task of a rights request.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskOut {
    /// `task_<hex>`.
    pub id: String,
    /// The request.
    pub request_id: String,
    /// The system (dataset key) to act in.
    pub system: String,
    /// `not_configured` or `unreachable`.
    pub reason: &'static str,
    /// `open` or `done`.
    pub status: &'static str,
    /// Who carries it out.
    pub assignee: Option<String>,
    /// Due (the request's deadline when created).
    pub due_at: Option<String>,
    /// What was done.
    pub evidence: Option<String>,
    /// Who closed it.
    pub done_by: Option<String>,
    /// When.
    pub done_at: Option<String>,
    /// Created.
    pub created_at: String,
    /// For `expected_version`.
    pub version: i64,
}

/// A request's manual tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct TasksOut {
    /// Oldest first.
    pub tasks: Vec<TaskOut>,
}

/// A step on a manual task.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskStepIn {
    /// `assign` (with `operator`) or `complete` (with `evidence`).
    pub step: String,
    /// The operator to assign.
    pub operator: Option<String>,
    /// What was done, 1 to 2,000 characters.
    pub evidence: Option<String>,
    /// Refuse the step if the task changed since this version.
    pub expected_version: Option<i64>,
}

/// Converts a task.
pub fn task_out(t: &custodian_core::rights::task::RightsTask) -> TaskOut {
    TaskOut {
        id: t.id.clone(),
        request_id: t.request_id.clone(),
        system: t.system.clone(),
        reason: t.reason.as_str(),
        status: if t.is_open() { "open" } else { "done" },
        assignee: t.assignee.clone(),
        due_at: t.due_at.map(time),
        evidence: t.evidence.clone(),
        done_by: t.done_by.clone(),
        done_at: t.done_at.map(time),
        created_at: time(t.created_at),
        version: t.version,
    }
}
