//! Wire types of the compliance registers: training.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::RoleName;

/// A course to create or change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseIn {
    /// Its title (1 to 200 bytes).
    pub title: String,
    /// What it covers (at most 2,000 bytes).
    pub description: Option<String>,
    /// How many days a completion counts (1 to 3,650).
    pub validity_days: u32,
    /// The roles whose operators must hold a current completion.
    #[serde(default)]
    pub required_for: Vec<RoleName>,
    /// The version read, to change the course; absent to create it (409 if it exists).
    pub version: Option<i64>,
}

/// A course.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseOut {
    /// Its key.
    pub key: String,
    /// Its title.
    pub title: String,
    /// What it covers.
    pub description: Option<String>,
    /// How many days a completion counts.
    pub validity_days: u32,
    /// The roles that must take it.
    pub required_for: Vec<String>,
    /// 1, then one more with each change.
    pub version: i64,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
}

/// Every course.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoursesOut {
    /// By key.
    pub courses: Vec<CourseOut>,
}

/// A completion to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompletionIn {
    /// The operator who completed the course.
    pub operator_id: String,
    /// The course's key.
    pub course: String,
    /// When (RFC 3339, not in the future; default: now).
    pub completed_at: Option<String>,
    /// Where the evidence is: a certificate number or an LMS record id (at most 2,000 bytes).
    pub reference: Option<String>,
}

/// A recorded completion.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompletionOut {
    /// Its id.
    pub id: String,
    /// The operator.
    pub operator_id: String,
    /// The course.
    pub course: String,
    /// When it was completed (RFC 3339).
    pub completed_at: String,
    /// Until when it counts (RFC 3339).
    pub expires_at: String,
    /// The evidence's reference.
    pub reference: Option<String>,
    /// Who recorded it.
    pub recorded_by: String,
    /// When (RFC 3339).
    pub recorded_at: String,
    /// When it was revoked (RFC 3339): it no longer counts.
    pub revoked_at: Option<String>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
}

/// Completions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompletionsOut {
    /// The completions.
    pub completions: Vec<CompletionOut>,
}

/// Which completions to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CompletionsQuery {
    /// Only this operator's.
    pub operator_id: Option<String>,
}

/// One operator's standing against one required course.
#[derive(Debug, Serialize, ToSchema)]
pub struct StandingOut {
    /// The course.
    pub course: String,
    /// `current`, `lapsed` or `missing`.
    pub standing: &'static str,
    /// The latest completion's expiry (RFC 3339), if any.
    pub expires_at: Option<String>,
}

/// One operator's training.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorTrainingOut {
    /// The operator.
    pub operator_id: String,
    /// Their role.
    pub role: String,
    /// Whether the operator is disabled.
    pub disabled: bool,
    /// Whether their training is current (what the policy sees).
    pub current: bool,
    /// Until when (RFC 3339), if every required course was completed.
    pub valid_until: Option<String>,
    /// Each course their role requires.
    pub courses: Vec<StandingOut>,
}

/// The training compliance of every enabled operator whose role requires a course.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrainingStatusOut {
    /// When this was computed (RFC 3339).
    pub at: String,
    /// Operators counted: enabled, with at least one required course.
    pub operators: usize,
    /// Of those, how many are current.
    pub current: usize,
    /// Current over counted (1 when none is counted).
    pub compliance: f64,
    /// Operators with a lapsed course (and no course missing).
    pub lapsed: usize,
    /// Operators who never completed a required course.
    pub missing: usize,
    /// Each enabled operator, by id (those whose role requires nothing too, with no courses).
    pub by_operator: Vec<OperatorTrainingOut>,
}

/// An incident to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentIn {
    /// A short title, without personal data (1 to 200 characters).
    pub title: String,
    /// What happened (at most 4,000 characters).
    pub description: Option<String>,
    /// When the event was discovered (RFC 3339, not in the future).
    pub discovered_at: String,
    /// When the organisation became aware that personal data was breached (default: the
    /// discovery; not before it).
    pub aware_at: Option<String>,
    /// The start of the window the breach covers (RFC 3339).
    pub occurred_from: Option<String>,
    /// Its end (RFC 3339); records are counted up to it (else up to the awareness).
    pub occurred_until: Option<String>,
    /// Systems of the data map affected.
    #[serde(default)]
    pub systems: Vec<String>,
    /// Declared datasets (connected databases) affected.
    #[serde(default)]
    pub datasets: Vec<String>,
    /// Vault collections affected.
    #[serde(default)]
    pub collections: Vec<String>,
    /// Data categories breached (taxonomy keys; at least one).
    pub categories: Vec<String>,
    /// The estimated number of people affected.
    pub estimated_subjects: Option<u64>,
    /// The jurisdictions whose notification rules apply (`GET /v1/incidents/rules`; at
    /// least one).
    pub jurisdictions: Vec<String>,
    /// The IANA time zone periods are counted in (default `UTC`).
    pub time_zone: Option<String>,
    /// `unlikely`, `risk` or `high_risk` (absent: not assessed yet).
    pub risk: Option<String>,
    /// Why that risk (at most 4,000 characters).
    pub risk_rationale: Option<String>,
}

