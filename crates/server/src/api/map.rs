//! Wire types of the data map, the records of processing and policy checks.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// What an import changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportOut {
    /// Entries that were new (`system:crm`, `dataset:shop`).
    pub added: Vec<String>,
    /// Entries that replaced a different one.
    pub replaced: Vec<String>,
    /// Entries identical to the stored ones.
    pub unchanged: usize,
}

/// A stored map entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryOut {
    /// `organization`, `system`, `data_category`, `data_use`, `data_subject` or
    /// `retention_rule`.
    pub kind: &'static str,
    /// Its key.
    pub key: String,
    /// The object as accepted.
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
    /// 1, then one more with each change.
    pub version: i64,
    /// Added (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
}

/// How the map is returned.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocFormat {
    /// JSON.
    #[default]
    Json,
    /// Fides YAML.
    Yaml,
}

/// `?format=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MapQuery {
    /// `json` (default) or `yaml`.
    pub format: Option<DocFormat>,
}

/// Formats of the records of processing.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RopaFormat {
    /// JSON.
    #[default]
    Json,
    /// CSV, one line per record.
    Csv,
    /// One HTML page.
    Html,
}

/// `?format=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RopaQuery {
    /// `json` (default), `csv` or `html`.
    pub format: Option<RopaFormat>,
}

/// One processing activity (GDPR Art. 30(1)).
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityOut {
    /// The system's key.
    pub system: String,
    /// The system's name.
    pub system_name: String,
    /// The activity (the declaration's name).
    pub name: String,
    /// (b) the purpose (data use key).
    pub purpose: String,
    /// Its name.
    pub purpose_name: Option<String>,
    /// Art. 6 basis.
    pub legal_basis: Option<String>,
    /// Art. 9 condition.
    pub special_category_basis: Option<String>,
    /// (c) data subjects.
    pub data_subjects: Vec<String>,
    /// (c) personal data.
    pub data_categories: Vec<String>,
    /// (d) recipients.
    pub recipients: Vec<String>,
    /// (e) transfers.
    pub transfers: Vec<String>,
    /// (f) erasure time limits per category.
    pub retention: Vec<String>,
    /// (g) security measures.
    pub security_measures: Option<String>,
    /// (a) joint controllers.
    pub joint_controllers: Option<String>,
    /// Datasets used.
    pub datasets: Vec<String>,
    /// Owner or department.
    pub owner: Option<String>,
}

/// One processor record (GDPR Art. 30(2)).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessorActivityOut {
    /// The system's key.
    pub system: String,
    /// (a) the processor.
    pub processor: String,
    /// (a) its contact or DPO.
    pub dpo: Option<String>,
    /// (a) controllers acted for.
    pub controllers: Vec<String>,
    /// (b) categories of processing.
    pub processing: Vec<String>,
    /// (c) transfers.
    pub transfers: Vec<String>,
    /// (d) security measures.
    pub security_measures: Option<String>,
}

/// The records of processing.
#[derive(Debug, Serialize, ToSchema)]
pub struct RopaOut {
    /// When generated (RFC 3339).
    pub generated_at: String,
    /// (a) the controller's contact line.
    pub controller: String,
    /// (a) the DPO.
    pub dpo: Option<String>,
    /// (a) the representative.
    pub representative: Option<String>,
    /// Controller records.
    pub activities: Vec<ActivityOut>,
    /// Processor records.
    pub processor_activities: Vec<ProcessorActivityOut>,
}

/// One violation of a policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViolationOut {
    /// The rule's id.
    pub rule: String,
    /// `error` or `warning`.
    pub severity: &'static str,
    /// The entry (`system:crm`, `dataset:shop`).
    pub entry: String,
    /// Where inside it.
    pub path: String,
    /// What is wrong.
    pub detail: String,
}

/// A rule that could not be evaluated.
#[derive(Debug, Serialize, ToSchema)]
pub struct SkippedOut {
    /// The rule's id.
    pub rule: String,
    /// Why.
    pub reason: &'static str,
}