/// A change to an incident, over the version read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentPatch {
    /// The version read.
    pub version: i64,
    /// `open`, `contained` or `closed` (closing needs every owed notification settled).
    pub status: Option<String>,
    /// `unlikely`, `risk` or `high_risk`.
    pub risk: Option<String>,
    /// Why that risk.
    pub risk_rationale: Option<String>,
    /// The estimated number of people affected.
    pub estimated_subjects: Option<u64>,
    /// What happened.
    pub description: Option<String>,
}

/// What was done about one notification.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationIn {
    /// The incident's version read.
    pub version: i64,
    /// `sent`, `not_required`, or `pending` (reopens it).
    pub state: String,
    /// When it was sent (RFC 3339, not in the future; default now; `sent` only).
    pub at: Option<String>,
    /// The recipient's or our reference for it (`sent` only; 1 to 256 characters).
    pub reference: Option<String>,
    /// Why it is not required (`not_required` only; 1 to 4,096 characters).
    pub reason: Option<String>,
}

/// A letter to render.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LetterIn {
    /// `authority` or `individuals`.
    pub recipient: String,
    /// A template of one's own (`{{variable}}` placeholders; at most 64 KiB); default: the
    /// shipped one.
    pub template: Option<String>,
    /// Values for the variables the register does not know (the nature of the breach, its
    /// likely consequences, the measures taken…), by variable name; they override the
    /// register's.
    #[serde(default)]
    pub values: std::collections::BTreeMap<String, String>,
}

/// A rendered letter.
#[derive(Debug, Serialize, ToSchema)]
pub struct LetterOut {
    /// The letter's text.
    pub text: String,
    /// The variables filled from the register.
    pub filled: Vec<String>,
}

/// One notification of an incident: the clock and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationOut {
    /// The rule's id, e.g. `GDPR.authority`.
    pub rule: String,
    /// The jurisdiction.
    pub jurisdiction: String,
    /// `authority`, `individuals`, `attorney_general`, `hhs`, `media` or `csirt`.
    pub recipient: &'static str,
    /// `required`, `not_required`, `risk_not_assessed` or `count_unknown`.
    pub required: &'static str,
    /// The period, as the table words it (`72 hours`, `without undue delay`).
    pub period: String,
    /// When the clock started (RFC 3339).
    pub started_at: String,
    /// Due at the latest (RFC 3339); absent: without undue delay.
    pub due: Option<String>,
    /// Whether the due time will move once an event happens (a notice not yet sent).
    pub provisional: bool,
    /// `pending`, `sent` or `not_required`.
    pub state: &'static str,
    /// Pending after its due time.
    pub overdue: bool,
    /// When it was sent.
    pub sent_at: Option<String>,
    /// Sent after its due time (the notice must give the reasons).
    pub sent_late: bool,
    /// The reference it was sent under.
    pub reference: Option<String>,
    /// Why it is not required.
    pub reason: Option<String>,
    /// The law.
    pub source: String,
}

/// Where the affected subjects were found.
#[derive(Debug, Serialize, ToSchema)]
pub struct AffectedSourceOut {
    /// `vault:<collection>` or `dataset:<key>.<table>`.
    pub source: String,
    /// Records in the window holding the categories.
    pub records: u64,
    /// Distinct people among them.
    pub people: u64,
}

/// The affected subjects as last computed.
#[derive(Debug, Serialize, ToSchema)]
pub struct AffectedOut {
    /// When (RFC 3339).
    pub computed_at: String,
    /// People found (a person in two places counts twice).
    pub subjects: u64,
    /// Per source.
    pub sources: Vec<AffectedSourceOut>,
}

/// An incident, with its clocks at the time of the answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentOut {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// What happened.
    pub description: Option<String>,
    /// `open`, `contained` or `closed`.
    pub status: &'static str,
    /// Discovered (RFC 3339).
    pub discovered_at: String,
    /// Became aware (RFC 3339).
    pub aware_at: String,
    /// The window's start.
    pub occurred_from: Option<String>,
    /// The window's end.
    pub occurred_until: Option<String>,
    /// Systems.
    pub systems: Vec<String>,
    /// Datasets.
    pub datasets: Vec<String>,
    /// Vault collections.
    pub collections: Vec<String>,
    /// Data categories.
    pub categories: Vec<String>,
    /// The estimate.
    pub estimated_subjects: Option<u64>,
    /// The computed affected subjects, if computed.
    pub affected: Option<AffectedOut>,
    /// Jurisdictions.
    pub jurisdictions: Vec<String>,
    /// The time zone of the periods.
    pub time_zone: String,
    /// The risk assessed.
    pub risk: Option<&'static str>,
    /// Why.
    pub risk_rationale: Option<String>,
    /// Every notification its jurisdictions' rules call for.
    pub notifications: Vec<NotificationOut>,
    /// The earliest due time of a pending notification that is owed or undetermined.
    pub next_due: Option<String>,
    /// 1, then one more with each change.
    pub version: i64,
    /// Recorded (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
    /// Who recorded it.
    pub created_by: String,
}

/// Every incident, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentsOut {
    /// The incidents.
    pub incidents: Vec<IncidentOut>,
}

/// One notification rule of the table.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleOut {
    /// Its id.
    pub id: String,
    /// The jurisdiction.
    pub jurisdiction: String,
    /// Who is notified.
    pub recipient: &'static str,
    /// The period.
    pub period: String,
    /// When it applies.
    pub condition: String,
    /// The law.
    pub source: String,
    /// Notes.
    pub notes: Option<String>,
}

/// The notification rules table.
#[derive(Debug, Serialize, ToSchema)]
pub struct RulesOut {
    /// The table's version.
    pub version: String,
    /// Its rules.
    pub rules: Vec<RuleOut>,
}

/// A request to count the affected subjects, over the version read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AffectedIn {
    /// The incident's version read.
    pub version: i64,
}

/// Consent figures of one purpose.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentPurposeOut {
    /// The purpose.
    pub purpose: String,
    /// Subjects whose consent is given.
    pub given: u64,
    /// Subjects who refused.
    pub refused: u64,
    /// Subjects who withdrew.
    pub withdrawn: u64,
    /// Subjects whose consent expired.
    pub expired: u64,
    /// Given over all of them.
    pub rate: f64,
}

/// Incidents on the dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardIncidentsOut {
    /// Open.
    pub open: usize,
    /// Contained.
    pub contained: usize,
    /// Closed.
    pub closed: usize,
    /// Notifications past their due time and not sent, over the incidents not closed.
    pub overdue_notifications: usize,
    /// The earliest due time of an owed notification not yet sent.
    pub next_due: Option<String>,
    /// The incidents not closed, with their clocks.
    pub open_incidents: Vec<IncidentOut>,
}

/// Training on the dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardTrainingOut {
    /// Operators counted (enabled, with a required course).
    pub operators: usize,
    /// Current.
    pub current: usize,
    /// Current over counted.
    pub compliance: f64,
    /// Lapsed.
    pub lapsed: usize,
    /// Missing a course.
    pub missing: usize,
}

/// A retention job.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionJobOut {
    /// Its name.
    pub name: String,
    /// Next due (RFC 3339).
    pub due_at: String,
    /// Last run (RFC 3339).
    pub last_run_at: Option<String>,
    /// What the last run did.
    pub last_outcome: Option<String>,
}

/// An exported evidence bundle.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceOut {
    /// Its id.
    pub bundle_id: String,
    /// When (RFC 3339).
    pub created_at: String,
    /// The audit log's size it covers.
    pub tree_size: u64,
    /// Its manifest's SHA-256.
    pub manifest_sha256: String,
}

/// `GET /v1/compliance/dashboard`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardOut {
    /// When (RFC 3339).
    pub at: String,
    /// Rights requests received in the last 365 days.
    pub rights: crate::api::rights::SlaOut,
    /// Consent per purpose.
    pub consent: Vec<ConsentPurposeOut>,
    /// Incidents.
    pub incidents: DashboardIncidentsOut,
    /// Training.
    pub training: DashboardTrainingOut,
    /// Retention jobs.
    pub retention: Vec<RetentionJobOut>,
    /// Vendors.
    pub vendors: DashboardVendorsOut,
    /// Access-monitoring alerts not yet acknowledged or turned into incidents.
    pub alerts_open: usize,
    /// The audit log's signed checkpoint now.
    pub audit: crate::api::CheckpointOut,
    /// The last evidence bundle exported.
    pub last_evidence: Option<EvidenceOut>,
}

/// A vendor, with what is computed from it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorOut {
    /// Its key.
    pub key: String,
    /// Its declaration and reviews, as stored.
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
    /// When the next review is due (RFC 3339; absent once offboarded).
    pub next_review_due: Option<String>,
    /// `dpa_missing`, `dpa_expired`, `review_overdue`, `last_review_rejected`.
    pub findings: Vec<&'static str>,
    /// 1, then one more with each change.
    pub version: i64,
    /// Added (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
}

/// Every vendor, by key.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorsOut {
    /// The vendors.
    pub vendors: Vec<VendorOut>,
}