/// The outcome of a policy check.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckOut {
    /// No error-level violation.
    pub passed: bool,
    /// Every violation.
    pub violations: Vec<ViolationOut>,
    /// Rules not evaluated.
    pub skipped: Vec<SkippedOut>,
}

/// One taxonomy entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaxonomyEntryOut {
    /// The dotted key.
    pub key: String,
    /// A short name.
    pub name: Option<String>,
    /// What it covers.
    pub description: Option<String>,
    /// Whether the organization added it.
    pub added: bool,
}

/// The taxonomy in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaxonomyOut {
    /// Data categories.
    pub data_categories: Vec<TaxonomyEntryOut>,
    /// Data uses.
    pub data_uses: Vec<TaxonomyEntryOut>,
    /// Data subjects.
    pub data_subjects: Vec<TaxonomyEntryOut>,
}

/// A legal hold to place: on one vault subject or one dataset.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldIn {
    /// The vault subject held (or `dataset`).
    pub subject_id: Option<String>,
    /// The dataset held (or `subject_id`).
    pub dataset: Option<String>,
    /// Why: a case or matter reference (1 to 500 characters; kept with the hold, never
    /// audited).
    pub reason: String,
    /// When it lapses by itself (RFC 3339, in the future); none: until released.
    pub expires_at: Option<String>,
}

/// A legal hold.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldOut {
    /// Its id.
    pub id: String,
    /// The vault subject held.
    pub subject_id: Option<String>,
    /// The dataset held.
    pub dataset: Option<String>,
    /// Why.
    pub reason: String,
    /// Whether it holds now.
    pub active: bool,
    /// Placed (RFC 3339).
    pub created_at: String,
    /// Placed by.
    pub created_by: String,
    /// Lapses (RFC 3339).
    pub expires_at: Option<String>,
    /// Released (RFC 3339).
    pub released_at: Option<String>,
    /// Released by.
    pub released_by: Option<String>,
}

/// Legal holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldsOut {
    /// Oldest first.
    pub holds: Vec<HoldOut>,
}

/// `?at=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PlanQuery {
    /// The instant to plan for (RFC 3339); default now. A later instant previews what will
    /// be due then.
    pub at: Option<String>,
}

/// One vault disposal.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaultItemOut {
    /// The subject.
    pub subject_id: String,
    /// `crypto_shred`, `delete` or `anonymize`.
    pub action: &'static str,
    /// The record (not for `crypto_shred`), as `collection/id`.
    pub record: Option<String>,
    /// The fields removed (`anonymize`).
    pub fields: Vec<String>,
    /// The rules that call for it.
    pub rules: Vec<String>,
    /// Since when it is due (RFC 3339).
    pub due_at: String,
    /// The legal hold keeping it back, if one does.
    pub held_by: Option<String>,
}

/// One dataset table disposal, planned or done.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableOut {
    /// The dataset.
    pub dataset: String,
    /// The table.
    pub table: String,
    /// `delete` or `anonymize`.
    pub action: &'static str,
    /// The rules.
    pub rules: Vec<String>,
    /// The time column compared.
    pub time_column: String,
    /// Rows whose time is at or before this are due (RFC 3339).
    pub cutoff: String,
    /// The columns anonymized.
    pub columns: Vec<String>,
    /// Rows touched (runs only).
    pub rows: Option<u64>,
    /// `ok`, `not_connected`, `unreachable` or `failed:<code>` (runs only).
    pub outcome: Option<String>,
}

/// A table a rule covers but cannot dispose of.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableSkipOut {
    /// The dataset.
    pub dataset: String,
    /// The table.
    pub table: String,
    /// The rule.
    pub rule: String,
    /// `no_time_column`, `consent_trigger_not_applicable` or `held`.
    pub reason: &'static str,
    /// The hold, when held.
    pub held_by: Option<String>,
}

/// What retention would dispose of.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanOut {
    /// The instant planned for.
    pub at: String,
    /// Vault disposals due (and held ones, with `held_by`).
    pub vault: Vec<VaultItemOut>,
    /// Dataset tables due.
    pub datasets: Vec<TableOut>,
    /// Tables covered but not disposable.
    pub skipped: Vec<TableSkipOut>,
}