/// Which vendors to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VendorsQuery {
    /// Only those whose review falls due within this many days (0 to 3,650; overdue ones
    /// included).
    pub review_due_within_days: Option<u32>,
}

/// A review of a vendor.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewIn {
    /// The vendor's version read.
    pub version: i64,
    /// `approved`, `approved_with_conditions` or `rejected`.
    pub outcome: String,
    /// Findings and conditions (at most 4,000 characters).
    pub notes: Option<String>,
    /// When it was reviewed (RFC 3339; default now; not before the last review).
    pub reviewed_at: Option<String>,
}

/// A sub-processor as the privacy center lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubProcessorOut {
    /// Its name.
    pub name: String,
    /// What it does.
    pub services: Option<String>,
    /// Where it is established.
    pub country: Option<String>,
    /// Its part.
    pub role: String,
    /// The data it receives, by name.
    pub data_categories: Vec<String>,
    /// How a transfer outside the EEA is made lawful.
    pub transfer_mechanism: Option<&'static str>,
    /// The sub-processors it uses, by name.
    pub sub_processors: Vec<String>,
}

/// `GET /v1/privacy-center/subprocessors`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubProcessorsOut {
    /// When this list was made (RFC 3339).
    pub updated_at: String,
    /// The sub-processors.
    pub sub_processors: Vec<SubProcessorOut>,
}

/// A DPIA.
#[derive(Debug, Serialize, ToSchema)]
pub struct DpiaOut {
    /// Its key.
    pub key: String,
    /// The assessment, its status and sign-off, as stored.
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
    /// `draft`, `in_review`, `approved` or `rejected`.
    pub status: &'static str,
    /// A risk stays high after the measures: consult the authority first (Art. 36(1)).
    pub consultation_required: bool,
    /// 1, then one more with each change.
    pub version: i64,
    /// Started (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
}

/// Every DPIA, by key.
#[derive(Debug, Serialize, ToSchema)]
pub struct DpiasOut {
    /// The DPIAs.
    pub dpias: Vec<DpiaOut>,
}

/// A step of a DPIA.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DpiaStepIn {
    /// The DPIA's version read.
    pub version: i64,
    /// `submit`, `approve`, `reject` or `reopen`.
    pub step: String,
    /// The DPO's opinion (with `approve` and `reject`; at most 8,000 characters).
    pub opinion: Option<String>,
}

/// A processing activity that needs a DPIA.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequiredDpiaOut {
    /// The rule that requires it.
    pub rule: String,
    /// The system.
    pub system: String,
    /// Its data use.
    pub data_use: String,
    /// Why, as the rule says.
    pub reason: String,
    /// Whether an approved DPIA covers it.
    pub covered: bool,
    /// The approved DPIAs that cover it.
    pub covered_by: Vec<String>,
}

/// `GET /v1/dpias/required`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequiredDpiasOut {
    /// How many have no approved DPIA.
    pub missing: usize,
    /// Every processing activity the rules match.
    pub required: Vec<RequiredDpiaOut>,
}

/// Vendors on the dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardVendorsOut {
    /// Active vendors.
    pub active: usize,
    /// Of those, reviews due within 30 days (or overdue).
    pub reviews_due_30_days: usize,
    /// Of those, with findings (DPA missing or expired, review overdue or rejected).
    pub with_findings: usize,
}

/// The access monitor's rules.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonitoringRulesOut {
    /// The rules (`null` for a rule that is off).
    #[schema(value_type = Object)]
    pub rules: serde_json::Value,
    /// Their version once saved (absent: the defaults).
    pub version: Option<i64>,
    /// The webhook's signing secret (`whsec_…`), only in the answer that set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// An alert and its version.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertOut {
    /// The alert.
    #[serde(flatten)]
    pub alert: crate::monitoring::AlertRecord,
    /// 1, then one more with each change.
    pub version: i64,
}

/// Alerts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertsOut {
    /// The alerts.
    pub alerts: Vec<AlertOut>,
}

/// Which alerts to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertsQuery {
    /// `open`, `acknowledged` or `incident`.
    pub status: Option<String>,
}

/// An alert's version read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertVersionIn {
    /// The version read.
    pub version: i64,
}

/// What an incident opened from an alert needs besides the alert.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertIncidentIn {
    /// The alert's version read.
    pub version: i64,
    /// A title (default: the rule and the actor).
    pub title: Option<String>,
    /// Data categories possibly breached (at least one).
    pub categories: Vec<String>,
    /// Jurisdictions whose rules apply (at least one).
    pub jurisdictions: Vec<String>,
    /// Systems of the data map.
    #[serde(default)]
    pub systems: Vec<String>,
    /// Declared datasets.
    #[serde(default)]
    pub datasets: Vec<String>,
    /// Vault collections.
    #[serde(default)]
    pub collections: Vec<String>,
}