/// What a run did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunOut {
    /// When it ran.
    pub at: String,
    /// Jobs run.
    pub claimed: Vec<String>,
    /// Jobs another process was running.
    pub busy: Vec<String>,
    /// Subjects crypto-shredded.
    pub shredded: u64,
    /// Vault records deleted.
    pub records_deleted: u64,
    /// Vault records anonymized.
    pub records_anonymized: u64,
    /// Vault disposals skipped (changed or gone meanwhile).
    pub skipped: u64,
    /// Vault disposals a legal hold kept back.
    pub held: usize,
    /// Dataset tables.
    pub tables: Vec<TableOut>,
}

/// The end of a subject's relationship (a retention trigger).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationshipIn {
    /// When it ended (RFC 3339, not in the future).
    pub ended_at: String,
}

/// Text to scan.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanTextIn {
    /// The text.
    pub text: String,
    /// Leave out findings below this confidence (0 to 1; default 0.5).
    pub min_confidence: Option<f32>,
}

/// One finding (the value is not repeated: the span points into the text sent).
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingOut {
    /// `email`, `phone`, `credit_card`, `iban`, `us_ssn`, `uk_nino`, `ipv4`, `ipv6`, `mac`,
    /// `url`, `date`, `us_zip`, `uk_postcode`, `secret`, `age`, `person`, `drivers_license`,
    /// `passport`, `national_id`, `street_address`, `location`, `nationality`, `religion`,
    /// `political_group`, `organization`, `title`, `job_title` or `postal_code`.
    pub kind: &'static str,
    /// Its data category.
    pub category: &'static str,
    /// Byte offset of the start.
    pub start: usize,
    /// Byte offset just past the end.
    pub end: usize,
    /// 0 to 1.
    pub confidence: f32,
    /// The detector.
    pub detector: &'static str,
}

/// What a scan found.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScanOut {
    /// In the order of the text.
    pub findings: Vec<FindingOut>,
}

/// Text to redact.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactIn {
    /// The text.
    pub text: String,
    /// The operator per kind (`mask`, `label`, `hash`: a keyed hash, stable for this
    /// installation, `encrypt`: `<EMAIL:enc:…>`, reversible through `POST /v1/redact/decrypt`,
    /// `tokenize`: a vault token in place of the value, see `tokenize`, `keep`); `default` for
    /// the kinds not named (default `label`; `tokenize` must be named per kind).
    #[serde(default)]
    pub operators: std::collections::BTreeMap<String, String>,
    /// Leave out findings below this confidence (0 to 1; default 0.5).
    pub min_confidence: Option<f32>,
    /// Where `tokenize` issues its tokens; required when a kind is tokenized.
    pub tokenize: Option<RedactTokenizeIn>,
}

/// The vault fields that issue the tokens of a redaction: each value found of a tokenized
/// kind is tokenized as `POST /v1/tokenize` would (the field's mode, a `data.write` grant under
/// the purpose named in `custodian-purpose`, one audit event per token), and detokenized the
/// same way. The tokens belong to the subject: erasing the subject shreds them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactTokenizeIn {
    /// Whose data the text holds.
    pub subject_id: String,
    /// The collection whose tokenized fields issue the tokens.
    pub collection: String,
    /// The tokenized field for each kind tokenized, e.g. `{"credit_card": "card"}`.
    pub fields: std::collections::BTreeMap<String, String>,
}

/// One item redacted.
#[derive(Debug, Serialize, ToSchema)]
pub struct RedactedOut {
    /// Its kind.
    pub kind: &'static str,
    /// Byte offset of the start, in the text sent.
    pub start: usize,
    /// Byte offset just past the end, in the text sent.
    pub end: usize,
    /// The operator applied (`label` for a value the vault field's type refused to tokenize).
    pub operator: &'static str,
    /// The token that replaced it (`tokenize`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// A redacted text.
#[derive(Debug, Serialize, ToSchema)]
pub struct RedactOut {
    /// The text with each finding replaced.
    pub text: String,
    /// What was found and how it was replaced, in text order, never overlapping. Where two
    /// findings overlapped (an email inside a URL), the better one is an item whole and each
    /// part of the other outside it that holds a letter or digit is an item of its own kind
    /// (labelled, not tokenized, when its kind's operator is `tokenize`: a part is no value).
    pub items: Vec<RedactedOut>,
}

/// A redacted text whose encrypted items should be opened.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecryptIn {
    /// The text, as `POST /v1/redact` answered it (or any text holding its items).
    pub text: String,
}

/// One encrypted item.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenedOut {
    /// Its kind.
    pub kind: &'static str,
    /// Byte offset of its `<`, in the text sent.
    pub start: usize,
    /// Byte offset just past its `>`, in the text sent.
    pub end: usize,
    /// Whether it opened (false: altered, or encrypted by another installation; left as is).
    pub opened: bool,
}

/// The text with its encrypted items opened.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecryptOut {
    /// The text.
    pub text: String,
    /// The items found.
    pub items: Vec<OpenedOut>,
}

/// How to scan a connected database.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseScanIn {
    /// Rows sampled per table (1 to 1,000; default 100). The first rows the database returns.
    pub sample_rows: Option<u32>,
    /// Propose categories only for columns at or above this confidence (0 to 1; default 0.6).
    pub min_confidence: Option<f32>,
}

/// What a column looks like it holds (from its name and sampled values; no value is shown).
#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnClassOut {
    /// The data category.
    pub category: String,
    /// The detector kind the values matched, if any.
    pub kind: Option<String>,
    /// Confidence, 0 to 1.
    pub confidence: f32,
    /// The column-name hint that matched, if any.
    pub hint: Option<String>,
    /// Non-empty values sampled.
    pub sampled: u32,
    /// Sampled values in which the kind was found.
    pub matched: u32,
    /// Whether the kind was found inside longer text.
    pub embedded: bool,
}

/// One column of a scanned table.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScannedColumnOut {
    /// The column.
    pub name: String,
    /// Its SQL type, as the database names it.
    pub data_type: String,
    /// The categories the dataset declares for it now.
    pub declared: Vec<String>,
    /// What it looks like it holds; absent when nothing suggests personal data.
    pub classification: Option<ColumnClassOut>,
    /// The proposal made for it by this scan, if any.
    pub proposal: Option<String>,
    /// Why no proposal was made: `declared` (the declaration already covers the category),
    /// `rejected` (a DPO rejected it before), `below_threshold`, `unsupported_name` (not a
    /// name a declaration can hold), or `binary` (a binary column whose name suggests
    /// nothing; its values are not sampled).
    pub skipped: Option<&'static str>,
}

/// One scanned table.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScannedTableOut {
    /// The table.
    pub name: String,
    /// Rows sampled.
    pub sampled_rows: u32,
    /// Its columns.
    pub columns: Vec<ScannedColumnOut>,
}

/// The result of a database scan.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseScanOut {
    /// The dataset key.
    pub dataset: String,
    /// The tables, by name.
    pub tables: Vec<ScannedTableOut>,
    /// How many proposals this scan made.
    pub proposals: usize,
}

/// A proposed data category for a column.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalOut {
    /// The id.
    pub id: String,
    /// The dataset key.
    pub dataset: String,
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// The category proposed (or, once accepted, the one written) and its evidence.
    #[serde(flatten)]
    pub evidence: ColumnClassOut,
    /// `pending`, `accepted` or `rejected`.
    pub status: &'static str,
    /// When the scan proposed it.
    pub created_at: String,
    /// Who ran the scan.
    pub created_by: String,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<String>,
}

/// Proposals.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalsOut {
    /// Newest first.
    pub proposals: Vec<ProposalOut>,
}

/// Filters for the proposal list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProposalsQuery {
    /// Only this dataset's.
    pub dataset: Option<String>,
    /// Only `pending`, `accepted` or `rejected` ones.
    pub status: Option<String>,
}

/// Accepting a proposal.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptIn {
    /// Write this category instead of the one proposed (a correction; any taxonomy key).
    pub category: Option<String>,
}
